/**
 * `GET /v1/collections/{name}/map`: 202 with progress and Retry-After while the map is computed, then the map (and
 * at once from the cache), metadata values for colouring, errors, and the route in /openapi.json.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { buildServer } from '../../src/server/app.js';
import { SAMPLES, tmpDir } from '../helpers.js';

let db: LookalikeDatabase;
let app: FastifyInstance;

beforeAll(async () => {
  db = await openDatabase(tmpDir(), { threads: 1, cacheDir: tmpDir('lookalike-map-cache-') });
  const c = await db.collection('flowers', { model: 'mobilenet-v1' });
  await c.indexFolder(SAMPLES, { folderLabelKey: 'species' });
  app = await buildServer({ db, rateLimit: false });
}, 180_000);

afterAll(async () => {
  await app?.close();
  await db?.close();
});

interface MapBody {
  items: number;
  cached: boolean;
  method: string;
  generation: number;
  points: { id: string; x: number; y: number; cluster: number; metadata?: Record<string, unknown> }[];
  clusters: { id: number; size: number; representatives: string[] }[];
}

describe('GET /v1/collections/{name}/map', () => {
  it('answers 202 with progress and Retry-After while computing, then the map; cached afterwards', async () => {
    const first = await app.inject({ method: 'GET', url: '/v1/collections/flowers/map?wait=0&seed=3' });
    expect(first.statusCode).toBe(202);
    expect(first.headers['retry-after']).toBe('2');
    const pending = first.json<{ status: string; phase: string; retryAfter: number }>();
    expect(['queued', 'computing']).toContain(pending.status);
    expect(pending.retryAfter).toBe(2);
    expect(typeof pending.phase).toBe('string');

    // the same request again, waiting long enough: the map
    let r = await app.inject({ method: 'GET', url: '/v1/collections/flowers/map?wait=20000&seed=3' });
    for (let i = 0; r.statusCode === 202 && i < 30; i++) r = await app.inject({ method: 'GET', url: '/v1/collections/flowers/map?wait=20000&seed=3' });
    expect(r.statusCode).toBe(200);
    const map = r.json<MapBody>();
    expect(map.items).toBe(96);
    expect(map.points).toHaveLength(96);
    expect(map.clusters.reduce((s, c) => s + c.size, 0)).toBe(96);
    expect(map.method).toBe('umap');

    const again = await app.inject({ method: 'GET', url: '/v1/collections/flowers/map?wait=0&seed=3' });
    expect(again.statusCode).toBe(200);
    const cached = again.json<MapBody>();
    expect(cached.cached).toBe(true);
    expect(cached.points).toEqual(map.points);
  }, 120_000);

  it('carries the metadata values asked for (colour by a key)', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/collections/flowers/map?wait=20000&seed=3&keys=species,nothing' });
    expect(r.statusCode).toBe(200);
    const map = r.json<MapBody>();
    expect(map.points.every((p) => typeof p.metadata?.species === 'string' && p.metadata.nothing === null)).toBe(true);
  }, 60_000);

  it('refuses bad parameters and unknown collections', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/collections/nope/map' })).statusCode).toBe(404);
    for (const q of ['clusters=0', 'clusters=300', 'method=tsne', 'seed=-1', 'wait=999999', 'keys=a,b,c,d,e,f,g,h,i', 'other=1']) {
      const r = await app.inject({ method: 'GET', url: `/v1/collections/flowers/map?${q}` });
      expect(r.statusCode, q).toBe(400);
      expect(r.json<{ error: { code: string } }>().error.code, q).toBe('INVALID_ARGUMENT');
    }
  });

  it('is described in /openapi.json', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, { get?: { responses: Record<string, unknown> } }> }>();
    const route = doc.paths['/v1/collections/{name}/map']?.get;
    expect(route).toBeDefined();
    expect(Object.keys(route!.responses)).toEqual(expect.arrayContaining(['200', '202']));
  });
});
