/**
 * A map of a collection: every item placed in 2-D, grouped into clusters with representative items and (CLIP) words.
 *
 * 1. The stored vectors are read in two passes (`scanVectors`): a sample (at most `PCA_SAMPLE`) fits a PCA, then
 *    every vector is reduced to `REDUCED_DIMS` coordinates; the full vectors are never all held in memory.
 * 2. Layout: UMAP on the reduced vectors (started from the PCA layout), or PCA's first two coordinates.
 * 3. Clusters: k-means on the UMAP layout (what the user sees; its neighbourhoods are sharper), or on the reduced
 *    vectors for PCA maps; representatives are the members nearest to their cluster's centre in the embedding;
 *    zero-shot words from `labels.ts` for models that embed text.
 * 4. Cached per collection state (`cache.ts`): a second call at the same store generation reads the cache.
 */
import { createError } from '../errors.js';
import type { Embedder } from '../embed/types.js';
import type { MetadataValue, StoreCollection } from '../store/types.js';
import { seededRandom } from '../util/random.js';
import { MapCache, mapKey } from './cache.js';
import { kmeans, nearestCentroids } from './kmeans.js';
import { embedVocabulary, pickLabels, wordShares } from './labels.js';
import { fitToUnitSquare, umapLayout } from './layout.js';
import { fitPca, project, unit } from './pca.js';
import type { CollectionMap, MapCluster, MapMethod, MapOptions, MapPoint } from './types.js';
import { Yielder } from './yielder.js';

/** `auto` uses UMAP up to this many items, PCA beyond (UMAP's neighbour graph and epochs grow with n). */
export const UMAP_MAX_POINTS = 50_000;
/** Vectors the PCA is fitted on. */
export const PCA_SAMPLE = 5_000;
/** Coordinates kept per vector for UMAP and k-means (fewer for very large collections, to bound memory). */
const REDUCED_DIMS = 48;
const REDUCED_DIMS_LARGE = 24;
/** k-means is fitted on at most this many points; the others join their nearest centre. */
const KMEANS_SAMPLE = 50_000;
/** `clusters: 'auto'`: about √(n/2), at most this many. */
export const MAX_AUTO_CLUSTERS = 36;
export const MAX_CLUSTERS = 256;
const MAX_REPRESENTATIVES = 16;
export const MAX_METADATA_KEYS = 8;
/** Members per cluster classified for zero-shot words. */
const LABEL_SAMPLE = 64;
/** Below this many items a map is a PCA (UMAP needs neighbourhoods). */
const UMAP_MIN_POINTS = 10;

interface Resolved {
  readonly method: MapMethod | 'auto';
  readonly clusters: number | 'auto';
  readonly seed: number;
  readonly representatives: number;
  readonly labels: boolean;
  readonly neighbors: number;
  readonly minDist: number;
  readonly metadataKeys: readonly string[];
}

const bad = (field: string, message: string) => createError('INVALID_ARGUMENT', message, { field });

function resolve(opts: MapOptions, textModel: boolean): Resolved {
  const method = opts.method ?? 'auto';
  if (!['auto', 'umap', 'pca'].includes(method)) throw bad('method', `method must be "auto", "umap" or "pca" (got "${String(method)}").`);
  const clusters = opts.clusters ?? 'auto';
  if (clusters !== 'auto' && (!Number.isInteger(clusters) || clusters < 1 || clusters > MAX_CLUSTERS)) {
    throw bad('clusters', `clusters must be "auto" or an integer from 1 to ${MAX_CLUSTERS} (got ${String(clusters)}).`);
  }
  const seed = opts.seed ?? 42;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw bad('seed', `seed must be an integer from 0 to 4294967295 (got ${String(seed)}).`);
  const representatives = opts.representatives ?? 4;
  if (!Number.isInteger(representatives) || representatives < 1 || representatives > MAX_REPRESENTATIVES) {
    throw bad('representatives', `representatives must be an integer from 1 to ${MAX_REPRESENTATIVES} (got ${String(representatives)}).`);
  }
  const neighbors = opts.neighbors ?? 15;
  if (!Number.isInteger(neighbors) || neighbors < 2 || neighbors > 100) throw bad('neighbors', `neighbors must be an integer from 2 to 100 (got ${String(neighbors)}).`);
  const minDist = opts.minDist ?? 0.1;
  if (!Number.isFinite(minDist) || minDist < 0 || minDist > 1) throw bad('minDist', `minDist must be a number from 0 to 1 (got ${String(minDist)}).`);
  if (opts.labels === true && !textModel) {
    throw createError('TEXT_NOT_SUPPORTED', "Cluster words need a model that embeds text (CLIP); this collection's model does not. Leave labels off.", { field: 'labels' });
  }
  const metadataKeys = [...new Set(opts.metadataKeys ?? [])];
  if (metadataKeys.length > MAX_METADATA_KEYS) throw bad('metadataKeys', `At most ${MAX_METADATA_KEYS} metadata keys per map (got ${metadataKeys.length}).`);
  for (const k of metadataKeys) if (typeof k !== 'string' || k.length === 0 || k.length > 128) throw bad('metadataKeys', 'Metadata keys are names of 1 to 128 characters.');
  return { method, clusters, seed, representatives, labels: opts.labels ?? textModel, neighbors, minDist, metadataKeys };
}

