/**
 * The near-duplicate routes: `GET /v1/collections/{name}/duplicates` (paged groups, validated query string) and
 * `POST …/duplicates/check` (multipart upload or JSON {id}), and their place in /openapi.json.
 */
import type { FastifyInstance } from 'fastify';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { buildServer } from '../../src/server/app.js';
import { multipart } from '../server/fixtures.js';
import { duplicateFixture, type DuplicateFixture } from './fixture.js';

interface Page {
  totalGroups: number;
  offset: number;
  limit: number;
  verified: boolean;
  computedAt: string;
  groups: { keeper: { id: string; path: string }; duplicates: { id: string; path: string; score: number; verified: string | null }[] }[];
}

describe('HTTP: duplicates', () => {
  let fx: DuplicateFixture;
  let db: LookalikeDatabase;
  let app: FastifyInstance;

  beforeAll(async () => {
    fx = await duplicateFixture();
    db = await openDatabase(fx.db, { threads: 1 });
    app = await buildServer({ db, rateLimit: false });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  const get = (query: string) => app.inject({ method: 'GET', url: `/v1/collections/photos/duplicates${query}` });

  it('GET …/duplicates?verify=true pages the groups, computed once and reused for the next page', async () => {
    const first = await get('?verify=true&limit=2');
    expect(first.statusCode, first.body).toBe(200);
    const p1 = first.json() as Page;
    expect(p1).toMatchObject({ totalGroups: 3, offset: 0, limit: 2, verified: true });
    expect(p1.groups).toHaveLength(2);
    const p2 = (await get('?verify=true&limit=2&offset=2')).json() as Page;
    expect(p2.groups).toHaveLength(1);
    expect(p2.computedAt).toBe(p1.computedAt); // the same computation, served page by page
    const names = [...p1.groups, ...p2.groups].map((g) => [g.keeper, ...g.duplicates].map((m) => path.basename(m.path)).sort());
    expect(names.sort((a, b) => a[0]!.localeCompare(b[0]!))).toEqual(fx.groups.map((g) => [...g].sort()).sort((a, b) => a[0]!.localeCompare(b[0]!)));
    expect(p1.groups[0]!.duplicates[0]!.verified).toMatch(/^(geometry|mirrored)$/);
  });

  it('GET …/duplicates validates the query string, naming the parameter', async () => {
    for (const [q, field] of [
      ['?threshold=abc', 'threshold'],
      ['?threshold=2', 'threshold'],
      ['?k=0', 'k'],
      ['?limit=0', 'limit'],
      ['?limit=5000', 'limit'],
      ['?offset=-1', 'offset'],
      ['?verify=yes', 'verify'],
      // an unknown parameter: the server's validation message says "additional properties" without naming it
      ['?colour=red', 'additional properties'],
    ] as const) {
      const r = await get(q);
      expect(r.statusCode, `${q}: ${r.body}`).toBe(400);
      const err = (r.json() as { error: { code: string; message: string } }).error;
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message, q).toContain(field);
    }
    expect((await app.inject('/v1/collections/nope/duplicates')).statusCode).toBe(404);
  });

  it('POST …/duplicates/check: an uploaded copy is found with its original, a new photo is not', async () => {
    const copy = await multipart({ image: { name: 'copy.jpg', bytes: fx.outsider }, verify: 'true' });
    const r = await app.inject({ method: 'POST', url: '/v1/collections/photos/duplicates/check', ...copy });
    expect(r.statusCode, r.body).toBe(200);
    const found = r.json() as { duplicate: boolean; matches: { path: string; verified: string | null; score: number }[]; ms: number };
    expect(found.duplicate).toBe(true);
    expect(found.matches.map((m) => path.basename(m.path))).toContain('daisy-0.jpg');
    expect(found.matches.every((m) => m.path.includes('daisy-0'))).toBe(true);
    const fresh = await multipart({ image: { name: 'new.jpg', bytes: fx.stranger } });
    const none = (await app.inject({ method: 'POST', url: '/v1/collections/photos/duplicates/check', ...fresh })).json() as { duplicate: boolean; matches: unknown[] };
    expect(none).toMatchObject({ duplicate: false, matches: [] });
  });

  it('POST …/duplicates/check with JSON {id}: a stored item against the others', async () => {
    const page = (await get('?verify=true')).json() as Page;
    const keeper = page.groups[0]!.keeper;
    const r = await app.inject({ method: 'POST', url: '/v1/collections/photos/duplicates/check', payload: { id: keeper.id, verify: true } });
    expect(r.statusCode, r.body).toBe(200);
    const out = r.json() as { duplicate: boolean; matches: { id: string }[] };
    expect(out.duplicate).toBe(true);
    expect(out.matches.map((m) => m.id).sort()).toEqual(page.groups[0]!.duplicates.map((d) => d.id).sort());
  });

  it('POST …/duplicates/check refuses bad bodies with 400 / 404', async () => {
    const check = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/collections/photos/duplicates/check', payload: payload as object });
    expect((await check({})).statusCode).toBe(400);
    expect((await check({ id: 'x', threshold: 5 })).statusCode).toBe(400);
    expect((await check({ id: 'x', extra: 1 })).statusCode).toBe(400);
    expect((await check({ id: 'no-such-item' })).json()).toMatchObject({ error: { code: 'ITEM_NOT_FOUND' } });
    const noFile = await multipart({ k: '3' });
    expect((await app.inject({ method: 'POST', url: '/v1/collections/photos/duplicates/check', ...noFile })).json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    const badK = await multipart({ image: { name: 'q.jpg', bytes: fx.stranger }, k: 'many' });
    const r = await app.inject({ method: 'POST', url: '/v1/collections/photos/duplicates/check', ...badK });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('k') } });
  });

  it('is documented in /openapi.json', async () => {
    const spec = (await app.inject('/openapi.json')).json() as { paths: Record<string, Record<string, { parameters?: { name: string }[] }>> };
    expect(spec.paths['/v1/collections/{name}/duplicates']?.get?.parameters?.map((p) => p.name)).toEqual(
      expect.arrayContaining(['name', 'threshold', 'k', 'margin', 'verify', 'offset', 'limit']),
    );
    expect(spec.paths['/v1/collections/{name}/duplicates/check']?.post).toBeDefined();
  });
});
