/**
 * Calibrated scores. A raw cosine means little on its own: with mobilenet-v1 almost every pair of unrelated photos
 * scores between 0.86 and 0.97, with a colour histogram the range is another. Calibration samples random pairs of
 * the collection's items and keeps the distribution of their scores (as quantiles); a hit's `confidence` is the
 * share of random pairs that score below it — "better than 99.9 % of random pairs" is 0.999. It is a non-decreasing
 * function of the raw score (piecewise linear between the stored quantiles), so filtering by confidence is filtering
 * by score, and the order of hits never changes. The distribution of nearest-neighbour scores is kept beside it, for
 * reading (`lookalike tune --calibrate` prints both).
 */
import { createError } from '../errors.js';
import { seededRandom } from '../util/random.js';
import type { CalibrationSpec } from './schema.js';

export interface CalibrateOptions {
  /** Random pairs to sample (default 20,000). */
  readonly pairs?: number;
  /** Seed of the sampling (default 1). */
  readonly seed?: number;
}

export const CALIBRATION_DEFAULTS = { pairs: 20_000, seed: 1, quantiles: 1000, neighbourQueries: 200 } as const;

/** Fewest items calibration is learnt from. */
export const MIN_CALIBRATION_ITEMS = 3;

const dot = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** Q + 1 values at the quantiles 0, 1/Q, …, 1 of the sorted `xs` (linear interpolation), rounded to 1e-7. */
function quantiles(xs: Float64Array, q: number): number[] {
  const sorted = Float64Array.from(xs).sort();
  const out: number[] = [];
  for (let i = 0; i <= q; i++) {
    const pos = (i / q) * (sorted.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, sorted.length - 1);
    const v = sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
    out.push(Math.round(v * 1e7) / 1e7);
  }
  for (let i = 1; i < out.length; i++) if (out[i]! < out[i - 1]!) out[i] = out[i - 1]!; // rounding never breaks the order
  return out;
}

/**
 * A calibration from scores already measured: `random` scores of unrelated pairs (e.g. evenly spaced ranks of
 * leave-one-out rankings, as `evaluateRetrieval` takes them) and `best` scores of items' nearest neighbours.
 */
export function calibrationFromScores(random: Float64Array, best: Float64Array, learnedFrom: number): CalibrationSpec {
  if (random.length < 2 || best.length < 2) {
    throw createError('INVALID_ARGUMENT', `Calibration needs at least 2 scores of each kind (got ${random.length} and ${best.length}).`, { field: 'calibrate' });
  }
  return {
    space: 'raw',
    pairs: random.length,
    random: quantiles(random, CALIBRATION_DEFAULTS.quantiles),
    neighbours: quantiles(best, Math.min(100, best.length - 1)),
    learnedFrom,
    seed: 0,
  };
}

/**
 * Learn the calibration of unit vectors (the collection's items in the space search scores in): scores of `pairs`
 * random pairs of distinct items, and the best score of up to 200 items against all the others.
 */
export function learnCalibration(vectors: readonly Float32Array[], space: CalibrationSpec['space'], opts: CalibrateOptions = {}): CalibrationSpec {
  const pairs = opts.pairs ?? CALIBRATION_DEFAULTS.pairs;
  const seed = opts.seed ?? CALIBRATION_DEFAULTS.seed;
  if (!Number.isInteger(pairs) || pairs < 100 || pairs > 10_000_000) {
    throw createError('INVALID_ARGUMENT', `pairs must be an integer from 100 to 10,000,000 (got ${opts.pairs}).`, { field: 'pairs' });
  }
  if (!Number.isInteger(seed)) throw createError('INVALID_ARGUMENT', `seed must be an integer (got ${opts.seed}).`, { field: 'seed' });
  const n = vectors.length;
  if (n < MIN_CALIBRATION_ITEMS) {
    throw createError('INVALID_ARGUMENT', `Calibration needs at least ${MIN_CALIBRATION_ITEMS} items; the collection has ${n}. Index more images first.`, {
      field: 'calibrate',
    });
  }
  const rnd = seededRandom(seed);
  const scores = new Float64Array(pairs);
  for (let p = 0; p < pairs; p++) {
    const i = Math.floor(rnd() * n);
    let j = Math.floor(rnd() * (n - 1));
    if (j >= i) j++;
    scores[p] = dot(vectors[i]!, vectors[j]!);
  }
  const m = Math.min(n, CALIBRATION_DEFAULTS.neighbourQueries);
  const step = n / m;
  const best = new Float64Array(m);
  for (let q = 0; q < m; q++) {
    const i = Math.floor(q * step);
    let b = -Infinity;
    for (let j = 0; j < n; j++) if (j !== i) b = Math.max(b, dot(vectors[i]!, vectors[j]!));
    best[q] = b;
  }
  return {
    space,
    pairs,
    random: quantiles(scores, CALIBRATION_DEFAULTS.quantiles),
    neighbours: quantiles(best, Math.min(100, m)),
    learnedFrom: n,
    seed,
  };
}

/** A learnt calibration, ready to convert scores to confidences and back. */
export class Calibration {
  readonly #q: readonly number[];

  constructor(readonly spec: CalibrationSpec) {
    this.#q = spec.random;
  }

  /**
   * Share of random pairs scoring below `score` (0…1): 0 at or below the lowest sampled pair, 1 at or above the
   * highest, linear between neighbouring quantiles. Non-decreasing in `score`.
   */
  confidence(score: number): number {
    const q = this.#q;
    const last = q.length - 1;
    if (!(score > q[0]!)) return 0;
    if (score >= q[last]!) return 1;
    // largest i with q[i] <= score (q[0] < score < q[last])
    let lo = 0;
    let hi = last;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (q[mid]! <= score) lo = mid;
      else hi = mid;
    }
    const span = q[lo + 1]! - q[lo]!;
    const frac = span > 0 ? (score - q[lo]!) / span : 0;
    return Math.min(1, (lo + frac) / last);
  }

  /** The lowest score whose confidence is at least `c` (what `minConfidence` turns into a `minScore`). */
  scoreAt(c: number): number {
    const q = this.#q;
    const last = q.length - 1;
    if (c <= 0) return -Infinity;
    if (c >= 1) return q[last]!;
    const pos = c * last;
    const i = Math.floor(pos);
    const frac = pos - i;
    return frac === 0 ? q[i]! : q[i]! + frac * (q[i + 1]! - q[i]!);
  }
}

export function checkMinConfidence(c: unknown): number {
  if (typeof c !== 'number' || !Number.isFinite(c) || c < 0 || c > 1) {
    throw createError('INVALID_ARGUMENT', `minConfidence must be a number from 0 to 1, e.g. 0.99 (got ${String(c)}).`, { field: 'minConfidence' });
  }
  return c;
}
