import { assertCompatible, loadEmbedder, loadEmbedderForSpec, type EmbedderOptions } from './embed/registry.js';
import type { Embedder } from './embed/types.js';
import type { Config } from './config.js';
import { createError } from './errors.js';
import { validateMetadata } from './schema.js';
import type { IndexOptions, IndexReport } from './ingest/folder.js';
import type { AddImageInput, AddImagesOptions, AddImagesResult } from './ingest/uploads.js';
import type { UploadStorage } from './ingest/upload-storage.js';
import path from 'node:path';
import type { FolderWatcher, SyncOptions, SyncReport, WatchOptions } from './ingest/watch.js';
import { searchCollection, type Query, type SearchHit, type SearchOptions } from './search/search.js';
import { bytesPerVector } from './store/spec.js';
import { TiledStore } from './store/tiled.js';
import { TunedStore } from './tune/store.js';
import { describeTuning, relearnIfGrown, tunable, tuneCollection, type TuneOptions, type TuningInfo } from './tune/tune.js';
import type { CollectionSpec, FileState, Hit, IndexSpec, Item, Metadata, MetadataSummary, MetadataSummaryOptions, StoreCollection, VectorType } from './store/types.js';

export type { AddImageInput, AddImagesOptions, AddImagesResult };

export interface CollectionInfo {
  readonly collection: string;
  readonly count: number;
  readonly model: string;
  readonly embedder: string;
  readonly dimension: number;
  readonly metric: string;
  readonly vectorType: string;
  readonly modalities: readonly string[];
  readonly createdAt: string;
  readonly index: IndexSpec;
  /** Memory the search index uses per vector (vector data only). */
  readonly bytesPerVector: number;
  /** Tile grids of a tiled collection (region search), or null. */
  readonly tiles: readonly string[] | null;
  /** Vectors kept per image: 1, plus one per tile. */
  readonly vectorsPerImage: number;
  /** Index memory per image (all its vectors). */
  readonly bytesPerImage: number;
  /** Whether hits carry a calibrated `confidence` (`lookalike tune --calibrate`; `minConfidence` works). */
  readonly calibrated: boolean;
}

export interface IndexCheckResult {
  readonly index: IndexSpec;
  readonly sample: number;
  readonly k: number;
  /** Mean share of the exact top-k that the index returned. */
  readonly recallAtK: number;
  readonly indexMsPerQuery: number;
  readonly exactMsPerQuery: number;
}

/** The metadata a run adds to every item (and the label key) must be valid metadata. */
function checkRunMetadata(opts: Partial<Pick<IndexOptions, 'metadata' | 'folderLabelKey'>>): void {
  if (opts.metadata !== undefined || opts.folderLabelKey !== undefined) {
    validateMetadata({ ...(opts.metadata ?? {}), ...(opts.folderLabelKey !== undefined ? { [opts.folderLabelKey]: '' } : {}) }, 'metadata');
  }
}

/** A collection with its embedder: index, search, inspect. Get one from `LookalikeDatabase`. */
export class Collection {
  #embedder: Promise<Embedder> | undefined;
  #wrap: ((e: Embedder) => Embedder) | undefined;
  #wrapped: { of: Promise<Embedder>; wrapped: Promise<Embedder> } | undefined;
  readonly #store: StoreCollection;
  readonly #uploads: UploadStorage;

  /** @internal — use `LookalikeDatabase.collection` / `openCollection` / `createCollection`. */
  constructor(
    store: StoreCollection,
    readonly config: Config,
    uploads: UploadStorage,
    embedder?: Embedder,
  ) {
    this.#store = store;
    this.#uploads = uploads;
    if (embedder) this.#embedder = Promise.resolve(embedder);
  }

  get name(): string {
    return this.#store.spec.name;
  }
  get spec(): CollectionSpec {
    return this.#store.spec;
  }

