import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EmbedderSpec } from '../../src/embed/types.js';
import { Collection } from '../../src/lookalike.js';
import { resolveConfig } from '../../src/config.js';
import { FolderUploadStorage } from '../../src/ingest/upload-storage.js';
import type { EmbeddedCollection } from '../../src/store/embedded/collection.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import type { StoreCollection } from '../../src/store/types.js';
import { randomUnitVectors, tmpDir } from '../helpers.js';

const D = 32;
const embedder: EmbedderSpec = { id: 'test', kind: 'test', model: 'test', revision: '0', dimension: D, modalities: ['image'], preprocessing: {} };
const HNSW = { type: 'hnsw' as const, m: 16, efConstruction: 100, ef: 64 };

/** The library facade over a bare store collection (for `indexCheck` / `setIndex`). */
const facade = (sc: StoreCollection) => new Collection(sc, resolveConfig(), new FolderUploadStorage(tmpDir()));

/** Clustered unit vectors: realistic for ANN recall (uniform random vectors in 32-d are hard for any graph). */
function clustered(n: number, seed: number): Float32Array[] {
  const centres = randomUnitVectors(20, D, seed);
  const noise = randomUnitVectors(n, D, seed + 1);
  return noise.map((e, i) => {
    const v = new Float32Array(D);
    let s = 0;
    for (let j = 0; j < D; j++) {
      v[j] = centres[i % 20]![j]! + 0.35 * e[j]!;
      s += v[j]! * v[j]!;
    }
    return v.map((x) => x / Math.sqrt(s));
  });
}

