/** Issue 11.6: `models`, `serve` and `worker` speak JSON too (one object / one start line on stdout). */
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { tmpDir } from '../helpers.js';
import { cli, exitOf, firstEvent, requireBuiltCli, startCli } from './run.js';

describe('--json on models, serve and worker (11.6)', () => {
  beforeAll(requireBuiltCli);

  it('models --json prints {models:[{name, description}]}', async () => {
    const r = await cli(['models', '--json']);
    expect(r.code).toBe(0);
    const { models } = JSON.parse(r.stdout) as { models: Record<string, unknown>[] };
    expect(models.map((m) => m.name)).toEqual(expect.arrayContaining(['mobilenet-v1', 'color-histogram', 'phash']));
    for (const m of models) expect(Object.keys(m).sort()).toEqual(['description', 'name']);
  });

  it('serve --json prints one start line with its address and pid, answers there, and stops on SIGTERM', async () => {
    const db = path.join(tmpDir(), 'db');
    const child = startCli(['serve', '--db', db, '--port', '0', '--quiet', '--json']);
    try {
      const start = await firstEvent(child);
      expect(start).toMatchObject({ event: 'listening', pid: child.pid });
      expect(start.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(start.api).toBe(`${start.address as string}/v1`);
      const health = await fetch(`${start.address as string}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exitOf(child)).toBe(0);
  });

  it('serve --collection nope warns (issue 12: it started without a word) and still serves', async () => {
    const db = path.join(tmpDir(), 'db');
    const child = startCli(['serve', '--db', db, '--port', '0', '--quiet', '--json', '--collection', 'nope']);
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    try {
      const start = await firstEvent(child);
      expect(start).toMatchObject({ event: 'listening' });
      await expect.poll(() => stderr, { timeout: 10_000 }).toMatch(/"warning".*--collection nope: no such collection \(the store is empty\)/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exitOf(child)).toBe(0);
  });

  it('worker --json prints one start line (queue without its password, pid) and stops on SIGTERM', async () => {
    const redis = inject('redisUrl');
    if (redis.startsWith('error:')) throw new Error(redis.slice(7));
    const child = startCli(['worker', '--queue', redis, '--quiet', '--json']);
    try {
      const start = await firstEvent(child);
      expect(start).toMatchObject({ event: 'ready', pid: child.pid, queue: redis, db: null, concurrency: 2 });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exitOf(child)).toBe(0);
  });
});
