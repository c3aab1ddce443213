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

/** Arithmetic mean; summed in sorted order, so the result does not depend on the order of `xs` (0 when empty). */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b).reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * A run of equally scored results in a ranking (best first): `size` results, `relevant` of them relevant. A ranking
 * is a sequence of groups; results inside a group have no order of their own.
 */
export interface TieGroup {
  readonly size: number;
  readonly relevant: number;
}

/** Scores closer than this (absolute) count as tied: float rounding must not decide an order. */
export const TIE_TOLERANCE = 1e-6;

/**
 * Split a ranking (scores best first) into tie groups: a group starts at the first result scoring more than
 * `tolerance` below the group's first score.
 */
export function tieGroups(scores: readonly number[], relevant: readonly boolean[], tolerance = TIE_TOLERANCE): TieGroup[] {
  const groups: TieGroup[] = [];
  let start = 0;
  while (start < scores.length) {
    const top = scores[start]!;
    let end = start + 1;
    while (end < scores.length && top - scores[end]! <= tolerance) end++;
    let rel = 0;
    for (let i = start; i < end; i++) if (relevant[i]) rel++;
    groups.push({ size: end - start, relevant: rel });
    start = end;
  }
  return groups;
}

/**
 * Expected P@k when the results inside each tie group are in a uniformly random order, computed exactly: a group
 * that straddles rank k contributes relevant × (its positions within the first k) / size relevant results.
 */
export function expectedPrecisionAt(groups: readonly TieGroup[], k: number): number {
  let start = 0;
  let expected = 0;
  for (const g of groups) {
    if (start >= k) break;
    const inside = Math.min(start + g.size, k) - start;
    expected += (g.relevant * inside) / g.size;
    start += g.size;
  }
  return expected / k;
}

/**
 * Expected average precision (AP@cutoff with `cutoff`, else full AP; normalised as `averagePrecision`) when the
 * results inside each tie group are in a uniformly random order, computed exactly. AP = Σ_i rel_i·H_i / i / D with
 * H_i the relevant results up to rank i, and E[rel_i·H_i] = p + p·R + (positions of the group before i)·q, where
 * p = r/g is the chance a position of a group (g results, r relevant) holds a relevant result, q = r(r−1)/(g(g−1))
 * the chance two given positions of it both do, and R the relevant results in the groups before.
 */
export function expectedAveragePrecision(groups: readonly TieGroup[], totalRelevant: number, cutoff?: number): number {
  const denominator = cutoff === undefined ? totalRelevant : Math.min(cutoff, totalRelevant);
  if (denominator === 0) return 0;
  const n = cutoff ?? Infinity;
  let start = 0;
  let before = 0;
  let sum = 0;
  for (const g of groups) {
    if (start >= n) break;
    if (g.relevant > 0) {
      const p = g.relevant / g.size;
      const q = g.size > 1 ? (g.relevant * (g.relevant - 1)) / (g.size * (g.size - 1)) : 0;
      const end = Math.min(start + g.size, n);
      for (let i = start; i < end; i++) sum += (p + p * before + (i - start) * q) / (i + 1);
    }
    before += g.relevant;
    start += g.size;
  }
  return sum / denominator;
}

/** Whether a tie group straddles rank k (the order of tied results changes which ones are in the first k). */
export function tiedAtCutoff(groups: readonly TieGroup[], k: number): boolean {
  let start = 0;
  for (const g of groups) {
    if (start >= k) return false;
    if (start + g.size > k) return true;
    start += g.size;
  }
  return false;
}