  /** The collection's embedder (loaded once, checked against the spec), seen through `wrapEmbedder`'s wrapper if set. */
  embedder(): Promise<Embedder> {
    this.#embedder ??= loadEmbedderForSpec(this.spec.embedder, this.config);
    const wrap = this.#wrap;
    if (!wrap) return this.#embedder;
    const inner = this.#embedder;
    if (this.#wrapped?.of !== inner) this.#wrapped = { of: inner, wrapped: inner.then(wrap) };
    return this.#wrapped.wrapped;
  }

  /**
   * Every later `embedder()` (searches, uploads, ingest through this object) answers `wrap(model)`, made once per
   * loaded model — the HTTP server's micro-batching (`embed/batcher.ts`). The collection still owns the model and
   * disposes it on close.
   */
  wrapEmbedder(wrap: (e: Embedder) => Embedder): void {
    this.#wrap = wrap;
    this.#wrapped = undefined;
  }

  /** Load the embedder now (and run the text tower once for image+text models), so the first query is not slow. */
  async warmUp(): Promise<void> {
    const e = await this.embedder();
    if (e.embedTexts) await e.embedTexts(['warm-up']);
  }

  /** Check that `model` is this collection's model and make it the embedder. */
  async useModel(model: string, opts: EmbedderOptions = {}): Promise<void> {
    const e = await loadEmbedder(model, this.config, opts);
    try {
      assertCompatible(this.spec.embedder, e.spec, this.name);
    } catch (err) {
      await e.dispose();
      throw err;
    }
    const old = this.#embedder;
    this.#embedder = Promise.resolve(e);
    if (old) await (await old).dispose();
  }

  /** Index every image under `folder`: new files added, changed ones updated, unchanged ones skipped unread. */
  async indexFolder(folder: string, opts: Partial<IndexOptions> = {}): Promise<IndexReport> {
    checkRunMetadata(opts);
    const { indexFolder } = await import('./ingest/folder.js'); // ingest code (sharp, exifr…) loads when it is used
    return this.#relearnAfter(await indexFolder(this.#store, await this.embedder(), folder, { ...this.ingestDefaults(), ...opts }));
  }

  /**
   * Index exactly these files (absolute paths), with the same change detection as `indexFolder` (queue workers use
   * it for their share of a folder). Nothing is pruned.
   */
  async indexFiles(paths: readonly string[], opts: Partial<Omit<IndexOptions, 'prune' | 'exclude' | 'metadataFile'>> = {}): Promise<IndexReport> {
    checkRunMetadata(opts);
    const { ingestFiles } = await import('./ingest/folder.js');
    return this.#relearnAfter(await ingestFiles(this.#store, await this.embedder(), paths, { ...this.ingestDefaults(), ...opts }));
  }

  /**
   * Bring the collection in step with `folder` once: new files indexed, changed ones re-embedded, deleted ones
   * removed, moved ones kept (same content: the path is updated, nothing re-embedded). A missing or empty folder
   * removes nothing (an unmounted drive); the report says so.
   */
  async syncFolder(folder: string, opts: Partial<SyncOptions> = {}): Promise<SyncReport> {
    checkRunMetadata(opts);
    const { syncFolder } = await import('./ingest/watch.js');
    return this.#relearnAfter(await syncFolder(this.#store, () => this.embedder(), folder, { ...this.ingestDefaults(), ...opts }));
  }

  /**
   * Keep the collection in sync with `folder` until the watcher is closed: a catch-up `syncFolder` at start, then
   * one sync per burst of file-system events (debounced). See `WatchOptions`.
   */
  watch(folder: string, opts: Partial<WatchOptions> = {}): FolderWatcher {
    checkRunMetadata(opts);
    const watcher = import('./ingest/watch.js').then(({ watchFolder }) =>
      watchFolder(this.#store, () => this.embedder(), folder, { ...this.ingestDefaults(), ...opts, afterSync: (r) => this.#relearnAfter(r) }),
    );
    const ready = watcher.then((w) => w.ready);
    ready.catch(() => {}); // as the watcher's own `ready`: failures reach `onError`; awaiting `ready` is optional
    return { ready, idle: async () => (await watcher).idle(), close: async () => (await watcher).close() };
  }

  /** After a write: re-learn the tuning if the collection has outgrown it (`TuneOptions.relearnGrowth`). */
  async #relearnAfter<R extends { added: number }>(report: R): Promise<R & { retuned?: boolean }> {
    if (report.added === 0) return report;
    return (await relearnIfGrown(this.#store)) ? { ...report, retuned: true } : report;
  }

  private ingestDefaults(): IndexOptions {
    return { batchSize: this.config.batchSize, decodeConcurrency: this.config.decodeConcurrency, maxFileBytes: this.config.maxFileBytes };
  }

  /**
   * Add images given as bytes (uploads, streams). Each is embedded and upserted; the id defaults to the content
   * hash. With `keepOriginals` the bytes are kept in the database's upload storage (the item's `path` points there;
   * deleted with the item). A bad image is reported, not thrown. See `AddImagesOptions.onConflict` for re-adds.
   */
  async addImages(images: readonly AddImageInput[], opts: AddImagesOptions = {}): Promise<AddImagesResult> {
    const { addUploads } = await import('./ingest/uploads.js');
    const result = await addUploads(this.#store, await this.embedder(), this.#uploads, images, {
      maxFileBytes: this.config.maxFileBytes,
      batchSize: this.config.batchSize,
      ...opts,
    });
    if (result.added.length > result.updated) await relearnIfGrown(this.#store);
    return result;
  }

  /**
   * Search with one term (image, text, id, vector; an image or id may carry a `crop`) or a compositional query
   * (`{positive, negative, strategy}`). With `collapse`, near-duplicates fold into the best-ranked hit.
   */
  async search(query: Query, opts: SearchOptions = {}): Promise<SearchHit[]> {
    return searchCollection(this.#store, () => this.embedder(), query, opts, (p) => this.imageOf({ path: p }));
  }

  async get(id: string): Promise<Item | undefined> {
    return this.#store.get(id);
  }

  /**
   * Overlay keys on stored items' metadata without re-embedding them (item id → keys; missing ids are passed over).
   * Each value must be valid metadata (INVALID_METADATA before anything is written); an item whose merged metadata
   * would be over the limits is left as it was and listed in `skipped`. `updated`: how many items changed.
   */
  async mergeMetadata(updates: ReadonlyMap<string, Metadata>): Promise<{ updated: number; skipped: { id: string; problem: string }[] }> {
    for (const [id, m] of updates) validateMetadata(m, `metadata of ${id}`);
    const { mergeStoredMetadata } = await import('./ingest/sidecar.js');
    const r = await mergeStoredMetadata(this.#store, updates);
    return { updated: r.updated, skipped: r.problems.map((p) => ({ id: p.id, problem: p.problem })) };
  }

  /**
   * Where an item's image is: its file path, or — for an upload whose original the store keeps in the database
   * (PostgreSQL) — its bytes. Undefined when the item has no image or its kept original is gone.
   */
  async imageOf(item: Pick<Item, 'path'>): Promise<string | Uint8Array | undefined> {
    if (!item.path) return undefined;
    if (path.isAbsolute(item.path)) return item.path;
    return this.#uploads.read(this.spec, item.path);
  }

  /** The stored float32 vector of an item. */
  async vector(id: string): Promise<Float32Array | undefined> {
    return this.#store.getVector(id);
  }

  /** Every item that came from a file: id, path, size, mtime, content hash (in no particular order). */
  async files(): Promise<FileState[]> {
    return [...(await this.#store.fileStates()).values()];
  }

  /**
   * Learn and store a transform (PCA-whitening; LDA from labelled items) and/or calibrated scores: every search uses
   * them from then on. Re-learning replaces them; `{ reset: true }` removes them. See docs/tuning.md.
   */
  async tune(opts: TuneOptions): Promise<TuningInfo> {
    return tuneCollection(tunable(this.#store), opts);
  }

  /** The tuning the collection has (transform, calibration), if any. */
  async tuning(): Promise<TuningInfo> {
    return describeTuning(this.#store);
  }

  /** Change the search index (`flat`, `hnsw`, `ivf` with their parameters) and rebuild it from the stored vectors. */
  async setIndex(index: IndexSpec, vectorType?: VectorType): Promise<void> {
    await this.#store.setIndex(index, vectorType);
  }

  /**
   * How well the current index agrees with exact search: `sample` stored vectors (spread over the collection)
   * query both; recall@k = share of the exact top k (query excluded) that the index returns.
   */
  async indexCheck(sample = 200, k = 10, knobs: { ef?: number; nprobe?: number } = {}): Promise<IndexCheckResult> {
    const ids = await this.#store.sampleIds(sample);
    let recall = 0;
    let indexMs = 0;
    let exactMs = 0;
    for (const id of ids) {
      const v = (await this.#store.getVector(id))!;
      let t0 = performance.now();
      const approx = await this.#store.search(v, { k, excludeIds: [id], includeMetadata: false, ...knobs });
      indexMs += performance.now() - t0;
      t0 = performance.now();
      const exact = await this.#store.search(v, { k, excludeIds: [id], includeMetadata: false, exact: true });
      exactMs += performance.now() - t0;
      const got = new Set(approx.map((h) => h.id));
      recall += exact.length === 0 ? 1 : exact.filter((h) => got.has(h.id)).length / exact.length;
    }
    const n = Math.max(1, ids.length);
    return {
      index: this.spec.index ?? { type: 'flat' },
      sample: ids.length,
      k,
      recallAtK: recall / n,
      indexMsPerQuery: indexMs / n,
      exactMsPerQuery: exactMs / n,
    };
  }

  /**
   * Groups of near-duplicate images, each with a suggested keeper (most pixels, then largest file, then oldest) and
   * the others with their scores; nothing is deleted. Candidates come from the collection's own index (k nearest
   * neighbours per item). See `FindDuplicatesOptions` (threshold or `auto`, margin, `verify`) and docs/duplicates.md.
   */
  async findDuplicates(
    opts: import('./duplicates/types.js').FindDuplicatesOptions & { offset?: number; limit?: number } = {},
  ): Promise<import('./duplicates/types.js').DuplicatesResult> {
    const { findDuplicates } = await import('./duplicates/find.js');
    return findDuplicates(this.#store, opts, this.config.maxPixels);
  }

  /**
   * Is this image (a file path or bytes, or a stored item `{ id }`) already in the collection? Embeds it, looks it up in
   * the index and applies the rule of `findDuplicates` to its nearest items.
   */
  async checkDuplicates(
    image: string | Uint8Array | { readonly id: string },
    opts: import('./duplicates/types.js').CheckDuplicateOptions = {},
  ): Promise<import('./duplicates/types.js').CheckDuplicateResult> {
    const { checkDuplicate } = await import('./duplicates/check.js');
    const query = typeof image === 'string' || image instanceof Uint8Array ? { image } : { id: image.id };
    return checkDuplicate(this.#store, () => this.embedder(), query, opts, this.config.maxPixels);
  }

  /**
   * A map of the collection: every item placed in 2-D (UMAP up to 50,000 items, PCA beyond), k-means clusters with
   * their representative items and, for models that embed text (CLIP), zero-shot words. Deterministic for a seed;
   * cached per collection state (in memory and under `Config.cacheDir`/maps). See `MapOptions` and docs/map.md.
   */
  async map(opts: import('./map/types.js').MapOptions = {}): Promise<import('./map/types.js').CollectionMap> {
    const { collectionMap } = await import('./map/map.js');
    const { join } = await import('node:path');
    return collectionMap({ store: this.#store, embedder: () => this.embedder(), cacheDir: join(this.config.cacheDir, 'maps') }, opts);
  }

  /** Delete items (and the originals kept for uploaded ones). Returns how many existed. */
  async delete(ids: readonly string[]): Promise<number> {
    const items = (await Promise.all(ids.map((id) => this.#store.get(id)))).filter((i): i is Item => i !== undefined);
    const n = await this.#store.delete(ids);
    await this.#uploads.release(this.spec, items.map((i) => i.path), async (paths) => new Set((await this.#store.fileStates(paths)).keys()));
    return n;
  }

  async count(): Promise<number> {
    return this.#store.count();
  }

  /**
   * What the collection's metadata looks like, for building filters: its top-level keys with string, number or
   * boolean values (most common keys first), each with its most common values as text (the way `where` compares
   * them), and the folder every item's path starts with.
   */
  async metadataSummary(opts: MetadataSummaryOptions = {}): Promise<MetadataSummary> {
    for (const f of ['maxKeys', 'maxValues'] as const) {
      const v = opts[f];
      if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 1000)) {
        throw createError('INVALID_ARGUMENT', `${f} must be an integer from 1 to 1000 (got ${v}).`, { field: f });
      }
    }
    return this.#store.metadataSummary(opts);
  }

  async info(): Promise<CollectionInfo> {
    const s = this.spec;
    const per = 1 + (this.#store instanceof TiledStore ? this.#store.boxes.length : 0);
    return {
      collection: s.name,
      count: await this.#store.count(),
      model: s.embedder.model,
      embedder: s.embedder.id,
      dimension: s.dimension,
      metric: s.metric,
      vectorType: s.vectorType,
      modalities: s.embedder.modalities,
      createdAt: s.createdAt,
      index: s.index ?? { type: 'flat' },
      bytesPerVector: bytesPerVector(s),
      tiles: s.tiles?.length ? s.tiles : null,
      calibrated: this.#store instanceof TunedStore && this.#store.companion?.tuning.calibration !== undefined,
      vectorsPerImage: per,
      bytesPerImage: per * bytesPerVector(s),
    };
  }

  async close(): Promise<void> {
    if (this.#embedder) await (await this.#embedder.catch(() => undefined))?.dispose();
    this.#embedder = undefined;
  }
}
