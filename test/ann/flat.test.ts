import { describe, expect, it } from 'vitest';
import { FlatIndex, FlatIndexFullError } from '../../src/ann/flat.js';
import { TopK } from '../../src/ann/kernels.js';
import { randomUnitVectors, rng } from '../helpers.js';

function bruteForce(vectors: Map<number, Float32Array>, q: Float32Array, k: number) {
  const scored = [...vectors].map(([key, v]) => {
    let s = 0;
    for (let i = 0; i < q.length; i++) s += q[i]! * v[i]!;
    return { key, score: s };
  });
  return scored.sort((a, b) => b.score - a.score || a.key - b.key).slice(0, k);
}

describe('FlatIndex', () => {
  it('equals brute force on random data, through inserts, replacements and deletes', () => {
    const d = 67; // not a multiple of 4: exercises the kernel's tail loop
    const vecs = randomUnitVectors(3000, d, 1);
    const index = new FlatIndex(d, 16); // small capacity: exercises growth
    const truth = new Map<number, Float32Array>();
    vecs.forEach((v, i) => {
      index.upsert(i * 3 + 1, v);
      truth.set(i * 3 + 1, v);
    });
    const r = rng(7);
    for (let i = 0; i < 700; i++) {
      const key = (Math.floor(r() * 3000) * 3) + 1;
      expect(index.remove(key)).toBe(truth.delete(key));
    }
    const replacements = randomUnitVectors(200, d, 2);
    replacements.forEach((v, i) => {
      const key = i * 3 + 1;
      index.upsert(key, v);
      truth.set(key, v);
    });
    expect(index.size).toBe(truth.size);
    for (const q of randomUnitVectors(25, d, 3)) {
      for (const k of [1, 10, 100]) {
        const got = index.search(q, k);
        const want = bruteForce(truth, q, k);
        expect(got.map((h) => h.key)).toEqual(want.map((h) => h.key));
        got.forEach((h, i) => expect(h.score).toBeCloseTo(want[i]!.score, 5));
      }
    }
  });

  it('restricts to candidates and drops excluded keys', () => {
    const vecs = randomUnitVectors(100, 8, 4);
    const index = new FlatIndex(8);
    vecs.forEach((v, i) => index.upsert(i, v));
    const q = vecs[5]!;
    expect(index.search(q, 1)[0]!.key).toBe(5);
    expect(index.search(q, 3, { exclude: new Set([5]) }).map((h) => h.key)).not.toContain(5);
    const only = index.search(q, 10, { candidates: [1, 2, 3, 999] });
    expect(only.map((h) => h.key).sort()).toEqual([1, 2, 3]);
  });

  it('accepts raw little-endian bytes (as stored)', () => {
    const [v] = randomUnitVectors(1, 5, 9);
    const index = new FlatIndex(5);
    index.upsert(42, new Uint8Array(v!.buffer));
    expect(index.search(v!, 1)[0]!.score).toBeCloseTo(1, 6);
  });
});

describe('TopK', () => {
  it('keeps the k largest, best first', () => {
    const r = rng(11);
    const scores = Array.from({ length: 1000 }, () => r());
    const top = new TopK(7);
    scores.forEach((s, i) => top.push(s, i));
    const want = scores.map((s, i) => ({ id: i, score: s })).sort((a, b) => b.score - a.score).slice(0, 7);
    expect(top.sorted()).toEqual(want);
  });
});

describe('FlatIndex batched search (SIMD kernel, four queries per pass)', () => {
  it('equals single-query search', () => {
    const d = 100; // padded to 104 floats per row inside
    const index = new FlatIndex(d, 8);
    randomUnitVectors(777, d, 21).forEach((v, i) => index.upsert(i, v));
    expect(index.stride).toBe(104);
    const qs = randomUnitVectors(11, d, 22); // 4 + 4 + 3
    const batched = index.searchBatch(qs, 7);
    expect(batched).toHaveLength(11);
    qs.forEach((q, i) => {
      const single = index.search(q, 7);
      expect(batched[i]!.map((h) => h.key)).toEqual(single.map((h) => h.key));
      batched[i]!.forEach((h, j) => expect(h.score).toBeCloseTo(single[j]!.score, 5));
    });
    expect(index.vector(5)!.length).toBe(d);
  });
});

