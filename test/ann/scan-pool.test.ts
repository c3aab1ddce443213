/**
 * Exact search on all cores (issue 18.1): a large FlatIndex scans its rows on worker threads as well as the calling
 * thread. The answers must be exactly those of one thread — same kernel, same rows — for every encoding, for batched
 * queries, after the index grew past the threshold (its rows move to shared memory), and through deletes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { FlatIndex, int8Scales, type VectorEncoding } from '../../src/ann/flat.js';
import { configureSearchThreads, PARALLEL_MIN_BYTES, scanPoolStats } from '../../src/ann/scan-pool.js';
import { randomUnitVectors } from '../helpers.js';

const D = 128;
const ENCODINGS: VectorEncoding[] = ['float32', 'float16', 'int8'];

function build(encoding: VectorEncoding, vectors: Float32Array[], scales: Float32Array, capacity: number): FlatIndex {
  const index = new FlatIndex(D, capacity, 'ip', { encoding, ...(encoding === 'int8' ? { int8Scales: scales } : {}) });
  vectors.forEach((v, i) => index.upsert(i, v));
  return index;
}

describe('FlatIndex on several threads', () => {
  afterAll(() => configureSearchThreads(1));
  // enough rows for the smallest encoding (int8, 128 B/row) to pass the threshold several times over
  const n = Math.ceil((4 * PARALLEL_MIN_BYTES) / D);
  const vectors = randomUnitVectors(n, D, 7);
  const scales = int8Scales(vectors, D);
  const queries = randomUnitVectors(9, D, 8);

  it('the worker threads do take parts of the scans (they start in the background; the caller never waits for that)', async () => {
    configureSearchThreads(2);
    const index = build('float32', vectors, scales, n);
    const before = scanPoolStats().workerParts;
    const deadline = Date.now() + 20_000;
    while (scanPoolStats().workerParts === before && Date.now() < deadline) {
      index.search(queries[0]!, 10);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(scanPoolStats().workerParts).toBeGreaterThan(before);
  });

  for (const encoding of ENCODINGS) {
    // runs after the test above: the pool's worker is up, so the parts really are split between two threads
    it(`${encoding}: the same hits and scores as one thread, single and batched, after growing and deleting`, () => {
      configureSearchThreads(1);
      const one = build(encoding, vectors, scales, n);
      configureSearchThreads(2);
      // starts small: the rows move to shared memory when the index grows past the threshold
      const many = build(encoding, vectors, scales, 16);
      for (const key of [3, n - 1, 12_345]) {
        one.remove(key);
        many.remove(key);
      }
      const exclude = new Set([5]);
      for (const q of queries) expect(many.search(q, 20, { exclude })).toEqual(one.search(q, 20, { exclude }));
      expect(many.searchBatch(queries, 10)).toEqual(one.searchBatch(queries, 10));
      expect(Array.from(many.scoreAll(queries[0]!))).toEqual(Array.from(one.scoreAll(queries[0]!)));
    });
  }

  it('small indexes and one configured thread keep to the calling thread', () => {
    configureSearchThreads(2);
    const small = build('float32', vectors.slice(0, 1000), scales, 1000);
    const before = scanPoolStats();
    small.search(queries[0]!, 10);
    expect(scanPoolStats().scans).toBe(before.scans);
    expect(() => configureSearchThreads(0)).toThrow(/searchThreads/);
  });
});
