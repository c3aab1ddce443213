/**
 * Regression tests of the server-side defects of issue 10 (models, metadata, where, multipart, re-adds, paths in
 * errors, readiness, warm-up) — each named after its defect.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Collection, openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { createError } from '../../src/errors.js';
import { buildServer } from '../../src/server/app.js';
import { COLOR_CLIP, requireShared, SAMPLES, tmpDir } from '../helpers.js';
import { expectNoServerPaths, multipart, queryBytes } from './fixtures.js';

const KEY = 'hardening-key';
const auth = { authorization: `Bearer ${KEY}` };

describe('server hardening (issue 10)', () => {
  let dir: string;
  let modelsDir: string;
  let db: LookalikeDatabase;
  let app: FastifyInstance;

  const upload = async (col: string, parts: Parameters<typeof multipart>[0]) => {
    const mp = await multipart(parts);
    return app.inject({ method: 'POST', url: `/v1/collections/${col}/items`, ...mp, headers: { ...mp.headers, ...auth } });
  };

  beforeAll(async () => {
    dir = tmpDir('lookalike-hardening-');
    modelsDir = tmpDir('lookalike-models-');
    // a "model" whose config.json is a secret, not JSON: its contents must never reach a client
    fs.mkdirSync(path.join(modelsDir, 'Evil', 'secrets'), { recursive: true });
    fs.writeFileSync(path.join(modelsDir, 'Evil', 'secrets', 'config.json'), 'DB_PASSWORD=hunter2\n');
    db = await openDatabase(path.join(dir, 'db'), { threads: 1, allowDownloads: false, modelPaths: [modelsDir] });
    const hist = await db.collection('hist', { model: 'color-histogram' });
    await hist.indexFolder(path.join(SAMPLES, 'daisy'), { folderLabelKey: 'species' });
    app = await buildServer({ db, apiKey: KEY, rateLimit: false });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('10.1 an upload in flight while its collection is deleted and re-created never lands in the new collection', async () => {
    const created = await app.inject({ method: 'POST', url: '/v1/collections', headers: auth, payload: { name: 'race3', model: 'phash' } });
    expect(created.statusCode).toBe(201);
    const files = fs.readdirSync(path.join(SAMPLES, 'tigerlily')).slice(0, 6).map((f) => fs.readFileSync(path.join(SAMPLES, 'tigerlily', f)));
    const flipped = await Promise.all(files.map((b) => sharp(b).flop().jpeg().toBuffer()));
    const fd = new FormData();
    [...files, ...flipped].forEach((b, i) => fd.append('image', new Blob([new Uint8Array(b)]), `${i}.jpg`));
    const req = new Request('http://localhost/', { method: 'POST', body: fd });
    const body = Buffer.from(await req.arrayBuffer());
    const inFlight = app.inject({
      method: 'POST',
      url: '/v1/collections/race3/items',
      payload: body,
      headers: { 'content-type': req.headers.get('content-type')!, ...auth },
    });
    await new Promise((res) => setTimeout(res, 40)); // let the upload get going (parsed, embedding)
    const dropped = await app.inject({ method: 'DELETE', url: '/v1/collections/race3', headers: auth });
    const again = await app.inject({ method: 'POST', url: '/v1/collections', headers: auth, payload: { name: 'race3', model: 'color-histogram' } });
    const r = await inFlight;
    expect([dropped.statusCode, again.statusCode]).toEqual([200, 201]);
    // the upload either finished before the delete (and went with the old collection) or failed cleanly: never a
    // 500, never vectors of the old dimension in the new collection
    expect([200, 404, 409]).toContain(r.statusCode);
    if (r.statusCode !== 200) expect(['COLLECTION_CHANGED', 'COLLECTION_NOT_FOUND']).toContain(r.json().error.code);
    const info = (await app.inject('/v1/collections/race3')).json() as { count: number; dimension: number };
    expect(info).toMatchObject({ count: 0, dimension: 128 });
    const search = await app.inject({ method: 'POST', url: '/v1/collections/race3/search', payload: { vector: Array.from({ length: 128 }, () => 0.1), k: 5 } });
    expect(search.json()).toEqual({ results: [] });
  });

  it('10.2 model check bypass: only built-in names, pixel parameters and Hugging Face ids are accepted over HTTP', async () => {
    const create = (name: string, model: string) =>
      app.inject({ method: 'POST', url: '/v1/collections', headers: auth, payload: { name, model } });
    const refused = [
      'pixels:/../../../../srv/models/mobilenet-v1-imagenet',
      'pixels:/../../../etc/passwd',
      'pixels:../x',
      'color-histogram:16x4x4/../x',
      'mobilenet-v1:3',
      'phash:',
      '/etc',
      './models',
      '../shared/models/color-clip',
      'Xenova/../clip',
      'a:b/c',
      '/Xenova/clip',
      'C:\\models\\x',
    ];
    for (const model of refused) {
      const r = await create('bypass', model);
      expect([model, r.statusCode, r.json().error.code]).toEqual([model, 400, 'INVALID_ARGUMENT']);
      expect(r.json().error.message).toMatch(/not allowed over HTTP/);
    }
    // an id that is also a folder under the server's working directory is a hub id over HTTP: looked up in the
    // configured model folders, the cache and the hub (downloads are off here), never loaded from that folder
    const local = await create('bypass', 'node_modules/onnxruntime-node');
    expect([local.statusCode, local.json().error.code]).toEqual([500, 'MODEL_NOT_FOUND']);
    expect(await db.hasCollection('bypass')).toBe(false);

    const ok = await create('hist16', 'color-histogram:16x4x4');
    expect([ok.statusCode, ok.json().dimension]).toEqual([201, 256]);
    expect((await create('pix8', 'pixels:8')).statusCode).toBe(201);
    // a parameter the library refuses is still a 400
    expect((await create('hist0', 'color-histogram:1x2')).statusCode).toBe(400);
  });

  it('10.2 model errors over HTTP never echo file contents (a config.json that is not JSON)', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/collections', headers: auth, payload: { name: 'evil', model: 'Evil/secrets' } });
    expect(r.statusCode).toBeGreaterThanOrEqual(400);
    expect(r.json().error.code).toBe('MODEL_LOAD_FAILED');
    expect(r.body).not.toMatch(/DB_PASSWOR|hunter2/);
    expectNoServerPaths(r.body, modelsDir, dir);
  });

  it('10.9 errors over HTTP never contain server paths (collection and model not found, unreadable thumbnail)', async () => {
    const missing = await app.inject('/v1/collections/zzz');
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'COLLECTION_NOT_FOUND']);
    expect(missing.json().error.message).toMatch(/zzz/);
    expectNoServerPaths(missing.body, db.location, dir);

    const searchMissing = await app.inject({ method: 'POST', url: '/v1/collections/zzz/search', payload: { id: 'x' } });
    expectNoServerPaths(searchMissing.body, db.location, dir);

    const model = await app.inject({ method: 'POST', url: '/v1/collections', headers: auth, payload: { name: 'm', model: 'Nobody/no-such-model' } });
    expect(model.json().error.code).toBe('MODEL_NOT_FOUND');
    expect(model.json().error.message).toMatch(/Nobody\/no-such-model/);
    expectNoServerPaths(model.body, modelsDir, db.config.cacheDir, dir);

    // an indexed file that disappeared: the thumbnail error must not name it
    const photos = tmpDir('lookalike-vanishing-');
    fs.copyFileSync(path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!), path.join(photos, 'gone.jpg'));
    const c = await db.collection('vanishing', { model: 'color-histogram' });
    await c.indexFolder(photos);
    const [item] = await c.files();
    await c.close();
    fs.rmSync(path.join(photos, 'gone.jpg'));
    const thumb = await app.inject(`/v1/collections/vanishing/items/${item!.id}/thumbnail`);
    expect([thumb.statusCode, thumb.json().error.code]).toEqual([404, 'FILE_NOT_FOUND']);
    expectNoServerPaths(thumb.body, photos, dir);
  });

  it('10.3 metadata bounds: deep, wide, large or oddly keyed metadata is a 400 INVALID_METADATA and filtered search keeps working', async () => {
    const bytes = queryBytes();
    let deep: unknown = 'x';
    for (let i = 0; i < 1500; i++) deep = { a: deep };
    const wide = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
    const bad: [string, string][] = [
      ['nested 1,500 deep', JSON.stringify(deep)],
      ['nested 9 deep', JSON.stringify({ a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } })],
      ['65 keys', JSON.stringify(wide)],
      ['over 16 KB', JSON.stringify({ big: 'x'.repeat(17 * 1024) })],
      ['a backslash in a key', JSON.stringify({ 'a\\b': 1 })],
      ['NUL in a key', JSON.stringify({ 'a\u0000b': 1 })],
      ['a quote in a key', JSON.stringify({ 'a"b': 1 })],
      ['a path in a key', JSON.stringify({ 'a.b': 1 })],
      ['$ in a nested key', JSON.stringify({ a: { $where: 1 } })],
      ['an empty key', JSON.stringify({ '': 1 })],
      ['an array', JSON.stringify([1, 2])],
      ['not JSON', '{"a":'],
    ];
    for (const [what, metadata] of bad) {
      const r = await upload('hist', { image: { name: 'm.jpg', bytes }, metadata });
      expect([what, r.statusCode, r.json().error.code]).toEqual([what, 400, 'INVALID_METADATA']);
      expect(r.json().error.message).toMatch(/metadata/);
    }
    const ok = await upload('hist', { image: { name: 'm.jpg', bytes }, metadata: JSON.stringify({ species: 'query', tags: ['a', 'b'], nested: { x: { y: 1 } } }) });
    expect(ok.statusCode).toBe(200);
    const filtered = await app.inject({ method: 'POST', url: '/v1/collections/hist/search', payload: { vector: new Array(128).fill(1), k: 5, where: { species: 'daisy' } } });
    expect(filtered.statusCode).toBe(200);
    expect(filtered.json().results.length).toBe(5);
  });

  it('10.5 where keys with a backslash, NUL or quotes, and more than 32 conditions, are a 400 INVALID_ARGUMENT', async () => {
    const search = (where: unknown) =>
      app.inject({ method: 'POST', url: '/v1/collections/hist/search', payload: { vector: new Array(128).fill(1), k: 3, where } });
    const bad: [string, unknown][] = [
      ['backslash', { 'a\\': 'x' }],
      ['NUL', { 'a\u0000': 'x' }],
      ['double quote', { 'a"': 'x' }],
      ['single quote', { "a'": 'x' }],
      ['JSON path', { 'a.b': 'x' }],
      ['1,000 conditions', Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]))],
      ['33 conditions', Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]))],
      ['object value', { a: { b: 1 } }],
    ];
    for (const [what, where] of bad) {
      const r = await search(where);
      expect([what, r.statusCode, r.json().error.code]).toEqual([what, 400, 'INVALID_ARGUMENT']);
    }
    expect((await search(Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, i])))).statusCode).toBe(200);
    // the same rules for the multipart form
    const mp = await multipart({ image: { name: 'q.jpg', bytes: queryBytes() }, where: JSON.stringify({ 'a\\b': 1 }) });
    const r = await app.inject({ method: 'POST', url: '/v1/collections/hist/search', ...mp });
    expect([r.statusCode, r.json().error.code]).toEqual([400, 'INVALID_ARGUMENT']);
  });

  it('10.7 malformed multipart (cut mid-part, no boundary) is a 400 INVALID_MULTIPART, never a 500', async () => {
    const mp = await multipart({ image: { name: 'q.jpg', bytes: queryBytes() }, k: '3' });
    const cut = mp.payload.subarray(0, Math.floor(mp.payload.length / 2));
    const cases: [string, string, Buffer | string, string][] = [
      ['search, cut mid-part', '/v1/collections/hist/search', cut, mp.headers['content-type']],
      ['items, cut mid-part', '/v1/collections/hist/items', cut, mp.headers['content-type']],
      ['embed, cut mid-part', '/v1/embed', cut, mp.headers['content-type']],
      ['search, no boundary', '/v1/collections/hist/search', mp.payload, 'multipart/form-data'],
      ['items, no boundary', '/v1/collections/hist/items', mp.payload, 'multipart/form-data'],
      ['search, wrong boundary', '/v1/collections/hist/search', mp.payload, 'multipart/form-data; boundary=nope'],
    ];
    for (const [what, url, payload, type] of cases) {
      const r = await app.inject({ method: 'POST', url, payload, headers: { 'content-type': type, ...auth } });
      expect([what, r.statusCode, r.json().error.code]).toEqual([what, 400, 'INVALID_MULTIPART']);
    }
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });

  it('10.8 re-adding an image replaces its metadata unless onConflict=skip|merge; the response says what happened', async () => {
    await app.inject({ method: 'POST', url: '/v1/collections', headers: auth, payload: { name: 'readd', model: 'color-histogram' } });
    const bytes = queryBytes('sunflower');
    const add = async (metadata: object, onConflict?: string) => {
      const r = await upload('readd', { image: { name: 's.jpg', bytes }, metadata: JSON.stringify(metadata), ...(onConflict ? { onConflict } : {}) });
      expect(r.statusCode).toBe(200);
      return r.json() as { added: { id: string; status: string; path: string | null }[]; updated: number; skipped: number };
    };
    const first = await add({ a: 1 });
    expect(first.added.map((a) => a.status)).toEqual(['added']);
    const id = first.added[0]!.id;
    const meta = async () => (await app.inject(`/v1/collections/readd/items/${id}`)).json().metadata as Record<string, unknown>;

    const replaced = await add({ b: 2 });
    expect([replaced.added[0]!.status, replaced.updated]).toEqual(['updated', 1]);
    expect(await meta()).toMatchObject({ b: 2 });
    expect(await meta()).not.toHaveProperty('a');

    const merged = await add({ c: 3 }, 'merge');
    expect(merged.added[0]!.status).toBe('updated');
    expect(await meta()).toMatchObject({ b: 2, c: 3 });

    const skipped = await add({ d: 4 }, 'skip');
    expect([skipped.added[0]!.status, skipped.added[0]!.id, skipped.skipped]).toEqual(['skipped', id, 1]);
    expect(await meta()).not.toHaveProperty('d');

    const bad = await upload('readd', { image: { name: 's.jpg', bytes }, onConflict: 'ignore' });
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'INVALID_ARGUMENT']);
    expect((await app.inject('/v1/collections/readd')).json().count).toBe(1);
  });

  it('10.8 deleting an item, and a collection, removes its stored upload file', async () => {
    await app.inject({ method: 'POST', url: '/v1/collections', headers: auth, payload: { name: 'uploads', model: 'color-histogram' } });
    const one = (await upload('uploads', { image: { name: 'a.jpg', bytes: queryBytes('daisy') } })).json().added[0] as { id: string; path: string };
    const two = (await upload('uploads', { image: { name: 'b.jpg', bytes: queryBytes('bluebell') } })).json().added[0] as { id: string; path: string };
    expect(fs.existsSync(one.path)).toBe(true);
    expect(fs.existsSync(two.path)).toBe(true);

    expect((await app.inject({ method: 'DELETE', url: `/v1/collections/uploads/items/${one.id}`, headers: auth })).json()).toEqual({ deleted: 1 });
    expect(fs.existsSync(one.path)).toBe(false);
    expect(fs.existsSync(two.path)).toBe(true);

    expect((await app.inject({ method: 'DELETE', url: '/v1/collections/uploads', headers: auth })).json()).toEqual({ deleted: true });
    expect(fs.existsSync(two.path)).toBe(false);
  });

  it('issue 11: GET /v1/collections/{name} includes bytesPerVector, and the OpenAPI document describes it', async () => {
    const info = (await app.inject('/v1/collections/hist')).json();
    expect(info).toMatchObject({ collection: 'hist', dimension: 128, vectorType: 'float32', bytesPerVector: 512, index: { type: 'flat' } });
    const list = (await app.inject('/v1/collections')).json() as { collections: { bytesPerVector: number }[]; broken: unknown[] };
    expect(list.collections.every((c) => c.bytesPerVector > 0)).toBe(true);
    expect(list.broken).toEqual([]);
    const spec = JSON.stringify((await app.inject('/openapi.json')).json());
    expect(spec).toContain('bytesPerVector');
    expect(spec).toContain('/readyz');
  });
});

describe('store unavailable and readiness (10.28)', () => {
  let db: LookalikeDatabase;

  beforeAll(async () => {
    db = await openDatabase(tmpDir(), { threads: 1 });
    await db.collection('hist', { model: 'color-histogram' });
  });
  afterAll(async () => {
    await db?.close();
  });

  /** The database, except that the store is down. */
  function downDb(): LookalikeDatabase {
    const down = () => Promise.reject(createError('STORE_UNAVAILABLE', 'Cannot reach postgres://lookalike@10.1.2.3:5432/photos: connection refused'));
    return new Proxy(db, {
      get(target, prop) {
        if (prop === 'ping' || prop === 'listCollections' || prop === 'openCollection' || prop === 'listBrokenCollections') return down;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  it('10.28 /readyz is 200 when the store answers, 503 with Retry-After when it does not; /healthz stays liveness', async () => {
    const up = await buildServer({ db, defaultCollection: 'hist' });
    expect((await up.inject('/readyz')).json()).toEqual({ status: 'ready' });
    await up.close();

    const app = await buildServer({ db: downDb() });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.headers['retry-after']).toBeDefined();
    expect(ready.json()).toMatchObject({ status: 'unavailable', code: 'STORE_UNAVAILABLE' });
    expect(ready.body).not.toMatch(/postgres:|10\.1\.2\.3/);
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });

    // and the API answers 503 STORE_UNAVAILABLE with Retry-After, not 500
    for (const r of [await app.inject('/v1/collections'), await app.inject({ method: 'POST', url: '/v1/collections/hist/search', payload: { id: 'x' } })]) {
      expect([r.statusCode, r.json().error.code]).toEqual([503, 'STORE_UNAVAILABLE']);
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      expect(r.body).not.toMatch(/postgres:|10\.1\.2\.3/);
    }
    await app.close();
  });

  it('10.28 /readyz is 503 when the default collection\'s model cannot be loaded', async () => {
    const spy = vi.spyOn(Collection.prototype, 'embedder').mockRejectedValue(createError('MODEL_NOT_FOUND', 'Model "x" not found. Looked in:\n  - /srv/models/x'));
    const app = await buildServer({ db, defaultCollection: 'hist' });
    try {
      const r = await app.inject('/readyz');
      expect([r.statusCode, r.json().code]).toEqual([503, 'MODEL_NOT_FOUND']);
      expect(r.body).not.toContain('/srv/models');
    } finally {
      spy.mockRestore();
      await app.close();
    }
  });
});

