import fs from 'node:fs/promises';
import path from 'node:path';
import type { Embedder } from '../embed/types.js';
import { createError } from '../errors.js';
import { METADATA_KEY, validateWhere } from '../schema.js';
import { checkCrop, cropImage, type Crop } from '../image/crop.js';
import { checkVector } from '../store/spec.js';
import type { Hit, StoreCollection, VectorSearchOptions, Where } from '../store/types.js';
import { averageVector, bestScore, collapseHits, normalize, STRATEGIES, type FoldedHit, type Strategy, type WeightedVector } from './compose.js';
import type { Reranker, RerankOptions } from '../tune/rerank.js';
import { searchTuned } from '../tune/search.js';

export type { Crop, FoldedHit, Strategy };

/**
 * One query term: an image (file path or bytes, optionally a region of it), a text (CLIP-family collections), an
 * indexed item's id (optionally a region of its image), or a raw vector. `weight` (default 1) scales the term in
 * a compositional query; a negative weight moves it to the other side ("less like this").
 */
export type QueryTerm =
  | { readonly image: string | Uint8Array; readonly crop?: Crop; readonly weight?: number }
  | { readonly text: string; readonly weight?: number }
  | { readonly id: string; readonly crop?: Crop; readonly weight?: number }
  | { readonly vector: Float32Array | readonly number[]; readonly weight?: number };

/**
 * Several terms at once: "more like these, less like those". `average` (default) searches with the weighted mean
 * of the unit vectors (negatives subtracted, renormalised); `best-score` ranks candidates by their best similarity
 * to a positive, penalising those closer to a negative (see docs/search.md for both formulas). Items given by id are
 * never returned.
 */
export interface CompositeQuery {
  readonly positive: readonly QueryTerm[];
  readonly negative?: readonly QueryTerm[];
  readonly strategy?: Strategy;
}

/** What to search with: one term, or several (`CompositeQuery`). */
export type Query = QueryTerm | CompositeQuery;

/** A search result; with `collapse`, the near-duplicates folded into it. */
export interface SearchHit extends Hit {
  readonly folded?: readonly FoldedHit[];
  /** Collections with calibrated scores (`tune --calibrate`): the share of random pairs of items scoring below this hit. */
  readonly confidence?: number;
}

/** Most terms one query may have (positive and negative together). */
export const MAX_TERMS = 32;
/** Largest absolute weight of a term. */
export const MAX_WEIGHT = 100;

export interface SearchOptions {
  /** Number of results (default 10). */
  readonly k?: number;
  /** Skip this many of the best results (paging: `offset: 10, k: 10` gives ranks 11-20; default 0). */
  readonly offset?: number;
  readonly minScore?: number;
  /** Metadata equality filter (validated: plain keys, at most 32 conditions). */
  readonly where?: Where;
  /** `false`: skip reading metadata (hits carry `{}`). */
  readonly includeMetadata?: boolean;
  /** HNSW collections: candidate list size for this query (higher = better recall, slower). */
  readonly ef?: number;
  /** IVF collections: lists scanned for this query. */
  readonly nprobe?: number;
  /**
   * Fold near-duplicates: a hit whose cosine similarity to a better-ranked shown hit is at least this value is
   * folded into it (`folded` lists them) instead of taking a place of its own. E.g. 0.97. Paging counts shown hits.
   */
  readonly collapse?: number;
  /**
   * Order the results by a metadata key (`taken`, `year`…) or `path` instead of by score — `-key` for descending —
   * among all hits scoring at least `minScore` (required with `sort`; at most 10,000 of them). Items without the key
   * come last; ties by score.
   */
  readonly sort?: string;
  /**
   * Query expansion or re-ranking of the top hits (off by default; see docs/tuning.md): `aqe`, `alpha-qe` or
   * `diffusion`, or their options. Single queries and the `average` strategy; not with sort or collapse.
   */
  readonly rerank?: Reranker | RerankOptions;
  /** Collections with calibrated scores: drop hits whose `confidence` is below this (0…1, e.g. 0.99). */
  readonly minConfidence?: number;
}

/** Most hits a sorted search orders (those above `minScore`). */
export const SORT_WINDOW = 10_000;

/** Largest k the library accepts (whole-gallery rankings for evaluation need large k). */
export const MAX_K = 1_000_000;
/** Largest k the HTTP API accepts by default (`ServerOptions.maxK`). */
export const HTTP_MAX_K = 1000;

