/**
 * Issue 17 over HTTP: re-ranking (`rerank`), calibrated scores (`confidence` in each hit) and `minConfidence`, in
 * JSON and multipart searches, answer exactly what the library answers; bad values are 400s naming the field.
 * Data: the sample flowers (12 classes × 8) with color-histogram, whitened and calibrated.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Collection, type LookalikeDatabase } from '../../src/lookalike.js';
import { fileId } from '../../src/ingest/folder.js';
import { buildServer } from '../../src/server/app.js';
import { SAMPLES, tmpDir } from '../helpers.js';
import { multipart } from '../server/fixtures.js';

type Hit = { id: string; score: number; confidence?: number };

describe('HTTP: rerank, confidence and minConfidence', () => {
  let db: LookalikeDatabase;
  let col: Collection;
  let app: FastifyInstance;
  const daisy = path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy')).sort()[0]!);
  const search = (body: object) => app.inject({ method: 'POST', url: '/v1/collections/flowers/search', payload: body });
  const plain = (hits: readonly Hit[]) => hits.map((h) => ({ id: h.id, score: h.score, confidence: h.confidence }));

  beforeAll(async () => {
    db = await openDatabase(tmpDir(), { threads: 1 });
    col = await db.createCollection('flowers', { model: 'color-histogram' });
    await col.indexFolder(SAMPLES);
    await col.tune({ whiten: { dims: 32, power: 0.5 }, calibrate: { pairs: 2000 } });
    app = await buildServer({ db });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('collection info says the collection is calibrated (so a client can offer minConfidence before searching)', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/collections/flowers' });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ collection: 'flowers', calibrated: true });
    const plain = await db.createCollection('plain', { model: 'color-histogram' });
    expect((await plain.info()).calibrated).toBe(false);
  });

  it('every hit carries its calibrated confidence, as the library gives it', async () => {
    const r = await search({ id: fileId(daisy), k: 10 });
    expect(r.statusCode, r.body).toBe(200);
    const hits = (r.json() as { results: Hit[] }).results;
    expect(hits.every((h) => typeof h.confidence === 'number' && h.confidence >= 0 && h.confidence <= 1)).toBe(true);
    expect(plain(hits)).toEqual(plain(await col.search({ id: fileId(daisy) }, { k: 10 })));
  });

  it('minConfidence keeps exactly the hits the library keeps', async () => {
    const all = (await search({ id: fileId(daisy), k: 50 })).json() as { results: Hit[] };
    const cut = all.results[5]!.confidence!; // a level that keeps some hits and drops others
    expect(cut).toBeGreaterThan(all.results[49]!.confidence!);
    const r = await search({ id: fileId(daisy), k: 50, minConfidence: cut });
    expect(r.statusCode, r.body).toBe(200);
    const hits = (r.json() as { results: Hit[] }).results;
    expect(hits.length).toBeGreaterThanOrEqual(6);
    expect(hits.length).toBeLessThan(50);
    expect(hits.every((h) => h.confidence! >= cut)).toBe(true);
    expect(plain(hits)).toEqual(plain(await col.search({ id: fileId(daisy) }, { k: 50, minConfidence: cut })));
  });

  it('rerank by name or with options changes the ranking as the library does', async () => {
    for (const rerank of ['aqe', 'alpha-qe', { method: 'diffusion', k: 5, n: 40 }] as const) {
      const r = await search({ id: fileId(daisy), k: 10, rerank });
      expect(r.statusCode, r.body).toBe(200);
      expect(plain((r.json() as { results: Hit[] }).results)).toEqual(plain(await col.search({ id: fileId(daisy) }, { k: 10, rerank })));
    }
    const raw = (await search({ id: fileId(daisy), k: 10 })).json() as { results: Hit[] };
    const expanded = (await search({ id: fileId(daisy), k: 10, rerank: 'alpha-qe' })).json() as { results: Hit[] };
    expect(expanded.results.map((h) => h.id)).not.toEqual(raw.results.map((h) => h.id));
  });

  it('multipart: rerank and minConfidence fields', async () => {
    for (const [field, value, opts] of [
      ['rerank', 'aqe', { rerank: 'aqe' }],
      ['minConfidence', '0.5', { minConfidence: 0.5 }],
    ] as const) {
      const mp = await multipart({ image: { name: 'q.jpg', bytes: fs.readFileSync(daisy) }, k: '10', [field]: value });
      const r = await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...mp });
      expect(r.statusCode, r.body).toBe(200);
      const hits = (r.json() as { results: Hit[] }).results;
      expect(plain(hits)).toEqual(plain(await col.search({ image: fs.readFileSync(daisy) }, { k: 10, ...opts })));
    }
    const json = await multipart({ image: { name: 'q.jpg', bytes: fs.readFileSync(daisy) }, rerank: '{"method":"aqe","k":3}' });
    expect((await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...json })).statusCode).toBe(200);
  });

  it('bad values are 400s that name the field', async () => {
    const cases: [object, RegExp][] = [
      [{ id: fileId(daisy), rerank: 'magic' }, /rerank/],
      [{ id: fileId(daisy), rerank: { method: 'aqe', k: 0 } }, /rerank\.k/],
      [{ id: fileId(daisy), rerank: 'aqe', sort: 'path', minScore: 0 }, /rerank/],
      [{ id: fileId(daisy), rerank: 'aqe', minConfidence: 0.9 }, /minConfidence cannot be combined with rerank/],
    ];
    for (const [body, message] of cases) {
      const r = await search(body);
      expect(r.statusCode, r.body).toBe(400);
      expect(r.body).toMatch(message);
    }
    const mp = await multipart({ image: { name: 'q.jpg', bytes: fs.readFileSync(daisy) }, rerank: 'magic' });
    const bad = await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...mp });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/rerank must be one of aqe, alpha-qe, diffusion/);
  });
});