export interface MapSource {
  readonly store: StoreCollection;
  readonly embedder: () => Promise<Embedder>;
  /** Folder for map files (null: cache in memory only). */
  readonly cacheDir: string | null;
}

/** Maps being computed, by cache key and generation: concurrent callers share one computation. */
const inFlight = new Map<string, Promise<CollectionMap>>();

/** The map of a collection: cached for its current generation, else computed (see the file's comment). */
export async function collectionMap(src: MapSource, opts: MapOptions = {}): Promise<CollectionMap> {
  const spec = src.store.spec;
  const r = resolve(opts, spec.embedder.modalities.includes('text'));
  const [generation, count] = await Promise.all([src.store.generation(), src.store.count()]);
  if (r.method === 'umap' && count > UMAP_MAX_POINTS) {
    throw bad('method', `UMAP maps at most ${UMAP_MAX_POINTS.toLocaleString('en')} items; "${spec.name}" has ${count.toLocaleString('en')}. Use method "pca" (or "auto", which picks it).`);
  }
  const method: MapMethod = r.method === 'auto' ? (count <= UMAP_MAX_POINTS ? 'umap' : 'pca') : r.method;
  const shape = { method, clusters: r.clusters, seed: r.seed, representatives: r.representatives, labels: r.labels, neighbors: r.neighbors, minDist: r.minDist };
  const key = mapKey([spec.uid ?? '', spec.name, spec.createdAt], shape);
  const cache = new MapCache(src.cacheDir);
  if (!opts.refresh) {
    const hit = await cache.get(key, generation);
    if (hit) return withMetadata(src.store, { ...hit, cached: true }, r.metadataKeys);
  }
  const flightKey = `${key}@${generation}`;
  let job = opts.refresh ? undefined : inFlight.get(flightKey);
  if (!job) {
    job = compute(src, { ...r, method }, generation, opts).then(async (m) => {
      await cache.put(key, generation, m);
      return m;
    });
    inFlight.set(flightKey, job);
    const done = () => {
      if (inFlight.get(flightKey) === job) inFlight.delete(flightKey);
    };
    job.then(done, done);
  }
  return withMetadata(src.store, await job, r.metadataKeys);
}

/** The reduced vectors of every item (insertion order). */
interface Reduced {
  readonly ids: string[];
  readonly data: Float32Array;
  readonly dims: number;
}

async function reduce(store: StoreCollection, count: number, seed: number, y: Yielder, opts: MapOptions): Promise<Reduced> {
  const progress = (done: number) => opts.onProgress?.({ phase: 'reading', done, total: count });
  const step = Math.max(1, Math.ceil(count / PCA_SAMPLE));
  const sample: Float32Array[] = [];
  const sampleIds: string[] = [];
  let seen = 0;
  for await (const batch of store.scanVectors(1000)) {
    for (const v of batch) {
      if (seen % step === 0) {
        sample.push(unit(v.vector));
        sampleIds.push(v.id);
      }
      seen++;
    }
    progress(seen);
    await y.maybe();
  }
  const d = store.spec.dimension;
  const m = sample.length;
  if (m === 0) return { ids: [], data: new Float32Array(0), dims: 0 };
  const flat = new Float32Array(m * d);
  sample.forEach((v, i) => flat.set(v, i * d));
  opts.onProgress?.({ phase: 'projecting', done: 0, total: seen });
  const dims = seen > UMAP_MAX_POINTS ? REDUCED_DIMS_LARGE : REDUCED_DIMS;
  const pca = await fitPca(flat, m, d, dims, seededRandom(seed ^ 0x5ca1ab1e), y);
  if (step === 1) {
    // every vector is in the sample: no second pass
    const data = new Float32Array(m * pca.k);
    for (let i = 0; i < m; i++) project(pca, sample[i]!, data, i * pca.k);
    return { ids: sampleIds, data, dims: pca.k };
  }
  const ids: string[] = [];
  let data = new Float32Array(Math.max(1, seen) * pca.k);
  for await (const batch of store.scanVectors(1000)) {
    for (const v of batch) {
      if ((ids.length + 1) * pca.k > data.length) {
        const grown = new Float32Array(data.length * 2);
        grown.set(data);
        data = grown;
      }
      project(pca, unit(v.vector), data, ids.length * pca.k);
      ids.push(v.id);
    }
    opts.onProgress?.({ phase: 'projecting', done: ids.length, total: seen });
    await y.maybe();
  }
  return { ids, data: data.subarray(0, ids.length * pca.k), dims: pca.k };
}