export function validateSearchOptions(opts: SearchOptions): {
  k: number;
  offset: number;
  minScore?: number;
  where?: Where;
  collapse?: number;
  sort?: { key: string; descending: boolean };
} {
  const k = opts.k ?? 10;
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw createError('INVALID_ARGUMENT', `k must be an integer from 1 to ${MAX_K} (got ${k}).`, { field: 'k' });
  }
  const offset = opts.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0 || k + offset > MAX_K) {
    throw createError('INVALID_ARGUMENT', `offset must be an integer from 0 to ${MAX_K} - k (got ${opts.offset}).`, { field: 'offset' });
  }
  if (opts.minScore !== undefined && !Number.isFinite(opts.minScore)) {
    throw createError('INVALID_ARGUMENT', `minScore must be a number (got ${opts.minScore}).`, { field: 'minScore' });
  }
  const c = opts.collapse;
  if (c !== undefined && (typeof c !== 'number' || !Number.isFinite(c) || c <= -1 || c > 1)) {
    throw createError('INVALID_ARGUMENT', `collapse must be a cosine similarity above -1 and at most 1, e.g. 0.97 (got ${c}).`, { field: 'collapse' });
  }
  const where = opts.where === undefined ? undefined : validateWhere(opts.where);
  let sort: { key: string; descending: boolean } | undefined;
  if (opts.sort !== undefined) {
    const key = typeof opts.sort === 'string' ? opts.sort.replace(/^[-+]/u, '') : '';
    if (key === '' || !METADATA_KEY.test(key)) {
      throw createError('INVALID_ARGUMENT', `sort must be a metadata key or "path", optionally with "-" for descending, e.g. "-taken" (got ${JSON.stringify(opts.sort)}).`, {
        field: 'sort',
      });
    }
    if (opts.minScore === undefined) {
      throw createError(
        'INVALID_ARGUMENT',
        `sort needs minScore: results are the hits scoring at least minScore, ordered by ${key} (e.g. minScore 0.5, sort "${opts.sort}").`,
        { field: 'sort' },
      );
    }
    if (opts.collapse !== undefined) throw createError('INVALID_ARGUMENT', 'sort and collapse cannot be combined.', { field: 'sort' });
    sort = { key, descending: opts.sort.startsWith('-') };
  }
  return {
    ...(sort ? { sort } : {}),
    k,
    offset,
    ...(opts.minScore !== undefined ? { minScore: opts.minScore } : {}),
    ...(where ? { where } : {}),
    ...(c !== undefined ? { collapse: c } : {}),
  };
}


const TERM_KINDS = ['image', 'text', 'id', 'vector'] as const;

export const isComposite = (q: Query): q is CompositeQuery => typeof q === 'object' && q !== null && 'positive' in q;

/** A checked term and the side it counts on. */
interface SidedTerm {
  readonly term: QueryTerm;
  readonly weight: number;
  readonly negative: boolean;
  readonly field: string;
}

/** Validate a query's shape: term kinds, weights, crops, counts, strategy. Returns its terms with their sides. */
export function checkQuery(query: Query): { terms: SidedTerm[]; strategy: Strategy } {
  const composite = isComposite(query);
  const lists: [readonly QueryTerm[], boolean, string][] = composite
    ? [
        [query.positive, false, 'positive'],
        [query.negative ?? [], true, 'negative'],
      ]
    : [[[query], false, 'query']];
  const terms: SidedTerm[] = [];
  for (const [list, negative, name] of lists) {
    if (!Array.isArray(list)) throw createError('INVALID_ARGUMENT', `${name} must be a list of query terms.`, { field: name });
    list.forEach((term, i) => {
      const field = composite ? `${name}[${i}]` : 'query';
      const kinds = TERM_KINDS.filter((kk) => typeof term === 'object' && term !== null && (term as Record<string, unknown>)[kk] !== undefined);
      if (kinds.length !== 1) {
        throw createError('INVALID_ARGUMENT', `${field}: give exactly one of "image", "text", "id" or "vector" (got ${kinds.length ? kinds.join(' and ') : 'none'}).`, { field });
      }
      const w = term.weight ?? 1;
      if (typeof w !== 'number' || !Number.isFinite(w) || w === 0 || Math.abs(w) > MAX_WEIGHT) {
        throw createError('INVALID_ARGUMENT', `${field}.weight must be a non-zero number from -${MAX_WEIGHT} to ${MAX_WEIGHT} (got ${term.weight}).`, {
          field: `${field}.weight`,
        });
      }
      if ('crop' in term && term.crop !== undefined) checkCrop(term.crop, `${field}.crop`);
      terms.push({ term, weight: Math.abs(w), negative: negative !== w < 0, field });
    });
  }
  if (terms.length > MAX_TERMS) {
    throw createError('INVALID_ARGUMENT', `A query has at most ${MAX_TERMS} terms (got ${terms.length}).`, { field: 'positive' });
  }
  if (!terms.some((t) => !t.negative)) {
    throw createError('INVALID_ARGUMENT', 'A query needs at least one positive term (an image, text, id or vector to search "more like").', {
      field: 'positive',
    });
  }
  const strategy = (composite ? query.strategy : undefined) ?? 'average';
  if (!STRATEGIES.includes(strategy)) {
    throw createError('INVALID_ARGUMENT', `strategy must be one of ${STRATEGIES.join(', ')} (got ${String(strategy)}).`, { field: 'strategy' });
  }
  return { terms, strategy };
}

