/**
 * A learnt linear transform, ready to apply: y = normalise(Pᵀ (normalise(spow(x)) − μ)), where spow is the signed
 * power |x|^p·sign(x). Whitening and LDA are both of this form; only how P and μ are learnt differs.
 */
import { createError } from '../errors.js';
import { decodeFloats, encodeFloats, type LinearTransformSpec } from './schema.js';

export class LinearTransform {
  readonly inputDimension: number;
  readonly outputDimension: number;
  readonly power: number;
  /** μ, inputDimension values. */
  readonly mean: Float32Array;
  /** P, inputDimension × outputDimension, row-major. */
  readonly matrix: Float32Array;

  constructor(readonly spec: LinearTransformSpec) {
    this.inputDimension = spec.inputDimension;
    this.outputDimension = spec.outputDimension;
    this.power = spec.power;
    try {
      this.mean = decodeFloats(spec.mean, spec.inputDimension, 'transform mean');
      this.matrix = decodeFloats(spec.matrix, spec.inputDimension * spec.outputDimension, 'transform matrix');
    } catch (e) {
      throw createError(
        'STORE_CORRUPT',
        `The stored ${spec.kind} transform is damaged (${(e as Error).message}). Learn it again: \`lookalike tune <collection> ${spec.kind === 'lda' ? '--labels-from-folders DIR' : '--whiten'}\`.`,
        {},
        e,
      );
    }
  }

  /** Build from learnt values (float64 in, stored as float32). */
  static from(
    kind: LinearTransformSpec['kind'],
    power: number,
    mean: ArrayLike<number>,
    matrix: ArrayLike<number>,
    dims: { input: number; output: number },
    params: LinearTransformSpec['params'],
    learnedFrom: number,
  ): LinearTransform {
    return new LinearTransform({
      kind,
      power,
      inputDimension: dims.input,
      outputDimension: dims.output,
      mean: encodeFloats(mean),
      matrix: encodeFloats(matrix),
      params,
      learnedFrom,
    });
  }

  /** The transformed, L2-normalised vector. A zero vector (an empty embedding) stays zero. */
  apply(x: Float32Array): Float32Array {
    const d = this.inputDimension;
    const m = this.outputDimension;
    if (x.length !== d) {
      throw createError('DIMENSION_MISMATCH', `A vector of ${x.length} dimensions cannot go through a transform learnt for ${d}.`, {
        expected: d,
        actual: x.length,
      });
    }
    const z = preprocess(x, this.power);
    const out = new Float32Array(m);
    if (!z) return out;
    const acc = new Float64Array(m);
    const P = this.matrix;
    for (let i = 0; i < d; i++) {
      const zi = z[i]! - this.mean[i]!;
      if (zi === 0) continue;
      const row = i * m;
      for (let j = 0; j < m; j++) acc[j]! += zi * P[row + j]!;
    }
    let s = 0;
    for (let j = 0; j < m; j++) s += acc[j]! * acc[j]!;
    if (!(s > 0)) return out;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < m; j++) out[j] = acc[j]! * inv;
    return out;
  }
}

/** normalise(spow(x)) in float64, or undefined for a zero vector. */
export function preprocess(x: ArrayLike<number>, power: number): Float64Array | undefined {
  const z = new Float64Array(x.length);
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const p = power === 1 ? v : Math.sign(v) * Math.abs(v) ** power;
    z[i] = p;
    s += p * p;
  }
  if (!(s > 0) || !Number.isFinite(s)) return undefined;
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < z.length; i++) z[i]! *= inv;
  return z;
}
