/** Unit tests (no models, no store): the shared schemas and validators, the redaction of paths, the Host rule. */
import { describe, expect, it } from 'vitest';
import { METADATA_LIMITS, MetadataSchema, validateMetadata, validateWhere, WhereSchema } from '../../src/schema.js';
import { checkRequestedModel } from '../../src/server/collections.js';
import { makeRedactor } from '../../src/server/errors.js';
import * as S from '../../src/server/schemas.js';
import { hostAllowed } from '../../src/server/security.js';

const nested = (depth: number): unknown => (depth <= 1 ? { leaf: 1 } : { a: nested(depth - 1) });

describe('validateMetadata (10.3 metadata bounds)', () => {
  it('accepts bounded JSON objects', () => {
    for (const m of [{}, { species: 'daisy', n: 1, ok: true, none: null, tags: ['a', 'b'] }, nested(8), { 'über 名前 with spaces-and_dashes': 1 }]) {
      expect(validateMetadata(m, 'metadata')).toBe(m);
      expect(MetadataSchema.safeParse(m).success).toBe(true);
    }
    expect(validateMetadata(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, i])))).toBeTruthy();
    expect(validateMetadata({ s: 'x'.repeat(METADATA_LIMITS.maxBytes - 20) })).toBeTruthy();
  });

  it('refuses everything else with INVALID_METADATA naming the field and the rule', () => {
    const cases: [unknown, RegExp][] = [
      [null, /JSON object/],
      [[1], /JSON object/],
      ['x', /JSON object/],
      [nested(9), /deeper than 8/],
      [Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])), /more than 64 keys/],
      [{ a: { b: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])) } }, /more than 64 keys/],
      [{ s: 'x'.repeat(17 * 1024) }, /larger than 16384 bytes/],
      [{ '': 1 }, /not be empty/],
      [{ ['k'.repeat(129)]: 1 }, /at most 128/],
      [{ 'a\u0000b': 1 }, /control characters/],
      [{ 'a\\b': 1 }, /backslashes/],
      [{ 'a"b': 1 }, /quotes/],
      [{ "a'b": 1 }, /quotes/],
      [{ 'a.b': 1 }, /path characters/],
      [{ $where: 1 }, /path characters/],
      [{ 'a[0]': 1 }, /path characters/],
      [{ a: [{ 'x.y': 1 }] }, /path characters/],
      [{ n: Number.NaN }, /finite/],
      [{ d: new Date() }, /values must be JSON/],
      [{ u: undefined }, /values must be JSON/],
    ];
    for (const [value, rule] of cases) {
      let error: { code?: string; message?: string; details?: { field?: string } } | undefined;
      try {
        validateMetadata(value, 'images[3].metadata');
      } catch (e) {
        error = e as typeof error;
      }
      expect(error?.code).toBe('INVALID_METADATA');
      expect(error?.message).toMatch(/^images\[3\]\.metadata: /);
      expect(error?.message).toMatch(rule);
      expect(error?.details?.field).toBe('images[3].metadata');
      expect(MetadataSchema.safeParse(value).success).toBe(false);
    }
  });

  it('rejects hostile nesting without walking it', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(() => validateMetadata(deep)).toThrow(/deeper than 8/);
  });
});

describe('validateWhere (10.5 where keys and count)', () => {
  it('accepts up to 32 conditions of plain keys and scalar values', () => {
    const w = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, i % 2 ? 'x' : i]));
    expect(validateWhere(w)).toBe(w);
    expect(validateWhere({ a: null, b: true, c: 1.5, d: 'x' })).toBeTruthy();
    expect(WhereSchema.safeParse(w).success).toBe(true);
  });

  it('refuses odd keys, too many conditions and non-scalar values with INVALID_ARGUMENT', () => {
    const cases: unknown[] = [
      { 'a\\': 1 },
      { 'a\u0000': 1 },
      { 'a"': 1 },
      { 'a.b': 1 },
      { '': 1 },
      Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])),
      { a: { b: 1 } },
      { a: [1] },
      { a: Number.POSITIVE_INFINITY },
      [],
      'species=daisy',
      null,
    ];
    for (const w of cases) {
      expect(() => validateWhere(w)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      // the request schema refuses keys, counts and arrays; operator objects are checked by validateWhere (one message)
      const operatorObject = w !== null && typeof w === 'object' && !Array.isArray(w) && Object.values(w).some((v) => v !== null && typeof v === 'object' && !Array.isArray(v));
      if (w && typeof w === 'object' && !Array.isArray(w) && !operatorObject && Object.values(w).every((v) => typeof v !== 'number' || Number.isFinite(v))) {
        expect(WhereSchema.safeParse(w).success).toBe(false);
      }
    }
  });
});