/**
 * Marks `p` as handled now and returns it: query images are read (and cropped) while the model loads and awaited
 * after, so a bad image that fails first must not become an unhandled rejection (which ends the process) meanwhile.
 */
function awaitedLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

async function readQueryImage(image: string | Uint8Array): Promise<Uint8Array> {
  if (typeof image !== 'string') return image;
  try {
    return await fs.readFile(image);
  } catch (e) {
    throw createError('FILE_NOT_FOUND', `Cannot read query image ${path.resolve(image)}: ${(e as NodeJS.ErrnoException).code ?? e}`, { path: image });
  }
}

function textEmbedderCheck(collection: StoreCollection): void {
  const { embedder: spec, name } = collection.spec;
  if (spec.kind !== 'vectors-only' && !spec.modalities.includes('text')) {
    throw createError(
      'TEXT_NOT_SUPPORTED',
      `Collection "${name}" was built with "${spec.id}", which embeds images only. Text search needs a ` +
        `CLIP-family model: index into a collection with --model clip-vit-base-patch32 (or another CLIP folder).`,
      { embedder: spec.id },
    );
  }
}

/**
 * Turn every term into a vector: ids from the store (in one read), texts and images through the embedder (in one
 * batch each; crops cut first). Returns the vectors in term order and the ids to leave out of the results.
 */
