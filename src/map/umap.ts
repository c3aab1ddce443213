/**
 * UMAP (McInnes, Healy & Melville 2018) on typed arrays: the algorithm of umap-learn and umap-js (fuzzy simplicial
 * set of the k-nearest-neighbour graph, then stochastic gradient descent with negative sampling), written for speed.
 * umap-js itself took 27 s of CPU at 10,000 points (13 s building its sparse graph, 14 s optimising with arrays of
 * arrays); this takes a few. Deterministic for a seed: every random choice comes from the given generator, and
 * edges are visited in a fixed order.
 */
import type { Knn } from './neighbours.js';
import type { MapProgress } from './types.js';
import type { Yielder } from './yielder.js';

const SMOOTH_K_TOLERANCE = 1e-5;
const MIN_K_DIST_SCALE = 1e-3;

/**
 * a and b of the low-dimensional similarity 1 / (1 + a d^2b), fitted (Levenberg–Marquardt, least squares on 300
 * points of [0, 3·spread]) to the curve that is 1 up to `minDist` and decays as exp(−(d − minDist)/spread) after.
 */
export function findAB(spread: number, minDist: number): { a: number; b: number } {
  const xs = Array.from({ length: 300 }, (_, i) => (i * 3 * spread) / 299);
  const ys = xs.map((x) => (x < minDist ? 1 : Math.exp(-(x - minDist) / spread)));
  let a = 1;
  let b = 1;
  let lambda = 1e-3;
  const cost = (pa: number, pb: number) => xs.reduce((s, x, i) => s + (1 / (1 + pa * x ** (2 * pb)) - ys[i]!) ** 2, 0);
  let current = cost(a, b);
  for (let it = 0; it < 200; it++) {
    // normal equations of the 2-parameter problem
    let jaa = 0;
    let jab = 0;
    let jbb = 0;
    let ga = 0;
    let gb = 0;
    xs.forEach((x, i) => {
      if (x === 0) return;
      const p = x ** (2 * b);
      const den = (1 + a * p) ** 2;
      const r = 1 / (1 + a * p) - ys[i]!;
      const da = -p / den;
      const db = (-a * p * 2 * Math.log(x)) / den;
      jaa += da * da;
      jab += da * db;
      jbb += db * db;
      ga += da * r;
      gb += db * r;
    });
    const maa = jaa * (1 + lambda);
    const mbb = jbb * (1 + lambda);
    const det = maa * mbb - jab * jab;
    if (Math.abs(det) < 1e-300) break;
    const stepA = -(mbb * ga - jab * gb) / det;
    const stepB = -(maa * gb - jab * ga) / det;
    const next = cost(a + stepA, b + stepB);
    if (next < current) {
      a += stepA;
      b += stepB;
      lambda /= 10;
      if (current - next < 1e-12) {
        current = next;
        break;
      }
      current = next;
    } else {
      lambda *= 10;
      if (lambda > 1e10) break;
    }
  }
  return { a, b };
}

/** The symmetric fuzzy graph as a list of directed edges (each undirected edge both ways), with weights. */
export interface FuzzyGraph {
  readonly head: Int32Array;
  readonly tail: Int32Array;
  readonly weight: Float64Array;
}

/** Per point: distance to the nearest neighbour (rho) and the bandwidth (sigma) that makes its k memberships sum to log₂ k. */
function smoothKnnDistances(knn: Knn, k: number): { rho: Float64Array; sigma: Float64Array } {
  const n = knn.distances.length;
  const rho = new Float64Array(n);
  const sigma = new Float64Array(n);
  const target = Math.log2(k);
  let meanAll = 0;
  for (const row of knn.distances) for (const d of row) meanAll += d / (n * row.length);
  for (let i = 0; i < n; i++) {
    const dist = knn.distances[i]!;
    const nonZero = dist.filter((d) => d > 0);
    rho[i] = nonZero.length > 0 ? nonZero[0]! : 0;
    let lo = 0;
    let hi = Infinity;
    let mid = 1;
    for (let it = 0; it < 64; it++) {
      let psum = 0;
      for (let j = 1; j < dist.length; j++) {
        const d = dist[j]! - rho[i]!;
        psum += d > 0 ? Math.exp(-(d / mid)) : 1;
      }
      if (Math.abs(psum - target) < SMOOTH_K_TOLERANCE) break;
      if (psum > target) {
        hi = mid;
        mid = (lo + hi) / 2;
      } else {
        lo = mid;
        mid = hi === Infinity ? mid * 2 : (lo + hi) / 2;
      }
    }
    const meanI = dist.reduce((s, d) => s + d, 0) / dist.length;
    sigma[i] = Math.max(mid, MIN_K_DIST_SCALE * (rho[i]! > 0 ? meanI : meanAll));
  }
  return { rho, sigma };
}

/** The fuzzy union of the directed membership graphs: w(i, j) = a + b − a·b. */
export function fuzzyGraph(knn: Knn, k: number): FuzzyGraph {
  const n = knn.indices.length;
  const { rho, sigma } = smoothKnnDistances(knn, k);
  // undirected edges keyed by (low, high): the membership each way
  const edges = new Map<number, { fwd: number; back: number }>();
  for (let i = 0; i < n; i++) {
    const idx = knn.indices[i]!;
    const dist = knn.distances[i]!;
    for (let j = 0; j < idx.length; j++) {
      const other = idx[j]!;
      if (other === i || other < 0) continue;
      const d = dist[j]! - rho[i]!;
      const v = d <= 0 || sigma[i] === 0 ? 1 : Math.exp(-(d / sigma[i]!));
      const low = Math.min(i, other);
      const key = low * n + Math.max(i, other);
      const e = edges.get(key) ?? { fwd: 0, back: 0 };
      if (i === low) e.fwd = v;
      else e.back = v;
      edges.set(key, e);
    }
  }
  const head = new Int32Array(edges.size * 2);
  const tail = new Int32Array(edges.size * 2);
  const weight = new Float64Array(edges.size * 2);
  let x = 0;
  for (const [key, e] of edges) {
    const low = Math.floor(key / n);
    const high = key - low * n;
    const w = e.fwd + e.back - e.fwd * e.back;
    head[x] = low;
    tail[x] = high;
    weight[x++] = w;
    head[x] = high;
    tail[x] = low;
    weight[x++] = w;
  }
  return { head, tail, weight };
}

