import fs from 'node:fs/promises';
import { resolveConfig, type Config } from './config.js';
import { walkImages } from './ingest/walk.js';
import { assertCompatible, loadEmbedder, loadEmbedderForSpec, type EmbedderOptions } from './embed/registry.js';
import type { Embedder, PreparedImage } from './embed/types.js';
import { createError, reasonOf } from './errors.js';
import { contentHashOf } from './image/read.js';
import { indexFolder, type IndexOptions, type IndexReport } from './ingest/ingest.js';
import { searchCollection, type Query, type SearchOptions } from './search/search.js';
import { openStore } from './store/registry.js';
import { validateCollectionName } from './store/spec.js';
import type { CollectionSpec, Hit, IndexSpec, Item, Metadata, StoreCollection, VectorStore, VectorType } from './store/types.js';

export interface AddImageInput {
  readonly bytes: Uint8Array;
  /** Defaults to the first 20 hex digits of the content's sha256. */
  readonly id?: string;
  readonly path?: string;
  readonly metadata?: Metadata;
}

export interface AddImagesResult {
  readonly added: { id: string; path: string | null }[];
  /** How many of `added` replaced an existing record. */
  readonly updated: number;
  /** Images that could not be embedded, by their index in the input. */
  readonly failures: { index: number; error: string }[];
}

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
}

export interface CreateCollectionOptions extends EmbedderOptions {
  /** Registry id, Hugging Face id or model folder. */
  readonly model: string;
  /** For embedders that learn from the collection (`bovw-orb`): a folder whose images they learn from. */
  readonly trainingFolder?: string;
  /** Search index (default exact `flat`); can be changed later with `Collection.setIndex`. */
  readonly index?: IndexSpec;
  /** How the index holds vectors in memory (default float32); float16/int8 re-score with float32. */
  readonly vectorType?: VectorType;
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
  private constructor(
    readonly store: VectorStore,
    readonly config: Config,
  ) {}

  static async open(location: string, config: Partial<Config> = {}): Promise<LookalikeDatabase> {
    const cfg = resolveConfig(config);
    return new LookalikeDatabase(await openStore(location), cfg);
  }

  async listCollections(): Promise<CollectionSpec[]> {
    return this.store.listCollections();
  }

  /** Open an existing collection. Its embedder is loaded on first use, from the spec it was built with. */
  async openCollection(name: string): Promise<Collection> {
    return new Collection(await this.store.getCollection(name), this.config);
  }