describe('warming up the default collection (10.24)', () => {
  it('10.24 serve warms the text model of an image+text default collection at start, without delaying listen', async () => {
    const db = await openDatabase(tmpDir(), { threads: 1 });
    const colors = await db.collection('colors', { model: requireShared(COLOR_CLIP) });
    await colors.close();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const warmed: string[] = [];
    const spy = vi.spyOn(Collection.prototype, 'warmUp').mockImplementation(async function (this: Collection) {
      warmed.push(this.name);
      await gate;
    });
    try {
      const app = await buildServer({ db, defaultCollection: 'colors', warmUp: true });
      const address = await app.listen({ host: '127.0.0.1', port: 0 }); // does not wait for the warm-up
      expect((await fetch(`${address}/healthz`)).status).toBe(200);
      await vi.waitFor(() => expect(warmed).toEqual(['colors']), { timeout: 10_000 });
      release();
      await app.close();
      // without the option nothing is warmed
      const cold = await buildServer({ db, defaultCollection: 'colors' });
      await cold.ready();
      await new Promise((r) => setTimeout(r, 50));
      expect(warmed).toEqual(['colors']);
      await cold.close();
    } finally {
      spy.mockRestore();
      await db.close();
    }
  });

  it('10.24 warm-up really runs the text tower of a CLIP collection', async () => {
    const db = await openDatabase(tmpDir(), { threads: 1 });
    const colors = await db.collection('colors', { model: requireShared(COLOR_CLIP) });
    await colors.close();
    const texts = vi.fn();
    const original = Collection.prototype.warmUp;
    const spy = vi.spyOn(Collection.prototype, 'warmUp').mockImplementation(async function (this: Collection) {
      await original.call(this);
      texts(this.name);
    });
    try {
      const app = await buildServer({ db, defaultCollection: 'colors', warmUp: true });
      await app.ready();
      await vi.waitFor(() => expect(texts).toHaveBeenCalledWith('colors'), { timeout: 60_000 });
      const r = await app.inject({ method: 'POST', url: '/v1/embed', payload: { text: 'yellow' } });
      expect(r.json().dimension).toBe(11);
      await app.close();
    } finally {
      spy.mockRestore();
      await db.close();
    }
  }, 90_000);
});

// keep sharp's cache from holding files the tests delete
sharp.cache(false);