describe('HNSW index in the embedded store', () => {
  it('reaches recall@10 ≥ 0.95, persists beside the store, and follows inserts and deletes', async () => {
    const dir = tmpDir();
    let store = await EmbeddedStore.open(dir);
    const sc = await store.createCollection({ name: 'c', embedder, dimension: D, metric: 'cosine', vectorType: 'float32' });
    const vecs = clustered(3000, 7);
    await sc.upsert(vecs.map((v, i) => ({ id: `i${i}`, vector: v })));
    const col = facade(sc);
    await col.setIndex(HNSW);
    expect(col.spec.index).toEqual(HNSW);
    const check = await col.indexCheck(200, 10);
    expect(check.recallAtK).toBeGreaterThanOrEqual(0.95);
    expect(fs.existsSync(path.join(dir, 'indexes'))).toBe(true);

    // inserts and deletes are visible through the graph at once
    const extra = clustered(50, 99);
    await sc.upsert(extra.map((v, i) => ({ id: `x${i}`, vector: v })));
    expect((await sc.search(extra[3]!, { k: 1 }))[0]!.id).toBe('x3');
    await sc.delete(['x3']);
    expect((await sc.search(extra[3]!, { k: 10 })).map((h) => h.id)).not.toContain('x3');
    await store.close(); // saves the graph with the store's generation

    // reopened: the saved graph is current and used as is (memory-mapped, not rebuilt, file not rewritten)
    const graph = path.join(dir, 'indexes', fs.readdirSync(path.join(dir, 'indexes')).find((f) => f.endsWith('hnsw.usearch'))!);
    const savedAt = fs.statSync(graph).mtimeMs;
    store = await EmbeddedStore.open(dir);
    const again = await store.getCollection('c');
    expect(again.spec.index).toEqual(HNSW);
    expect((await again.search(extra[4]!, { k: 1 }))[0]!.id).toBe('x4');
    expect((again as EmbeddedCollection).derivedReuse).toMatchObject({ graph: true, mapped: true });
    expect(fs.statSync(graph).mtimeMs).toBe(savedAt);

    // another process writes (generation moves on): the graph is rebuilt from the store, nothing is missed
    const other = await EmbeddedStore.open(dir);
    const oc = await other.getCollection('c');
    await oc.upsert([{ id: 'late', vector: vecs[10]!.map((x, j) => (j === 0 ? x + 0.01 : x)) }]);
    await oc.delete(['i10']);
    await other.close();
    const hits = await again.search(vecs[10]!, { k: 5 });
    expect(hits[0]!.id).toBe('late');
    expect(hits.map((h) => h.id)).not.toContain('i10');
    const recheck = await facade(again).indexCheck(100, 10);
    expect(recheck.recallAtK).toBeGreaterThanOrEqual(0.95);

    // back to exact: results equal a brute-force scan of the stored vectors
    await facade(again).setIndex({ type: 'flat' });
    const q = vecs[20]!;
    const stored = [...vecs.entries()].filter(([i]) => i !== 10).map(([i, v]) => ({ id: `i${i}`, s: v.reduce((a, x, j) => a + x * q[j]!, 0) }));
    const want = stored.sort((a, b) => b.s - a.s).slice(0, 10).map((w) => w.id);
    expect((await again.search(q, { k: 10 })).map((h) => h.id).filter((id) => id.startsWith('i'))).toEqual(want.slice(0, (await again.search(q, { k: 10 })).filter((h) => h.id.startsWith('i')).length));
    await store.close();
  });

  // issue 16.2: a 1M collection must not read every vector into the heap before its first answer
  it('reopened, an HNSW collection answers from its memory-mapped graph without reading the vectors; they load when needed', async () => {
    const dir = tmpDir();
    let store = await EmbeddedStore.open(dir);
    const sc = await store.createCollection({ name: 'c', embedder, dimension: D, metric: 'cosine', vectorType: 'float32', index: HNSW });
    const vecs = clustered(2000, 11);
    await sc.upsert(vecs.map((v, i) => ({ id: `i${i}`, vector: v, metadata: { even: i % 2 === 0 } })));
    const warm = await sc.search(vecs[5]!, { k: 10 });
    await store.close();

    store = await EmbeddedStore.open(dir);
    const cold = (await store.getCollection('c')) as EmbeddedCollection;
    expect(await cold.search(vecs[5]!, { k: 10 })).toEqual(warm);
    expect(cold.derivedReuse).toMatchObject({ graph: true, mapped: true, cached: false }); // no vector was read
    // a write goes into the graph (loaded from the mapping) without reading the vectors either
    await cold.upsert([{ id: 'new', vector: vecs[7]!.map((x, j) => (j === 1 ? x + 0.02 : x)), metadata: { even: true } }]);
    expect((await cold.search(vecs[7]!, { k: 2 })).map((h) => h.id).sort()).toEqual(['i7', 'new']);
    expect(cold.derivedReuse).toMatchObject({ mapped: false, cached: false });
    // an exact search needs the vectors: read now, and the answer is the brute-force one
    const exact = await cold.search(vecs[9]!, { k: 5, exact: true });
    expect(cold.derivedReuse.cached).toBe(true);
    const brute = [...vecs.entries()]
      .map(([i, v]) => ({ id: `i${i}`, s: v.reduce((a, x, j) => a + x * vecs[9]![j]!, 0) }))
      .sort((a, b) => b.s - a.s)
      .slice(0, 5)
      .map((x) => x.id);
    expect(exact.map((h) => h.id)).toEqual(brute);
    await store.close();

    // filtered search on a cold open (adaptive oversampling through the graph, or the exact scan of matching rows)
    store = await EmbeddedStore.open(dir);
    const again = (await store.getCollection('c')) as EmbeddedCollection;
    const evens = await again.search(vecs[4]!, { k: 5, where: { even: true } });
    expect(evens).toHaveLength(5);
    expect(evens.every((h) => h.metadata['even'] === true)).toBe(true);
    expect(evens[0]!.id).toBe('i4');
    await store.close();
  });

  // issue 18.3: the graph holds the collection's vector type; the top candidates are re-scored from float32
  it('float16 and int8 collections keep a quantised graph: a half / a quarter of the vector bytes, recall@10 ≥ 0.95 after re-scoring', async () => {
    const vecs = clustered(3000, 21);
    const sizes: Record<string, number> = {};
    for (const vectorType of ['float32', 'float16', 'int8'] as const) {
      const dir = tmpDir();
      let store = await EmbeddedStore.open(dir);
      const sc = await store.createCollection({ name: 'c', embedder, dimension: D, metric: 'cosine', vectorType, index: HNSW });
      await sc.upsert(vecs.map((v, i) => ({ id: `i${i}`, vector: v })));
      expect((await facade(sc).indexCheck(200, 10)).recallAtK, vectorType).toBeGreaterThanOrEqual(0.95);
      // exact scores come back (re-scored from the stored float32 vectors), whatever the graph holds
      const [top] = await sc.search(vecs[42]!, { k: 1 });
      expect(top!.id).toBe('i42');
      expect(top!.score).toBeCloseTo(1, 5);
      await store.close(); // saves the graph
      const graph = fs.readdirSync(path.join(dir, 'indexes')).find((f) => f.endsWith('hnsw.usearch'))!;
      sizes[vectorType] = fs.statSync(path.join(dir, 'indexes', graph)).size;
      store = await EmbeddedStore.open(dir);
      const again = (await store.getCollection('c')) as EmbeddedCollection;
      expect((await again.search(vecs[7]!, { k: 1 }))[0]!.id).toBe('i7');
      expect(again.derivedReuse).toMatchObject({ graph: true, mapped: true }); // the saved quantised graph is used as is
      await store.close();
    }
    // vector bytes per node: 128 (float32), 64 (float16), 32 (int8); the links are the same
    expect(sizes['float32']! - sizes['float16']!).toBeGreaterThan(3000 * 60);
    expect(sizes['float16']! - sizes['int8']!).toBeGreaterThan(3000 * 30);
  });

  it('a stale or damaged graph file is ignored and rebuilt', async () => {
    const dir = tmpDir();
    let store = await EmbeddedStore.open(dir);
    const sc = await store.createCollection({ name: 'c', embedder, dimension: D, metric: 'cosine', vectorType: 'float32', index: HNSW });
    const vecs = clustered(500, 3);
    await sc.upsert(vecs.map((v, i) => ({ id: `i${i}`, vector: v })));
    expect((await sc.search(vecs[0]!, { k: 1 }))[0]!.id).toBe('i0');
    await store.close();
    const file = fs.readdirSync(path.join(dir, 'indexes')).find((f) => f.endsWith('.usearch'))!;
    fs.writeFileSync(path.join(dir, 'indexes', file), 'garbage');
    store = await EmbeddedStore.open(dir);
    const again = await store.getCollection('c');
    expect((await again.search(vecs[1]!, { k: 1 }))[0]!.id).toBe('i1');
    await store.close();
  });
});