async function compute(src: MapSource, r: Resolved & { method: MapMethod }, generation: number, opts: MapOptions): Promise<CollectionMap> {
  const t0 = performance.now();
  const store = src.store;
  const y = new Yielder(opts.signal);
  const count = await store.count();
  const paths = new Map<string, string>();
  for (const f of (await store.fileStates()).values()) paths.set(f.id, f.path);
  const red = await reduce(store, count, r.seed, y, opts);
  const n = red.ids.length;
  const dk = red.dims;
  const random = seededRandom(r.seed);
  const result = (method: MapMethod, points: MapPoint[], clusters: MapCluster[]): CollectionMap => ({
    collection: store.spec.name,
    items: points.length,
    method,
    seed: r.seed,
    generation,
    computedAt: new Date().toISOString(),
    ms: Math.round(performance.now() - t0),
    cached: false,
    points,
    clusters,
  });
  if (n === 0) return result(r.method, [], []);

  // layout: PCA's first two coordinates, refined by UMAP
  const pcaXY = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    pcaXY[2 * i] = dk > 0 ? red.data[i * dk]! : 0;
    pcaXY[2 * i + 1] = dk > 1 ? red.data[i * dk + 1]! : 0;
  }
  const method: MapMethod = r.method === 'umap' && n >= UMAP_MIN_POINTS ? 'umap' : 'pca';
  const xy =
    method === 'umap'
      ? await umapLayout(red.data, n, dk, pcaXY, { neighbors: r.neighbors, minDist: r.minDist, random, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) }, y)
      : pcaXY;
  const pos = fitToUnitSquare(xy, n);

  // clusters: k-means on what the map shows (UMAP: its 2-D layout, whose neighbourhoods are sharper than the raw
  // space's: purity 0.77–0.91 against 0.58 on the sample flowers), or on the reduced vectors for PCA maps
  const k = Math.min(n, r.clusters === 'auto' ? Math.max(1, Math.min(MAX_AUTO_CLUSTERS, Math.round(Math.sqrt(n / 2)))) : r.clusters);
  opts.onProgress?.({ phase: 'clusters', done: 0, total: n });
  const assignment = method === 'umap' ? await clusterLayout(Float32Array.from(pos), n, k, r.seed, y) : await clusterReduced(red, k, r.seed, y);
  opts.onProgress?.({ phase: 'clusters', done: n, total: n });

  // clusters ordered by size (largest first); members nearest to their cluster's centre in the embedding first
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    const list = members.get(c);
    if (list) list.push(i);
    else members.set(c, [i]);
  }
  const groups = [...members.values()].sort((a, b) => b.length - a.length || a[0]! - b[0]!);
  const clusterOf = new Int32Array(n);
  groups.forEach((g, c) => {
    for (const i of g) clusterOf[i] = c;
    const centre = new Float64Array(dk);
    for (const i of g) for (let j = 0; j < dk; j++) centre[j]! += red.data[i * dk + j]! / g.length;
    const dist = new Map(g.map((i) => [i, red.data.subarray(i * dk, (i + 1) * dk).reduce((s, v, j) => s + (v - centre[j]!) ** 2, 0)]));
    g.sort((a, b) => dist.get(a)! - dist.get(b)! || a - b);
  });
  const words = r.labels ? await clusterWords(src, red.ids, groups, y, opts) : undefined;
  const clusters: MapCluster[] = groups.map((g, c) => {
    let sx = 0;
    let sy = 0;
    for (const i of g) {
      sx += pos[2 * i]!;
      sy += pos[2 * i + 1]!;
    }
    return {
      id: c,
      size: g.length,
      x: Math.round((sx / g.length) * 1e5) / 1e5,
      y: Math.round((sy / g.length) * 1e5) / 1e5,
      representatives: g.slice(0, r.representatives).map((i) => red.ids[i]!),
      ...(words ? { labels: words[c]! } : {}),
    };
  });
  const points: MapPoint[] = red.ids.map((id, i) => ({ id, path: paths.get(id) ?? null, x: pos[2 * i]!, y: pos[2 * i + 1]!, cluster: clusterOf[i]! }));
  return result(method, points, clusters);
}

