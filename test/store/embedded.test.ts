import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EmbedderSpec } from '../../src/embed/types.js';
import { isLookalikeError } from '../../src/errors.js';
import { DB_FILE, EmbeddedStore } from '../../src/store/embedded/store.js';
import { loadNative } from '../../src/util/native.js';
import { randomUnitVectors, tmpDir } from '../helpers.js';

const embedder: EmbedderSpec = {
  id: 'test',
  kind: 'test',
  model: 'test',
  revision: '0',
  dimension: 16,
  modalities: ['image'],
  preprocessing: {},
};
const spec = { name: 'c', embedder, dimension: 16, metric: 'cosine' as const, vectorType: 'float32' as const };

describe('EmbeddedStore', () => {
  it('creates one directory with a SQLite database, and refuses duplicate collections', async () => {
    const dir = path.join(tmpDir(), 'db');
    const store = await EmbeddedStore.open(dir);
    await store.createCollection(spec);
    expect(fs.existsSync(path.join(dir, DB_FILE))).toBe(true);
    await expect(store.createCollection(spec)).rejects.toMatchObject({ code: 'COLLECTION_EXISTS' });
    await expect(store.getCollection('nope')).rejects.toMatchObject({ code: 'COLLECTION_NOT_FOUND' });
    await expect(store.createCollection({ ...spec, name: '../x' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await store.close();
  });

  // found by bench:scale: with SQLite's default 4 KiB pages a 512-d row (2 KiB blob) took a whole page
  it('a new store packs vectors densely on disk: 512-d and 1024-d rows cost at most 1.25× their float32 bytes (ids, paths and their indexes included)', async () => {
    for (const d of [512, 1024]) {
      const dir = path.join(tmpDir(), 'db');
      const store = await EmbeddedStore.open(dir);
      const col = await store.createCollection({ ...spec, embedder: { ...embedder, dimension: d }, dimension: d });
      const n = 3000;
      const vecs = randomUnitVectors(n, d, d);
      for (let i = 0; i < n; i += 500) await col.upsert(vecs.slice(i, i + 500).map((v, j) => ({ id: `item-${i + j}`, path: `/photos/${i + j}.jpg`, vector: v })));
      await store.close(); // checkpoints the WAL into the file
      const file = path.join(dir, DB_FILE);
      const db = new Database(file, { readonly: true });
      expect(db.pragma('page_size', { simple: true })).toBe(32768);
      db.close();
      expect(fs.statSync(file).size / n, `${d}-d`).toBeLessThan(1.25 * 4 * d);
    }
  });

  it('upserts, gets, searches, deletes, and persists across reopen', async () => {
    const dir = tmpDir();
    const vecs = randomUnitVectors(200, 16, 1);
    let store = await EmbeddedStore.open(dir);
    const c = await store.createCollection(spec);
    const r1 = await c.upsert(vecs.map((v, i) => ({ id: `i${i}`, path: `/p/${i}.jpg`, metadata: { n: i, even: i % 2 === 0, tag: i < 10 ? 'a' : 'b' }, vector: v })));
    expect(r1).toEqual({ added: 200, updated: 0 });
    expect(await c.search(vecs[3]!, { k: 1 })).toMatchObject([{ id: 'i3', path: '/p/3.jpg', metadata: { n: 3 } }]);
    // replace one: same id, new vector
    expect(await c.upsert([{ id: 'i3', vector: vecs[4]! }])).toEqual({ added: 0, updated: 1 });
    expect(await c.count()).toBe(200);
    expect((await c.search(vecs[4]!, { k: 2 })).map((h) => h.id).sort()).toEqual(['i3', 'i4']);
    expect(await c.delete(['i4', 'missing'])).toBe(1);
    expect((await c.search(vecs[4]!, { k: 1 }))[0]!.id).toBe('i3');
    await store.close();

    store = await EmbeddedStore.open(dir);
    const again = await store.getCollection('c');
    expect(again.spec).toMatchObject(spec);
    expect(await again.count()).toBe(199);
    expect((await again.search(vecs[4]!, { k: 1 }))[0]!.id).toBe('i3');
    expect(await again.get('i4')).toBeUndefined();
    expect(Array.from((await again.getVector('i0'))!)).toEqual(Array.from(vecs[0]!));
    await store.close();
  });

  it('filters by metadata, excludes ids and applies minScore', async () => {
    const store = await EmbeddedStore.open(tmpDir());
    const c = await store.createCollection(spec);
    const vecs = randomUnitVectors(50, 16, 2);
    await c.upsert(vecs.map((v, i) => ({ id: `i${i}`, metadata: { n: i, even: i % 2 === 0, tag: i < 10 ? 'a' : 'b' }, vector: v })));
    const evens = await c.search(vecs[1]!, { k: 50, where: { even: 'true' } });
    expect(evens).toHaveLength(25);
    expect(evens.every((h) => (h.metadata.n as number) % 2 === 0)).toBe(true);
    expect((await c.search(vecs[1]!, { k: 50, where: { n: '7' } })).map((h) => h.id)).toEqual(['i7']);
    expect(await c.search(vecs[1]!, { k: 50, where: { tag: 'a', n: 12 } })).toEqual([]);
    const top = await c.search(vecs[1]!, { k: 3, excludeIds: ['i1'] });
    expect(top.map((h) => h.id)).not.toContain('i1');
    const strict = await c.search(vecs[1]!, { k: 50, minScore: 0.999 });
    expect(strict.map((h) => h.id)).toEqual(['i1']);
    await store.close();
  });

  it('rejects vectors of the wrong dimension or with NaN', async () => {
    const store = await EmbeddedStore.open(tmpDir());
    const c = await store.createCollection(spec);
    await expect(c.upsert([{ id: 'x', vector: new Float32Array(3) }])).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' });
    const nan = new Float32Array(16).fill(NaN);
    await expect(c.upsert([{ id: 'x', vector: nan }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await c.count()).toBe(0);
    await store.close();
  });

  it("sees another connection's writes (the in-memory index is rebuilt from the database)", async () => {
    const dir = tmpDir();
    const a = await EmbeddedStore.open(dir);
    const b = await EmbeddedStore.open(dir);
    const ca = await a.createCollection(spec);
    const vecs = randomUnitVectors(20, 16, 3);
    await ca.upsert(vecs.slice(0, 10).map((v, i) => ({ id: `i${i}`, vector: v })));
    const cb = await b.getCollection('c');
    expect(await cb.search(vecs[0]!, { k: 1 })).toMatchObject([{ id: 'i0' }]);
    await ca.upsert([{ id: 'i15', vector: vecs[15]! }]);
    await ca.delete(['i0']);
    expect((await cb.search(vecs[15]!, { k: 1 }))[0]!.id).toBe('i15');
    expect((await cb.search(vecs[0]!, { k: 10 })).map((h) => h.id)).not.toContain('i0');
    await a.close();
    await b.close();
  });

  it('reports a file that is not a store clearly', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, DB_FILE), 'this is not sqlite'.repeat(100));
    const err = await EmbeddedStore.open(dir).catch((e: unknown) => e);
    expect(isLookalikeError(err, 'STORE_CORRUPT')).toBe(true);
  });
});

describe('EmbeddedStore with float16 / int8 vectors', () => {
  it('re-scores with the stored float32 vectors: results equal float32 search; reindex switches types', async () => {
    const store = await EmbeddedStore.open(tmpDir());
    const vecs = randomUnitVectors(2000, 16, 9);
    const f32 = await store.createCollection(spec);
    const i8 = await store.createCollection({ ...spec, name: 'q8', vectorType: 'int8' });
    const f16 = await store.createCollection({ ...spec, name: 'q16', vectorType: 'float16' });
    for (const c of [f32, i8, f16]) await c.upsert(vecs.map((v, i) => ({ id: `i${i}`, vector: v })));
    let same = 0;
    let rawSame = 0;
    const queries = randomUnitVectors(50, 16, 10);
    for (const q of queries) {
      const want = (await f32.search(q, { k: 10 })).map((h) => h.id);
      const got8 = await i8.search(q, { k: 10 });
      const got16 = (await f16.search(q, { k: 10 })).map((h) => h.id);
      const raw8 = (await i8.search(q, { k: 10, rescore: false })).map((h) => h.id);
      same += got8.filter((h) => want.includes(h.id)).length + got16.filter((id) => want.includes(id)).length;
      rawSame += raw8.filter((id) => want.includes(id)).length;
      // re-scored scores are the exact float32 scores
      expect(got8[0]!.score).toBeCloseTo((await f32.search(q, { k: 1 }))[0]!.score, 6);
    }
    expect(same / (2 * 10 * queries.length)).toBeGreaterThanOrEqual(0.99);
    expect(rawSame / (10 * queries.length)).toBeGreaterThan(0.6); // without re-scoring int8 alone is rougher
    await f32.setIndex({ type: 'flat' }, 'int8');
    expect(f32.spec.vectorType).toBe('int8');
    expect((await f32.search(vecs[5]!, { k: 1 }))[0]!.id).toBe('i5');
    await store.close();
  });
});

describe('random projection (flat index over fewer dimensions, exact re-scoring)', () => {
  it('finds each vector itself, returns exact scores, and refuses a projection not below the dimension', async () => {
    const store = await EmbeddedStore.open(tmpDir());
    const d = 64;
    const sp = { ...spec, embedder: { ...embedder, dimension: d }, dimension: d };
    const exact = await store.createCollection({ ...sp, name: 'exact' });
    const proj = await store.createCollection({ ...sp, name: 'proj', index: { type: 'flat', projection: 32 } });
    // clustered data, like embeddings
    const centres = randomUnitVectors(30, d, 50);
    const noise = randomUnitVectors(3000, d, 51);
    const vecs = noise.map((e, i) => {
      const v = centres[i % 30]!.map((x, j) => x + 0.3 * e[j]!);
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    });
    for (const c of [exact, proj]) await c.upsert(vecs.map((v, i) => ({ id: `i${i}`, vector: v })));
    let hits = 0;
    let self = 0;
    const qs = vecs.map((v, i) => [i, v] as const).filter(([i]) => i % 97 === 0);
    for (const [i, q] of qs) {
      const want = await exact.search(q, { k: 10 });
      const got = await proj.search(q, { k: 10 });
      hits += got.filter((h) => want.some((w) => w.id === h.id)).length;
      if (got[0]!.id === `i${i}`) self++;
      // results carry exact (re-scored) scores
      for (const h of got) {
        const w = want.find((x) => x.id === h.id);
        if (w) expect(h.score).toBeCloseTo(w.score, 6);
      }
    }
    // Tight clusters are the hard case for projections (neighbours differ by less than the projection's error):
    // this is the recall / memory trade-off, measured, not hidden.
    console.log(`random projection 64 → 32 dims, 40 candidates re-scored: recall@10 = ${(hits / (10 * qs.length)).toFixed(3)}`);
    expect(self / qs.length).toBeGreaterThanOrEqual(0.95);
    expect(hits / (10 * qs.length)).toBeGreaterThan(0.3); // chance: 10/3000
    await expect(proj.setIndex({ type: 'flat', projection: 64 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await store.close();
  });
});

describe('EmbeddedStore hardening (issue 10)', () => {
  const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

  it('a read-only open of a missing store is STORE_NOT_FOUND and creates nothing (10.11)', async () => {
    const dir = path.join(tmpDir(), 'typo');
    await expect(EmbeddedStore.open(dir, { create: false })).rejects.toMatchObject({ code: 'STORE_NOT_FOUND', message: expect.stringContaining(dir) });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("another program's SQLite file is refused and left byte-for-byte unchanged (10.14)", async () => {
    const dir = tmpDir();
    const file = path.join(dir, DB_FILE);
    const other = new Database(file);
    other.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')`);
    other.close();
    const before = sha(file);
    const err = await EmbeddedStore.open(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringMatching(/not a lookalike store.*users.*nothing was changed/s) });
    expect(sha(file)).toBe(before);
    expect(fs.readdirSync(dir).sort()).toEqual([DB_FILE]); // no -wal/-shm: never opened for writing
  });

  it('a store whose schema_version is 0, -5 or "abc" is STORE_CORRUPT with a clear message (10.13)', async () => {
    for (const bad of ['0', '-5', 'abc']) {
      const dir = tmpDir();
      await (await EmbeddedStore.open(dir)).close();
      const db = new Database(path.join(dir, DB_FILE));
      db.prepare(`UPDATE meta SET value = ? WHERE key = 'schema_version'`).run(bad);
      db.close();
      const err = await EmbeddedStore.open(dir).catch((e: unknown) => e);
      expect([bad, err]).toEqual([bad, expect.objectContaining({ code: 'STORE_CORRUPT', message: expect.stringContaining(`schema version "${bad}"`) })]);
    }
  });

  it('one corrupted collection definition: the others are listed, it is reported, and it can be dropped (10.15)', async () => {
    const dir = tmpDir();
    const store = await EmbeddedStore.open(dir);
    await store.createCollection(spec);
    await store.createCollection({ ...spec, name: 'broken' });
    const raw = new Database(path.join(dir, DB_FILE));
    raw.prepare(`UPDATE collections SET spec = '{"name": 1' WHERE name = 'broken'`).run();
    raw.close();
    const listed = await store.listCollections();
    expect(listed.collections.map((c) => c.name)).toEqual(['c']);
    expect(listed.broken).toEqual([{ name: 'broken', error: expect.stringMatching(/unreadable.*Delete it/) }]);
    await store.close();
    const reopened = await EmbeddedStore.open(dir);
    await expect(reopened.getCollection('broken')).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
    expect(await reopened.dropCollection('broken')).toBe(true);
    expect((await reopened.listCollections()).broken).toEqual([]);
    await reopened.close();
  });

  it('collection ids are never reused: a dropped and re-created collection gets a new id and no stale index files (10.1)', async () => {
    const dir = tmpDir();
    const store = await EmbeddedStore.open(dir);
    const hnsw = { type: 'hnsw' as const, m: 8, efConstruction: 40, ef: 16 };
    const first = await store.createCollection({ ...spec, index: hnsw });
    await first.upsert(randomUnitVectors(50, 16, 4).map((v, i) => ({ id: `i${i}`, vector: v })));
    await first.search(randomUnitVectors(1, 16, 5)[0]!, { k: 3 }); // builds and saves the graph
    await store.close();
    expect(fs.readdirSync(path.join(dir, 'indexes')).length).toBeGreaterThan(0);
    // dropped by a process that never opened the collection: its derived files still go with it
    const other = await EmbeddedStore.open(dir);
    await other.dropCollection('c');
    expect(fs.readdirSync(path.join(dir, 'indexes'))).toEqual([]);
    const second = await other.createCollection(spec);
    expect((second as unknown as { cid: number }).cid).not.toBe((first as unknown as { cid: number }).cid);
    expect(second.spec.uid).not.toBe(first.spec.uid);
    await other.close();
  });

  it('migrates a v2 store (collection ids reusable) to v3 keeping every collection and item', async () => {
    const dir = tmpDir();
    const db = new Database(path.join(dir, DB_FILE));
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE collections (cid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, spec TEXT NOT NULL, generation INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE items (rid INTEGER PRIMARY KEY, cid INTEGER NOT NULL REFERENCES collections(cid) ON DELETE CASCADE, id TEXT NOT NULL,
        path TEXT, content_hash TEXT, size INTEGER, mtime_ms REAL, width INTEGER, height INTEGER, metadata TEXT NOT NULL DEFAULT '{}',
        vector BLOB NOT NULL, updated_at TEXT NOT NULL, UNIQUE (cid, id));
      INSERT INTO meta VALUES ('schema_version', '2');`);
    db.prepare(`INSERT INTO collections (cid, name, spec) VALUES (5, 'c', ?)`).run(JSON.stringify({ ...spec, createdAt: '2026-01-01T00:00:00Z' }));
    const v = randomUnitVectors(1, 16, 6)[0]!;
    db.prepare(`INSERT INTO items (cid, id, vector, updated_at) VALUES (5, 'a', ?, 'now')`).run(Buffer.from(v.buffer));
    db.close();
    const store = await EmbeddedStore.open(dir);
    const c = await store.getCollection('c');
    expect((await c.search(v, { k: 1 }))[0]!.id).toBe('a');
    await store.dropCollection('c');
    const again = await store.createCollection(spec);
    expect((again as unknown as { cid: number }).cid).toBeGreaterThan(5);
    await store.close();
    const check = new Database(path.join(dir, DB_FILE), { readonly: true });
    expect(check.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck().get()).toBe('3');
    expect(check.pragma('foreign_key_check')).toEqual([]);
    check.close();
  });

  it('a native module that cannot be loaded is NATIVE_MODULE_FAILED naming it and how to rebuild, not STORE_CORRUPT (10.22)', () => {
    const dir = tmpDir();
    const addon = path.join(dir, 'broken.node');
    fs.writeFileSync(addon, 'not a shared object');
    const err = (() => {
      try {
        return loadNative('better-sqlite3', () => createRequire(import.meta.url)(addon));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ code: 'NATIVE_MODULE_FAILED', message: expect.stringMatching(/"better-sqlite3".*npm rebuild better-sqlite3/s) });
  });
});
