/** One redaction for every connection URL that can reach a message: Redis, PostgreSQL, shards, odd strings. */
import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/util/redact.js';

describe('redactUrl', () => {
  it('hides the password, keeps everything else', () => {
    expect(redactUrl('redis://:s3cret@127.0.0.1:6379')).toBe('redis://:***@127.0.0.1:6379');
    expect(redactUrl('rediss://user:s3cret@cache:6380/2')).toBe('rediss://user:***@cache:6380/2');
    expect(redactUrl('postgres://lookalike:p%40ss@db.example:5432/photos?sslmode=require')).toBe('postgres://lookalike:***@db.example:5432/photos?sslmode=require');
    expect(redactUrl('postgres://lookalike@127.0.0.1:5432/postgres')).toBe('postgres://lookalike@127.0.0.1:5432/postgres');
    expect(redactUrl('./lookalike-db')).toBe('./lookalike-db');
  });
  it('strings that are not URLs still lose what looks like a password', () => {
    expect(redactUrl('postgres://me:se cret@host/db')).not.toContain('se cret');
    expect(redactUrl('redis://:pa ss@[bad')).toBe('redis://:***@[bad');
  });
});