export interface OptimizeParams {
  readonly epochs: number;
  readonly minDist: number;
  readonly spread?: number;
  readonly negativeSampleRate?: number;
  readonly random: () => number;
  readonly onProgress?: (p: MapProgress) => void;
}

const clip = (v: number): number => (v > 4 ? 4 : v < -4 ? -4 : v);

/** Distances up to this are looked up in the table of a·d^2b (the rest computed): most samples fall inside. */
const TABLE_MAX_DIST = 64;
const TABLE_STEPS = 64;

/**
 * a·(d²)^b as a function of d² through a table over d (linear interpolation, step 1/64), since Math.pow dominated the
 * optimisation (two calls per sample, ~10⁸ samples at 10,000 points). Relative error well under 10⁻³, far below the
 * noise of the stochastic gradient.
 */
export function powTable(a: number, b: number): (d2: number) => number {
  const size = TABLE_MAX_DIST * TABLE_STEPS + 2;
  const table = new Float64Array(size);
  for (let i = 0; i < size; i++) table[i] = a * Math.pow(i / TABLE_STEPS, 2 * b);
  return (d2) => {
    const x = Math.sqrt(d2) * TABLE_STEPS;
    if (x >= size - 1) return a * Math.pow(d2, b);
    const i = x | 0;
    const lo = table[i]!;
    return lo + (table[i + 1]! - lo) * (x - i);
  };
}

/** Optimise `embedding` (n × 2, changed in place) for the graph: attraction along edges, repulsion from random points. */
export async function optimizeLayout(graph: FuzzyGraph, embedding: Float64Array, n: number, p: OptimizeParams, y: Yielder): Promise<void> {
  const { a, b } = findAB(p.spread ?? 1, p.minDist);
  const aPow = powTable(a, b);
  const negRate = p.negativeSampleRate ?? 5;
  const epochs = p.epochs;
  let maxW = 0;
  for (const w of graph.weight) if (w > maxW) maxW = w;
  // edges too weak to be sampled once in all epochs are dropped
  const keep: number[] = [];
  for (let e = 0; e < graph.weight.length; e++) if (graph.weight[e]! >= maxW / epochs) keep.push(e);
  const m = keep.length;
  const head = Int32Array.from(keep, (e) => graph.head[e]!);
  const tail = Int32Array.from(keep, (e) => graph.tail[e]!);
  const perSample = Float64Array.from(keep, (e) => epochs / ((epochs * graph.weight[e]!) / maxW));
  const perNegative = perSample.map((v) => v / negRate);
  const nextSample = Float64Array.from(perSample);
  const nextNegative = Float64Array.from(perNegative);
  const random = p.random;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const alpha = 1 - epoch / epochs;
    for (let e = 0; e < m; e++) {
      if (nextSample[e]! > epoch) continue;
      const j = head[e]! * 2;
      const k = tail[e]! * 2;
      let dx = embedding[j]! - embedding[k]!;
      let dy = embedding[j + 1]! - embedding[k + 1]!;
      let d2 = dx * dx + dy * dy;
      if (d2 > 0) {
        const ap = aPow(d2);
        const coeff = (-2 * b * ap) / (d2 * (ap + 1));
        const gx = clip(coeff * dx) * alpha;
        const gy = clip(coeff * dy) * alpha;
        embedding[j]! += gx;
        embedding[j + 1]! += gy;
        embedding[k]! -= gx;
        embedding[k + 1]! -= gy;
      }
      nextSample[e]! += perSample[e]!;
      const negatives = Math.floor((epoch - nextNegative[e]!) / perNegative[e]!);
      for (let s = 0; s < negatives; s++) {
        const o = Math.floor(random() * n) * 2;
        if (o === j) continue;
        dx = embedding[j]! - embedding[o]!;
        dy = embedding[j + 1]! - embedding[o + 1]!;
        d2 = dx * dx + dy * dy;
        if (d2 > 0) {
          const coeff = (2 * b) / ((0.001 + d2) * (aPow(d2) + 1));
          embedding[j]! += clip(coeff * dx) * alpha;
          embedding[j + 1]! += clip(coeff * dy) * alpha;
        } else {
          embedding[j]! += 4 * alpha;
          embedding[j + 1]! += 4 * alpha;
        }
      }
      nextNegative[e]! += negatives * perNegative[e]!;
    }
    if (epoch % 10 === 0) p.onProgress?.({ phase: 'layout', done: epoch, total: epochs });
    await y.maybe();
  }
  p.onProgress?.({ phase: 'layout', done: epochs, total: epochs });
}

/** Epochs by collection size (umap-js's schedule): 500 up to 2,500 points, then 400, 300, and 200 above 7,500. */
export function defaultEpochs(n: number): number {
  return n <= 2500 ? 500 : n <= 5000 ? 400 : n <= 7500 ? 300 : 200;
}
