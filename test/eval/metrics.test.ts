import { describe, expect, it } from 'vitest';
import {
  averagePrecision,
  expectedAveragePrecision,
  expectedPrecisionAt,
  hitAt,
  mean,
  precisionAt,
  tiedAtCutoff,
  tieGroups,
  type TieGroup,
} from '../../src/eval/metrics.js';
import { rng } from '../helpers.js';

// Hand-computed examples.
const R = true;
const N = false;

describe('retrieval metrics', () => {
  it('precision@k', () => {
    const ranked = [R, N, R, N, N];
    expect(precisionAt(ranked, 1)).toBe(1);
    expect(precisionAt(ranked, 2)).toBe(0.5);
    expect(precisionAt(ranked, 5)).toBe(0.4);
    expect(precisionAt(ranked, 10)).toBe(0.2); // missing ranks count as misses
  });

  it('full average precision: relevant at ranks 1, 3, 6 of 3 relevant', () => {
    // (1/1 + 2/3 + 3/6) / 3 = (1 + 0.6667 + 0.5) / 3 = 0.72222
    const ranked = [R, N, R, N, N, R, N];
    expect(averagePrecision(ranked, 3)).toBeCloseTo((1 + 2 / 3 + 0.5) / 3, 10);
  });

  it('AP counts relevant items never retrieved as zero', () => {
    // 4 relevant in the gallery, 2 found at ranks 2 and 4: (1/2 + 2/4) / 4 = 0.25
    expect(averagePrecision([N, R, N, R], 4)).toBeCloseTo(0.25, 10);
  });

  it('AP@10 is normalised by min(10, #relevant)', () => {
    // 20 relevant in the gallery, the first 10 results all relevant: AP@10 = 10/10 = 1
    expect(averagePrecision(Array(10).fill(R), 20, 10)).toBe(1);
    // 2 relevant, found at ranks 1 and 12: only rank 1 is within the top 10 → 1 / min(10, 2) = 0.5
    const ranked = [R, ...Array(10).fill(N), R];
    expect(averagePrecision(ranked, 2, 10)).toBe(0.5);
    expect(averagePrecision(ranked, 2)).toBeCloseTo((1 + 2 / 12) / 2, 10);
  });

  it('no relevant items: 0', () => {
    expect(averagePrecision([N, N], 0)).toBe(0);
  });

  it('recall@k of one target, and mean', () => {
    expect(hitAt(0, 1)).toBe(true);
    expect(hitAt(4, 5)).toBe(true);
    expect(hitAt(5, 5)).toBe(false);
    expect(hitAt(undefined, 10)).toBe(false);
    expect(mean([1, 0, 0.5])).toBe(0.5);
    expect(mean([])).toBe(0);
  });
});

/** Every distinct order of the relevance flags inside each tie group (for brute-force expectations). */
function orders(groups: readonly TieGroup[]): boolean[][] {
  let out: boolean[][] = [[]];
  for (const g of groups) {
    const arrangements: boolean[][] = [];
    const rec = (prefix: boolean[], rel: number, left: number): void => {
      if (left === 0) {
        if (rel === 0) arrangements.push(prefix);
        return;
      }
      if (rel > 0) rec([...prefix, true], rel - 1, left - 1);
      if (left > rel) rec([...prefix, false], rel, left - 1);
    };
    rec([], g.relevant, g.size);
    out = out.flatMap((o) => arrangements.map((a) => [...o, ...a]));
  }
  return out;
}

describe('tie-aware metrics (10.19: ties decide the score)', () => {
  // Hand-computed: a relevant result alone at rank 1, then 4 tied results (2 relevant) at ranks 2–5, then a miss.
  const groups: TieGroup[] = [
    { size: 1, relevant: 1 },
    { size: 4, relevant: 2 },
    { size: 1, relevant: 0 },
  ];

  it('groups equal scores (within the tolerance) into tie groups', () => {
    const scores = [0.9, 0.5, 0.5, 0.5 + 5e-7, 0.5, 0.1];
    const rel = [R, N, R, R, N, N];
    expect(tieGroups(scores, rel)).toEqual(groups);
    expect(tieGroups([], [])).toEqual([]);
  });

  it('expected P@k: a group straddling rank k contributes relevant × positions inside k / size', () => {
    expect(expectedPrecisionAt(groups, 1)).toBe(1);
    // rank 3 cuts the group after 2 of its 4 positions: 1 + 2 × 2/4 = 2 relevant expected in the top 3
    expect(expectedPrecisionAt(groups, 3)).toBeCloseTo(2 / 3, 12);
    expect(expectedPrecisionAt(groups, 5)).toBeCloseTo(3 / 5, 12);
    expect(expectedPrecisionAt(groups, 10)).toBeCloseTo(3 / 10, 12);
    // no ties: the plain precision
    expect(expectedPrecisionAt([R, N, R, N, N].map((r) => ({ size: 1, relevant: r ? 1 : 0 })), 5)).toBe(precisionAt([R, N, R, N, N], 5));
  });

  it('expected AP@3 by hand: the 6 equally likely placements of the 2 relevant results among ranks 2–5', () => {
    // relevant at ranks 2 and 3 (1 of 6): 1 + 2/2 + 3/3 = 3; at rank 2 only (2 of 6): 1 + 2/2 = 2;
    // at rank 3 only (2 of 6): 1 + 2/3; neither (1 of 6): 1. Mean 17/9, divided by min(3, 3 relevant) → 17/27.
    expect(expectedAveragePrecision(groups, 3, 3)).toBeCloseTo(17 / 27, 12);
  });

  it('expected P@k and AP equal the mean over every order of the tied results (brute force)', () => {
    const r = rng(7);
    for (let trial = 0; trial < 40; trial++) {
      const gs: TieGroup[] = [];
      const n = 1 + Math.floor(r() * 5);
      for (let i = 0; i < n; i++) {
        const size = 1 + Math.floor(r() * 4);
        gs.push({ size, relevant: Math.floor(r() * (size + 1)) });
      }
      const all = orders(gs);
      const rel = gs.reduce((a, g) => a + g.relevant, 0);
      const total = rel + Math.floor(r() * 3); // some relevant results never retrieved
      for (const k of [1, 2, 3, 5, 10]) {
        expect(expectedPrecisionAt(gs, k)).toBeCloseTo(mean(all.map((o) => precisionAt(o, k))), 12);
        expect(expectedAveragePrecision(gs, total, k)).toBeCloseTo(mean(all.map((o) => averagePrecision(o, total, k))), 12);
      }
      expect(expectedAveragePrecision(gs, total)).toBeCloseTo(mean(all.map((o) => averagePrecision(o, total))), 12);
    }
  });

  it('a tie at the cut-off only when a group straddles rank k', () => {
    expect(tiedAtCutoff(groups, 1)).toBe(false);
    expect(tiedAtCutoff(groups, 3)).toBe(true);
    expect(tiedAtCutoff(groups, 5)).toBe(false);
    expect(tiedAtCutoff(groups, 10)).toBe(false);
  });

  it('mean does not depend on the order of its values', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => 1 / (i + 3));
    expect(mean(xs)).toBe(mean([...xs].reverse()));
  });
});

