/**
 * Centring + PCA-whitening learnt from a collection's own vectors (Jégou & Chum 2012), with the two things that make
 * it work on a few thousand vectors of a thousand dimensions: power normalisation first (signed square root, which
 * tames the bursty, non-negative CNN activations) and shrinkage of the eigenvalues (λ + s·mean λ), so that the
 * weakest directions — mostly noise when there are fewer vectors than dimensions — are not blown up. Optionally the
 * result keeps only the strongest `dims` directions (1024 → 256 makes search 4× cheaper as well).
 *
 * P = V_k · diag((λ_k + s·λ̄)^−e), y = normalise(Pᵀ(normalise(spow(x)) − μ)); e = 0.5 whitens fully, e = 0 only
 * rotates (plain PCA).
 */
import { createError } from '../errors.js';
import { CovarianceAccumulator, symmetricEigen } from './linalg.js';
import { LinearTransform, preprocess } from './transform.js';

export interface WhitenOptions {
  /** Keep this many directions (default: all; e.g. 256 of 1024 makes search 4× cheaper). */
  readonly dims?: number;
  /** Added to every eigenvalue, as a multiple of their mean (default 30; 0 = classic whitening). */
  readonly shrinkage?: number;
  /** Exponent of the eigenvalues: 0.5 whitens (default), 0 is a plain PCA rotation. */
  readonly exponent?: number;
  /** Signed power applied to each component first: 0.5 = signed square root (default), 1 = none. */
  readonly power?: number;
}

export const WHITEN_DEFAULTS = { shrinkage: 30, exponent: 0.5, power: 0.5 } as const;

/** Fewest vectors whitening is learnt from (one has no covariance; few give little, but shrinkage keeps it sane). */
export const MIN_WHITEN_VECTORS = 2;

export function checkWhitenOptions(o: WhitenOptions, dimension: number): Required<WhitenOptions> {
  const dims = o.dims ?? dimension;
  const r = { dims, shrinkage: o.shrinkage ?? WHITEN_DEFAULTS.shrinkage, exponent: o.exponent ?? WHITEN_DEFAULTS.exponent, power: o.power ?? WHITEN_DEFAULTS.power };
  if (!Number.isInteger(dims) || dims < 1 || dims > dimension) {
    throw createError('INVALID_ARGUMENT', `dims must be an integer from 1 to the collection's dimension ${dimension} (got ${o.dims}).`, { field: 'dims' });
  }
  if (!Number.isFinite(r.shrinkage) || r.shrinkage < 0 || r.shrinkage > 1000) {
    throw createError('INVALID_ARGUMENT', `shrinkage must be a number from 0 to 1000 (got ${o.shrinkage}); 30 is a good start.`, { field: 'shrinkage' });
  }
  if (!Number.isFinite(r.exponent) || r.exponent < 0 || r.exponent > 1) {
    throw createError('INVALID_ARGUMENT', `exponent must be from 0 (PCA only) to 1 (got ${o.exponent}); 0.5 whitens.`, { field: 'exponent' });
  }
  checkPower(r.power);
  return r;
}

export function checkPower(power: number): void {
  if (!Number.isFinite(power) || power <= 0 || power > 1) {
    throw createError('INVALID_ARGUMENT', `power must be above 0 and at most 1 (got ${power}); 0.5 is the signed square root, 1 leaves vectors as they are.`, {
      field: 'power',
    });
  }
}

/** Learn whitening from vectors (fed in batches: the covariance is accumulated, the vectors are not kept). */
export async function learnWhitening(
  batches: AsyncIterable<readonly Float32Array[]> | Iterable<readonly Float32Array[]>,
  dimension: number,
  opts: WhitenOptions = {},
): Promise<LinearTransform> {
  const o = checkWhitenOptions(opts, dimension);
  const acc = new CovarianceAccumulator(dimension);
  for await (const batch of batches) {
    for (const v of batch) {
      const z = preprocess(v, o.power);
      if (z) acc.add(z);
    }
  }
  if (acc.count < MIN_WHITEN_VECTORS) {
    throw createError(
      'INVALID_ARGUMENT',
      `Whitening needs at least ${MIN_WHITEN_VECTORS} non-empty vectors to learn from; the collection has ${acc.count}. Index more images first.`,
      { field: 'whiten' },
    );
  }
  return whiteningFrom(acc.mean(), acc.covariance(), dimension, o, acc.count);
}

/** The whitening transform of a mean and covariance (float64, d and d×d). */
export function whiteningFrom(mean: Float64Array, cov: Float64Array, d: number, o: Required<WhitenOptions>, learnedFrom: number): LinearTransform {
  const { values, vectors } = symmetricEigen(cov, d);
  let avg = 0;
  for (let i = 0; i < d; i++) avg += Math.max(values[i]!, 0);
  avg /= d;
  const k = o.dims;
  const P = new Float64Array(d * k);
  for (let j = 0; j < k; j++) {
    const lambda = Math.max(values[j]!, 0) + o.shrinkage * avg;
    const scale = lambda > 0 ? lambda ** -o.exponent : 0;
    for (let i = 0; i < d; i++) P[i * k + j] = vectors[i * d + j]! * scale;
  }
  return LinearTransform.from('whiten', o.power, mean, P, { input: d, output: k }, { shrinkage: o.shrinkage, exponent: o.exponent }, learnedFrom);
}
