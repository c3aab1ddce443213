/**
 * One contract for every store back-end: the embedded store and PostgreSQL + pgvector (a real server started by
 * test/setup/postgres.ts) must behave the same and give the same exact-search results for the same data.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { EmbedderSpec } from '../../src/embed/types.js';
import { openStore } from '../../src/store/registry.js';
import type { StoreCollection, VectorStore } from '../../src/store/types.js';
import { freshPostgresDb, randomUnitVectors, tmpDir } from '../helpers.js';

const D = 24;
const embedder: EmbedderSpec = { id: 'test', kind: 'test', model: 'test', revision: '0', dimension: D, modalities: ['image'], preprocessing: {} };
const base = { embedder, dimension: D, metric: 'cosine' as const, vectorType: 'float32' as const };
const VECS = randomUnitVectors(1500, D, 77);
const QUERIES = randomUnitVectors(20, D, 78);

const freshPostgres = () => freshPostgresDb(inject('pgUrl'));

const BACKENDS: [string, () => Promise<string>][] = [
  ['embedded', async () => tmpDir()],
  ['postgres', freshPostgres],
];

const results = new Map<string, string[][]>();

for (const [name, location] of BACKENDS) {
  describe(`store contract: ${name}`, () => {
    let store: VectorStore;
    let c: StoreCollection;

    beforeAll(async () => {
      store = await openStore(await location());
      c = await store.createCollection({ ...base, name: 'items' });
      await c.upsert(
        VECS.map((v, i) => ({ id: `i${i}`, path: `/photos/${i}.jpg`, contentHash: `h${i}`, size: i, mtimeMs: 1000 + i, metadata: { n: i, even: i % 2 === 0, tag: i < 100 ? 'a' : 'b' }, vector: v })),
      );
    }, 60_000);

    afterAll(async () => {
      await store?.close();
    });

    it('collections: create, list, duplicates and unknown names are errors', async () => {
      expect((await store.listCollections()).collections.map((s) => s.name)).toEqual(['items']);
      expect(await store.hasCollection('items')).toBe(true);
      await expect(store.createCollection({ ...base, name: 'items' })).rejects.toMatchObject({ code: 'COLLECTION_EXISTS' });
      await expect(store.getCollection('nope')).rejects.toMatchObject({ code: 'COLLECTION_NOT_FOUND' });
      const tmp = await store.createCollection({ ...base, name: 'tmp' });
      expect(tmp.spec).toMatchObject({ name: 'tmp', dimension: D });
      expect(await store.dropCollection('tmp')).toBe(true);
      expect(await store.dropCollection('tmp')).toBe(false);
    });

    it('records: count, get, vectors, file states, upsert = update, delete', async () => {
      expect(await c.count()).toBe(1500);
      expect(await c.get('i7')).toMatchObject({ id: 'i7', path: '/photos/7.jpg', contentHash: 'h7', size: 7, mtimeMs: 1007, metadata: { n: 7 } });
      const v = (await c.getVector('i7'))!;
      v.forEach((x, j) => expect(x).toBeCloseTo(VECS[7]![j]!, 6));
      const many = await c.getVectors(['i3', 'missing', 'i1499']);
      expect([...many.keys()].sort()).toEqual(['i1499', 'i3']);
      many.get('i1499')!.forEach((x, j) => expect(x).toBeCloseTo(VECS[1499]![j]!, 6));
      const scanned: string[] = [];
      let batches = 0;
      for await (const batch of c.scanVectors(400)) {
        batches++;
        for (const s of batch) {
          scanned.push(s.id);
          if (s.id === 'i1000') s.vector.forEach((x, j) => expect(x).toBeCloseTo(VECS[1000]![j]!, 6));
        }
      }
      expect(batches).toBe(4);
      expect(scanned).toEqual(VECS.map((_, i) => `i${i}`)); // insertion order, each once
      const states = await c.fileStates();
      expect(states.size).toBe(1500);
      expect(states.get('/photos/9.jpg')).toMatchObject({ id: 'i9', size: 9, mtimeMs: 1009, contentHash: 'h9' });
      await c.touchFiles([{ id: 'i9', size: 99, mtimeMs: 5 }]);
      expect((await c.fileStates()).get('/photos/9.jpg')).toMatchObject({ size: 99, mtimeMs: 5 });
      expect(await c.upsert([{ id: 'i9', path: '/photos/9.jpg', vector: VECS[9]!, metadata: { n: 9, changed: true } }])).toEqual({ added: 0, updated: 1 });
      expect((await c.get('i9'))!.metadata).toEqual({ n: 9, changed: true });
      expect(await c.upsert([{ id: 'new', vector: VECS[0]! }])).toEqual({ added: 1, updated: 0 });
      expect(await c.delete(['new', 'missing'])).toBe(1);
      expect(await c.count()).toBe(1500);
      await expect(c.upsert([{ id: 'bad', vector: new Float32Array(3) }])).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' });
    });

    it('exact search equals brute force; filters, exclusions and minScore', async () => {
      const ranked: string[][] = [];
      for (const q of QUERIES) {
        const hits = await c.search(q, { k: 10, exact: true });
        const want = VECS.map((v, i) => ({ id: `i${i}`, s: v.reduce((acc, x, j) => acc + x * q[j]!, 0) }))
          .sort((a, b) => b.s - a.s)
          .slice(0, 10);
        expect(hits.map((h) => h.id)).toEqual(want.map((w) => w.id));
        hits.forEach((h, i) => expect(h.score).toBeCloseTo(want[i]!.s, 5));
        ranked.push(hits.map((h) => h.id));
      }
      results.set(name, ranked);
      const evens = await c.search(QUERIES[0]!, { k: 20, where: { even: 'true', tag: 'a' } });
      expect(evens).toHaveLength(20);
      expect(evens.every((h) => (h.metadata.n as number) % 2 === 0 && (h.metadata.n as number) < 100)).toBe(true);
      expect((await c.search(VECS[3]!, { k: 5, excludeIds: ['i3'] })).map((h) => h.id)).not.toContain('i3');
      expect((await c.search(VECS[3]!, { k: 50, minScore: 0.9999 })).map((h) => h.id)).toEqual(['i3']);
    });

    it('paging: offset skips the best hits of the same ranking, with filters and minScore (issue 12)', async () => {
      const q = QUERIES[1]!;
      const ids = (hits: { id: string }[]) => hits.map((h) => h.id);
      const all = await c.search(q, { k: 30, exact: true });
      expect(ids(await c.search(q, { k: 10, offset: 10, exact: true }))).toEqual(ids(all.slice(10, 20)));
      expect(ids(await c.search(q, { k: 10, offset: 0, exact: true }))).toEqual(ids(all.slice(0, 10)));
      const tagged = await c.search(q, { k: 12, where: { tag: 'a' } });
      expect(ids(await c.search(q, { k: 4, offset: 8, where: { tag: 'a' } }))).toEqual(ids(tagged.slice(8, 12)));
      // minScore cuts the same ranking: a page past the last hit above it is empty
      const min = all[14]!.score;
      expect(ids(await c.search(q, { k: 10, offset: 10, minScore: min, exact: true }))).toEqual(ids(all.slice(10, 15)));
      expect(await c.search(q, { k: 10, offset: 20, minScore: min, exact: true })).toEqual([]);
      // the query item excluded, as on the first page
      expect(ids(await c.search(VECS[3]!, { k: 5, offset: 1, excludeIds: ['i3'] }))).not.toContain('i3');
    });

    it('metadata summary: top-level keys with scalar values, most common values as text, the common folder (issue 12)', async () => {
      const m = await store.createCollection({ ...base, name: 'meta' });
      expect(await m.metadataSummary()).toEqual({ items: 0, pathPrefix: null, keys: [] });
      let deep: unknown = 1;
      for (let i = 0; i < 1500; i++) deep = { a: deep };
      await m.upsert([
        { id: 'a', path: '/photos/daisy/1.jpg', metadata: { species: 'daisy', year: 2020, ok: true, tags: ['x'], nested: { a: 1 }, none: null }, vector: VECS[0]! },
        { id: 'b', path: '/photos/daisy/2.jpg', metadata: { species: 'daisy', year: 2021, ok: false }, vector: VECS[1]! },
        { id: 'c', path: '/photos/iris/3.jpg', metadata: { species: 'iris', year: 2020 }, vector: VECS[2]! },
        { id: 'd', metadata: { species: 'iris', year: 1.5 }, vector: VECS[3]! },
        { id: 'e', metadata: {}, vector: VECS[4]! },
      ]);
      const summary = await m.metadataSummary();
      expect(summary).toEqual({
        items: 5,
        pathPrefix: '/photos/',
        keys: [
          { key: 'species', items: 4, distinct: 2, values: [{ value: 'daisy', count: 2 }, { value: 'iris', count: 2 }] },
          { key: 'year', items: 4, distinct: 3, values: [{ value: '2020', count: 2 }, { value: '1.5', count: 1 }, { value: '2021', count: 1 }] },
          { key: 'ok', items: 2, distinct: 2, values: [{ value: 'false', count: 1 }, { value: 'true', count: 1 }] },
        ],
      });
      // the values are what `where` matches
      for (const k of summary.keys) for (const v of k.values) expect(await m.search(VECS[0]!, { k: 10, where: { [k.key]: v.value } })).toHaveLength(v.count);
      expect(await m.metadataSummary({ maxKeys: 1, maxValues: 1 })).toEqual({
        items: 5,
        pathPrefix: '/photos/',
        keys: [{ key: 'species', items: 4, distinct: 2, values: [{ value: 'daisy', count: 2 }] }],
      });
      // metadata the store cannot take apart (nested past SQLite's limit) never fails the summary
      await m.upsert([{ id: 'deep', path: '/elsewhere/x.jpg', metadata: { nest: deep, species: 'daisy' }, vector: VECS[5]! }]);
      const withDeep = await m.metadataSummary();
      expect(withDeep.items).toBe(6);
      expect(withDeep.pathPrefix).toBe('/');
      expect(withDeep.keys.find((k) => k.key === 'year')).toEqual(summary.keys[1]);
      await store.dropCollection('meta');
    });

    it('a write bound to a dropped collection fails with COLLECTION_CHANGED and never lands in a re-created one (10.1)', async () => {
      const old = await store.createCollection({ ...base, name: 'race3' });
      await old.upsert([{ id: 'a', vector: VECS[0]! }]);
      expect(await store.dropCollection('race3')).toBe(true);
      await expect(old.upsert([{ id: 'b', vector: VECS[1]! }])).rejects.toMatchObject({ code: 'COLLECTION_CHANGED' });
      // re-created with the same name and another dimension: the old handle still cannot write into it
      const wide = new Float32Array(2 * D).fill(1 / Math.sqrt(2 * D));
      const fresh = await store.createCollection({ ...base, name: 'race3', embedder: { ...embedder, dimension: 2 * D }, dimension: 2 * D });
      await expect(old.upsert([{ id: 'c', vector: VECS[2]! }])).rejects.toMatchObject({ code: 'COLLECTION_CHANGED' });
      await expect(old.delete(['a'])).rejects.toMatchObject({ code: 'COLLECTION_CHANGED' });
      expect(await fresh.count()).toBe(0);
      // the store refuses vectors of another length than the collection's, whatever the caller checked
      await expect(fresh.upsert([{ id: 'd', vector: VECS[3]! }])).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' });
      await fresh.upsert([{ id: 'e', vector: wide }]);
      expect((await fresh.search(wide, { k: 5 })).map((h) => [h.id, Number(h.score.toFixed(5))])).toEqual([['e', 1]]);
      await store.dropCollection('race3');
    });

    it('filtered search keeps working whatever metadata is stored (deeply nested rows) (10.3)', async () => {
      const odd = await store.createCollection({ ...base, name: 'deep' });
      let deep: unknown = 1;
      for (let i = 0; i < 1500; i++) deep = { a: deep };
      await odd.upsert([
        { id: 'deep', metadata: { nest: deep, tag: 'x' }, vector: VECS[0]! },
        { id: 'flat', metadata: { tag: 'x' }, vector: VECS[1]! },
      ]);
      const hits = await odd.search(VECS[1]!, { k: 5, where: { tag: 'x' } });
      expect(hits.map((h) => h.id)).toContain('flat');
      expect((await odd.search(VECS[0]!, { k: 5 })).map((h) => h.id).sort()).toEqual(['deep', 'flat']);
      await store.dropCollection('deep');
    });

    it('HNSW index: recall@10 ≥ 0.95 against exact search', async () => {
      await c.setIndex({ type: 'hnsw', m: 16, efConstruction: 100, ef: 64 });
      expect(c.spec.index).toMatchObject({ type: 'hnsw' });
      let recall = 0;
      for (const q of QUERIES) {
        const exact = new Set((await c.search(q, { k: 10, exact: true })).map((h) => h.id));
        const approx = await c.search(q, { k: 10 });
        recall += approx.filter((h) => exact.has(h.id)).length / 10;
      }
      expect(recall / QUERIES.length).toBeGreaterThanOrEqual(0.95);
      const reopened = await store.getCollection('items');
      expect(reopened.spec.index).toMatchObject({ type: 'hnsw', m: 16 });
    });
  });
}

describe('store contract: both back-ends agree', () => {
  it('the same data gives the same exact results', () => {
    // both suites ran (vitest runs a file's describes in order) and produced full rankings
    expect([...results.keys()].sort()).toEqual(['embedded', 'postgres']);
    for (const ranked of results.values()) {
      expect(ranked).toHaveLength(QUERIES.length);
      for (const r of ranked) expect(r).toHaveLength(10);
    }
    expect(results.get('postgres')).toEqual(results.get('embedded'));
  });
});
