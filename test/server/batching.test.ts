/** Issue 18 part 4 over HTTP: concurrent uploads are embedded in shared batches and answer as if sent alone. */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { BatchingEmbedder } from '../../src/embed/batcher.js';
import { buildServer } from '../../src/server/app.js';
import { CollectionCache } from '../../src/server/context.js';
import { SAMPLES, tmpDir } from '../helpers.js';
import { multipart } from './fixtures.js';

type Hit = { id: string; score: number };
type Answer = { status: number; hits: Hit[]; upload: string | undefined };

describe('HTTP query batching', () => {
  let db: LookalikeDatabase;
  let batched: FastifyInstance;
  let unbatched: FastifyInstance;
  // 16 different photos, two of each of 8 flower classes
  const files = fs
    .readdirSync(SAMPLES)
    .sort()
    .flatMap((cls) => fs.readdirSync(path.join(SAMPLES, cls)).sort().slice(3, 5).map((f) => path.join(SAMPLES, cls, f)))
    .slice(0, 16);

  const searchUpload = async (app: FastifyInstance, file: string): Promise<Answer> => {
    const mp = await multipart({ image: { name: path.basename(file), bytes: fs.readFileSync(file) }, k: '8' });
    const r = await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...mp });
    const body = r.json() as { results?: Hit[]; upload?: string };
    return { status: r.statusCode, hits: body.results ?? [], upload: body.upload };
  };
  const expectSameAnswer = (got: Answer, want: Answer) => {
    expect(got.status).toBe(200);
    expect(got.hits.map((h) => h.id)).toEqual(want.hits.map((h) => h.id));
    got.hits.forEach((h, i) => expect(Math.abs(h.score - want.hits[i]!.score)).toBeLessThan(1e-5));
  };

  beforeAll(async () => {
    db = await openDatabase(tmpDir(), { threads: 2, inferenceWorkers: 2, batchSize: 8 });
    const flowers = await db.collection('flowers', { model: 'mobilenet-v1' });
    await flowers.indexFolder(SAMPLES);
    const open = { db, rateLimit: false as const, maxConcurrentPerClient: 64 };
    batched = await buildServer({ ...open, batchQueries: true }); // on CPU the default is off (see ServerOptions.batchQueries)
    unbatched = await buildServer({ ...open, batchQueries: false });
  }, 120_000);
  afterAll(async () => {
    await batched?.close();
    await unbatched?.close();
    await db?.close();
  });

  it('16 concurrent multipart searches answer exactly as each upload sent alone', async () => {
    expect(files).toHaveLength(16);
    // alone: one at a time, without batching
    const alone: Answer[] = [];
    for (const f of files) alone.push(await searchUpload(unbatched, f));
    // and one at a time through the batching server (a batch of one, after the 5 ms wait)
    for (const [i, f] of files.entries()) expectSameAnswer(await searchUpload(batched, f), alone[i]!);
    const together = await Promise.all(files.map((f) => searchUpload(batched, f)));
    together.forEach((a, i) => {
      expectSameAnswer(a, alone[i]!);
      expect(a.upload).toBe(alone[i]!.upload);
    });
  });

  it('/v1/embed and a JSON search by kept upload go through the batcher too; a search by id beside them answers', async () => {
    const vectorOf = async (app: FastifyInstance, file: string) => {
      const mp = await multipart({ image: { name: 'q.jpg', bytes: fs.readFileSync(file) }, collection: 'flowers' });
      const r = await app.inject({ method: 'POST', url: '/v1/embed', ...mp });
      expect(r.statusCode, r.body).toBe(200);
      return Float32Array.from((r.json() as { vector: number[] }).vector);
    };
    const alone: Float32Array[] = [];
    for (const f of files.slice(0, 8)) alone.push(await vectorOf(unbatched, f));
    const first = await searchUpload(batched, files[0]!);
    const [vectors, byUpload, byId] = await Promise.all([
      Promise.all(files.slice(0, 8).map((f) => vectorOf(batched, f))),
      batched.inject({ method: 'POST', url: '/v1/collections/flowers/search', payload: { upload: first.upload!, k: 8 } }),
      batched.inject({ method: 'POST', url: '/v1/collections/flowers/search', payload: { id: first.hits[0]!.id, k: 3 } }),
    ]);
    vectors.forEach((v, i) => expect(v.reduce((s, x, j) => s + x * alone[i]![j]!, 0)).toBeGreaterThan(0.99999));
    expect(byUpload.statusCode, byUpload.body).toBe(200);
    expect((byUpload.json() as { results: Hit[] }).results.map((h) => h.id)).toEqual(first.hits.map((h) => h.id));
    expect(byId.statusCode, byId.body).toBe(200);
  });

  it("the server's collections embed through one BatchingEmbedder per model; batchQueries: false leaves them alone", async () => {
    const cache = new CollectionCache(db, { maxBatch: 8 });
    const c = await cache.get('flowers');
    const e = await c.embedder();
    expect(e).toBeInstanceOf(BatchingEmbedder);
    expect(await c.embedder()).toBe(e);
    expect((e as BatchingEmbedder).maxBatch).toBe(8);
    const plain = new CollectionCache(db);
    expect(await (await plain.get('flowers')).embedder()).not.toBeInstanceOf(BatchingEmbedder);
    await cache.closeAll();
    await plain.closeAll();
  });
});
