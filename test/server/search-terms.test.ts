/** Issue 13 over HTTP: compositional queries (positive/negative terms, strategies), collapse, crop, and validation. */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { fileId } from '../../src/ingest/folder.js';
import { buildServer } from '../../src/server/app.js';
import { COLOR_CLIP, requireShared, SAMPLES, tmpDir } from '../helpers.js';
import { multipart } from './fixtures.js';

type Hit = { id: string; path: string | null; score: number; folded?: { id: string; score: number }[] };

describe('HTTP compositional search', () => {
  let db: LookalikeDatabase;
  let app: FastifyInstance;
  const daisies = fs.readdirSync(path.join(SAMPLES, 'daisy')).sort().map((f) => path.join(SAMPLES, 'daisy', f));
  const pansies = fs.readdirSync(path.join(SAMPLES, 'pansy')).sort().map((f) => path.join(SAMPLES, 'pansy', f));
  const search = (body: unknown, name = 'flowers') => app.inject({ method: 'POST', url: `/v1/collections/${name}/search`, payload: body as object });

  beforeAll(async () => {
    db = await openDatabase(tmpDir(), { threads: 1 });
    const flowers = await db.collection('flowers', { model: 'mobilenet-v1' });
    await flowers.indexFolder(SAMPLES);
    const copies = tmpDir('lookalike-copies-');
    fs.copyFileSync(daisies[0]!, path.join(copies, 'copy.jpg'));
    await flowers.indexFolder(copies);
    const colors = await db.collection('colors', { model: requireShared(COLOR_CLIP) });
    await colors.indexFolder(path.join(SAMPLES, 'buttercup'));
    await colors.indexFolder(path.join(SAMPLES, 'bluebell'));
    app = await buildServer({ db });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('positive and negative ids, both strategies; the given ids never come back', async () => {
    for (const strategy of ['average', 'best-score']) {
      const r = await search({ positive: [{ id: fileId(daisies[1]!) }, { id: fileId(daisies[2]!), weight: 0.5 }], negative: [{ id: fileId(pansies[0]!) }], strategy, k: 5 });
      expect(r.statusCode, r.body).toBe(200);
      const hits = (r.json() as { results: Hit[] }).results;
      expect(hits).toHaveLength(5);
      for (const f of [daisies[1]!, daisies[2]!, pansies[0]!]) expect(hits.map((h) => h.id)).not.toContain(fileId(f));
      expect(hits.filter((h) => h.path!.includes('/daisy/')).length).toBeGreaterThanOrEqual(4);
    }
  });

  it('an uploaded query image + a text, together (CLIP-family collection)', async () => {
    const mp = await multipart({ image: { name: 'q.jpg', bytes: fs.readFileSync(path.join(SAMPLES, 'buttercup', fs.readdirSync(path.join(SAMPLES, 'buttercup'))[0]!)) }, k: '3' });
    const first = await app.inject({ method: 'POST', url: '/v1/collections/colors/search', ...mp });
    expect(first.statusCode, first.body).toBe(200);
    const upload = (first.json() as { upload: string }).upload;
    const yellow = (await search({ positive: [{ upload }], k: 16 }, 'colors')).json() as { results: Hit[] };
    const blue = await search({ positive: [{ upload, weight: 0.2 }, { text: 'blue' }], k: 16 }, 'colors');
    expect(blue.statusCode, blue.body).toBe(200);
    const rank = (hits: Hit[]) => hits.findIndex((h) => h.path!.includes('bluebell'));
    // "this photo, but blue": bluebells climb
    expect(rank((blue.json() as { results: Hit[] }).results)).toBeLessThan(rank(yellow.results));
  });

  it('collapse folds the copy; crop searches a region (multipart and JSON)', async () => {
    const r = await search({ id: fileId(daisies[3]!), k: 20, collapse: 0.999 });
    const hits = (r.json() as { results: Hit[] }).results;
    const folded = hits.filter((h) => h.folded && h.folded.length > 0);
    expect(folded).toHaveLength(1);
    expect(folded[0]!.folded![0]!.score).toBeCloseTo(folded[0]!.score, 4);
    const mp = await multipart({ image: { name: 'q.jpg', bytes: fs.readFileSync(daisies[4]!) }, crop: '0,0,1,1', k: '1' });
    const whole = await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...mp });
    expect((whole.json() as { results: Hit[] }).results[0]!.id).toBe(fileId(daisies[4]!));
    const region = await search({ id: fileId(daisies[4]!), crop: { x: 0.25, y: 0.25, w: 0.5, h: 0.5 }, k: 3 });
    expect(region.statusCode, region.body).toBe(200);
    const badCrop = await multipart({ image: { name: 'q.jpg', bytes: fs.readFileSync(daisies[4]!) }, crop: 'left half' });
    const bc = await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...badCrop });
    expect(bc.statusCode).toBe(400);
    expect(bc.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/crop must be x,y,w,h/) } });
  });

  it('validation: empty terms, too many terms, non-finite weights, mixed forms → 400 with a message', async () => {
    const id = fileId(daisies[0]!);
    const cases: [unknown, RegExp][] = [
      [{ positive: [] }, /positive/],
      [{ positive: Array.from({ length: 33 }, () => ({ id })) }, /positive/],
      [{ positive: Array.from({ length: 20 }, () => ({ id })), negative: Array.from({ length: 13 }, () => ({ id })) }, /at most 32 terms/],
      [{ positive: [{ id, weight: 0 }] }, /weight must be a non-zero number/],
      [{ positive: [{ id, weight: 1e999 }] }, /weight/],
      [{ positive: [{ id, text: 'x' }] }, /exactly one of/],
      [{ positive: [{}] }, /exactly one of/],
      [{ positive: [{ id }], strategy: 'max' }, /strategy/],
      [{ id, negative: [{ id }] }, /and .{1,3}strategy.{1,3} go with .{1,3}positive/],
      [{ id, positive: [{ id }] }, /exactly one of/],
      [{ text: 'red', crop: { x: 0, y: 0, w: 1, h: 1 } }, /crop.{1,3} goes with .{1,3}id.{1,3} or .{1,3}upload/],
      [{ positive: [{ upload: '0123456789abcdef0123' }] }, /upload/],
      [{ id, collapse: 5 }, /collapse must be a cosine similarity/],
    ];
    for (const [body, message] of cases) {
      const r = app.inject({ method: 'POST', url: '/v1/collections/flowers/search', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body).replace('"weight":null', '"weight":1e999') });
      const res = await r;
      expect([400, 404, 410], `${JSON.stringify(body)} → ${res.body}`).toContain(res.statusCode);
      expect(res.body, JSON.stringify(body)).toMatch(message);
    }
  });

  it('the OpenAPI document describes positive/negative terms and folded hits', async () => {
    const spec = (await app.inject('/openapi.json')).json() as Record<string, unknown>;
    const text = JSON.stringify(spec);
    expect(text).toMatch(/"positive"/);
    expect(text).toMatch(/"best-score"/);
    expect(text).toMatch(/"folded"/);
  });
});
