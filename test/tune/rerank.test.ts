/**
 * Query expansion and diffusion on an exact in-memory space: the expanded query is what the formulas say, re-ranked
 * scores are ordered and paging is consistent, and the option checks say what is allowed.
 */
import { describe, expect, it } from 'vitest';
import type { Hit, StoreCollection, VectorSearchOptions } from '../../src/store/types.js';
import { checkRerank, rerankedSearch, type SearchSpace } from '../../src/tune/rerank.js';
import { searchTuned } from '../../src/tune/search.js';
import { randomUnitVectors } from '../helpers.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const unit = (v: ArrayLike<number>) => {
  const n = Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
  return Float32Array.from(v, (x) => x / n);
};

/** Exact search over fixed vectors (ids v0, v1, …). */
function space(vectors: Float32Array[]): SearchSpace & { calls: VectorSearchOptions[] } {
  const calls: VectorSearchOptions[] = [];
  return {
    calls,
    async search(q, o) {
      calls.push(o);
      const ex = new Set(o.excludeIds ?? []);
      const all: Hit[] = vectors.map((v, i) => ({ id: `v${i}`, path: null, score: dot(q, v), metadata: {} })).filter((h) => !ex.has(h.id));
      all.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
      const off = o.offset ?? 0;
      return all.slice(off, off + o.k).filter((h) => h.score >= (o.minScore ?? -Infinity));
    },
    async vectors(ids) {
      return new Map(ids.map((id) => [id, vectors[Number(id.slice(1))]!]));
    },
  };
}

describe('re-ranking', () => {
  const vectors = randomUnitVectors(120, 12, 11);
  const q = vectors[0]!;
  const s = space(vectors);
  const opts = { k: 10, excludeIds: ['v0'] };

  it('aqe: searches again with q + the top k hits\' vectors', async () => {
    const first = await s.search(q, { k: 2, excludeIds: ['v0'] });
    const expanded = unit(q.map((x, i) => x + first.reduce((acc, h) => acc + vectors[Number(h.id.slice(1))]![i]!, 0)));
    const got = await rerankedSearch(s, q, opts, checkRerank('aqe'));
    const want = await s.search(expanded, opts);
    expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
    got.forEach((h, i) => expect(h.score).toBeCloseTo(want[i]!.score, 5));
  });

  it('alpha-qe: the top hits weigh max(0, s)^α', async () => {
    const top = await s.search(q, { k: 3, excludeIds: ['v0'] });
    const expanded = unit(q.map((x, i) => x + top.reduce((acc, h) => acc + Math.max(0, h.score) ** 2 * vectors[Number(h.id.slice(1))]![i]!, 0)));
    const got = await rerankedSearch(s, q, opts, checkRerank({ method: 'alpha-qe', k: 3, alpha: 2 }));
    expect(got.map((h) => h.id)).toEqual((await s.search(expanded, opts)).map((h) => h.id));
  });

  it('diffusion: re-orders the top N only, scores decrease with rank, paging agrees', async () => {
    const r = checkRerank({ method: 'diffusion', n: 30, k: 5 });
    const all = await rerankedSearch(s, q, { ...opts, k: 119 }, r);
    expect(all).toHaveLength(119);
    for (let i = 1; i < all.length; i++) expect(all[i]!.score).toBeLessThanOrEqual(all[i - 1]!.score);
    const first30 = new Set((await s.search(q, { k: 30, excludeIds: ['v0'] })).map((h) => h.id));
    expect(new Set(all.slice(0, 30).map((h) => h.id))).toEqual(first30); // the top N stay the top N
    const exact = await s.search(q, { k: 119, excludeIds: ['v0'] });
    expect(all.slice(30).map((h) => h.id)).toEqual(exact.slice(30).map((h) => h.id)); // the rest keep their order
    const page = await rerankedSearch(s, q, { ...opts, k: 5, offset: 5 }, r);
    expect(page.map((h) => h.id)).toEqual(all.slice(5, 10).map((h) => h.id));
  });

  it('checks its options', () => {
    expect(checkRerank('diffusion')).toEqual({ method: 'diffusion', k: 10, alpha: 3, n: 200, beta: 0.99 });
    expect(checkRerank('aqe').k).toBe(2);
    expect(() => checkRerank('bogus' as 'aqe')).toThrow(/rerank must be one of aqe, alpha-qe, diffusion/);
    expect(() => checkRerank({ method: 'diffusion', beta: 1 })).toThrow(/rerank.beta must be a number between 0 and 1/);
  });

  it('is refused with sort, collapse, best-score and minConfidence; off, nothing changes', async () => {
    const collection = { spec: { name: 'c' }, search: s.search, getVectors: s.vectors } as unknown as StoreCollection;
    const steps = { ranked: async () => [] as Hit[], resolve: async () => ({ terms: [{ negative: false, weight: 1 }], strategy: 'average', vectors: [q], excludeIds: ['v0'] }), bestScore: false };
    await expect(searchTuned(collection, { rerank: 'aqe', sort: 'year', minScore: 0 }, steps)).rejects.toThrow(/not be combined with sort or collapse/);
    await expect(searchTuned(collection, { rerank: 'aqe' }, { ...steps, bestScore: true })).rejects.toThrow(/not with "best-score"/);
    await expect(searchTuned(collection, { minConfidence: 0.9 }, steps)).rejects.toThrow(/no calibrated scores.*--calibrate/);
    expect(await searchTuned(collection, {}, steps)).toEqual([]);
    const reranked = await searchTuned(collection, { rerank: 'aqe', k: 10 }, steps);
    expect(reranked.map((h) => h.id)).toEqual((await rerankedSearch(s, q, opts, checkRerank('aqe'))).map((h) => h.id));
  });
});
