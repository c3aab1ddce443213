/**
 * k-majority clustering of binary descriptors (ORB: 256 bits = 8 x uint32): k-means with Hamming distance and
 * bitwise-majority centroids, the usual way to build visual vocabularies for binary features (as in DBoW2).
 * Deterministic for a given seed (k-means++ initialisation from a seeded generator).
 */

import { seededRandom } from '../util/random.js';

export const WORDS = 8; // 32-bit words per 256-bit descriptor

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

export function hamming(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  let d = 0;
  for (let w = 0; w < WORDS; w++) d += popcount32((a[ai + w]! ^ b[bi + w]!) >>> 0);
  return d;
}

/** Index of the nearest centroid to descriptor `i` of `data`. */
export function nearest(data: Uint32Array, i: number, centroids: Uint32Array, k: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c < k; c++) {
    const d = hamming(data, i * WORDS, centroids, c * WORDS);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

/** Cluster `n` descriptors into `k` binary centroids. */
export function kMajority(data: Uint32Array, n: number, k: number, opts: { seed?: number; iterations?: number } = {}): Uint32Array {
  if (n === 0) throw new Error('kMajority: no descriptors');
  k = Math.min(k, n);
  const rand = seededRandom(opts.seed ?? 42);
  const centroids = new Uint32Array(k * WORDS);
  // k-means++: first centroid at random, then proportionally to the squared distance to the nearest chosen one
  const dist = new Float64Array(n).fill(Infinity);
  let pick = Math.floor(rand() * n);
  for (let c = 0; c < k; c++) {
    centroids.set(data.subarray(pick * WORDS, (pick + 1) * WORDS), c * WORDS);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = hamming(data, i * WORDS, centroids, c * WORDS);
      if (d * d < dist[i]!) dist[i] = d * d;
      total += dist[i]!;
    }
    if (total === 0) break;
    let r = rand() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= dist[i]!;
      if (r <= 0) {
        pick = i;
        break;
      }
    }
  }
  const assign = new Int32Array(n).fill(-1);
  const bitCounts = new Uint32Array(k * 256);
  const sizes = new Uint32Array(k);
  for (let it = 0; it < (opts.iterations ?? 15); it++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const c = nearest(data, i, centroids, k);
      if (c !== assign[i]) {
        assign[i] = c;
        changed++;
      }
    }
    if (changed === 0) break;
    bitCounts.fill(0);
    sizes.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assign[i]!;
      sizes[c]!++;
      const base = c * 256;
      for (let w = 0; w < WORDS; w++) {
        const word = data[i * WORDS + w]!;
        for (let b = 0; b < 32; b++) if ((word >>> b) & 1) bitCounts[base + w * 32 + b]!++;
      }
    }
    for (let c = 0; c < k; c++) {
      if (sizes[c] === 0) continue; // empty cluster keeps its centroid
      for (let w = 0; w < WORDS; w++) {
        let word = 0;
        for (let b = 0; b < 32; b++) if (bitCounts[c * 256 + w * 32 + b]! * 2 > sizes[c]!) word |= 1 << b;
        centroids[c * WORDS + w] = word >>> 0;
      }
    }
  }
  return centroids;
}
