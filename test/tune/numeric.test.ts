/**
 * The numerics of tuning against small examples computed by hand: the eigen-decomposition, PCA-whitening (with and
 * without reduction, shrinkage, power normalisation) and LDA. Tolerances: 1e-10 for float64 linear algebra; 1e-5
 * for learnt transforms, which are stored as float32 (relative precision 6e-8, a few operations deep).
 */
import { describe, expect, it } from 'vitest';
import { CovarianceAccumulator, symmetricEigen } from '../../src/tune/linalg.js';
import { learnLda } from '../../src/tune/lda.js';
import { LinearTransform } from '../../src/tune/transform.js';
import { learnWhitening } from '../../src/tune/whiten.js';
import { rng } from '../helpers.js';

const F64 = 1e-10;
const F32 = 1e-5;
const c = Math.cos((20 * Math.PI) / 180);
const s = Math.sin((20 * Math.PI) / 180);
const v = (...xs: number[]) => Float32Array.from(xs);

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(actual[i]! - e), `component ${i}: ${actual[i]} vs ${e}`).toBeLessThan(tol));
}

describe('symmetricEigen', () => {
  it('[[2,1],[1,2]]: eigenvalues 3 and 1, eigenvectors (1,1)/√2 and (1,−1)/√2', () => {
    const e = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    expectClose(e.values, [3, 1], F64);
    const r = Math.SQRT1_2;
    // column j = eigenvector j; signs: largest-magnitude component positive (the first one on a tie)
    expectClose(e.vectors, [r, r, r, -r], F64);
  });

  it('a 3×3 block matrix: [[4,1,0],[1,4,0],[0,0,7]] → 7, 5, 3', () => {
    const e = symmetricEigen(Float64Array.from([4, 1, 0, 1, 4, 0, 0, 0, 7]), 3);
    expectClose(e.values, [7, 5, 3], F64);
    const r = Math.SQRT1_2;
    expectClose(e.vectors, [0, r, r, 0, r, -r, 1, 0, 0], F64);
  });

  it('a random 60×60 symmetric matrix: A V = V Λ and VᵀV = I', () => {
    const n = 60;
    const r = rng(7);
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = r() - 0.5;
    const { values, vectors: V } = symmetricEigen(A, n);
    for (let j = 1; j < n; j++) expect(values[j]!).toBeLessThanOrEqual(values[j - 1]!);
    let worst = 0;
    let ortho = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let av = 0;
        let vv = 0;
        for (let k = 0; k < n; k++) {
          av += A[i * n + k]! * V[k * n + j]!;
          vv += V[k * n + i]! * V[k * n + j]!;
        }
        worst = Math.max(worst, Math.abs(av - values[j]! * V[i * n + j]!));
        ortho = Math.max(ortho, Math.abs(vv - (i === j ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(F64);
    expect(ortho).toBeLessThan(F64);
  });

  it('covariance of (1,2), (3,4), (5,0): mean (3,2), covariance [[8/3,−4/3],[−4/3,8/3]]', () => {
    const acc = new CovarianceAccumulator(2);
    for (const x of [[1, 2], [3, 4], [5, 0]]) acc.add(x);
    expectClose(acc.mean(), [3, 2], F64);
    expectClose(acc.covariance(), [8 / 3, -4 / 3, -4 / 3, 8 / 3], F64);
  });
});

// Four unit vectors at ±20° and 180° ± 20°: mean 0, covariance diag(c², s²) — x carries 88% of the variance.
const CROSS = [v(c, s), v(c, -s), v(-c, s), v(-c, -s)];

describe('PCA-whitening', () => {
  it('full whitening (no shrinkage, power 1) maps the four points onto the diagonals: P = diag(1/c, 1/s)', async () => {
    const t = await learnWhitening([CROSS], 2, { shrinkage: 0, power: 1 });
    expect(t.outputDimension).toBe(2);
    expectClose(t.mean, [0, 0], F32);
    // P = V diag(λ^-½) with λ = (c², s²), V = I
    expectClose(t.matrix, [1 / c, 0, 0, 1 / s], F32 * 10);
    const r = Math.SQRT1_2;
    expectClose(t.apply(v(c, s)), [r, r], F32);
    expectClose(t.apply(v(-c, s)), [-r, r], F32);
    // before: cos((c,s),(c,−s)) = c² − s² = 0.766; after whitening they are orthogonal
    const [a, b] = [t.apply(v(c, s)), t.apply(v(c, -s))];
    expect(Math.abs(a[0]! * b[0]! + a[1]! * b[1]!)).toBeLessThan(F32);
  });

  it('shrinkage adds s·mean(λ) to the eigenvalues: s = 1 gives P = diag((c²+½)^−½, (s²+½)^−½)', async () => {
    const t = await learnWhitening([CROSS], 2, { shrinkage: 1, power: 1 });
    const [px, py] = [1 / Math.sqrt(c * c + 0.5), 1 / Math.sqrt(s * s + 0.5)];
    expectClose(t.matrix, [px, 0, 0, py], F32);
    const y = [c * px, s * py];
    const n = Math.hypot(y[0]!, y[1]!);
    expectClose(t.apply(v(c, s)), [y[0]! / n, y[1]! / n], F32);
  });

  it('reduction to 1 dimension keeps the strongest direction (x): every vector becomes ±1', async () => {
    const t = await learnWhitening([CROSS], 2, { shrinkage: 0, power: 1, dims: 1 });
    expect(t.outputDimension).toBe(1);
    expectClose(t.apply(v(c, -s)), [1], F32);
    expectClose(t.apply(v(-c, s)), [-1], F32);
  });

  it('power normalisation: the signed square root is taken and the vector re-normalised before centring', async () => {
    // (0.64, 0.36)/‖·‖ → √ → (0.8, 0.6); (0.36, 0.64) → (0.6, 0.8): mean (0.7, 0.7)
    const pts = [v(0.64, 0.36), v(0.36, 0.64)];
    const t = await learnWhitening([pts], 2, { shrinkage: 0, power: 0.5, exponent: 0 });
    const norm = (x: number, y: number) => Math.hypot(x, y);
    const n1 = Math.sqrt(0.64 / norm(0.64, 0.36)) ** 2 + Math.sqrt(0.36 / norm(0.64, 0.36)) ** 2;
    const a = [Math.sqrt(0.64 / norm(0.64, 0.36)) / Math.sqrt(n1), Math.sqrt(0.36 / norm(0.64, 0.36)) / Math.sqrt(n1)];
    expectClose(t.mean, [(a[0]! + a[1]!) / 2, (a[0]! + a[1]!) / 2], F32);
    // exponent 0: a pure rotation onto the principal axis (1,−1)/√2 (the only direction with variance)
    expectClose(t.apply(pts[0]!).map(Math.abs), [1, 0], F32);
    expect(t.apply(pts[0]!)[0]!).toBeCloseTo(-t.apply(pts[1]!)[0]!, 5);
  });

  it('a zero vector stays zero; a stored transform survives its JSON form', async () => {
    const t = await learnWhitening([CROSS], 2, { shrinkage: 0.5, power: 1 });
    expect([...t.apply(v(0, 0))]).toEqual([0, 0]);
    const back = new LinearTransform(JSON.parse(JSON.stringify(t.spec)));
    expect([...back.apply(v(0.3, -0.9))]).toEqual([...t.apply(v(0.3, -0.9))]);
  });

  it('refuses what it cannot learn, saying what to do', async () => {
    await expect(learnWhitening([CROSS], 2, { dims: 3 })).rejects.toThrow(/dims must be an integer from 1 to the collection's dimension 2/);
    await expect(learnWhitening([[v(1, 0), v(0, 0)]], 2)).rejects.toThrow(/at least 2 non-empty vectors to learn from; the collection has 1. Index more images/);
  });
});

describe('LDA', () => {
  // Class "up": (±c, s); class "down": (±c, −s). The variance is mostly along x (PCA's first axis), but the classes
  // differ only along y: LDA must pick y.
  const labelled = [
    { vector: v(c, s), label: 'up' },
    { vector: v(-c, s), label: 'up' },
    { vector: v(c, -s), label: 'down' },
    { vector: v(-c, -s), label: 'down' },
  ];

  it('picks the between-class direction: P = (0, (r·c²/2)^−½) with S_w = diag(c², 0) regularised by r·mean λ', () => {
    const t = learnLda(labelled, 2, { power: 1, regularization: 1 });
    expect(t.outputDimension).toBe(1); // 2 labels → 1 direction
    expectClose(t.matrix, [0, 1 / Math.sqrt(c * c * 0.5)], F32);
    expectClose(t.apply(v(c, s)), [1], F32);
    expectClose(t.apply(v(-c, s)), [1], F32);
    expectClose(t.apply(v(c, -s)), [-1], F32);
    expect(t.spec.params).toEqual({ regularization: 1, classes: 2 });
    expect(t.spec.learnedFrom).toBe(4);
  });

  it('PCA on the same points picks x instead (the contrast LDA is for)', async () => {
    const t = await learnWhitening([labelled.map((l) => l.vector)], 2, { power: 1, shrinkage: 0, dims: 1 });
    expectClose(t.apply(v(c, s)), [1], F32);
    expectClose(t.apply(v(c, -s)), [1], F32);
  });

  it('three classes in 3-D: two directions, and every item lands nearest its own class mean', () => {
    const r = rng(3);
    const centres = [v(1, 0.2, 0.1), v(0.2, 1, 0.1), v(0.1, 0.2, 1)];
    const items = centres.flatMap((m, k) =>
      Array.from({ length: 20 }, () => ({ vector: Float32Array.from(m, (x) => x + (r() - 0.5) * 0.6), label: `c${k}` })),
    );
    const t = learnLda(items, 3, { power: 1 });
    expect(t.outputDimension).toBe(2);
    const ys = items.map((it) => t.apply(it.vector));
    const means = [0, 1, 2].map((k) => {
      const m = [0, 0];
      ys.forEach((y, i) => items[i]!.label === `c${k}` && ((m[0]! += y[0]!), (m[1]! += y[1]!)));
      return m;
    });
    let right = 0;
    ys.forEach((y, i) => {
      const scores = means.map((m) => m[0]! * y[0]! + m[1]! * y[1]!);
      if (`c${scores.indexOf(Math.max(...scores))}` === items[i]!.label) right++;
    });
    expect(right).toBe(items.length);
  });

  it('needs two labels', () => {
    expect(() => learnLda(labelled.slice(0, 2), 2)).toThrow(/at least 2 labels/);
  });
});
