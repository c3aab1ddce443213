import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { buildServer } from '../../src/server/app.js';
import { COLOR_CLIP, requireShared, SAMPLES, tmpDir } from '../helpers.js';
import { multipart, queryFile } from './fixtures.js';

const KEY = 'test-key-123';
const auth = { authorization: `Bearer ${KEY}` };

describe('HTTP API', () => {
  let db: LookalikeDatabase;
  let app: FastifyInstance;

  beforeAll(async () => {
    db = await openDatabase(tmpDir(), { threads: 1, maxPixels: 4_000_000 });
    const flowers = await db.collection('flowers', { model: 'mobilenet-v1' });
    await flowers.indexFolder(SAMPLES, { folderLabelKey: 'species' });
    const colors = await db.collection('colors', { model: requireShared(COLOR_CLIP) });
    await colors.indexFolder(path.join(SAMPLES, 'buttercup'));
    await colors.indexFolder(path.join(SAMPLES, 'bluebell'));
    app = await buildServer({ db, apiKey: KEY, maxUploadBytes: 2 * 1024 * 1024, defaultCollection: 'colors' });
  }, 120_000);

  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('health, OpenAPI document, collection list and info', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const spec = (await app.inject('/openapi.json')).json() as { openapi: string; paths: Record<string, unknown> };
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(['/v1/collections', '/v1/collections/{name}/search', '/v1/collections/{name}/items', '/v1/embed']),
    );
    const list = (await app.inject('/v1/collections')).json() as { collections: { collection: string; count: number }[]; default: string };
    expect(list.collections.map((c) => [c.collection, c.count])).toEqual([
      ['colors', 16],
      ['flowers', 96],
    ]);
    expect(list.default).toBe('colors');
    expect((await app.inject('/v1/collections/flowers')).json()).toMatchObject({ model: 'mobilenet-v1', dimension: 1024, metric: 'cosine', bytesPerVector: 4096 });
  });

  it('searches by uploaded image, text, id and vector, with k, minScore and where', async () => {
    const mp = await multipart({ image: { name: 'q.jpg', bytes: fs.readFileSync(queryFile()) }, k: '3' });
    const byImage = (await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...mp })).json() as {
      results: { id: string; score: number; metadata: { species: string } }[];
    };
    expect(byImage.results).toHaveLength(3);
    expect(byImage.results[0]!.metadata.species).toBe('daisy');

    const first = byImage.results[0]!.id;
    const byId = (await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', payload: { id: first, k: 5 } })).json() as {
      results: { id: string }[];
    };
    expect(byId.results.map((h) => h.id)).not.toContain(first);

    const filtered = (
      await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', payload: { id: first, k: 50, where: { species: 'iris' } } })
    ).json() as { results: { metadata: { species: string } }[] };
    expect(filtered.results).toHaveLength(8);
    expect(filtered.results.every((h) => h.metadata.species === 'iris')).toBe(true);

    const text = (await app.inject({ method: 'POST', url: '/v1/collections/colors/search', payload: { text: 'yellow', k: 3 } })).json() as {
      results: { path: string }[];
    };
    expect(text.results.every((h) => h.path.includes('buttercup'))).toBe(true);

    const embedded = (await app.inject({ method: 'POST', url: '/v1/embed', payload: { text: 'yellow' } })).json() as { vector: number[]; dimension: number };
    expect(embedded.dimension).toBe(11);
    const byVector = (
      await app.inject({ method: 'POST', url: '/v1/collections/colors/search', payload: { vector: embedded.vector, k: 2, minScore: 0.5 } })
    ).json() as { results: { score: number }[] };
    expect(byVector.results.length).toBeGreaterThan(0);
    expect(byVector.results.every((h) => h.score >= 0.5)).toBe(true);
  });

  it('embeds an uploaded image with a collection\'s embedder', async () => {
    const mp = await multipart({ image: { name: 'q.jpg', bytes: fs.readFileSync(queryFile()) }, collection: 'flowers' });
    const r = (await app.inject({ method: 'POST', url: '/v1/embed', ...mp })).json() as { dimension: number; vector: number[]; model: string };
    expect(r).toMatchObject({ dimension: 1024, model: 'mobilenet-v1' });
    expect(r.vector.reduce((s, x) => s + x * x, 0)).toBeCloseTo(1, 4);
  });

  it('adds (with the API key), serves thumbnails, gets and deletes items', async () => {
    const bytes = fs.readFileSync(queryFile());
    const mp = await multipart({ image: { name: 'new-daisy.jpg', bytes }, metadata: JSON.stringify({ species: 'daisy', source: 'upload' }) });
    const noKey = await app.inject({ method: 'POST', url: '/v1/collections/flowers/items', ...mp });
    expect(noKey.statusCode).toBe(401);
    expect(noKey.json().error.code).toBe('UNAUTHORIZED');
    const added = await app.inject({ method: 'POST', url: '/v1/collections/flowers/items', ...mp, headers: { ...mp.headers, ...auth } });
    expect(added.statusCode).toBe(200);
    const { added: items } = added.json() as { added: { id: string; status: string }[] };
    expect(items).toHaveLength(1);
    expect(items[0]!.status).toBe('added');
    const id = items[0]!.id;
    // the same bytes again: same id, still one record (its metadata replaced: onConflict defaults to replace)
    const again = await app.inject({ method: 'POST', url: '/v1/collections/flowers/items', ...mp, headers: { ...mp.headers, ...auth } });
    expect((again.json() as { added: { id: string; status: string }[] }).added[0]).toMatchObject({ id, status: 'updated' });
    expect((await app.inject('/v1/collections/flowers')).json().count).toBe(97);

    const thumb = await app.inject(`/v1/collections/flowers/items/${id}/thumbnail?size=64`);
    expect(thumb.headers['content-type']).toBe('image/jpeg');
    const meta = await sharp(thumb.rawPayload).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBe(64);
    expect((await app.inject(`/v1/collections/flowers/items/${id}`)).json()).toMatchObject({ id, metadata: { species: 'daisy', source: 'upload' } });

    expect((await app.inject({ method: 'DELETE', url: `/v1/collections/flowers/items/${id}` })).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: `/v1/collections/flowers/items/${id}`, headers: auth })).json()).toEqual({ deleted: 1 });
    expect((await app.inject({ method: 'DELETE', url: `/v1/collections/flowers/items/${id}`, headers: auth })).statusCode).toBe(404);
  });

  it('creates and deletes collections (built-in models only over HTTP)', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v1/collections', headers: auth, payload: { name: 'x', model: '/etc' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/not allowed over HTTP/);
    const ok = await app.inject({ method: 'POST', url: '/v1/collections', headers: auth, payload: { name: 'hist', model: 'color-histogram' } });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ collection: 'hist', count: 0, dimension: 128 });
    expect((await app.inject({ method: 'POST', url: '/v1/collections', headers: auth, payload: { name: 'hist', model: 'pixels' } })).statusCode).toBe(409);
    expect((await app.inject({ method: 'DELETE', url: '/v1/collections/hist', headers: auth })).json()).toEqual({ deleted: true });
    expect((await app.inject('/v1/collections/hist')).statusCode).toBe(404);
  });

  it('every error is JSON with a stable code and the right status, never a stack trace', async () => {
    const cases: [string, InjectOptions, number, string][] = [
      ['unknown collection', { method: 'POST', url: '/v1/collections/nope/search', payload: { text: 'x' } }, 404, 'COLLECTION_NOT_FOUND'],
      ['unknown item', { method: 'POST', url: '/v1/collections/flowers/search', payload: { id: 'nope' } }, 404, 'ITEM_NOT_FOUND'],
      ['text on an image-only model', { method: 'POST', url: '/v1/collections/flowers/search', payload: { text: 'x' } }, 400, 'TEXT_NOT_SUPPORTED'],
      ['two query kinds', { method: 'POST', url: '/v1/collections/flowers/search', payload: { text: 'x', id: 'y' } }, 400, 'INVALID_ARGUMENT'],
      ['no query', { method: 'POST', url: '/v1/collections/flowers/search', payload: {} }, 400, 'INVALID_ARGUMENT'],
      ['k too big', { method: 'POST', url: '/v1/collections/flowers/search', payload: { id: 'x', k: 100000 } }, 400, 'INVALID_ARGUMENT'],
      ['negative k', { method: 'POST', url: '/v1/collections/flowers/search', payload: { id: 'x', k: -1 } }, 400, 'INVALID_ARGUMENT'],
      ['k of the wrong type', { method: 'POST', url: '/v1/collections/flowers/search', payload: { id: 'x', k: '5' } }, 400, 'INVALID_ARGUMENT'],
      ['unknown field', { method: 'POST', url: '/v1/collections/flowers/search', payload: { id: 'x', evil: 1 } }, 400, 'INVALID_ARGUMENT'],
      ['wrong vector dimension', { method: 'POST', url: '/v1/collections/flowers/search', payload: { vector: [1, 2, 3] } }, 400, 'DIMENSION_MISMATCH'],
      ['bad JSON', { method: 'POST', url: '/v1/collections/flowers/search', payload: '{"text":', headers: { 'content-type': 'application/json' } }, 400, 'INVALID_ARGUMENT'],
      ['wrong content type', { method: 'POST', url: '/v1/collections/flowers/search', payload: 'text=x', headers: { 'content-type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['path traversal in a name', { method: 'GET', url: '/v1/collections/..%2F..%2Fetc' }, 400, 'INVALID_ARGUMENT'],
      ['path traversal in an id', { method: 'GET', url: '/v1/collections/flowers/items/..%2F..%2Fetc%2Fpasswd/thumbnail' }, 400, 'INVALID_ARGUMENT'],
      ['bad thumbnail size', { method: 'GET', url: '/v1/collections/flowers/items/x/thumbnail?size=99999' }, 400, 'INVALID_ARGUMENT'],
      ['unknown route', { method: 'GET', url: '/v1/nothing' }, 404, 'NOT_FOUND'],
      ['oversize JSON body', { method: 'POST', url: '/v1/collections/flowers/search', payload: { text: 'x'.repeat(2_000_000) } }, 413, 'PAYLOAD_TOO_LARGE'],
      ['missing API key on a write', { method: 'POST', url: '/v1/collections', payload: { name: 'x', model: 'pixels' } }, 401, 'UNAUTHORIZED'],
      ['unknown collection on a write', { method: 'DELETE', url: '/v1/collections/nope', headers: { authorization: `Bearer ${KEY}` } }, 404, 'COLLECTION_NOT_FOUND'],
    ];
    for (const [what, req, status, code] of cases) {
      const r = await app.inject(req);
      expect([what, r.statusCode]).toEqual([what, status]);
      const body = r.json() as { error: { code: string; message: string } };
      expect([what, body.error.code]).toEqual([what, code]);
      expect(body.error.message.length).toBeGreaterThan(5);
      expect(r.body).not.toMatch(/\n\s+at /);
    }
    // and the server is still healthy
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', payload: { id: 'x' } })).statusCode).toBe(404);
  });

  it('rejects oversize uploads, non-images and decompression bombs with 4xx', async () => {
    const big = await multipart({ image: { name: 'big.jpg', bytes: new Uint8Array(3 * 1024 * 1024) } });
    const r1 = await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...big });
    expect(r1.statusCode).toBe(413);
    expect(r1.json().error.code).toBe('PAYLOAD_TOO_LARGE');

    const html = await multipart({ image: { name: 'x.jpg', bytes: Buffer.from('<html>hello</html>') } });
    const r2 = await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...html });
    expect([r2.statusCode, r2.json().error.code]).toEqual([400, 'IMAGE_DECODE_FAILED']);

    const bomb = await sharp({ create: { width: 5000, height: 5000, channels: 3, background: '#fff' } }).png({ compressionLevel: 9 }).toBuffer();
    const r3 = await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...(await multipart({ image: { name: 'b.png', bytes: bomb } })) });
    expect([r3.statusCode, r3.json().error.code]).toEqual([413, 'IMAGE_TOO_LARGE']);

    const add = await multipart({ image: { name: 'x.jpg', bytes: Buffer.from('not an image') } });
    const r4 = await app.inject({ method: 'POST', url: '/v1/collections/flowers/items', ...add, headers: { ...add.headers, ...auth } });
    expect(r4.json()).toMatchObject({ added: [], failures: [{ filename: 'x.jpg' }] });
  });

  it('serves concurrent searches while images are being added', async () => {
    const bytes = fs.readdirSync(path.join(SAMPLES, 'tigerlily')).map((f) => fs.readFileSync(path.join(SAMPLES, 'tigerlily', f)));
    const adds = bytes.map(async (b, i) => {
      const flipped = await sharp(b).flop().modulate({ brightness: 1 + i / 100 }).jpeg().toBuffer();
      const mp = await multipart({ image: { name: `flip-${i}.jpg`, bytes: flipped } });
      return app.inject({ method: 'POST', url: '/v1/collections/flowers/items', ...mp, headers: { ...mp.headers, ...auth } });
    });
    const searches = Array.from({ length: 40 }, (_, i) =>
      app.inject({ method: 'POST', url: '/v1/collections/flowers/search', payload: { vector: Array.from({ length: 1024 }, (_, j) => Math.sin(i + j)), k: 10 } }),
    );
    const all = await Promise.all([...adds, ...searches]);
    expect(all.every((r) => r.statusCode === 200)).toBe(true);
    expect((await app.inject('/v1/collections/flowers')).json().count).toBe(96 + 8);
  });
});
