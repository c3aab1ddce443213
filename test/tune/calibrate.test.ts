/**
 * Calibrated scores: the confidence is non-decreasing in the raw score (everywhere, ties in the stored quantiles
 * included), `scoreAt` is its inverse (what `minConfidence` becomes), and it matches the share of random pairs below.
 */
import { describe, expect, it } from 'vitest';
import { Calibration, learnCalibration } from '../../src/tune/calibrate.js';
import { randomUnitVectors, rng } from '../helpers.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('calibration', () => {
  const vectors = randomUnitVectors(300, 16, 5);
  const cal = new Calibration(learnCalibration(vectors, 'raw', { pairs: 5000, seed: 2 }));

  it('is non-decreasing in the raw score, 0 below every random pair and 1 above', () => {
    let prev = -1;
    for (let x = -1.2; x <= 1.2; x += 0.0005) {
      const c = cal.confidence(x);
      expect(c).toBeGreaterThanOrEqual(prev);
      expect(c).toBeGreaterThanOrEqual(0);
      expect(c).toBeLessThanOrEqual(1);
      prev = c;
    }
    expect(cal.confidence(-1.2)).toBe(0);
    expect(cal.confidence(1.2)).toBe(1);
  });

  it('stays monotone when quantiles repeat (a coarse embedder: many equal scores)', () => {
    const flat = new Calibration({ ...cal.spec, random: [0, 0.2, 0.2, 0.2, 0.5, 0.5, 0.9, 1, 1, 1, 1] });
    let prev = -1;
    for (let x = -0.1; x <= 1.1; x += 0.001) {
      const c = flat.confidence(x);
      expect(c).toBeGreaterThanOrEqual(prev);
      prev = c;
    }
    expect(flat.confidence(0.2)).toBeCloseTo(0.3, 12); // the last of the tied quantiles counts
    expect(flat.confidence(0.35)).toBeCloseTo(0.35, 12); // halfway from 0.3 (0.2) to 0.4 (0.5)
  });

  it('scoreAt is the inverse: confidence(scoreAt(c)) ≥ c, and lower scores are below c', () => {
    for (let c = 0.001; c < 1; c += 0.0137) {
      const s = cal.scoreAt(c);
      expect(cal.confidence(s)).toBeGreaterThanOrEqual(c - 1e-12);
      expect(cal.confidence(s - 1e-6)).toBeLessThan(c);
    }
    expect(cal.scoreAt(0)).toBe(-Infinity);
    expect(cal.scoreAt(1)).toBe(cal.spec.random.at(-1));
  });

  it('is the share of random pairs scoring below (checked on fresh pairs, within 0.02)', () => {
    const r = rng(99);
    const fresh: number[] = [];
    for (let p = 0; p < 20000; p++) {
      const i = Math.floor(r() * vectors.length);
      const j = (i + 1 + Math.floor(r() * (vectors.length - 1))) % vectors.length;
      fresh.push(dot(vectors[i]!, vectors[j]!));
    }
    for (const s of [-0.4, -0.1, 0, 0.1, 0.3, 0.5]) {
      const share = fresh.filter((x) => x < s).length / fresh.length;
      expect(Math.abs(cal.confidence(s) - share)).toBeLessThan(0.02);
    }
  });

  it('is deterministic for a seed and refuses a sample too small to learn from', () => {
    expect(learnCalibration(vectors, 'raw', { pairs: 5000, seed: 2 })).toEqual(cal.spec);
    expect(() => learnCalibration(vectors.slice(0, 2), 'raw')).toThrow(/at least 3 items.*Index more images/);
  });
});
