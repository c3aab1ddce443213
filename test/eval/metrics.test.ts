import { describe, expect, it } from 'vitest';
import { averagePrecision, hitAt, mean, precisionAt } from '../../src/eval/metrics.js';

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
