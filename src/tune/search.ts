/**
 * What tuning adds to a search (called by `searchCollection`): `minConfidence` (turned into the equivalent
 * `minScore` through the collection's calibration), `rerank` (query expansion or diffusion on the top hits), and
 * the `confidence` of each hit when the collection has calibrated scores.
 */
import { createError } from '../errors.js';
import { averageVector, normalize, type WeightedVector } from '../search/compose.js';
import type { SearchOptions } from '../search/search.js';
import type { Hit, StoreCollection, VectorSearchOptions, Where } from '../store/types.js';
import { checkMinConfidence, type Calibration } from './calibrate.js';
import { checkRerank, rerankedSearch, type SearchSpace } from './rerank.js';
import { TunedStore } from './store.js';

/** The search options tuning reads (those of `SearchOptions`). */
export type TunedSearchOptions = SearchOptions;

/** The query as resolved by the search layer: its terms' sides and weights, their vectors, the ids to leave out. */
export interface ResolvedQuery {
  readonly terms: readonly { readonly negative: boolean; readonly weight: number }[];
  readonly strategy: string;
  readonly vectors: readonly Float32Array[];
  readonly excludeIds: readonly string[];
}

export interface TunedSearchSteps<H extends Hit> {
  /** The search without tuning options (minScore already includes minConfidence). */
  readonly ranked: (opts: Omit<TunedSearchOptions, 'rerank' | 'minConfidence'>) => Promise<H[]>;
  /** Resolve the query's terms to vectors (for re-ranking). */
  readonly resolve: () => Promise<ResolvedQuery>;
  /** Whether the query ranks by best-score (its scores are not plain cosines, so they get no confidence). */
  readonly bestScore: boolean;
  /** The `where` filter as validated by the search layer (what re-ranking passes to the store). */
  readonly where?: Where;
}

/** The collection's calibration, if it has one. */
export function calibrationOf(collection: StoreCollection): Calibration | undefined {
  return collection instanceof TunedStore ? collection.companion?.calibration : undefined;
}

/** The space a collection scores in: its companion's for a transformed collection. */
function spaceOf(collection: StoreCollection): { space: SearchSpace; toSpace: (v: Float32Array) => Float32Array } {
  if (collection instanceof TunedStore) return { space: collection.space, toSpace: (v) => collection.toSpace(normalize(v)) };
  return { space: { search: (q, o) => collection.search(q, o), vectors: (ids) => collection.getVectors(ids) }, toSpace: normalize };
}

export async function searchTuned<H extends Hit>(
  collection: StoreCollection,
  opts: TunedSearchOptions,
  steps: TunedSearchSteps<H>,
): Promise<((H | Hit) & { confidence?: number })[]> {
  const { rerank: rr, minConfidence, ...rest } = opts;
  const calibration = calibrationOf(collection);
  let minScore = rest.minScore;
  if (minConfidence !== undefined) {
    const c = checkMinConfidence(minConfidence);
    if (!calibration) {
      throw createError(
        'INVALID_ARGUMENT',
        `Collection "${collection.spec.name}" has no calibrated scores, so minConfidence cannot be used: run \`lookalike tune ${collection.spec.name} --calibrate\` first (or use minScore).`,
        { field: 'minConfidence' },
      );
    }
    if (rr !== undefined) throw createError('INVALID_ARGUMENT', 'minConfidence cannot be combined with rerank (re-ranked scores are not calibrated); use minScore.', { field: 'minConfidence' });
    minScore = Math.max(minScore ?? -Infinity, calibration.scoreAt(c));
  }
  const plain = { ...rest, ...(minScore !== undefined ? { minScore } : {}) };
  if (rr === undefined) {
    const hits = await steps.ranked(plain);
    if (!calibration || steps.bestScore) return hits;
    return hits.map((h) => ({ ...h, confidence: calibration.confidence(h.score) }));
  }
  const rerank = checkRerank(rr);
  if (rest.sort !== undefined || rest.collapse !== undefined) {
    throw createError('INVALID_ARGUMENT', 'rerank cannot be combined with sort or collapse.', { field: 'rerank' });
  }
  if (steps.bestScore) throw createError('INVALID_ARGUMENT', 'rerank works with single queries and the "average" strategy, not with "best-score".', { field: 'rerank' });
  const q = await steps.resolve();
  const positive: WeightedVector[] = [];
  const negative: WeightedVector[] = [];
  q.terms.forEach((t, i) => (t.negative ? negative : positive).push({ vector: q.vectors[i]!, weight: t.weight }));
  const raw = q.vectors.length === 1 ? q.vectors[0]! : averageVector(positive, negative);
  const { space, toSpace } = spaceOf(collection);
  const storeOpts: VectorSearchOptions = {
    k: rest.k ?? 10,
    ...(rest.offset ? { offset: rest.offset } : {}),
    ...(minScore !== undefined ? { minScore } : {}),
    ...(steps.where ? { where: steps.where } : {}),
    ...(rest.includeMetadata === false ? { includeMetadata: false } : {}),
    ...(rest.ef !== undefined ? { ef: rest.ef } : {}),
    ...(rest.nprobe !== undefined ? { nprobe: rest.nprobe } : {}),
    excludeIds: q.excludeIds,
  };
  return rerankedSearch(space, toSpace(raw), storeOpts, rerank);
}
