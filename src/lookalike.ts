import fs from 'node:fs/promises';
import { configureSearchThreads } from './ann/scan-pool.js';
import { resolveConfig, type Config } from './config.js';
export { DEFAULT_MODEL } from './config.js';
import { Collection } from './collection.js';
import { loadEmbedder, type EmbedderOptions } from './embed/registry.js';
import type { Embedder } from './embed/types.js';
import { createError } from './errors.js';
import { FolderUploadStorage } from './ingest/upload-storage.js';
import { checkCapabilities, validateCollectionName, withIndexDefaults } from './store/spec.js';
import { openStore } from './store/registry.js';
import { isTilesCollection, parseTiles, TiledStore, tilesCollectionName } from './store/tiled.js';
import { openTuned, tuneCollectionNames } from './tune/store.js';
import type { BrokenCollection, CollectionSpec, IndexSpec, StoreCapabilities, StoreCollection, UploadStorage, VectorStore, VectorType } from './store/types.js';

export { Collection };
export type { CollectionInfo, IndexCheckResult, AddImageInput, AddImagesOptions, AddImagesResult } from './collection.js';

export interface CreateCollectionOptions extends EmbedderOptions {
  /** Registry id, Hugging Face id or model folder. */
  readonly model: string;
  /** For embedders that learn from the collection (`bovw-orb`): a folder whose images they learn from. */
  readonly trainingFolder?: string;
  /** Search index (default exact `flat`); missing parameters take the library's defaults. Change later with `setIndex`. */
  readonly index?: IndexSpec | { readonly type: IndexSpec['type'] };
  /** How the index holds vectors in memory (default float32); float16/int8 re-score with float32. */
  readonly vectorType?: VectorType;
  /**
   * Tile grids for region search (e.g. `["3x3@0.5"]`, `["2x2", "3x3"]`): each image also gets one vector per tile,
   * and an item scores by its best vector. Costs one more embedding and vector per tile. See `parseTiles`.
   */
  readonly tiles?: readonly string[];
}

export interface OpenOptions {
  /**
   * Create the store when it does not exist (default true). Read-only callers pass false and get
   * `STORE_NOT_FOUND` (naming the location) instead of a new empty store.
   */
  readonly create?: boolean;
}

/** At most this many images (an even spread over the folder) train a learning embedder. */
const TRAINING_IMAGES = 300;

/**
 * A lookalike database: a store plus the configuration used to load models. Open one with `openDatabase`.
 *
 * ```ts
 * const db = await openDatabase('./lookalike-db');
 * const photos = await db.collection('photos', { model: 'mobilenet-v1' });
 * await photos.indexFolder('./photos');
 * const hits = await photos.search({ image: 'query.jpg' }, { k: 10 });
 * ```
 */
export class LookalikeDatabase {
  readonly #store: VectorStore;
  readonly #uploads: UploadStorage;

  private constructor(
    store: VectorStore,
    readonly config: Config,
  ) {
    this.#store = store;
    this.#uploads = store.uploads ?? new FolderUploadStorage(store.uploadsDir ?? config.uploadsDir);
  }

  static async open(location: string, config: Partial<Config> = {}, opts: OpenOptions = {}): Promise<LookalikeDatabase> {
    const cfg = resolveConfig(config);
    configureSearchThreads(cfg.searchThreads);
    const store = await openStore(location, {
      create: opts.create ?? true,
      retry: { timeoutMs: cfg.storeRetryMs },
      ...(cfg.readReplicas.length ? { readReplicas: cfg.readReplicas } : {}),
      ...(cfg.shards.length ? { shards: cfg.shards } : {}),
    });
    return new LookalikeDatabase(store, cfg);
  }

  /** Where the store lives (a directory, or a database URL with the password hidden). */
  get location(): string {
    return this.#store.location;
  }

  /** What this store supports (index types, vector types, filters); create and setIndex requests are checked against it. */
  get capabilities(): StoreCapabilities {
    return this.#store.capabilities;
  }

  /** Throws `STORE_UNAVAILABLE` when the store cannot answer (a readiness probe). */
  async ping(): Promise<void> {
    await this.#store.ping();
  }

