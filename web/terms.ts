// The terms of a query as they are searched: their weights (the user's, or the Rocchio defaults the server states in
// /v1/limits), the 👍/👎 marks not searched yet, and the JSON body of a search.
import type { Limits } from './api.js';
import { COLLAPSE, wireWhere, type Crop, type Query, type Term, type TermKind } from './query.js';

export type Weights = NonNullable<Limits['feedbackWeights']>;
/** When the server states no feedback weights (an older one): every term counts the same. */
export const EQUAL_WEIGHTS: Weights = { alpha: 1, beta: 1, gamma: 1 };

export interface EffectiveTerm {
  kind: TermKind;
  value: string;
  negative: boolean;
  /** The weight searched with. */
  weight: number;
  /** The user set it (else a default). */
  edited: boolean;
  crop: Crop | null;
  /** -1: the query's first term; else its index in `terms`. */
  index: number;
}

/**
 * Every term with the weight it is searched with. `average` (Rocchio): the first term α, each added positive text α,
 * each 👍 item or image β/|P|, each negative term γ/|N| — unless the user edited it. `best-score` takes a maximum, so
 * every term counts 1 unless edited.
 */
export function effectiveTerms(q: Query, w: Weights): EffectiveTerm[] {
  if (q.kind === 'none' || q.value === '') return [];
  const avg = q.strategy === 'average';
  const liked = q.terms.filter((t) => !t.negative && t.kind !== 'text').length;
  const disliked = q.terms.filter((t) => t.negative).length;
  const byDefault = (t: Term): number => {
    if (!avg) return 1;
    if (t.negative) return w.gamma / disliked;
    return t.kind === 'text' ? w.alpha : w.beta / liked;
  };
  const first: EffectiveTerm = { kind: q.kind, value: q.value, negative: false, weight: q.weight ?? (avg ? w.alpha : 1), edited: q.weight !== null, crop: q.crop, index: -1 };
  return [first, ...q.terms.map((t, index) => ({ kind: t.kind, value: t.value, negative: t.negative, weight: t.weight ?? byDefault(t), edited: t.weight !== null, crop: null, index }))];
}

/** The query with the hits marked 👍/👎 (and not searched yet) added as terms. */
export function withMarks(q: Query, marks: ReadonlyMap<string, boolean>): Query {
  if (marks.size === 0 || q.kind === 'none') return q;
  const have = new Set(q.terms.filter((t) => t.kind === 'id').map((t) => t.value));
  const added: Term[] = [...marks].filter(([id]) => !have.has(id)).map(([id, negative]) => ({ kind: 'id', value: id, negative, weight: null }));
  return { ...q, terms: [...q.terms, ...added] };
}

/** The query without one term; without its first term, the first positive added term becomes the first. */
export function withoutTerm(q: Query, index: number): Query {
  if (index >= 0) return { ...q, terms: q.terms.filter((_, i) => i !== index) };
  const next = q.terms.findIndex((t) => !t.negative);
  if (next < 0) return { ...q, kind: 'none', value: '', crop: null, weight: null, terms: [] };
  const t = q.terms[next]!;
  return { ...q, kind: t.kind, value: t.value, crop: null, weight: t.weight, terms: q.terms.filter((_, i) => i !== next) };
}

/** The query with one term's weight set by the user. */
export function withWeight(q: Query, index: number, weight: number): Query {
  if (index < 0) return { ...q, weight };
  return { ...q, terms: q.terms.map((t, i) => (i === index ? { ...t, weight } : t)) };
}

/** The JSON body of a search: the single-term form for a one-term query, else positive and negative terms. */
export function searchBody(q: Query, offset: number, w: Weights): Record<string, unknown> {
  const body: Record<string, unknown> = { k: q.k };
  if (q.terms.length === 0) {
    if (q.kind !== 'none') body[q.kind] = q.value;
    if (q.crop) body.crop = q.crop;
  } else {
    const terms = effectiveTerms(q, w).filter((t) => t.weight > 0);
    const api = (t: EffectiveTerm) => ({ [t.kind]: t.value, weight: t.weight, ...(t.crop ? { crop: t.crop } : {}) });
    body.positive = terms.filter((t) => !t.negative).map(api);
    const negative = terms.filter((t) => t.negative).map(api);
    if (negative.length > 0) body.negative = negative;
    body.strategy = q.strategy;
  }
  if (offset > 0) body.offset = offset;
  if (q.minScore !== null) body.minScore = q.minScore;
  const where = wireWhere(q);
  if (where) body.where = where;
  if (q.fold) body.collapse = COLLAPSE;
  if (q.rerank !== null) body.rerank = q.rerank;
  if (q.minConfidence !== null) body.minConfidence = q.minConfidence;
  return body;
}

/** A weight as shown: at most two decimals. */
export const weightText = (w: number): string => String(Number(w.toFixed(2)));
