/**
 * The little linear algebra tuning needs, in plain TypeScript (float64): running means and covariances over
 * batches of vectors, and the eigen-decomposition of a symmetric matrix (Householder tridiagonalisation followed by
 * the implicit QL algorithm — `tred2`/`tql2` as in EISPACK and JAMA: O(n³), about a second for n = 1024).
 * Matrices are row-major `Float64Array`s of n×n.
 */

/** Eigenvalues (largest first) and eigenvectors (column j of `vectors` belongs to `values[j]`) of a symmetric matrix. */
export interface Eigen {
  readonly n: number;
  readonly values: Float64Array;
  /** n×n, row-major: `vectors[i * n + j]` is component i of eigenvector j. Unit length, mutually orthogonal. */
  readonly vectors: Float64Array;
}

/** Accumulates the mean and the (biased, 1/n) covariance of vectors fed in any number of batches. */
export class CovarianceAccumulator {
  readonly #sum: Float64Array;
  /** Upper triangle (incl. diagonal) of Σ x xᵀ. */
  readonly #outer: Float64Array;
  #n = 0;

  constructor(readonly d: number) {
    this.#sum = new Float64Array(d);
    this.#outer = new Float64Array(d * d);
  }

  get count(): number {
    return this.#n;
  }

  add(x: ArrayLike<number>, weight = 1): void {
    const d = this.d;
    const s = this.#sum;
    const o = this.#outer;
    for (let i = 0; i < d; i++) {
      const xi = x[i]! * weight;
      if (xi === 0) continue;
      s[i]! += xi;
      const row = i * d;
      for (let j = i; j < d; j++) o[row + j]! += xi * x[j]!;
    }
    this.#n += weight;
  }

  mean(): Float64Array {
    const m = new Float64Array(this.d);
    for (let i = 0; i < this.d; i++) m[i] = this.#sum[i]! / Math.max(this.#n, 1e-300);
    return m;
  }

  /** The covariance E[(x−μ)(x−μ)ᵀ] (divided by n). */
  covariance(): Float64Array {
    const d = this.d;
    const m = this.mean();
    const c = new Float64Array(d * d);
    const n = Math.max(this.#n, 1e-300);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const v = this.#outer[i * d + j]! / n - m[i]! * m[j]!;
        c[i * d + j] = v;
        c[j * d + i] = v;
      }
    }
    return c;
  }
}

/**
 * Eigen-decomposition of the symmetric n×n matrix `a` (only read). Eigenvalues sorted largest first; the signs of
 * the eigenvectors are fixed so that each one's largest-magnitude component is positive (a deterministic result).
 */
export function symmetricEigen(a: Float64Array, n: number): Eigen {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n}×${n} values, got ${a.length}`);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const Vt = Float64Array.from(a); // symmetric: a is its own transpose
  tred2(Vt, d, e, n);
  tql2(Vt, d, e, n);
  // sort descending
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[j]! - d[i]! || i - j);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = d[src]!;
    let big = 0;
    const col = src * n;
    for (let i = 0; i < n; i++) if (Math.abs(Vt[col + i]!) > Math.abs(big)) big = Vt[col + i]!;
    const sign = big < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) vectors[i * n + dst] = sign * Vt[col + i]!;
  });
  return { n, values, vectors };
}

/**
 * Householder reduction to tridiagonal form (JAMA's tred2), written on the transpose of JAMA's V so that its inner
 * loops run along rows: on return `V` holds the transformation's transpose (its rows are the basis vectors).
 */
function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[j * n + (n - 1)]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = V[j * n + (i - 1)]!;
        V[j * n + i] = 0;
        V[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        V[i * n + j] = f;
        g = e[j]! + V[j * n + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[j * n + k]! * d[k]!;
          e[k]! += V[j * n + k]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) V[j * n + k]! -= f * e[k]! + g * d[k]!;
        d[j] = V[j * n + (i - 1)]!;
        V[j * n + i] = 0;
      }
    }
    d[i] = h;
  }
  // accumulate transformations
  for (let i = 0; i < n - 1; i++) {
    V[i * n + (n - 1)] = V[i * n + i]!;
    V[i * n + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[(i + 1) * n + k]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[(i + 1) * n + k]! * V[j * n + k]!;
        for (let k = 0; k <= i; k++) V[j * n + k]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) V[(i + 1) * n + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[j * n + (n - 1)]!;
    V[j * n + (n - 1)] = 0;
  }
  V[(n - 1) * n + (n - 1)] = 1;
  e[0] = 0;
}

/** Symmetric tridiagonal QL algorithm (JAMA's tql2; `Vt` holds the eigenvectors as rows). */
function tql2(Vt: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 200) throw new Error('symmetricEigen: no convergence (matrix not symmetric or not finite?)');
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          const a = i * n;
          const b = a + n;
          for (let k = 0; k < n; k++) {
            h = Vt[b + k]!;
            const vk = Vt[a + k]!;
            Vt[b + k] = s * vk + c * h;
            Vt[a + k] = c * vk - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
}

/** C = Aᵀ B for A (k×n) and B (k×m), row-major. */
export function transposeTimes(A: Float64Array, B: Float64Array, k: number, n: number, m: number): Float64Array {
  const C = new Float64Array(n * m);
  for (let r = 0; r < k; r++) {
    for (let i = 0; i < n; i++) {
      const a = A[r * n + i]!;
      if (a === 0) continue;
      const crow = i * m;
      const brow = r * m;
      for (let j = 0; j < m; j++) C[crow + j]! += a * B[brow + j]!;
    }
  }
  return C;
}

/** C = A B for A (n×k) and B (k×m), row-major. */
export function times(A: Float64Array, B: Float64Array, n: number, k: number, m: number): Float64Array {
  const C = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < k; r++) {
      const a = A[i * k + r]!;
      if (a === 0) continue;
      const crow = i * m;
      const brow = r * m;
      for (let j = 0; j < m; j++) C[crow + j]! += a * B[brow + j]!;
    }
  }
  return C;
}