  /** The readable collections, by name. A collection whose stored definition is damaged is left out (see `listBrokenCollections`). */
  async listCollections(): Promise<CollectionSpec[]> {
    return (await this.#store.listCollections()).collections.filter((c) => !isTilesCollection(c.name) && !c.name.includes('#'));
  }

  /** Collections whose stored definition cannot be read; they can still be dropped. */
  async listBrokenCollections(): Promise<BrokenCollection[]> {
    return (await this.#store.listCollections()).broken;
  }

  async hasCollection(name: string): Promise<boolean> {
    return this.#store.hasCollection(name);
  }

  /** Open an existing collection. Its embedder is loaded on first use, from the spec it was built with. */
  async openCollection(name: string): Promise<Collection> {
    return new Collection(await this.#withTiles(await this.#store.getCollection(name)), this.config, this.#uploads);
  }

  /**
   * A tiled collection: the collection and its tiles as one (the tiles' collection is created when missing); any
   * other: the collection with the tuning learnt for it, if any (see tune/store.ts).
   */
  async #withTiles(sc: StoreCollection): Promise<StoreCollection> {
    const grids = sc.spec.tiles;
    if (!grids?.length) return openTuned(this.#store, sc); // tiled collections cannot be tuned
    const name = tilesCollectionName(sc.spec.name);
    const { name: _n, createdAt: _c, uid: _u, tiles: _t, ...rest } = sc.spec;
    const tiles = (await this.#store.hasCollection(name)) ? await this.#store.getCollection(name) : await this.#store.createCollection({ ...rest, name });
    return new TiledStore(sc, tiles, parseTiles(grids));
  }

  /** Create a collection for `model` (loads the model to learn its dimension). */
  async createCollection(name: string, opts: CreateCollectionOptions): Promise<Collection> {
    validateCollectionName(name);
    if (opts.tiles?.length) parseTiles(opts.tiles);
    const vectorType = opts.vectorType ?? 'float32';
    const index = withIndexDefaults(opts.index ?? { type: 'flat' });
    checkCapabilities(this.#store.capabilities, index, vectorType);
    if (await this.#store.hasCollection(name)) {
      throw createError('COLLECTION_EXISTS', `Collection "${name}" already exists.`, { name });
    }
    const embedder = await loadEmbedder(opts.model, this.config, opts);
    try {
      if (embedder.train && !embedder.trained) await trainOnFolder(embedder, opts);
      const sc = await this.#store.createCollection({
        name,
        embedder: embedder.spec,
        dimension: embedder.spec.dimension,
        metric: 'cosine',
        vectorType,
        index,
        ...(opts.tiles?.length ? { tiles: [...opts.tiles] } : {}),
      });
      return new Collection(await this.#withTiles(sc), this.config, this.#uploads, embedder);
    } catch (e) {
      await embedder.dispose();
      throw e;
    }
  }

  /**
   * Open `name`, creating it with `opts.model` if it does not exist. When it exists and a model is given, the
   * model must be the one the collection was built with (`EMBEDDER_MISMATCH` otherwise).
   */
  async collection(name: string, opts: Partial<CreateCollectionOptions> = {}): Promise<Collection> {
    if (!(await this.#store.hasCollection(name))) {
      if (!opts.model) await this.#store.getCollection(name); // throws COLLECTION_NOT_FOUND with the list of collections
      return this.createCollection(name, { ...opts, model: opts.model! });
    }
    const c = await this.openCollection(name);
    if (opts.model) await c.useModel(opts.model, opts);
    return c;
  }

  /** Delete a collection, its vectors, its derived index files and the originals kept for its uploads. */
  async dropCollection(name: string): Promise<boolean> {
    const spec = await this.#store.getCollection(name).then(
      (c) => c.spec,
      () => undefined,
    );
    const dropped = await this.#store.dropCollection(name);
    await this.#store.dropCollection(tilesCollectionName(name));
    for (const companion of tuneCollectionNames(name)) await this.#store.dropCollection(companion);
    if (spec) await this.#uploads.dropCollection(spec);
    return dropped;
  }

  async close(): Promise<void> {
    await this.#store.close();
  }
}

async function trainOnFolder(embedder: Embedder, opts: CreateCollectionOptions): Promise<void> {
  if (!opts.trainingFolder) {
    throw createError(
      'INVALID_ARGUMENT',
      `Model "${opts.model}" learns from the collection's images: give a training folder ` +
        '(the CLI uses the folder being indexed: `lookalike index <dir> --model ' + opts.model + '`).',
      { field: 'trainingFolder' },
    );
  }
  const { walkImages } = await import('./ingest/walk.js');
  const files = await walkImages(opts.trainingFolder);
  const step = Math.max(1, Math.floor(files.length / TRAINING_IMAGES));
  const sample = files.filter((_, i) => i % step === 0).slice(0, TRAINING_IMAGES);
  async function* read(): AsyncGenerator<Uint8Array> {
    for (const f of sample) {
      try {
        yield await fs.readFile(f.path);
      } catch {
        // unreadable files are reported by ingest
      }
    }
  }
  await embedder.train!(read());
}

export async function openDatabase(location: string, config: Partial<Config> = {}, opts: OpenOptions = {}): Promise<LookalikeDatabase> {
  return LookalikeDatabase.open(location, config, opts);
}
