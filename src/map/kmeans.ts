/** k-means (k-means++ seeding, Lloyd iterations) on reduced vectors, seeded: the same input gives the same clusters. */
import { FlatIndex } from '../ann/flat.js';
import type { Yielder } from './yielder.js';

export interface KMeansResult {
  readonly k: number;
  /** k rows of `d`. */
  readonly centroids: Float64Array;
  /** Cluster of each point. */
  readonly assignment: Int32Array;
  /** Squared distance of each point to its centroid. */
  readonly distance: Float64Array;
}

function sqDist(data: Float32Array, i: number, centroids: Float64Array, c: number, d: number): number {
  let s = 0;
  const a = i * d;
  const b = c * d;
  for (let j = 0; j < d; j++) {
    const t = data[a + j]! - centroids[b + j]!;
    s += t * t;
  }
  return s;
}

/**
 * Assign every point to its nearest centroid (writes `assignment` and `distance`); returns how many changed. The
 * centroids go into a `FlatIndex` (squared Euclidean distance on the SIMD kernel), searched once per point.
 */
export async function nearestCentroids(data: Float32Array, n: number, d: number, centroids: Float64Array, k: number, assignment: Int32Array, distance: Float64Array, y: Yielder): Promise<number> {
  if (d <= 8) return nearestSmall(data, n, d, centroids, k, assignment, distance, y);
  const index = new FlatIndex(d, k, 'l2');
  for (let c = 0; c < k; c++) index.upsert(c, Float32Array.from(centroids.subarray(c * d, (c + 1) * d)));
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const best = index.search(data.subarray(i * d, (i + 1) * d), 1)[0]!;
    if (assignment[i] !== best.key) changed++;
    assignment[i] = best.key;
    distance[i] = Math.max(0, -best.score);
    if ((i & 1023) === 1023) await y.maybe();
  }
  return changed;
}

/** `nearestCentroids` for a few dimensions (the 2-D layout): a plain loop beats a kernel call per point there. */
async function nearestSmall(data: Float32Array, n: number, d: number, centroids: Float64Array, k: number, assignment: Int32Array, distance: Float64Array, y: Yielder): Promise<number> {
  let changed = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestD = Infinity;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = data[i * d + j]! - centroids[c * d + j]!;
        s += t * t;
      }
      if (s < bestD) {
        bestD = s;
        best = c;
      }
    }
    if (assignment[i] !== best) changed++;
    assignment[i] = best;
    distance[i] = bestD;
    if ((i & 4095) === 4095) await y.maybe();
  }
  return changed;
}

/**
 * Cluster the `n` rows of `data` (n × d) into `k` clusters: k-means++ seeding, then Lloyd iterations until fewer than
 * 0.1% of the points change cluster, or `maxIterations`. (Large collections fit on a sample, then `nearestCentroids`.)
 */
export async function kmeans(data: Float32Array, n: number, d: number, k: number, random: () => number, y: Yielder, maxIterations = 50): Promise<KMeansResult> {
  const kk = Math.max(1, Math.min(k, n));
  const centroids = new Float64Array(kk * d);
  const assignment = new Int32Array(n).fill(-1);
  const distance = new Float64Array(n);
  if (n === 0) return { k: kk, centroids, assignment, distance };

  // k-means++: each next centre drawn with probability ∝ squared distance to the nearest chosen one
  const setCentre = (c: number, i: number) => {
    for (let j = 0; j < d; j++) centroids[c * d + j] = data[i * d + j]!;
  };
  const near = new Float64Array(n).fill(Infinity);
  setCentre(0, Math.floor(random() * n));
  for (let c = 1; c < kk; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const s = sqDist(data, i, centroids, c - 1, d);
      if (s < near[i]!) near[i] = s;
      total += near[i]!;
      if ((i & 1023) === 1023) await y.maybe();
    }
    let pick = n - 1;
    if (total > 0) {
      let r = random() * total;
      for (let i = 0; i < n; i++) {
        r -= near[i]!;
        if (r <= 0) {
          pick = i;
          break;
        }
      }
    } else {
      pick = Math.floor(random() * n);
    }
    setCentre(c, pick);
  }

  const sums = new Float64Array(kk * d);
  const counts = new Int32Array(kk);
  for (let it = 0; it < maxIterations; it++) {
    const changed = await nearestCentroids(data, n, d, centroids, kk, assignment, distance, y);
    if (it > 0 && changed <= n / 1000) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignment[i]!;
      counts[c]!++;
      for (let j = 0; j < d; j++) sums[c * d + j]! += data[i * d + j]!;
    }
    for (let c = 0; c < kk; c++) {
      if (counts[c] === 0) {
        // an empty cluster takes the point farthest from its centre
        let far = 0;
        for (let i = 1; i < n; i++) if (distance[i]! > distance[far]!) far = i;
        setCentre(c, far);
        distance[far] = 0;
        continue;
      }
      for (let j = 0; j < d; j++) centroids[c * d + j] = sums[c * d + j]! / counts[c]!;
    }
  }
  await nearestCentroids(data, n, d, centroids, kk, assignment, distance, y);
  return { k: kk, centroids, assignment, distance };
}
