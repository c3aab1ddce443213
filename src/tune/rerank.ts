/**
 * Query expansion and re-ranking at search time (off by default), on the top-N hits from the index, in the space
 * the collection scores in (after its transform, if it has one):
 *
 * - `aqe` — average query expansion (Chum et al. 2007): search again with q + Σ of the top `k` hits' vectors.
 * - `alpha-qe` — α-weighted query expansion (Radenović et al. 2018): q + Σ max(0, sᵢ)^α · vᵢ over the top `k`.
 * - `diffusion` — re-rank the top N by diffusion on their k-nearest-neighbour graph (Iscen et al. 2017, the online
 *   form): affinities max(0, s)^γ among the query and the candidates, symmetric kNN graph, f = (1−β) y + β S f with y
 *   the query's indicator, iterated; candidates ordered by f. Hits' `score` is then f / max f (not a cosine), and
 *   hits past the top N keep their order below them.
 *
 * The expanded queries' hits carry the cosine to the expanded query as `score`.
 */
import { createError } from '../errors.js';
import type { Hit, VectorSearchOptions } from '../store/types.js';

export const RERANKERS = ['aqe', 'alpha-qe', 'diffusion'] as const;
export type Reranker = (typeof RERANKERS)[number];

export interface RerankOptions {
  readonly method: Reranker;
  /** Hits whose vectors expand the query (aqe: default 2; alpha-qe: default 10), or neighbours per node (diffusion: 10). */
  readonly k?: number;
  /** alpha-qe: exponent of the weights (default 3). diffusion: γ of the affinities (default 3). */
  readonly alpha?: number;
  /** diffusion: candidates re-ranked (default 200). */
  readonly n?: number;
  /** diffusion: β, the weight of the graph against the query (default 0.99). */
  readonly beta?: number;
}

export const RERANK_DEFAULTS = {
  aqe: { k: 2 },
  'alpha-qe': { k: 10, alpha: 3 },
  diffusion: { k: 10, alpha: 3, n: 200, beta: 0.99 },
} as const;

/** A method name or full options, checked; the result has every parameter. */
export function checkRerank(r: Reranker | RerankOptions): Required<RerankOptions> {
  const o: RerankOptions = typeof r === 'string' ? { method: r } : r;
  if (!RERANKERS.includes(o.method)) {
    throw createError('INVALID_ARGUMENT', `rerank must be one of ${RERANKERS.join(', ')} (got ${String(o.method)}).`, { field: 'rerank' });
  }
  const d: { k: number; alpha: number; n: number; beta: number } = Object.assign({ k: 10, alpha: 3, n: 200, beta: 0.99 }, RERANK_DEFAULTS[o.method]);
  const full = { method: o.method, k: o.k ?? d.k, alpha: o.alpha ?? d.alpha, n: o.n ?? d.n, beta: o.beta ?? d.beta };
  const bad = (field: string, what: string) => createError('INVALID_ARGUMENT', `rerank.${field} must be ${what}.`, { field: `rerank.${field}` });
  if (!Number.isInteger(full.k) || full.k < 1 || full.k > 1000) throw bad('k', `an integer from 1 to 1000 (got ${o.k})`);
  if (!Number.isInteger(full.n) || full.n < 2 || full.n > 10_000) throw bad('n', `an integer from 2 to 10,000 (got ${o.n})`);
  if (!Number.isFinite(full.alpha) || full.alpha < 0 || full.alpha > 100) throw bad('alpha', `a number from 0 to 100 (got ${o.alpha})`);
  if (!Number.isFinite(full.beta) || full.beta <= 0 || full.beta >= 1) throw bad('beta', `a number between 0 and 1 (got ${o.beta})`);
  return full;
}

/** Search in the collection's scoring space: what re-ranking needs from a (possibly transformed) collection. */
export interface SearchSpace {
  /** Search with a vector already in the space. */
  search(query: Float32Array, opts: VectorSearchOptions): Promise<Hit[]>;
  /** Items' vectors in the space (missing ids left out). */
  vectors(ids: readonly string[]): Promise<Map<string, Float32Array>>;
}

const dot = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

function unit(v: Float64Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  return Float32Array.from(v, (x) => x * inv);
}

/**
 * The best `opts.k` hits (after `opts.offset`) of `query` (a unit vector in the space), re-ranked. `opts` are the
 * store options of the search (filters, excluded ids, paging, minScore — applied to the re-ranked scores).
 */