/** k-means restarts on the 2-D layout (cheap there): the lowest within-cluster sum of squares wins. */
const LAYOUT_RESTARTS = 5;

async function clusterLayout(xy: Float32Array, n: number, k: number, seed: number, y: Yielder): Promise<Int32Array> {
  const random = seededRandom(seed ^ 0x9e3779b9);
  let best: { assignment: Int32Array; cost: number } | undefined;
  for (let run = 0; run < LAYOUT_RESTARTS; run++) {
    const fit = await kmeans(xy, n, 2, k, random, y);
    const cost = fit.distance.reduce((s, d) => s + d, 0);
    if (!best || cost < best.cost) best = { assignment: fit.assignment, cost };
  }
  return best!.assignment;
}

/** k-means on the reduced vectors, fitted on an even sample when the collection is large. */
async function clusterReduced(red: Reduced, k: number, seed: number, y: Yielder): Promise<Int32Array> {
  const n = red.ids.length;
  const dk = red.dims;
  const random = seededRandom(seed ^ 0x9e3779b9);
  if (n <= KMEANS_SAMPLE) return (await kmeans(red.data, n, dk, k, random, y)).assignment;
  const step = n / KMEANS_SAMPLE;
  const sample = new Float32Array(KMEANS_SAMPLE * dk);
  for (let i = 0; i < KMEANS_SAMPLE; i++) sample.set(red.data.subarray(Math.floor(i * step) * dk, (Math.floor(i * step) + 1) * dk), i * dk);
  const fit = await kmeans(sample, KMEANS_SAMPLE, dk, k, random, y);
  const assignment = new Int32Array(n).fill(-1);
  await nearestCentroids(red.data, n, dk, fit.centroids, fit.k, assignment, new Float64Array(n), y);
  return assignment;
}

/** Zero-shot words per cluster (see labels.ts), or undefined when the model turns out not to embed text. */
async function clusterWords(src: MapSource, ids: readonly string[], groups: readonly number[][], y: Yielder, opts: MapOptions): Promise<string[][] | undefined> {
  const embedder = await src.embedder();
  if (!embedder.embedTexts) return undefined;
  opts.onProgress?.({ phase: 'labels', done: 0, total: groups.length });
  const vocab = await embedVocabulary((t) => embedder.embedTexts!(t));
  const shares: Float64Array[][] = [];
  for (const [c, g] of groups.entries()) {
    const step = Math.max(1, g.length / LABEL_SAMPLE);
    const picked = Array.from({ length: Math.min(g.length, LABEL_SAMPLE) }, (_, j) => ids[g[Math.floor(j * step)]!]!);
    const vectors = await src.store.getVectors(picked);
    shares.push(wordShares(vocab, [...vectors.values()]));
    opts.onProgress?.({ phase: 'labels', done: c + 1, total: groups.length });
    await y.maybe();
  }
  return pickLabels(
    vocab,
    shares,
    groups.map((g) => g.length),
  );
}

const scalar = (v: unknown): MetadataValue => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : null);

/** The map with the values of `keys` on every point (read now: metadata changes do not change the map). */
async function withMetadata(store: StoreCollection, map: CollectionMap, keys: readonly string[]): Promise<CollectionMap> {
  if (keys.length === 0) return map;
  const values = new Map<string, Record<string, MetadataValue>>();
  for await (const batch of store.scanItems(1000)) {
    for (const it of batch) values.set(it.id, Object.fromEntries(keys.map((k) => [k, scalar(it.metadata?.[k])])));
  }
  const none = Object.fromEntries(keys.map((k) => [k, null]));
  return { ...map, points: map.points.map((p) => ({ ...p, metadata: values.get(p.id) ?? none })) };
}