describe('IVF index in the embedded store', () => {
  it('k-means lists; recall grows with nprobe (all lists = exact); centroids persist; follows inserts and deletes', async () => {
    const dir = tmpDir();
    let store = await EmbeddedStore.open(dir);
    const sc = await store.createCollection({ name: 'c', embedder, dimension: D, metric: 'cosine', vectorType: 'float32' });
    const vecs = clustered(3000, 11);
    await sc.upsert(vecs.map((v, i) => ({ id: `i${i}`, vector: v })));
    const col = facade(sc);
    await col.setIndex({ type: 'ivf', nlist: 32, nprobe: 8 });
    const low = await col.indexCheck(200, 10, { nprobe: 1 });
    const mid = await col.indexCheck(200, 10);
    const all = await col.indexCheck(200, 10, { nprobe: 32 });
    expect(low.recallAtK).toBeLessThanOrEqual(mid.recallAtK);
    expect(mid.recallAtK).toBeGreaterThanOrEqual(0.95);
    expect(all.recallAtK).toBe(1);
    const extra = clustered(20, 12);
    await sc.upsert(extra.map((v, i) => ({ id: `x${i}`, vector: v })));
    expect((await sc.search(extra[2]!, { k: 1, nprobe: 32 }))[0]!.id).toBe('x2');
    await sc.delete(['x2']);
    expect((await sc.search(extra[2]!, { k: 5, nprobe: 32 })).map((h) => h.id)).not.toContain('x2');
    await store.close();
    expect(fs.readdirSync(path.join(dir, 'indexes')).some((f) => f.includes('ivf'))).toBe(true);
    store = await EmbeddedStore.open(dir);
    const againStore = await store.getCollection('c');
    await againStore.search(extra[0]!, { k: 1 });
    // the saved centroids and list assignments are used, not recomputed
    expect((againStore as EmbeddedCollection).derivedReuse).toMatchObject({ centroids: true, assignments: true });
    const again = facade(againStore);
    expect((await again.indexCheck(100, 10)).recallAtK).toBeGreaterThanOrEqual(0.95);
    await store.close();
  });
});

describe('derived index files of an older generation (a writer that crashed before saving them)', () => {
  /** Open a store, write through it, and "crash": the process goes away without `close`, so nothing is flushed. */
  async function crashAfter(dir: string, fn: (c: StoreCollection) => Promise<void>): Promise<void> {
    const store = await EmbeddedStore.open(dir);
    await fn(await store.getCollection('c'));
    // no close(): the derived files on disk keep the generation from before these writes
  }

  it('an HNSW graph saved at an older generation is rebuilt, even when the vector count matches', async () => {
    const dir = tmpDir();
    const store = await EmbeddedStore.open(dir);
    const sc = await store.createCollection({ name: 'c', embedder, dimension: D, metric: 'cosine', vectorType: 'float32', index: HNSW });
    const vecs = clustered(600, 21);
    await sc.upsert(vecs.map((v, i) => ({ id: `i${i}`, vector: v })));
    await sc.search(vecs[0]!, { k: 1 }); // graph built and saved
    await store.close();
    const fresh = clustered(1, 77)[0]!;
    await crashAfter(dir, async (c) => {
      await c.upsert([{ id: 'new', vector: fresh }]);
      await c.delete(['i0']); // same count as the saved graph
    });
    const again = await EmbeddedStore.open(dir);
    const c = await again.getCollection('c');
    expect((await c.search(fresh, { k: 1 }))[0]!.id).toBe('new');
    expect((c as EmbeddedCollection).derivedReuse.graph).toBe(false);
    await again.close();
  });

  it('IVF list assignments saved at an older generation are not used: a moved vector is found in its new list', async () => {
    const dir = tmpDir();
    const store = await EmbeddedStore.open(dir);
    const sc = await store.createCollection({ name: 'c', embedder, dimension: D, metric: 'cosine', vectorType: 'float32', index: { type: 'ivf', nlist: 16, nprobe: 1 } });
    const vecs = clustered(2000, 31);
    await sc.upsert(vecs.map((v, i) => ({ id: `i${i}`, vector: v })));
    await sc.search(vecs[0]!, { k: 1 }); // centroids trained, assignments saved
    await store.close();
    // i5 moves far away (to i6's cluster's opposite): same ids, same count, another list
    const moved = vecs[6]!.map((x) => -x);
    await crashAfter(dir, async (c) => void (await c.upsert([{ id: 'i5', vector: moved }])));
    const again = await EmbeddedStore.open(dir);
    const c = await again.getCollection('c');
    expect((await c.search(moved, { k: 1, nprobe: 1 }))[0]!.id).toBe('i5');
    expect((c as EmbeddedCollection).derivedReuse).toMatchObject({ centroids: true, assignments: false });
    await again.close();
  });
});