export async function rerankedSearch(space: SearchSpace, query: Float32Array, opts: VectorSearchOptions, rerank: Required<RerankOptions>): Promise<Hit[]> {
  const offset = opts.offset ?? 0;
  const want = opts.k + offset;
  const { offset: _o, minScore, ...base } = opts;
  const above = (hits: Hit[]) => (minScore === undefined ? hits : hits.filter((h) => h.score >= minScore));
  if (rerank.method === 'diffusion') {
    const first = await space.search(query, { ...base, k: Math.max(want, rerank.n), includeMetadata: opts.includeMetadata !== false });
    return above(await diffuse(space, query, first, rerank)).slice(offset, want);
  }
  const first = await space.search(query, { ...base, k: rerank.k, includeMetadata: false });
  if (first.length === 0) return [];
  const vecs = await space.vectors(first.map((h) => h.id));
  const q = Float64Array.from(query);
  for (const h of first) {
    const v = vecs.get(h.id);
    if (!v) continue;
    const w = rerank.method === 'aqe' ? 1 : Math.max(0, h.score) ** rerank.alpha;
    for (let i = 0; i < q.length; i++) q[i]! += w * v[i]!;
  }
  return space.search(unit(q), { ...base, k: opts.k, ...(offset ? { offset } : {}), ...(minScore !== undefined ? { minScore } : {}) });
}

/** Diffusion over the top `rerank.n` of `first` (the rest keep their order below). */
async function diffuse(space: SearchSpace, query: Float32Array, first: Hit[], rerank: Required<RerankOptions>): Promise<Hit[]> {
  const cand = first.slice(0, rerank.n);
  const vecs = await space.vectors(cand.map((h) => h.id));
  const nodes = [query, ...cand.map((h) => vecs.get(h.id) ?? new Float32Array(query.length))];
  const m = nodes.length;
  // affinities max(0, s)^γ, kNN per node, symmetrised by max
  const A = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) A[i * m + j] = A[j * m + i] = Math.max(0, dot(nodes[i]!, nodes[j]!)) ** rerank.alpha;
  }
  const W = new Float64Array(m * m);
  const kk = Math.min(rerank.k, m - 1);
  const idx = Array.from({ length: m }, (_, j) => j);
  for (let i = 0; i < m; i++) {
    const order = idx.filter((j) => j !== i).sort((a, b) => A[i * m + b]! - A[i * m + a]! || a - b);
    for (const j of order.slice(0, kk)) {
      const a = A[i * m + j]!;
      W[i * m + j] = Math.max(W[i * m + j]!, a);
      W[j * m + i] = Math.max(W[j * m + i]!, a);
    }
  }
  const deg = new Float64Array(m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) deg[i]! += W[i * m + j]!;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const dd = deg[i]! * deg[j]!;
      W[i * m + j] = dd > 0 ? W[i * m + j]! / Math.sqrt(dd) : 0;
    }
  }
  const f = solveDiffusion(W, m, rerank.beta);
  let top = 0;
  for (let i = 1; i < m; i++) top = Math.max(top, f[i]!);
  const scored = cand.map((h, i) => ({ h, f: top > 0 ? f[i + 1]! / top : 0 }));
  const reached = scored.filter((s) => s.f > 0).sort((a, b) => b.f - a.f || b.h.score - a.h.score);
  const floor = reached.length ? reached[reached.length - 1]!.f : 1;
  // the rest (not reached by the graph, or past the top N) keep their cosine order, strictly below the diffused ones
  const rest = [...scored.filter((s) => !(s.f > 0)).map((s) => s.h), ...first.slice(rerank.n)];
  return [
    ...reached.map((s) => ({ ...s.h, score: s.f })),
    ...rest.map((h) => ({ ...h, score: (floor * 0.5 * (1 + Math.max(-1, Math.min(1, h.score)))) / 2 })),
  ];
}

/**
 * Solve (I − βS) f = (1 − β) e₀ by conjugate gradients (I − βS is symmetric positive definite for a normalised
 * affinity S and β < 1): the fixed point of f ← βSf + (1 − β)e₀, reached in tens of iterations instead of thousands.
 */
function solveDiffusion(S: Float64Array, m: number, beta: number): Float64Array {
  const x = new Float64Array(m);
  const r = new Float64Array(m);
  r[0] = 1 - beta;
  const p = Float64Array.from(r);
  const Ap = new Float64Array(m);
  let rs = r[0]! * r[0]!;
  const tol = rs * 1e-24;
  for (let it = 0; it < 10 * m && rs > tol; it++) {
    let pAp = 0;
    for (let i = 0; i < m; i++) {
      let s = 0;
      const row = i * m;
      for (let j = 0; j < m; j++) s += S[row + j]! * p[j]!;
      Ap[i] = p[i]! - beta * s;
      pAp += p[i]! * Ap[i]!;
    }
    if (!(pAp > 0)) break;
    const a = rs / pAp;
    let next = 0;
    for (let i = 0; i < m; i++) {
      x[i]! += a * p[i]!;
      r[i]! -= a * Ap[i]!;
      next += r[i]! * r[i]!;
    }
    for (let i = 0; i < m; i++) p[i] = r[i]! + (next / rs) * p[i]!;
    rs = next;
  }
  return x;
}
