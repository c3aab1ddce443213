/**
 * Linear discriminant analysis on labelled vectors: the projection that maximises between-class scatter relative
 * to within-class scatter (Fisher). Solved as two symmetric eigen-problems: whiten the regularised within-class
 * scatter S_w + r·mean(λ(S_w))·I (W = U D^−½), then take the leading eigenvectors Q of Wᵀ S_b W; P = W Q.
 * At most (classes − 1) directions carry between-class information; that is the default output dimension.
 * Vectors are power-normalised and centred first, as for whitening.
 */
import { createError } from '../errors.js';
import { symmetricEigen, times, transposeTimes } from './linalg.js';
import { LinearTransform, preprocess } from './transform.js';
import { checkPower } from './whiten.js';

export interface LdaOptions {
  /** Output dimension (default: classes − 1, at most the vector dimension). */
  readonly dims?: number;
  /** Added to the within-class scatter's eigenvalues, as a multiple of their mean (default 1). */
  readonly regularization?: number;
  /** Signed power applied to each component first (default 0.5). */
  readonly power?: number;
}

export const LDA_DEFAULTS = { regularization: 1, power: 0.5 } as const;

export interface LabelledVector {
  readonly vector: Float32Array;
  readonly label: string;
}

/** Learn LDA from labelled vectors (at least 2 classes; empty vectors are skipped). */
export function learnLda(items: readonly LabelledVector[], dimension: number, opts: LdaOptions = {}): LinearTransform {
  const reg = opts.regularization ?? LDA_DEFAULTS.regularization;
  const power = opts.power ?? LDA_DEFAULTS.power;
  checkPower(power);
  if (!Number.isFinite(reg) || reg < 0 || reg > 1000) {
    throw createError('INVALID_ARGUMENT', `regularization must be a number from 0 to 1000 (got ${opts.regularization}); 1 is a good start.`, {
      field: 'regularization',
    });
  }
  const d = dimension;
  const byClass = new Map<string, Float64Array[]>();
  for (const it of items) {
    const z = preprocess(it.vector, power);
    if (!z) continue;
    let list = byClass.get(it.label);
    if (!list) byClass.set(it.label, (list = []));
    list.push(z);
  }
  const classes = [...byClass.keys()].sort();
  if (classes.length < 2) {
    throw createError(
      'INVALID_ARGUMENT',
      `Learning from labels needs at least 2 labels with images; found ${classes.length}. Put the labelled images in one folder per label.`,
      { field: 'labels' },
    );
  }
  const dims = opts.dims ?? Math.min(d, classes.length - 1);
  if (!Number.isInteger(dims) || dims < 1 || dims > d) {
    throw createError('INVALID_ARGUMENT', `dims must be an integer from 1 to the collection's dimension ${d} (got ${opts.dims}).`, { field: 'dims' });
  }
  const n = classes.reduce((s, c) => s + byClass.get(c)!.length, 0);
  const mean = new Float64Array(d);
  for (const c of classes) for (const z of byClass.get(c)!) for (let i = 0; i < d; i++) mean[i]! += z[i]! / n;

  // S_w = Σ (z − m_c)(z − m_c)ᵀ / n as Xᵀ X of the class-centred rows; S_b = Σ n_c (m_c − μ)(m_c − μ)ᵀ / n likewise
  const within = new Float64Array(n * d);
  const between = new Float64Array(classes.length * d);
  let row = 0;
  classes.forEach((c, ci) => {
    const list = byClass.get(c)!;
    const m = new Float64Array(d);
    for (const z of list) for (let i = 0; i < d; i++) m[i]! += z[i]! / list.length;
    const wb = Math.sqrt(list.length / n);
    for (let i = 0; i < d; i++) between[ci * d + i] = (m[i]! - mean[i]!) * wb;
    const w = 1 / Math.sqrt(n);
    for (const z of list) {
      for (let i = 0; i < d; i++) within[row * d + i] = (z[i]! - m[i]!) * w;
      row++;
    }
  });
  const Sw = transposeTimes(within, within, n, d, d);

  const ew = symmetricEigen(Sw, d);
  let avg = 0;
  for (let i = 0; i < d; i++) avg += Math.max(ew.values[i]!, 0);
  avg /= d;
  const W = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const lambda = Math.max(ew.values[j]!, 0) + reg * avg;
    const s = lambda > 0 ? 1 / Math.sqrt(lambda) : 0;
    for (let i = 0; i < d; i++) W[i * d + j] = ew.vectors[i * d + j]! * s;
  }
  // Wᵀ S_b W = (B W)ᵀ (B W) with S_b = Bᵀ B: c×d products instead of d×d ones
  const BW = times(between, W, classes.length, d, d);
  const M = transposeTimes(BW, BW, classes.length, d, d);
  const eb = symmetricEigen(M, d);
  const Q = new Float64Array(d * dims);
  for (let i = 0; i < d; i++) for (let j = 0; j < dims; j++) Q[i * dims + j] = eb.vectors[i * d + j]!;
  const P = times(W, Q, d, d, dims);
  return LinearTransform.from('lda', power, mean, P, { input: d, output: dims }, { regularization: reg, classes: classes.length }, n);
}