export async function resolveTerms(
  collection: StoreCollection,
  getEmbedder: () => Promise<Embedder>,
  terms: readonly SidedTerm[],
  imageOf?: (path: string) => Promise<string | Uint8Array | undefined>,
): Promise<{ vectors: Float32Array[]; excludeIds: string[] }> {
  const vectors: (Float32Array | undefined)[] = new Array(terms.length);
  const name = collection.spec.name;
  const ids = terms.flatMap((t) => ('id' in t.term && t.term.id !== undefined ? [t.term.id] : []));
  const plainIds = terms.flatMap((t) => ('id' in t.term && t.term.id !== undefined && !t.term.crop ? [t.term.id] : []));
  const stored = plainIds.length ? await collection.getVectors(plainIds) : new Map<string, Float32Array>();
  const images: { i: number; bytes: Promise<Uint8Array>; source: string }[] = [];
  const texts: { i: number; text: string }[] = [];
  for (const [i, { term, field }] of terms.entries()) {
    if ('vector' in term && term.vector !== undefined) {
      const v = Float32Array.from(term.vector);
      checkVector(v, collection.spec.dimension, field === 'query' ? 'query vector' : `${field}.vector`);
      vectors[i] = v;
    } else if ('text' in term && term.text !== undefined) {
      if (typeof term.text !== 'string' || term.text.trim() === '') {
        throw createError('INVALID_ARGUMENT', `${field === 'query' ? 'The text query' : `${field}.text`} is empty.`, { field: field === 'query' ? 'text' : `${field}.text` });
      }
      textEmbedderCheck(collection);
      texts.push({ i, text: term.text });
    } else if ('id' in term && term.id !== undefined) {
      const notFound = () => createError('ITEM_NOT_FOUND', `No item with id "${term.id}" in collection "${name}".`, { id: term.id });
      if (!term.crop) {
        const v = stored.get(term.id);
        if (!v) throw notFound();
        vectors[i] = v;
      } else {
        const item = await collection.get(term.id);
        if (!item) throw notFound();
        if (!item.path) {
          throw createError('INVALID_ARGUMENT', `${field}: item "${term.id}" has no image file to crop (it was added as a vector); search by its id without a crop.`, {
            field: `${field}.crop`,
          });
        }
        const crop = term.crop;
        const file = item.path;
        const read = async (): Promise<Uint8Array> => {
          const where = imageOf ? await imageOf(file) : file;
          if (where === undefined) throw createError('FILE_NOT_FOUND', `The image of item "${term.id}" is gone.`, { id: term.id });
          return typeof where === 'string' ? readQueryImage(where) : where;
        };
        images.push({ i, bytes: awaitedLater(read().then((b) => cropImage(b, crop, `item "${term.id}"`))), source: file });
      }
    } else if ('image' in term && term.image !== undefined) {
      const source = typeof term.image === 'string' ? term.image : 'the query image';
      const crop = term.crop;
      const read = readQueryImage(term.image);
      images.push({ i, bytes: awaitedLater(crop ? read.then((b) => cropImage(b, crop, source)) : read), source });
    }
  }
  if ((texts.length || images.length) && collection.spec.embedder.kind === 'vectors-only') {
    throw createError(
      'INVALID_ARGUMENT',
      `Collection "${name}" holds vectors imported without their model (${collection.spec.embedder.model}): search it by id or by vector, not by image or text.`,
      { field: 'query' },
    );
  }
  if (texts.length) {
    const embedder = await getEmbedder();
    if (!embedder.embedTexts) throw createError('TEXT_NOT_SUPPORTED', `The embedder of collection "${name}" cannot embed text.`);
    const out = await embedder.embedTexts(texts.map((t) => t.text));
    texts.forEach((t, j) => (vectors[t.i] = out[j]!));
  }
  if (images.length) {
    const embedder = await getEmbedder();
    const bytes = await Promise.all(images.map((m) => m.bytes));
    let out: Float32Array[];
    try {
      out = await embedder.embedImages(bytes);
    } catch (e) {
      // name the file when there is only one (a batch error cannot say which image failed)
      if (images.length === 1 && typeof images[0]!.source === 'string' && e instanceof Error && 'code' in e && images[0]!.source !== 'the query image') {
        e.message = `${images[0]!.source}: ${e.message}`;
      }
      throw e;
    }
    images.forEach((m, j) => (vectors[m.i] = out[j]!));
  }
  return { vectors: vectors as Float32Array[], excludeIds: [...new Set(ids)] };
}

type StoreSearch = Omit<VectorSearchOptions, 'k' | 'offset' | 'minScore'>;

/** The best `window` hits of a compositional query (before paging), and whether fewer exist. */
async function rankComposite(
  collection: StoreCollection,
  strategy: Strategy,
  positive: WeightedVector[],
  negative: WeightedVector[],
  window: number,
  base: StoreSearch,
): Promise<{ hits: Hit[]; exhausted: boolean }> {
  if (strategy === 'average') {
    const hits = await collection.search(averageVector(positive, negative), { ...base, k: window });
    return { hits, exhausted: hits.length < window };
  }
  // best-score: candidates from each positive's neighbourhood (through the index), re-scored exactly
  const found = await Promise.all(positive.map((p) => collection.search(p.vector, { ...base, k: window })));
  const byId = new Map<string, Hit>();
  for (const list of found) for (const h of list) if (!byId.has(h.id)) byId.set(h.id, h);
  const vecs = await collection.getVectors([...byId.keys()]);
  const unit = (ts: WeightedVector[]) => ts.map((t) => ({ vector: normalize(t.vector), weight: t.weight }));
  const pos = unit(positive);
  const neg = unit(negative);
  const scored: Hit[] = [];
  for (const [id, h] of byId) {
    const v = vecs.get(id);
    if (v) scored.push({ ...h, score: bestScore(v, pos, neg) });
  }
  scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { hits: scored.slice(0, window), exhausted: found.every((l) => l.length < window) };
}

function rankWith(
  collection: StoreCollection,
  terms: readonly SidedTerm[],
  vectors: readonly Float32Array[],
  strategy: Strategy,
  base: StoreSearch,
  window: number,
): Promise<{ hits: Hit[]; exhausted: boolean }> {
  const positive: WeightedVector[] = [];
  const negative: WeightedVector[] = [];
  terms.forEach((t, i) => (t.negative ? negative : positive).push({ vector: vectors[i]!, weight: t.weight }));
  return rankComposite(collection, strategy, positive, negative, window, base);
}

