/**
 * Principal components of unit vectors (cosine collections): fitted on a sample by randomized subspace iteration
 * (Halko, Martinsson & Tropp 2011), so a 1,024-d collection costs a few matrix products of the sample, not a
 * D × D covariance. Used to reduce vectors before UMAP and k-means, and as the layout itself (`pca`).
 */
import { FlatIndex } from '../ann/flat.js';
import type { Yielder } from './yielder.js';

export interface Pca {
  readonly dimension: number;
  /** Components kept. */
  readonly k: number;
  readonly mean: Float64Array;
  /** `k` rows of `dimension` (unit vectors, by decreasing variance). */
  readonly components: Float64Array;
  /** Variance along each component. */
  readonly variance: Float64Array;
  /** Coordinates of `v` along the components, written to `out` at `offset`. */
  projectInto(v: Float32Array, out: Float32Array, offset: number): void;
}

/** `v` divided by its length (a zero vector stays zero). */
export function unit(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  if (s === 0 || Math.abs(s - 1) < 1e-6) return v;
  const inv = 1 / Math.sqrt(s);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * inv;
  return out;
}

/** Standard normal numbers from a uniform source (Box–Muller). */
function gaussian(random: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = Math.max(random(), 1e-12);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** Orthonormalise the `l` columns of an m × l row-major matrix in place (modified Gram–Schmidt). */
function orthonormalise(a: Float64Array, m: number, l: number): void {
  for (let j = 0; j < l; j++) {
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let i = 0; i < m; i++) dot += a[i * l + j]! * a[i * l + p]!;
      for (let i = 0; i < m; i++) a[i * l + j]! -= dot * a[i * l + p]!;
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += a[i * l + j]! ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < m; i++) a[i * l + j] = norm > 1e-12 ? a[i * l + j]! / norm : 0;
  }
}

/** Eigenvalues and eigenvectors (columns of `vectors`) of a symmetric n × n matrix (cyclic Jacobi). */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i]!;
  return { values, vectors: v };
}

/** Rows held for inner products with the WebAssembly SIMD kernel of src/ann (a matrix times vectors). */
class Rows {
  readonly #index: FlatIndex;
  constructor(rows: number, cols: number, row: (i: number, out: Float32Array) => void) {
    this.#index = new FlatIndex(cols, rows, 'ip');
    const buf = new Float32Array(cols);
    for (let i = 0; i < rows; i++) {
      row(i, buf);
      this.#index.upsert(i, buf);
    }
  }
  /** The inner product of every row with `v`. */
  times(v: Float32Array): Float32Array {
    return this.#index.scoreAll(v);
  }
}

/** Column c of an r × l row-major matrix as float32. */
function column(a: Float64Array, r: number, l: number, c: number): Float32Array {
  const out = new Float32Array(r);
  for (let i = 0; i < r; i++) out[i] = a[i * l + c]!;
  return out;
}

/**
 * The top `k` principal components of the rows of `sample` (m unit vectors of `dimension`, row-major). Components
 * have a fixed sign (largest coordinate positive), so the same sample and seed give the same basis. The matrix
 * products run on the SIMD inner-product kernel (the centred sample held row-wise and column-wise).
 */
