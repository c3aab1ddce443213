/**
 * Retrieval metrics over one ranked list, given as relevance flags (best first).
 * `totalRelevant` is the number of relevant items in the whole gallery (the query itself excluded).
 */

/** Fraction of the first k results that are relevant (results beyond the list count as not relevant). */
export function precisionAt(relevant: readonly boolean[], k: number): number {
  let hits = 0;
  for (let i = 0; i < Math.min(k, relevant.length); i++) if (relevant[i]) hits++;
  return hits / k;
}

/**
 * Average precision. With `cutoff`, AP@cutoff: the sum of precision@i at each relevant rank i ≤ cutoff, divided by
 * min(cutoff, totalRelevant). Without it, the full AP: divided by totalRelevant. 0 when nothing is relevant.
 */
export function averagePrecision(relevant: readonly boolean[], totalRelevant: number, cutoff?: number): number {
  const n = cutoff === undefined ? relevant.length : Math.min(cutoff, relevant.length);
  const denominator = cutoff === undefined ? totalRelevant : Math.min(cutoff, totalRelevant);
  if (denominator === 0) return 0;
  let hits = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (relevant[i]) {
      hits++;
      sum += hits / (i + 1);
    }
  }
  return sum / denominator;
}

/** Whether the target is among the first k results (recall@k for a single relevant item). */
export function hitAt(rank: number | undefined, k: number): boolean {
  return rank !== undefined && rank < k;
}

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}