describe('FlatIndex metrics', () => {
  const raw = (n: number, d: number, seed: number) => {
    const r = rng(seed);
    return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => r() * 10 - 5));
  };

  it('l2 ranks by Euclidean distance (score = −squared distance), through deletes', () => {
    const d = 13;
    const vecs = raw(500, d, 31);
    const index = new FlatIndex(d, 4, 'l2');
    vecs.forEach((v, i) => index.upsert(i, v));
    for (let i = 0; i < 100; i += 3) index.remove(i);
    for (const q of raw(10, d, 32)) {
      const want = vecs
        .map((v, i) => ({ key: i, dist: v.reduce((s, x, j) => s + (x - q[j]!) ** 2, 0) }))
        .filter((h) => !(h.key < 100 && h.key % 3 === 0))
        .sort((a, b) => a.dist - b.dist)
        .slice(0, 5);
      const got = index.search(q, 5);
      expect(got.map((h) => h.key)).toEqual(want.map((h) => h.key));
      got.forEach((h, i) => expect(-h.score).toBeCloseTo(want[i]!.dist, 1));
      expect(index.searchBatch([q], 5)[0]!.map((h) => h.key)).toEqual(want.map((h) => h.key));
    }
  });

  it('ip ranks raw (unnormalised) vectors by inner product', () => {
    const d = 9;
    const vecs = raw(300, d, 41);
    const index = new FlatIndex(d, 16, 'ip');
    vecs.forEach((v, i) => index.upsert(i, v));
    const q = raw(1, d, 42)[0]!;
    const want = vecs
      .map((v, i) => ({ key: i, s: v.reduce((s, x, j) => s + x * q[j]!, 0) }))
      .sort((a, b) => b.s - a.s)
      .slice(0, 7);
    expect(index.search(q, 7).map((h) => h.key)).toEqual(want.map((h) => h.key));
  });

  it('equal scores come back in key order (smaller key first), so results are deterministic', () => {
    const [v, w] = randomUnitVectors(2, 16, 42);
    const index = new FlatIndex(16, 8);
    for (const key of [9, 3, 7]) index.upsert(key, v!);
    index.upsert(1, w!);
    expect(index.search(v!, 3).map((h) => h.key)).toEqual([3, 7, 9]);
    expect(index.search(v!, 2).map((h) => h.key)).toEqual([3, 7]);
  });
});

describe('FlatIndex at its memory limit', () => {
  // 4 GiB of WebAssembly memory in production (1M × 1024 float32 just fits); a smaller cap shows the same logic
  it('grows only up to what fits, then refuses the row that does not (FlatIndexFullError) and stays as it was', () => {
    const d = 64;
    const index = new FlatIndex(d, 16, 'ip', { maxBytes: 256 * 1024 });
    const max = index.maxRows;
    expect(max).toBe(Math.floor((256 * 1024 - 4 * d * 4) / (d * 4 + 16)));
    const vs = randomUnitVectors(max + 1, d, 11);
    // growth by 1.5× would overshoot the cap: the last steps are capped instead of failing early
    for (let i = 0; i < max; i++) index.upsert(i, vs[i]!);
    expect(index.size).toBe(max);
    expect(() => index.upsert(max, vs[max]!)).toThrow(FlatIndexFullError);
    expect(index.size).toBe(max);
    expect(index.search(vs[7]!, 1)[0]).toEqual({ key: 7, score: expect.closeTo(1, 5) });
    // a replacement of a held row still works when full
    index.upsert(7, vs[8]!);
    expect(index.search(vs[8]!, 2).map((h) => h.key).sort()).toEqual([7, 8]);
  });
});