  /** Create a collection for `model` (loads the model to learn its dimension). */
  async createCollection(name: string, opts: CreateCollectionOptions): Promise<Collection> {
    validateCollectionName(name);
    if (await this.store.hasCollection(name)) {
      throw createError('COLLECTION_EXISTS', `Collection "${name}" already exists in ${this.store.location}.`, { name });
    }
    const embedder = await loadEmbedder(opts.model, this.config, opts);
    try {
      if (embedder.train && !embedder.trained) await trainOnFolder(embedder, opts);
      const sc = await this.store.createCollection({
        name,
        embedder: embedder.spec,
        dimension: embedder.dimension,
        metric: 'cosine',
        vectorType: opts.vectorType ?? 'float32',
        ...(opts.index ? { index: opts.index } : {}),
      });
      return new Collection(sc, this.config, embedder);
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
    if (!(await this.store.hasCollection(name))) {
      if (!opts.model) {
        await this.store.getCollection(name); // throws COLLECTION_NOT_FOUND with the list of collections
      }
      return this.createCollection(name, { ...opts, model: opts.model! });
    }
    const c = await this.openCollection(name);
    if (opts.model) await c.useModel(opts.model, opts);
    return c;
  }

  async dropCollection(name: string): Promise<boolean> {
    return this.store.dropCollection(name);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** A collection with its embedder: index, search, inspect. */
export class Collection {
  private embedderPromise: Promise<Embedder> | undefined;

  constructor(
    readonly store: StoreCollection,
    readonly config: Config,
    embedder?: Embedder,
  ) {
    if (embedder) this.embedderPromise = Promise.resolve(embedder);
  }

  get name(): string {
    return this.store.spec.name;
  }
  get spec(): CollectionSpec {
    return this.store.spec;
  }

  /** The collection's embedder (loaded once, checked against the spec). */
  embedder(): Promise<Embedder> {
    this.embedderPromise ??= loadEmbedderForSpec(this.spec.embedder, this.config);
    return this.embedderPromise;
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
    const old = this.embedderPromise;
    this.embedderPromise = Promise.resolve(e);
    if (old) await (await old).dispose();
  }

  async indexFolder(folder: string, opts: Partial<IndexOptions> = {}): Promise<IndexReport> {
    const embedder = await this.embedder();
    return indexFolder(this.store, embedder, folder, {
      batchSize: this.config.batchSize,
      decodeConcurrency: this.config.decodeConcurrency,
      maxFileBytes: this.config.maxFileBytes,
      ...opts,
    });
  }

  /**
   * Add images given as bytes (uploads, streams). Each is embedded and upserted; the id defaults to the content
   * hash, so adding the same image twice keeps one record. A bad image is reported, not thrown.
   */
  async addImages(images: readonly AddImageInput[]): Promise<AddImagesResult> {
    const embedder = await this.embedder();
    type Prepared = { input: AddImageInput; id: string; image: PreparedImage; hash: string };
    const failures: { index: number; error: string }[] = [];
    const slots = await Promise.all(
      images.map(async (input, index): Promise<Prepared | undefined> => {
        try {
          const hash = contentHashOf(input.bytes);
          return { input, id: input.id ?? hash.slice(0, 20), image: await embedder.prepareImage(input.bytes), hash };
        } catch (e) {
          failures.push({ index, error: reasonOf(e) });
          return undefined;
        }
      }),
    );
    const prepared = slots.filter((p): p is Prepared => p !== undefined); // input order
    failures.sort((a, b) => a.index - b.index);
    if (prepared.length === 0) return { added: [], updated: 0, failures };
    const vectors = await embedder.embedPrepared(prepared.map((p) => p.image));
    const extra = embedder.vectorMetadata?.bind(embedder);
    const r = await this.store.upsert(
      prepared.map((p, i) => ({
        id: p.id,
        path: p.input.path ?? null,
        contentHash: p.hash,
        size: p.input.bytes.byteLength,
        metadata: { ...(p.input.metadata ?? {}), ...(extra ? extra(vectors[i]!) : {}) },
        vector: vectors[i]!,
      })),
    );
    return { added: prepared.map((p) => ({ id: p.id, path: p.input.path ?? null })), updated: r.updated, failures };
  }

  async search(query: Query, opts: SearchOptions = {}): Promise<Hit[]> {
    return searchCollection(this.store, () => this.embedder(), query, opts);
  }

  async get(id: string): Promise<Item | undefined> {
    return this.store.get(id);
  }

  /** Change the search index (`flat` or `hnsw` with its parameters) and rebuild it from the stored vectors. */
  async setIndex(index: IndexSpec, vectorType?: VectorType): Promise<void> {
    await this.store.setIndex(index, vectorType);
  }

  /**
   * How well the current index agrees with exact search: `sample` stored vectors (spread over the collection)
   * query both; recall@k = share of the exact top k (query excluded) that the index returns.
   */
  async indexCheck(sample = 200, k = 10, knobs: { ef?: number; nprobe?: number } = {}): Promise<IndexCheckResult> {
    const ids = await this.store.sampleIds(sample);
    let recall = 0;
    let indexMs = 0;
    let exactMs = 0;
    for (const id of ids) {
      const v = (await this.store.getVector(id))!;
      let t0 = performance.now();
      const approx = await this.store.search(v, { k, excludeIds: [id], includeMetadata: false, ...knobs });
      indexMs += performance.now() - t0;
      t0 = performance.now();
      const exact = await this.store.search(v, { k, excludeIds: [id], includeMetadata: false, exact: true });
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

  async delete(ids: readonly string[]): Promise<number> {
    return this.store.delete(ids);
  }

  async count(): Promise<number> {
    return this.store.count();
  }

  async info(): Promise<CollectionInfo> {
    const s = this.spec;
    return {
      collection: s.name,
      count: await this.store.count(),
      model: s.embedder.model,
      embedder: s.embedder.id,
      dimension: s.dimension,
      metric: s.metric,
      vectorType: s.vectorType,
      modalities: s.embedder.modalities,
      createdAt: s.createdAt,
      index: s.index ?? { type: 'flat' },
      bytesPerVector: s.dimension * (s.vectorType === 'float32' ? 4 : s.vectorType === 'float16' ? 2 : 1),
    };
  }

  async close(): Promise<void> {
    if (this.embedderPromise) await (await this.embedderPromise.catch(() => undefined))?.dispose();
    this.embedderPromise = undefined;
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

export async function openDatabase(location: string, config: Partial<Config> = {}): Promise<LookalikeDatabase> {
  return LookalikeDatabase.open(location, config);
}
