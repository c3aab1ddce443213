/**
 * The API the web page needs (issue 12): paging (`offset`), uploaded query images kept for repeated searches
 * (`upload`), the server's limits, a collection's metadata summary, the original image with its sniffed type, and
 * ETag / cache headers on images. (The page itself, and its content security policy: test/web/.)
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { buildServer } from '../../src/server/app.js';
import { FEEDBACK_DEFAULTS } from '../../src/eval/feedback.js';
import { MAX_TERMS } from '../../src/search/search.js';
import { QueryImageCache } from '../../src/server/query-images.js';
import { SAMPLES, tmpDir } from '../helpers.js';
import { multipart, queryBytes } from './fixtures.js';

type Hits = { results: { id: string; path: string; score: number; metadata: Record<string, unknown> }[]; upload?: string };
const MAX_K = 50;

describe('HTTP API for the web page (issue 12)', () => {
  let db: LookalikeDatabase;
  let app: FastifyInstance;
  let odd: string;

  beforeAll(async () => {
    db = await openDatabase(tmpDir(), { threads: 1 });
    const flowers = await db.collection('flowers', { model: 'color-histogram' });
    await flowers.indexFolder(SAMPLES, { folderLabelKey: 'species' });
    // a PNG and a TIFF, to check the original's type is read from its bytes
    odd = tmpDir('lookalike-formats-');
    const daisy = path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!);
    await sharp(daisy).png().toFile(path.join(odd, 'flower.png'));
    await sharp(daisy).tiff().toFile(path.join(odd, 'flower.tif'));
    const formats = await db.collection('formats', { model: 'color-histogram' });
    await formats.indexFolder(odd);
    app = await buildServer({ db, maxK: MAX_K, defaultCollection: 'flowers' });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  const search = (payload: Record<string, unknown>, name = 'flowers') => app.inject({ method: 'POST', url: `/v1/collections/${name}/search`, payload });

  it('offset pages through one ranking; offset + k beyond the server max k is refused, never clamped', async () => {
    const first = (await search({ ...(await anId()), k: 20 })).json() as Hits;
    const page = (await search({ ...(await anId()), k: 5, offset: 10 })).json() as Hits;
    expect(page.results.map((h) => h.id)).toEqual(first.results.slice(10, 15).map((h) => h.id));

    const tooFar = await search({ ...(await anId()), k: 10, offset: MAX_K - 5 });
    expect([tooFar.statusCode, tooFar.json().error.code]).toEqual([400, 'INVALID_ARGUMENT']);
    expect(tooFar.json().error.message).toMatch(new RegExp(`at most ${MAX_K}`));
    for (const offset of [-1, 1.5]) expect((await search({ ...(await anId()), offset })).statusCode).toBe(400);
    expect((await search({ ...(await anId()), offset: '3' })).statusCode).toBe(400);
    const bigK = await search({ ...(await anId()), k: MAX_K + 1 });
    expect(bigK.json().error.message).toMatch(new RegExp(`from 1 to ${MAX_K}`));

    // multipart searches page too
    const mp = (fields: Record<string, string>) => multipart({ image: { name: 'q.jpg', bytes: queryBytes() }, ...fields });
    const all = (await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...(await mp({ k: '8' })) })).json() as Hits;
    const second = (await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...(await mp({ k: '4', offset: '4' })) })).json() as Hits;
    expect(second.results.map((h) => h.id)).toEqual(all.results.slice(4, 8).map((h) => h.id));

    const spec = JSON.stringify((await app.inject('/openapi.json')).json());
    expect(spec).toContain('"offset"');
    expect(spec).toContain('/v1/collections/{name}/metadata');
    expect(spec).toContain('/v1/limits');
  });

  let firstId: string | undefined;
  /** The query of a "more like this" search (the first image of the collection by path). */
  async function anId(): Promise<{ id: string }> {
    if (!firstId) {
      const c = await db.openCollection('flowers');
      firstId = (await c.files()).sort((a, b) => a.path.localeCompare(b.path))[0]!.id;
      await c.close();
    }
    return { id: firstId };
  }

  it('a multipart search names its image; {upload} repeats it; the image can be shown; a forgotten one is a clear 404', async () => {
    const bytes = queryBytes('sunflower');
    const mp = await multipart({ image: { name: 'sunflower.jpg', bytes }, k: '6', where: JSON.stringify({ species: 'sunflower' }) });
    const first = (await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...mp })).json() as Hits;
    expect(first.upload).toMatch(/^[0-9a-f]{20}$/);
    expect(first.upload).toBe(QueryImageCache.hashOf(bytes));
    expect(first.results.every((h) => h.metadata.species === 'sunflower')).toBe(true);

    const again = (await search({ upload: first.upload, k: 6, where: { species: 'sunflower' } })).json() as Hits;
    expect(again.results).toEqual(first.results);
    expect(again.upload).toBe(first.upload);

    const shown = await app.inject(`/v1/query-images/${first.upload}`);
    expect(shown.statusCode).toBe(200);
    expect(shown.headers['content-type']).toBe('image/jpeg');
    expect(Buffer.compare(shown.rawPayload, bytes)).toBe(0);

    const gone = await search({ upload: '0123456789abcdef0123' });
    expect([gone.statusCode, gone.json().error.code]).toEqual([404, 'QUERY_IMAGE_NOT_FOUND']);
    expect(gone.json().error.message).toMatch(/upload the image again/);
    expect((await app.inject('/v1/query-images/0123456789abcdef0123')).statusCode).toBe(404);
    expect((await app.inject('/v1/query-images/..%2Fetc')).statusCode).toBe(400);
    expect((await search({ upload: first.upload, text: 'x' })).statusCode).toBe(400);

    // an upload that is not an image is not kept
    const bad = await app.inject({ method: 'POST', url: '/v1/collections/flowers/search', ...(await multipart({ image: { name: 'notes.txt', bytes: Buffer.from('hello') } })) });
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'IMAGE_DECODE_FAILED']);
    expect(bad.json().upload).toBeUndefined();
  });

  it('the query image cache keeps the most recently used images within its bounds', () => {
    const cache = new QueryImageCache(2, 10);
    const a = cache.put(new Uint8Array([1, 2, 3]));
    const b = cache.put(new Uint8Array([4, 5, 6]));
    expect(cache.get(a)).toBeDefined(); // a is now the most recent
    const c = cache.put(new Uint8Array([7, 8, 9]));
    expect([cache.get(a) !== undefined, cache.get(b) !== undefined, cache.get(c) !== undefined]).toEqual([true, false, true]);
    cache.put(new Uint8Array(8)); // over 10 bytes in all: the oldest go
    expect(cache.get(a)).toBeUndefined();
    const huge = cache.put(new Uint8Array(11)); // larger than the whole cache: named, not kept
    expect(cache.get(huge)).toBeUndefined();
  });

  it('GET /v1/limits states the largest k, upload size, accepted formats, most query terms and feedback weights', async () => {
    expect((await app.inject('/v1/limits')).json()).toEqual({
      maxK: MAX_K,
      maxUploadBytes: 20 * 1024 * 1024,
      maxWhereConditions: 32,
      acceptedFormats: ['JPEG', 'PNG', 'WebP', 'GIF', 'TIFF', 'AVIF', 'HEIF'],
      acceptedTypes: ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif', 'image/heif'],
      maxQueryTerms: MAX_TERMS,
      feedbackWeights: FEEDBACK_DEFAULTS.weights,
    });
  });

  it('GET /v1/collections/{name}/metadata lists keys and their top values', async () => {
    const r = await app.inject('/v1/collections/flowers/metadata');
    expect(r.statusCode).toBe(200);
    const m = r.json() as { collection: string; items: number; pathPrefix: string; keys: { key: string; items: number; distinct: number; values: { value: string; count: number }[] }[] };
    expect(m.collection).toBe('flowers');
    expect(m.items).toBe(96);
    expect(m.pathPrefix).toBe(SAMPLES + path.sep);
    // the folder label, and the image facts read at ingest (the sample JPEGs state nothing but their format)
    expect(m.keys.map((k) => k.key)).toEqual(['format', 'species']);
    const species = m.keys.find((k) => k.key === 'species')!;
    expect(species).toMatchObject({ key: 'species', items: 96, distinct: 12 });
    expect(species.values).toHaveLength(12);
    expect(species.values.every((v) => v.count === 8)).toBe(true);
    const few = (await app.inject('/v1/collections/flowers/metadata?values=3')).json() as typeof m;
    expect(few.keys.find((k) => k.key === 'species')!.values.map((v) => v.value)).toEqual(['bluebell', 'buttercup', 'colts-foot']);
    expect((await app.inject('/v1/collections/flowers/metadata?values=0')).statusCode).toBe(400);
    expect((await app.inject('/v1/collections/flowers/metadata?other=1')).statusCode).toBe(400);
    expect((await app.inject('/v1/collections/nope/metadata')).json().error.code).toBe('COLLECTION_NOT_FOUND');
  });

  it('GET …/items/{id}/image serves the original with its type read from its bytes; images carry ETags and cache headers', async () => {
    const files = await (await db.openCollection('formats')).files();
    const png = files.find((f) => f.path.endsWith('.png'))!;
    const tif = files.find((f) => f.path.endsWith('.tif'))!;
    const r = await app.inject(`/v1/collections/formats/items/${png.id}/image`);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('image/png');
    expect(Buffer.compare(r.rawPayload, fs.readFileSync(png.path))).toBe(0);
    const etag = r.headers.etag as string;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(r.headers['cache-control']).toMatch(/max-age=\d{4,}/);
    const cached = await app.inject({ url: `/v1/collections/formats/items/${png.id}/image`, headers: { 'if-none-match': etag } });
    expect([cached.statusCode, cached.body]).toEqual([304, '']);

    // TIFF, which browsers do not show, comes as JPEG
    const t = await app.inject(`/v1/collections/formats/items/${tif.id}/image`);
    expect(t.headers['content-type']).toBe('image/jpeg');
    expect((await sharp(t.rawPayload).metadata()).format).toBe('jpeg');

    const thumb = await app.inject(`/v1/collections/formats/items/${png.id}/thumbnail?size=64`);
    expect(thumb.headers['cache-control']).toMatch(/max-age=\d{5,}/);
    const thumbTag = thumb.headers.etag as string;
    expect(thumbTag).not.toBe(etag);
    expect((await app.inject({ url: `/v1/collections/formats/items/${png.id}/thumbnail?size=64`, headers: { 'if-none-match': thumbTag } })).statusCode).toBe(304);
    // another size is another representation
    expect((await app.inject({ url: `/v1/collections/formats/items/${png.id}/thumbnail?size=128`, headers: { 'if-none-match': thumbTag } })).statusCode).toBe(200);

    expect((await app.inject('/v1/collections/formats/items/nope/image')).json().error.code).toBe('ITEM_NOT_FOUND');
    fs.rmSync(png.path);
    const gone = await app.inject(`/v1/collections/formats/items/${png.id}/image`);
    expect([gone.statusCode, gone.json().error.code]).toEqual([404, 'FILE_NOT_FOUND']);
    expect(gone.body).not.toContain(odd);
    expect([gone.headers.etag, gone.headers['cache-control']]).toEqual([undefined, undefined]); // errors are not cached
  });
});