/** Hits ordered by a metadata key (or `path`): strings and numbers in their own order, missing values last, ties by score. */
function sortHits(hits: readonly Hit[], sort: { key: string; descending: boolean }): Hit[] {
  const value = (h: Hit): string | number | undefined => {
    const v = sort.key === 'path' && !Object.hasOwn(h.metadata, 'path') ? h.path : h.metadata[sort.key];
    return typeof v === 'string' || typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : undefined;
  };
  const dir = sort.descending ? -1 : 1;
  return [...hits].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    if (x === undefined || y === undefined) return x === y ? b.score - a.score : x === undefined ? 1 : -1;
    if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1; // numbers before strings
    return (x < y ? -1 : x > y ? 1 : 0) * dir || b.score - a.score;
  });
}

export async function searchCollection(
  collection: StoreCollection,
  getEmbedder: () => Promise<Embedder>,
  query: Query,
  opts: SearchOptions = {},
  imageOf?: (path: string) => Promise<string | Uint8Array | undefined>,
): Promise<SearchHit[]> {
  const { where } = validateSearchOptions(opts);
  return searchTuned(collection, opts, {
    ...(where ? { where } : {}),
    ranked: (o) => searchRanked(collection, getEmbedder, query, o, imageOf),
    resolve: async () => {
      const { terms, strategy } = checkQuery(query);
      return { terms, strategy, ...(await resolveTerms(collection, getEmbedder, terms, imageOf)) };
    },
    bestScore: isComposite(query) && query.strategy === 'best-score',
  });
}

async function searchRanked(
  collection: StoreCollection,
  getEmbedder: () => Promise<Embedder>,
  query: Query,
  opts: SearchOptions,
  imageOf?: (path: string) => Promise<string | Uint8Array | undefined>,
): Promise<SearchHit[]> {
  const { k, offset, minScore, where, collapse, sort } = validateSearchOptions(opts);
  const { terms, strategy } = checkQuery(query);
  const { vectors, excludeIds } = await resolveTerms(collection, getEmbedder, terms, imageOf);
  const base: StoreSearch = {
    ...(where ? { where } : {}),
    ...(opts.includeMetadata === false ? { includeMetadata: false } : {}),
    ...(opts.ef !== undefined ? { ef: opts.ef } : {}),
    ...(opts.nprobe !== undefined ? { nprobe: opts.nprobe } : {}),
    excludeIds,
  };
  const single = terms.length === 1;
  if (sort) {
    // every hit above minScore (the store stops there), then ordered by the key
    const window = Math.min(SORT_WINDOW, MAX_K);
    const withMeta = { ...base, includeMetadata: true }; // the sort key is read from the metadata
    const hits = single
      ? await collection.search(vectors[0]!, { ...withMeta, k: window, minScore: minScore! })
      : (await rankWith(collection, terms, vectors, strategy, withMeta, window)).hits.filter((h) => h.score >= minScore!);
    const page = sortHits(hits, sort).slice(offset, offset + k);
    return opts.includeMetadata === false ? page.map((h) => ({ ...h, metadata: {} })) : page;
  }
  if (single && collapse === undefined) {
    // one term: its vector as it is, paged by the store
    return collection.search(vectors[0]!, {
      ...base,
      k,
      ...(offset > 0 ? { offset } : {}),
      ...(minScore !== undefined ? { minScore } : {}),
    });
  }
  const rank = (window: number) =>
    single
      ? collection.search(vectors[0]!, { ...base, k: window }).then((hits) => ({ hits, exhausted: hits.length < window }))
      : rankWith(collection, terms, vectors, strategy, base, window);
  const need = k + offset;
  const aboveMin = (hits: Hit[]) => (minScore === undefined ? hits : hits.filter((h) => h.score >= minScore));
  if (collapse === undefined) return aboveMin((await rank(need)).hits).slice(offset, need);

  // collapse: rank a wider window until it holds enough groups (or the collection runs out)
  const cap = Math.min(MAX_K, Math.max(need * 64, 4096));
  for (let window = Math.min(cap, Math.max(need * 4, 40)); ; window = Math.min(cap, window * 4)) {
    const { hits, exhausted } = await rank(window);
    const shown = aboveMin(hits);
    const groups = collapseHits(shown, await collection.getVectors(shown.map((h) => h.id)), collapse);
    if (groups.length >= need || exhausted || window >= cap || shown.length < hits.length) {
      return groups.slice(offset, need).map((g) => ({ ...g.hit, folded: g.folded }));
    }
  }
}