describe('one source of truth for the HTTP schemas (issue 11)', () => {
  it('route JSON Schemas are derived from the zod schemas', () => {
    const info = S.CollectionInfo as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(info.properties)).toContain('bytesPerVector');
    expect(info.required).toContain('bytesPerVector');
    expect(S.CollectionInfo).not.toHaveProperty('$schema');
    const where = (S.SearchBody as { properties: { where: { propertyNames: { anyOf: [{ pattern: string }, { const: string }] } } } }).properties.where;
    const [key, near] = where.propertyNames.anyOf;
    expect(new RegExp(key.pattern, 'u').test('a\\b')).toBe(false);
    expect(new RegExp(key.pattern, 'u').test('species')).toBe(true);
    expect(near.const).toBe('$near');
    const name = (S.NameParams as { properties: { name: { pattern: string } } }).properties.name.pattern;
    expect(name).toBe('^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$');
  });
});

describe('checkRequestedModel (10.2)', () => {
  it('accepts built-in names, pixel parameters and Hugging Face ids only', () => {
    for (const m of ['mobilenet-v1', 'clip-vit-base-patch32', 'color-histogram', 'color-histogram:16x4x4', 'pixels:32', 'phash', 'bovw-orb:128', 'Xenova/clip-vit-base-patch32', 'owner/model.v2_x-y']) {
      expect(checkRequestedModel(m)).toBe(m);
    }
    for (const m of ['pixels:/../../x', 'pixels:abc', 'mobilenet-v1:2', 'x:1', '/abs', './rel', '../up', 'a/../b', 'a/b/c', 'a:b/c', '.hidden/x', '-x/y']) {
      expect(() => checkRequestedModel(m)).toThrow(/not allowed over HTTP/);
    }
  });
});

describe('errors over HTTP do not name server paths (10.9)', () => {
  const redact = makeRedactor([{ path: '/srv/lookalike/db', label: 'the store' }]);
  it('replaces known folders, absolute and relative paths and URLs; keeps API routes', () => {
    expect(redact('No collection "zzz" in /srv/lookalike/db. Collections: a, b.')).toBe('No collection "zzz" in the store. Collections: a, b.');
    expect(redact('Cannot read /etc/passwd: EACCES')).toBe('Cannot read <path>: EACCES');
    expect(redact('Input file is missing: /tmp/x/gone.jpg')).toBe('Input file is missing: <path>');
    expect(redact("looked in '../shared/models/x' and ~/models/x")).toBe("looked in '<path>' and <path>");
    expect(redact('C:\\Users\\me\\models not found')).toBe('<path> not found');
    expect(redact('cannot reach postgres://user:pw@db.internal:5432/lookalike')).toBe('cannot reach <url>');
    expect(redact('Delete it (DELETE /v1/collections/x) and index it again.')).toBe('Delete it (DELETE /v1/collections/x) and index it again.');
    expect(redact('Send application/json or multipart/form-data; body/k must be integer')).toBe('Send application/json or multipart/form-data; body/k must be integer');
    expect(redact('must match pattern "^[^/\\\\]+$"')).toBe('must match pattern "^[^/\\\\]+$"');
    expect(redact(`Unexpected token 'D', "DB_PASSWOR"... is not valid JSON`)).toBe('invalid JSON');
  });
});

describe('Host allow-list (10.4)', () => {
  const s = { allowedHosts: ['photos.example', 'api.example:8443'], host: undefined };
  it('allows loopback names, configured names and the local address, with or without port', () => {
    for (const h of ['localhost', 'localhost:8080', '127.0.0.1', '127.0.0.1:1', '[::1]', '[::1]:8080', 'photos.example', 'photos.example:9000', 'api.example:8443']) {
      expect([h, hostAllowed(s, h, '127.0.0.1')]).toEqual([h, true]);
    }
    expect(hostAllowed(s, '192.168.1.5:8080', '::ffff:192.168.1.5')).toBe(true);
    expect(hostAllowed(s, '[fe80::1]:8080', 'fe80::1')).toBe(true);
    expect(hostAllowed({ allowedHosts: [], host: 'myhost.lan' }, 'myhost.lan:8080', undefined)).toBe(true);
  });
  it('refuses any other Host', () => {
    for (const h of [undefined, '', 'evil.example', 'evil.example:80', 'api.example', 'api.example:443', 'localhost.evil.example', '127.0.0.1.nip.io', 'localhost:80@evil', 'a b']) {
      expect([h, hostAllowed(s, h, '127.0.0.1')]).toEqual([h, false]);
    }
    expect(hostAllowed({ allowedHosts: ['*'], host: undefined }, 'anything.example', undefined)).toBe(true);
  });
});
