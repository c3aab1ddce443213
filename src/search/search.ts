import fs from 'node:fs/promises';
import path from 'node:path';
import type { Embedder } from '../embed/types.js';
import { createError } from '../errors.js';
import { validateWhere } from '../schema.js';
import type { Hit, StoreCollection, Where } from '../store/types.js';

/** What to search with: an image (file path or bytes), a text, an indexed item's id, or a raw vector. */
export type Query =
  | { readonly image: string | Uint8Array }
  | { readonly text: string }
  | { readonly id: string }
  | { readonly vector: Float32Array | readonly number[] };

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
}

/** Largest k the library accepts (whole-gallery rankings for evaluation need large k). */
export const MAX_K = 1_000_000;
/** Largest k the HTTP API accepts by default (`ServerOptions.maxK`). */
export const HTTP_MAX_K = 1000;

export function validateSearchOptions(opts: SearchOptions): { k: number; offset: number; minScore?: number; where?: Where } {
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
  const where = opts.where === undefined ? undefined : validateWhere(opts.where);
  return { k, offset, ...(opts.minScore !== undefined ? { minScore: opts.minScore } : {}), ...(where ? { where } : {}) };
}

/** Turn a query into a vector (and the ids to leave out of its results). */
export async function queryVector(
  collection: StoreCollection,
  getEmbedder: () => Promise<Embedder>,
  query: Query,
): Promise<{ vector: Float32Array; excludeIds: string[] }> {
  if ('vector' in query) {
    return { vector: Float32Array.from(query.vector), excludeIds: [] };
  }
  if ('id' in query) {
    const v = await collection.getVector(query.id);
    if (!v) {
      throw createError('ITEM_NOT_FOUND', `No item with id "${query.id}" in collection "${collection.spec.name}".`, {
        id: query.id,
      });
    }
    return { vector: v, excludeIds: [query.id] };
  }
  if ('text' in query) {
    if (typeof query.text !== 'string' || query.text.trim() === '') {
      throw createError('INVALID_ARGUMENT', 'The text query is empty.', { field: 'text' });
    }
    const { embedder: spec, name } = collection.spec;
    if (!spec.modalities.includes('text')) {
      throw createError(
        'TEXT_NOT_SUPPORTED',
        `Collection "${name}" was built with "${spec.id}", which embeds images only. Text search needs a ` +
          `CLIP-family model: index into a collection with --model clip-vit-base-patch32 (or another CLIP folder).`,
        { embedder: spec.id },
      );
    }
    const embedder = await getEmbedder();
    if (!embedder.embedTexts) throw createError('TEXT_NOT_SUPPORTED', `The embedder of collection "${name}" cannot embed text.`);
    const [v] = await embedder.embedTexts([query.text]);
    return { vector: v!, excludeIds: [] };
  }
  const embedder = await getEmbedder();
  let bytes: Uint8Array;
  if (typeof query.image === 'string') {
    try {
      bytes = await fs.readFile(query.image);
    } catch (e) {
      throw createError('FILE_NOT_FOUND', `Cannot read query image ${path.resolve(query.image)}: ${(e as NodeJS.ErrnoException).code ?? e}`, {
        path: query.image,
      });
    }
  } else bytes = query.image;
  try {
    const [v] = await embedder.embedImages([bytes]);
    return { vector: v!, excludeIds: [] };
  } catch (e) {
    if (typeof query.image === 'string' && e instanceof Error && 'code' in e) {
      e.message = `${query.image}: ${e.message}`;
    }
    throw e;
  }
}

export async function searchCollection(
  collection: StoreCollection,
  getEmbedder: () => Promise<Embedder>,
  query: Query,
  opts: SearchOptions = {},
): Promise<Hit[]> {
  const { k, offset, minScore, where } = validateSearchOptions(opts);
  const { vector, excludeIds } = await queryVector(collection, getEmbedder, query);
  return collection.search(vector, {
    k,
    ...(offset > 0 ? { offset } : {}),
    ...(minScore !== undefined ? { minScore } : {}),
    ...(where ? { where } : {}),
    ...(opts.includeMetadata === false ? { includeMetadata: false } : {}),
    ...(opts.ef !== undefined ? { ef: opts.ef } : {}),
    ...(opts.nprobe !== undefined ? { nprobe: opts.nprobe } : {}),
    excludeIds,
  });
}
