/**
 * The arithmetic of compositional queries and result collapsing: pure functions over unit vectors (scores are
 * cosine similarities = dot products). Documented with formulas in docs/search.md.
 */
import { createError } from '../errors.js';

/** A resolved query term: its unit vector and a weight (> 0; which side it is on is given by the list it is in). */
export interface WeightedVector {
  readonly vector: Float32Array;
  readonly weight: number;
}

/** How positive and negative terms combine. */
export type Strategy = 'average' | 'best-score';
export const STRATEGIES: readonly Strategy[] = ['average', 'best-score'];

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function normalize(v: Float32Array): Float32Array {
  const n = Math.sqrt(dot(v, v));
  if (!(n > 0)) return v;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / n;
  return out;
}

/**
 * `average` (Rocchio): q = Σ₊ wᵢ·p̂ᵢ − Σ₋ wⱼ·n̂ⱼ over unit vectors, then renormalised to unit length. Terms whose
 * weighted vectors cancel out (‖q‖ ≈ 0) are an error: there is no direction left to search in.
 */
export function averageVector(positive: readonly WeightedVector[], negative: readonly WeightedVector[]): Float32Array {
  const d = (positive[0] ?? negative[0])!.vector.length;
  const q = new Float64Array(d);
  for (const t of positive) {
    const v = normalize(t.vector);
    for (let i = 0; i < d; i++) q[i]! += t.weight * v[i]!;
  }
  for (const t of negative) {
    const v = normalize(t.vector);
    for (let i = 0; i < d; i++) q[i]! -= t.weight * v[i]!;
  }
  let n = 0;
  for (let i = 0; i < d; i++) n += q[i]! * q[i]!;
  n = Math.sqrt(n);
  if (!(n > 1e-6)) {
    throw createError(
      'INVALID_ARGUMENT',
      'The query terms cancel each other out (their weighted sum is the zero vector): change the weights, drop a negative term, or use strategy "best-score".',
      { field: 'positive' },
    );
  }
  const out = new Float32Array(d);
  for (let i = 0; i < d; i++) out[i] = q[i]! / n;
  return out;
}

/**
 * `best-score` (Qdrant's recommendation strategy): with s₊ = maxᵢ wᵢ·cos(c, pᵢ) and s₋ = maxⱼ wⱼ·cos(c, nⱼ),
 * score(c) = s₊ when s₊ > s₋ (no negatives: always), else −1 − s₋². A candidate closer to a negative than to every
 * positive is penalised below every candidate that is not (cosines are at least −1), and the closer it is to the
 * negative the lower it ranks.
 */
export function bestScore(candidate: Float32Array, positive: readonly WeightedVector[], negative: readonly WeightedVector[]): number {
  let pos = -Infinity;
  for (const t of positive) pos = Math.max(pos, t.weight * dot(candidate, t.vector));
  let neg = -Infinity;
  for (const t of negative) neg = Math.max(neg, t.weight * dot(candidate, t.vector));
  return pos > neg ? pos : -1 - neg * neg;
}

/** A hit folded into a better-ranked one by `collapse`. */
export interface FoldedHit {
  readonly id: string;
  readonly path: string | null;
  readonly score: number;
}

/**
 * Collapse near-duplicates: walk the hits best first; a hit whose cosine similarity to an already kept hit is at
 * least `threshold` is folded into the best-ranked such hit, otherwise it is kept. Returns the kept hits (in order)
 * with the hits folded into each. Hits without a vector are kept as they are.
 */
export function collapseHits<H extends { readonly id: string; readonly path: string | null; readonly score: number }>(
  hits: readonly H[],
  vectors: ReadonlyMap<string, Float32Array>,
  threshold: number,
): { hit: H; folded: FoldedHit[] }[] {
  const kept: { hit: H; folded: FoldedHit[]; vector: Float32Array | undefined }[] = [];
  for (const h of hits) {
    const v = vectors.get(h.id);
    const into = v ? kept.find((k) => k.vector !== undefined && dot(k.vector, v) >= threshold) : undefined;
    if (into) into.folded.push({ id: h.id, path: h.path, score: h.score });
    else kept.push({ hit: h, folded: [], vector: v });
  }
  return kept.map(({ hit, folded }) => ({ hit, folded }));
}
