import { describe, expect, it } from 'vitest';
import { FlatIndex, int8Scales } from '../../src/ann/flat.js';
import { randomUnitVectors } from '../helpers.js';

function recall(a: { key: number }[][], b: { key: number }[][]): number {
  let r = 0;
  a.forEach((hits, i) => {
    const truth = new Set(b[i]!.map((h) => h.key));
    r += hits.filter((h) => truth.has(h.key)).length / truth.size;
  });
  return r / a.length;
}

describe('float16 / int8 vectors (SIMD kernels)', () => {
  it('float16 rows hold 16-bit codes with a scale per row: within half a step of the value (1/65534 for |x| ≤ 1)', () => {
    const d = 40;
    const ix = new FlatIndex(d, 4, 'ip', { encoding: 'float16' });
    const rows = [
      Float32Array.from({ length: d }, (_, i) => Math.sin(i) * 0.3),
      Float32Array.from({ length: d }, (_, i) => (i === 3 ? 1 : i === 4 ? -1 : 1e-6 * i)),
      Float32Array.from({ length: d }, (_, i) => (i - 20) * 0.5), // not a unit vector: its own, larger scale
      new Float32Array(d),
    ];
    rows.forEach((v, k) => ix.upsert(k, v));
    rows.forEach((v, k) => {
      const step = Math.max(1, ...v.map(Math.abs)) / 32767;
      ix.vector(k)!.forEach((x, i) => expect(Math.abs(x - v[i]!), `row ${k}, dim ${i}`).toBeLessThanOrEqual(step / 2 + 1e-9));
    });
  });

  it('scores match float32 closely and top-10 recall stays high; memory per vector shrinks', () => {
    const d = 200;
    const vecs = randomUnitVectors(3000, d, 5);
    const qs = randomUnitVectors(30, d, 6);
    const f32 = new FlatIndex(d, 16);
    const f16 = new FlatIndex(d, 16, 'ip', { encoding: 'float16' });
    const i8 = new FlatIndex(d, 16, 'ip', { encoding: 'int8', int8Scales: int8Scales(vecs, d) });
    vecs.forEach((v, i) => [f32, f16, i8].forEach((ix) => ix.upsert(i, v)));
    // float16: 208 codes (200 rounded up to 16) of 2 bytes, then the row's scale in 16 bytes
    expect([f32.bytesPerVector, f16.bytesPerVector, i8.bytesPerVector]).toEqual([800, 432, 208]);
    const exact = qs.map((q) => f32.search(q, 10));
    const half = qs.map((q) => f16.search(q, 10));
    const byte = qs.map((q) => i8.search(q, 10));
    expect(recall(half, exact)).toBeGreaterThanOrEqual(0.98);
    expect(recall(byte, exact)).toBeGreaterThanOrEqual(0.8);
    half[0]!.forEach((h, i) => expect(h.score).toBeCloseTo(exact[0]![i]!.score, 3));
    // decoded vectors are close to the originals; deletes keep the matrix dense and correct
    const back = i8.vector(7)!;
    expect(Math.max(...back.map((x, i) => Math.abs(x - vecs[7]![i]!)))).toBeLessThan(0.01);
    // int8 codes are rounded to nearest: every decoded value is within half a step of the original
    const scales = int8Scales(vecs, d);
    for (const k of [0, 7, 1234]) {
      const decoded = i8.vector(k)!;
      decoded.forEach((x, i) => expect(Math.abs(x - vecs[k]![i]!)).toBeLessThanOrEqual(scales[i]! / 2 + 1e-7));
    }
    i8.remove(exact[0]![0]!.key);
    expect(i8.search(qs[0]!, 1)[0]!.key).not.toBe(exact[0]![0]!.key);
  });

  // issue 18.2: both compact kernels work in integers against an int16 query, scaled as finely as fits without a
  // 32-bit overflow (int8: from the codes' range; float16: from the largest row's code norm, Cauchy–Schwarz). Both
  // must score what the stored codes say, to within the query's rounding.
  it('the kernels score exactly what the stored codes hold, within the query rounding bound; no overflow at 2048-d', () => {
    for (const d of [24, 512, 2048]) {
      const vecs = randomUnitVectors(200, d, d);
      // tiny components (subnormal halves) and zeros in some rows, a large component in another
      vecs[3]!.fill(0, 0, d / 2);
      vecs[4]!.forEach((_, i) => (vecs[4]![i] = i % 2 ? 3e-5 : -2e-6));
      vecs[5]![0] = 0.99;
      const scales = int8Scales(vecs, d);
      const f16 = new FlatIndex(d, 8, 'ip', { encoding: 'float16' });
      const i8 = new FlatIndex(d, 8, 'ip', { encoding: 'int8', int8Scales: scales });
      const levels = Math.min(32767, Math.floor((2 ** 31 - 1) / (127 * Math.ceil(d / 16) * 16)));
      vecs.forEach((v, i) => [f16, i8].forEach((ix) => ix.upsert(i, v)));
      for (const q of [...randomUnitVectors(3, d, d + 1), Float32Array.from({ length: d }, (_, i) => (i % 3) - 1)]) {
        // int8: the query is rounded to int16 steps of max|q·scale| / levels; the score can move by half a step per code
        const qmax = Math.max(...q.map((x, i) => Math.abs(x * scales[i]!)));
        // float16: the query is rounded to steps of 1/s, s ≤ 32767 / max|q| (and smaller only to avoid overflow):
        // the score moves by at most half a step times Σ|x| — checked below against the looser of the two bounds
        const qn = Math.hypot(...q);
        const codeNorm = Math.max(...vecs.map((v) => Math.hypot(...v) * (32767 / Math.max(1, ...v.map(Math.abs)))));
        const s16 = Math.min(32767 / Math.max(...q.map(Math.abs)), ((2 ** 31 - 1) / codeNorm - 0.5 * Math.sqrt(Math.ceil(d / 16) * 16)) / qn);
        for (const ix of [f16, i8]) {
          const scores = ix.scoreAll(q);
          ix.keysSnapshot().forEach((key, slot) => {
            const row = ix.vector(key)!;
            let want = 0;
            let codes = 0;
            for (let i = 0; i < d; i++) {
              want += q[i]! * row[i]!;
              codes += Math.abs(row[i]! / scales[i]!);
            }
            const abs = row.reduce((t, x) => t + Math.abs(x), 0);
            const tol = ix === f16 ? (0.5 / s16) * abs * 1.01 + 1e-5 : (0.5 * qmax * codes) / levels + 1e-5;
            expect(Math.abs(scores[slot]! - want), `d ${d}, key ${key}`).toBeLessThanOrEqual(tol);
          });
        }
      }
    }
  });
});