export async function fitPca(sample: Float32Array, m: number, dimension: number, k: number, random: () => number, y: Yielder): Promise<Pca> {
  const d = dimension;
  const mean = new Float64Array(d);
  for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) mean[j]! += sample[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= Math.max(1, m);
  const keep = Math.max(1, Math.min(k, d, Math.max(1, m - 1)));
  const l = Math.min(d, keep + 10);
  const rows = new Rows(Math.max(1, m), d, (i, out) => {
    for (let j = 0; j < d; j++) out[j] = i < m ? sample[i * d + j]! - mean[j]! : 0;
  });
  await y.maybe();
  const cols = new Rows(d, Math.max(1, m), (j, out) => {
    for (let i = 0; i < m; i++) out[i] = sample[i * d + j]! - mean[j]!;
  });
  await y.maybe();
  // Y = X Ω (m × l), then two power iterations (Z = Xᵀ Y, Y = X Z), orthonormalised in between
  const g = gaussian(random);
  const omega = new Float64Array(d * l);
  for (let i = 0; i < omega.length; i++) omega[i] = g();
  const product = async (by: Rows, src: Float64Array, srcRows: number, outRows: number): Promise<Float64Array> => {
    const out = new Float64Array(outRows * l);
    for (let c = 0; c < l; c++) {
      const v = by.times(column(src, srcRows, l, c));
      for (let i = 0; i < outRows; i++) out[i * l + c] = v[i]!;
      await y.maybe();
    }
    return out;
  };
  let yMat = await product(rows, omega, d, m);
  orthonormalise(yMat, m, l);
  for (let it = 0; it < 2; it++) {
    const z = await product(cols, yMat, m, d);
    orthonormalise(z, d, l);
    yMat = await product(rows, z, d, m);
    orthonormalise(yMat, m, l);
  }
  // B = Yᵀ X (l × d); its right singular vectors are the components: eigenvectors of B Bᵀ (l × l) mapped through Bᵀ
  const bt = await product(cols, yMat, m, d); // d × l
  const bbt = new Float64Array(l * l);
  for (let j = 0; j < d; j++) {
    const s = j * l;
    for (let p = 0; p < l; p++) {
      const x = bt[s + p]!;
      for (let q = p; q < l; q++) bbt[p * l + q]! += x * bt[s + q]!;
    }
  }
  for (let p = 0; p < l; p++) for (let q = 0; q < p; q++) bbt[p * l + q] = bbt[q * l + p]!;
  const { values, vectors } = symmetricEigen(bbt, l);
  const order = Array.from({ length: l }, (_, i) => i).sort((a, b) => values[b]! - values[a]!);
  const components = new Float64Array(keep * d);
  const variance = new Float64Array(keep);
  for (let c = 0; c < keep; c++) {
    const e = order[c]!;
    const sigma = Math.sqrt(Math.max(values[e]!, 0));
    variance[c] = (sigma * sigma) / Math.max(1, m - 1);
    let big = 0;
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let p = 0; p < l; p++) s += bt[j * l + p]! * vectors[p * l + e]!;
      const val = sigma > 1e-12 ? s / sigma : 0;
      components[c * d + j] = val;
      if (Math.abs(val) > Math.abs(big)) big = val;
    }
    if (big < 0) for (let j = 0; j < d; j++) components[c * d + j] = -components[c * d + j]!;
  }
  return new Projector(d, keep, mean, components, variance);
}

/** A fitted PCA that projects vectors with the SIMD kernel (components held as rows). */
class Projector implements Pca {
  readonly #rows: Rows;
  readonly #shift: Float32Array;
  constructor(
    readonly dimension: number,
    readonly k: number,
    readonly mean: Float64Array,
    readonly components: Float64Array,
    readonly variance: Float64Array,
  ) {
    this.#rows = new Rows(k, dimension, (c, out) => {
      for (let j = 0; j < dimension; j++) out[j] = components[c * dimension + j]!;
    });
    // (v − mean)·p = v·p − mean·p
    this.#shift = new Float32Array(k);
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < dimension; j++) s += mean[j]! * components[c * dimension + j]!;
      this.#shift[c] = s;
    }
  }
  projectInto(v: Float32Array, out: Float32Array, offset: number): void {
    const s = this.#rows.times(v);
    for (let c = 0; c < this.k; c++) out[offset + c] = s[c]! - this.#shift[c]!;
  }
}

/** Coordinates of unit vector `v` along the components, written to `out` at `offset`. */
export function project(pca: Pca, v: Float32Array, out: Float32Array, offset: number): void {
  pca.projectInto(v, out, offset);
}
