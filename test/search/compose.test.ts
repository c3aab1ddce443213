import { describe, expect, it } from 'vitest';
import { averageVector, bestScore, collapseHits } from '../../src/search/compose.js';

const v = (...xs: number[]) => Float32Array.from(xs);
const close = (a: Float32Array, b: number[]) => b.forEach((x, i) => expect(a[i]).toBeCloseTo(x, 6));

describe('average (Rocchio) strategy', () => {
  it('is the renormalised weighted sum of unit vectors, negatives subtracted', () => {
    close(averageVector([{ vector: v(1, 0), weight: 1 }, { vector: v(0, 1), weight: 1 }], []), [Math.SQRT1_2, Math.SQRT1_2]);
    // (1,0) + (0,1) − 0.5·(1,0) = (0.5, 1) → /√1.25
    close(averageVector([{ vector: v(1, 0), weight: 1 }, { vector: v(0, 1), weight: 1 }], [{ vector: v(1, 0), weight: 0.5 }]), [0.5 / Math.sqrt(1.25), 1 / Math.sqrt(1.25)]);
    // terms are normalised first: a long vector counts like a unit one
    close(averageVector([{ vector: v(10, 0), weight: 1 }, { vector: v(0, 1), weight: 3 }], []), [1 / Math.sqrt(10), 3 / Math.sqrt(10)]);
  });

  it('refuses terms that cancel out', () => {
    expect(() => averageVector([{ vector: v(1, 0), weight: 1 }], [{ vector: v(2, 0), weight: 1 }])).toThrow(/cancel/);
  });
});

describe('best-score strategy', () => {
  const c = v(0.6, 0.8);
  it('is the best weighted similarity to a positive', () => {
    expect(bestScore(c, [{ vector: v(1, 0), weight: 1 }], [])).toBeCloseTo(0.6, 6);
    expect(bestScore(c, [{ vector: v(1, 0), weight: 1 }, { vector: v(0, 1), weight: 1 }], [])).toBeCloseTo(0.8, 6);
    expect(bestScore(c, [{ vector: v(1, 0), weight: 1 }, { vector: v(0, 1), weight: 0.5 }], [])).toBeCloseTo(0.6, 6);
  });

  it('penalises a candidate closer to a negative than to every positive, below every unpenalised one', () => {
    // pos 0.6 < neg 0.8 → −1 − 0.8² = −1.64
    expect(bestScore(c, [{ vector: v(1, 0), weight: 1 }], [{ vector: v(0, 1), weight: 1 }])).toBeCloseTo(-1.64, 6);
    // pos 0.8 > neg 0.6 → 0.8
    expect(bestScore(c, [{ vector: v(0, 1), weight: 1 }], [{ vector: v(1, 0), weight: 1 }])).toBeCloseTo(0.8, 6);
    // an unpenalised candidate with a negative similarity (−0.6) still ranks above a penalised one
    const far = bestScore(v(-0.6, -0.8), [{ vector: v(1, 0), weight: 1 }], [{ vector: v(0, 1), weight: 1 }]); // pos −0.6 > neg −0.8
    expect(far).toBeCloseTo(-0.6, 6);
    const penalised = bestScore(v(0.6, 0.8), [{ vector: v(1, 0), weight: 1 }], [{ vector: v(0, 1), weight: 0.9 }]); // 0.6 < 0.72
    expect(penalised).toBeCloseTo(-1 - 0.72 ** 2, 6);
    expect(penalised).toBeLessThan(far);
  });
});

describe('collapse', () => {
  const hit = (id: string, score: number) => ({ id, path: `/${id}.jpg`, score });
  const vecs = new Map([
    ['a', v(1, 0)],
    ['a2', v(0.99, Math.sqrt(1 - 0.99 ** 2))], // cos(a, a2) = 0.99
    ['b', v(0, 1)],
    ['b2', v(Math.sqrt(1 - 0.97 ** 2), 0.97)], // cos(b, b2) = 0.97
  ]);
  it('folds a hit into the best-ranked kept hit at or above the threshold', () => {
    const out = collapseHits([hit('a', 0.9), hit('b', 0.8), hit('a2', 0.7), hit('b2', 0.6), hit('c', 0.5)], vecs, 0.97);
    expect(out.map((g) => [g.hit.id, g.folded.map((f) => f.id)])).toEqual([
      ['a', ['a2']],
      ['b', ['b2']], // exactly at the threshold: folded
      ['c', []], // no vector: kept
    ]);
    expect(out[0]!.folded[0]).toEqual({ id: 'a2', path: '/a2.jpg', score: 0.7 });
  });
  it('keeps everything above the similarity of any pair', () => {
    expect(collapseHits([hit('a', 0.9), hit('a2', 0.8)], vecs, 0.995).map((g) => g.hit.id)).toEqual(['a', 'a2']);
  });
});
