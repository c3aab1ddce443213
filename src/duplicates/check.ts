/**
 * "Is this new image already in here?": the image (or a stored item) is embedded and looked up in the collection's
 * index, and the same decision rule as `findDuplicates` is applied to its nearest items — score threshold and
 * density-normalised margin (each side's background from one more index search), then optionally geometric
 * verification against the items' files. Answers in milliseconds (the embedding dominates).
 */
import fs from 'node:fs/promises';
import type { Embedder } from '../embed/types.js';
import { createError } from '../errors.js';
import type { Hit, StoreCollection } from '../store/types.js';
import { FALLBACK_THRESHOLD } from './find.js';
import { autoThreshold, margin as marginOf } from './graph.js';
import { checkCommonOptions } from './options.js';
import type { CheckDuplicateOptions, CheckDuplicateResult, DuplicateMatch } from './types.js';
import { PairVerifier } from './verifier.js';

/** Items sampled to estimate the automatic threshold of a collection (cached while its size stays the same). */
const SAMPLE = 200;
const autoCache = new WeakMap<StoreCollection, { count: number; k: number; threshold: number }>();

/** The background of a ranked list of `depth` hits, as `backgrounds` (graph.ts) takes it: the last, or the median one. */
function backgroundOf(hits: readonly Hit[], depth: number): number {
  if (hits.length === 0) return Number.NEGATIVE_INFINITY;
  return hits[hits.length >= depth ? depth - 1 : Math.ceil(hits.length / 2) - 1]!.score;
}

/** The background of an item: its `depth` nearest other items, from one index search. */
async function background(store: StoreCollection, vector: Float32Array, depth: number, exclude: readonly string[]): Promise<number> {
  return backgroundOf(await store.search(vector, { k: depth, excludeIds: exclude, includeMetadata: false }), depth);
}

/** The automatic threshold of `findDuplicates` (median background), estimated from an even sample of items. */
export async function sampledAutoThreshold(store: StoreCollection, k: number): Promise<number> {
  const count = await store.count();
  const known = autoCache.get(store);
  if (known && known.count === count && known.k === k) return known.threshold;
  const ids = await store.sampleIds(SAMPLE);
  const vectors = await store.getVectors(ids);
  const bg: number[] = [];
  for (const id of ids) {
    const v = vectors.get(id);
    if (v) bg.push(await background(store, v, 2 * k, [id]));
  }
  const threshold = autoThreshold(Float32Array.from(bg), FALLBACK_THRESHOLD);
  autoCache.set(store, { count, k, threshold });
  return threshold;
}

export type CheckQuery = { readonly image: string | Uint8Array } | { readonly id: string };

export async function checkDuplicate(
  store: StoreCollection,
  getEmbedder: () => Promise<Embedder>,
  query: CheckQuery,
  opts: CheckDuplicateOptions = {},
  maxPixels = 100_000_000,
): Promise<CheckDuplicateResult> {
  const t0 = performance.now();
  const o = checkCommonOptions(opts);
  const bytes = 'image' in query ? (typeof query.image === 'string' ? await readQuery(query.image) : query.image) : undefined;
  const { vector, excludeIds } = await queryVector(store, getEmbedder, bytes, 'id' in query ? query.id : undefined);
  const threshold = o.threshold === 'auto' ? await sampledAutoThreshold(store, o.k) : o.threshold;
  const depth = 2 * o.k;
  const hits = await store.search(vector, { k: depth, excludeIds, includeMetadata: false });
  const own = backgroundOf(hits, depth);
  // the score rule (also the fallback of unverifiable pairs); with verification, scores only preselect
  const floor = o.verify ? (o.threshold === 'auto' ? Number.NEGATIVE_INFINITY : threshold) : threshold;
  const candidates: { hit: Hit; margin: number }[] = [];
  for (const hit of hits.slice(0, o.k)) {
    if (hit.score < floor || marginOf(hit.score, own, Number.NEGATIVE_INFINITY) < o.margin) continue;
    const v = (await store.getVectors([hit.id])).get(hit.id);
    if (!v) continue;
    const m = marginOf(hit.score, own, await background(store, v, depth, [hit.id])); // as in the graph: the query item counts
    if (m >= o.margin) candidates.push({ hit, margin: m });
  }

  const matches: DuplicateMatch[] = [];
  if (!o.verify) {
    for (const { hit, margin } of candidates) matches.push({ id: hit.id, path: hit.path, score: hit.score, margin, verified: null });
  } else if (candidates.length > 0) {
    const verifier = new PairVerifier(o.verifyOptions, maxPixels);
    const stored = 'id' in query ? await store.get(query.id) : undefined;
    const features = bytes ? await PairVerifier.featuresOf(bytes, maxPixels).catch(() => null) : null;
    for (const { hit, margin } of candidates) {
      const item = await store.get(hit.id);
      if (!item) continue;
      const verdict = stored ? await verifier.verify(stored, item) : features ? await verifier.verifyQuery(features, item) : null;
      const byScores = hit.score >= threshold && margin >= o.scoreMargin;
      if (verdict ? verdict.match : byScores) {
        matches.push({ id: hit.id, path: hit.path, score: hit.score, margin, verified: verdict?.match && verdict.how !== 'none' ? verdict.how : null });
      }
    }
  }
  return { duplicate: matches.length > 0, matches, threshold, ms: Math.round(performance.now() - t0) };
}

/** The vector of the image to check: embedded from its bytes, or a stored item's (which is then left out). */
async function queryVector(
  store: StoreCollection,
  getEmbedder: () => Promise<Embedder>,
  bytes: Uint8Array | undefined,
  id: string | undefined,
): Promise<{ vector: Float32Array; excludeIds: string[] }> {
  if (bytes) {
    const [v] = await (await getEmbedder()).embedImages([bytes]);
    return { vector: v!, excludeIds: [] };
  }
  const v = id === undefined ? undefined : await store.getVector(id);
  if (!v) throw createError('ITEM_NOT_FOUND', `No item with id "${id}" in collection "${store.spec.name}".`, { id });
  return { vector: v, excludeIds: [id!] };
}

async function readQuery(p: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(p);
  } catch (e) {
    throw createError('FILE_NOT_FOUND', `Cannot read the image to check, ${p}: ${(e as NodeJS.ErrnoException).code ?? e}`, { path: p });
  }
}
