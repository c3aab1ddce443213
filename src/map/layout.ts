/**
 * 2-D layouts of reduced vectors: UMAP (`umap.ts`, seeded, started from the PCA layout rather than at random, so the
 * global arrangement is stable and meaningful), or PCA's first two components. Coordinates are then scaled into
 * [0, 1] with the aspect ratio kept.
 */
import { exactKnn } from './neighbours.js';
import type { MapProgress } from './types.js';
import { defaultEpochs, fuzzyGraph, optimizeLayout } from './umap.js';
import type { Yielder } from './yielder.js';

export interface UmapParams {
  readonly neighbors: number;
  readonly minDist: number;
  readonly random: () => number;
  readonly epochs?: number;
  readonly onProgress?: (p: MapProgress) => void;
}

/** UMAP of the n rows of `data` (n × d), started from `start` (n × 2, e.g. the PCA layout). Returns n × 2. */
export async function umapLayout(data: Float32Array, n: number, d: number, start: Float32Array, p: UmapParams, y: Yielder): Promise<Float32Array> {
  const k = Math.max(2, Math.min(p.neighbors, n - 1));
  const knn = await exactKnn(data, n, d, k, y, p.onProgress);
  const graph = fuzzyGraph(knn, k);
  await y.maybe();
  // start from the PCA layout scaled like UMAP's spectral start (within ±10), with a little jitter against ties
  const embedding = new Float64Array(2 * n);
  let max = 1e-12;
  for (let i = 0; i < 2 * n; i++) max = Math.max(max, Math.abs(start[i]!));
  for (let i = 0; i < 2 * n; i++) embedding[i] = (start[i]! * 10) / max + (p.random() - 0.5) * 1e-4;
  await optimizeLayout(graph, embedding, n, { epochs: p.epochs ?? defaultEpochs(n), minDist: p.minDist, random: p.random, ...(p.onProgress ? { onProgress: p.onProgress } : {}) }, y);
  return Float32Array.from(embedding);
}

/**
 * Scale n × 2 coordinates into [0, 1] (aspect kept, centred on the shorter side), rounded to 5 decimals. Outliers
 * beyond 0.1% / 99.9% quantiles are clamped to the box so one stray point does not shrink the rest.
 */
export function fitToUnitSquare(xy: Float32Array, n: number): Float64Array {
  const out = new Float64Array(2 * n);
  if (n === 0) return out;
  const range = (axis: 0 | 1): [number, number] => {
    const v = Array.from({ length: n }, (_, i) => xy[2 * i + axis]!).sort((a, b) => a - b);
    const lo = n >= 1000 ? v[Math.floor(n * 0.001)]! : v[0]!;
    const hi = n >= 1000 ? v[Math.ceil(n * 0.999) - 1]! : v[n - 1]!;
    return [lo, hi];
  };
  const [x0, x1] = range(0);
  const [y0, y1] = range(1);
  const span = Math.max(x1 - x0, y1 - y0, 1e-12);
  const padX = (1 - (x1 - x0) / span) / 2;
  const padY = (1 - (y1 - y0) / span) / 2;
  const r = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 1e5) / 1e5;
  for (let i = 0; i < n; i++) {
    out[2 * i] = r(padX + (xy[2 * i]! - x0) / span);
    out[2 * i + 1] = r(padY + (xy[2 * i + 1]! - y0) / span);
  }
  return out;
}
