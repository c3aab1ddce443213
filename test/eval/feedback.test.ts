/** Issue 13.2: relevance feedback measured with a simulated user on the residual collection. */
import { describe, expect, it } from 'vitest';
import { evaluateRetrieval } from '../../src/eval/evaluate.js';
import { checkFeedbackOptions, feedbackQuery, formatFeedbackTable } from '../../src/eval/feedback.js';
import { SAMPLES } from '../helpers.js';

describe('feedback query', () => {
  it('average: Rocchio weights α, β/|P| per liked hit, γ/|N| per disliked hit', () => {
    expect(feedbackQuery('q', ['a', 'b'], ['c'], 'average', { alpha: 1, beta: 3, gamma: 2 })).toEqual({
      positive: [{ id: 'q', weight: 1 }, { id: 'a', weight: 1.5 }, { id: 'b', weight: 1.5 }],
      negative: [{ id: 'c', weight: 2 }],
      strategy: 'average',
    });
    // γ = 0 drops the negatives (an average cannot use a zero weight)
    expect(feedbackQuery('q', [], ['c'], 'average', { alpha: 1, beta: 3, gamma: 0 }).negative).toEqual([]);
  });
  it('best-score: every term at weight 1', () => {
    expect(feedbackQuery('q', ['a'], ['c'], 'best-score', { alpha: 1, beta: 3, gamma: 2 })).toEqual({
      positive: [{ id: 'q', weight: 1 }, { id: 'a', weight: 1 }],
      negative: [{ id: 'c', weight: 1 }],
      strategy: 'best-score',
    });
  });
  it('rounds × page size must fit one query', () => {
    expect(() => checkFeedbackOptions({ rounds: 4, k: 10 })).toThrow(/1 \+ rounds·k ≤ 32/);
    expect(() => checkFeedbackOptions({ weights: { alpha: 1, beta: -1, gamma: 0 } })).toThrow(/beta must be a number ≥ 0/);
  });
});

describe('eval with feedback on the sample flowers (color-histogram)', () => {
  it('reports the first page, the next page without feedback and after it, for both strategies', async () => {
    const r = await evaluateRetrieval({ dir: SAMPLES, model: 'color-histogram', config: { threads: 1 }, feedback: { rounds: 2, k: 5 } });
    const f = r.feedback!;
    expect(f).toMatchObject({ k: 5, rounds: 2, weights: { alpha: 1, beta: 3, gamma: 2 } });
    // the first page is the plain evaluation's P@5
    expect(f.firstPage.precision).toBeCloseTo(r.precisionAt['5'], 10);
    expect(f.withoutFeedback).toHaveLength(2);
    for (const s of ['average', 'best-score'] as const) {
      expect(f.withFeedback[s]).toHaveLength(2);
      // feedback helps the next page on this data (measured: see the log)
      expect(f.withFeedback[s]![0]!.precision).toBeGreaterThan(f.withoutFeedback[0]!.precision);
    }
    console.log(formatFeedbackTable('color-histogram', f));
  }, 60_000);
});
