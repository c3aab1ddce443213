import type { z } from 'zod';
import type { CollectionSpecSchema, EmbedderSpecSchema, IndexSpecSchema, StoreCapabilities, VectorTypeSchema } from './spec.js';

export type { StoreCapabilities };

export type Metric = 'cosine';
/** How the search index holds vectors in memory (the store always keeps float32 for exact re-scoring). */
export type VectorType = z.infer<typeof VectorTypeSchema>;
/** Search index of a collection: exact (`flat`), an HNSW graph or IVF lists. Can be changed later (`reindex`). */
export type IndexSpec = z.infer<typeof IndexSpecSchema>;
/** How a collection was built. Fixed at creation (but for `index`); every insert and query is checked against it. */
export type CollectionSpec = z.infer<typeof CollectionSpecSchema>;
export type StoredEmbedderSpec = z.infer<typeof EmbedderSpecSchema>;
export type MetadataValue = string | number | boolean | null;
export type Metadata = Record<string, unknown>;
/** Metadata filter (equality, ranges, in, exists, a geographic radius): see src/search/where.ts. */
import type { Where } from '../search/where.js';
export type { Where };

export interface ItemInput {
  /** Stable id, unique within the collection. Upserting an existing id replaces it. */
  readonly id: string;
  readonly path?: string | null;
  readonly contentHash?: string | null;
  readonly size?: number | null;
  readonly mtimeMs?: number | null;
  /** Pixel size of the image as displayed (after EXIF orientation). */
  readonly width?: number | null;
  readonly height?: number | null;
  readonly metadata?: Metadata;
  readonly vector: Float32Array;
}

export interface Item {
  readonly id: string;
  readonly path: string | null;
  readonly contentHash: string | null;
  readonly size: number | null;
  readonly mtimeMs: number | null;
  readonly width: number | null;
  readonly height: number | null;
  readonly metadata: Metadata;
  readonly updatedAt: string;
}

/** What ingest needs to decide whether a file changed, without reading it. */
/** One item's vector as read by `scanVectors`. */
export interface ScannedVector {
  readonly id: string;
  readonly vector: Float32Array;
}

export interface FileState {
  readonly id: string;
  readonly path: string;
  readonly size: number | null;
  readonly mtimeMs: number | null;
  readonly contentHash: string | null;
}

/** A region of an image as fractions of its width and height (EXIF orientation applied). */
export interface TileBox {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface Hit {
  readonly id: string;
  readonly path: string | null;
  readonly score: number;
  readonly metadata: Metadata;
  /** Tiled collections: the tile that matched best, when it scored above the whole image. */
  readonly tile?: TileBox;
}

export interface VectorSearchOptions {
  readonly k: number;
  /** Drop hits scoring below this. */
  readonly minScore?: number;
  /** Validated at the library boundary (keys are plain names). */
  readonly where?: Where;
  /** Ids never returned (e.g. the query item itself). */
  readonly excludeIds?: readonly string[];
  /** `false`: hits carry `{}` as metadata (saves reading it, e.g. for evaluation over whole rankings). */
  readonly includeMetadata?: boolean;
  /** HNSW candidate list size for this query (default: the index's `ef`). */
  readonly ef?: number;
  /** IVF lists scanned for this query (default: the index's `nprobe`). */
  readonly nprobe?: number;
  /** Scan every vector even when the collection has an approximate index. */
  readonly exact?: boolean;
  /** float16/int8/projected collections: re-score the best candidates with the stored float32 vectors (default true). */
  readonly rescore?: boolean;
  /** Skip this many of the best hits (paging: the store ranks `k + offset` and returns ranks offset+1 … offset+k). */
  readonly offset?: number;
}

/** How often one metadata value occurs (values as text, the way `where` compares them; booleans as true/false). */
export interface MetadataValueCount {
  readonly value: string;
  readonly count: number;
}

/** One top-level metadata key: how many items have a scalar value for it, how many distinct values, the most common. */
export interface MetadataKeySummary {
  readonly key: string;
  readonly items: number;
  readonly distinct: number;
  /** Most common first (ties by value); at most `maxValues`. */
  readonly values: readonly MetadataValueCount[];
}

/** What a collection's metadata looks like (for building filters): its top-level keys with scalar values. */
export interface MetadataSummary {
  /** Items in the collection. */
  readonly items: number;
  /** The longest folder (ending in `/`) every item's path starts with, or null (no paths, or none in common). */
  readonly pathPrefix: string | null;
  /** Keys by how many items have them (most first, ties by key); at most `maxKeys`. */
  readonly keys: readonly MetadataKeySummary[];
}

export interface MetadataSummaryOptions {
  /** Most keys listed (default 32). */
  readonly maxKeys?: number;
  /** Most values listed per key (default 20). */
  readonly maxValues?: number;
}

export interface UpsertResult {
  readonly added: number;
  readonly updated: number;
}

/**
 * One collection in a store: records and their vectors. All writes of one call are atomic, and bound to the
 * collection instance they were opened on: when it was dropped (or dropped and re-created under the same name)
 * meanwhile, writes fail with `COLLECTION_CHANGED`. Vectors of another length than the collection's dimension
 * are refused (`DIMENSION_MISMATCH`).
 */
export interface StoreCollection {
  readonly spec: CollectionSpec;
  upsert(items: readonly ItemInput[]): Promise<UpsertResult>;
  /** Update size/mtime of files whose bytes did not change (no re-embedding). */
  touchFiles(states: readonly { id: string; size: number; mtimeMs: number }[]): Promise<void>;
  delete(ids: readonly string[]): Promise<number>;
  get(id: string): Promise<Item | undefined>;
  getVector(id: string): Promise<Float32Array | undefined>;
  /** Stored float32 vectors of these ids (missing ids are left out). */
  getVectors(ids: readonly string[]): Promise<Map<string, Float32Array>>;
  /**
   * Every item's id and stored float32 vector, in batches of up to `batchSize`, in insertion order (keyset paging:
   * items added meanwhile may or may not be seen; each item is seen at most once).
   */
  scanVectors(batchSize?: number): AsyncGenerator<ScannedVector[]>;
  /** Every item as a full record (what `upsert` takes: copies between stores, exports), in batches, insertion order. */
  scanItems(batchSize?: number): AsyncGenerator<ItemInput[]>;
  count(): Promise<number>;
  /**
   * The collection's write counter: changes whenever vectors are written or removed (metadata-only touches of file
   * states leave it). Cheap; results derived from the vectors (maps, index files) are valid for one generation.
   */
  generation(): Promise<number>;
  /** File states by path: all of them, or only those of `paths`. */
  fileStates(paths?: readonly string[]): Promise<Map<string, FileState>>;
  search(query: Float32Array, opts: VectorSearchOptions): Promise<Hit[]>;
  /** Change the search index (and optionally the in-memory vector type) and rebuild it from the stored vectors. */
  setIndex(index: IndexSpec, vectorType?: VectorType): Promise<void>;
  /** Ids of up to `n` items, spread evenly over the collection (for sampling). */
  sampleIds(n: number): Promise<string[]>;
  /** Top-level metadata keys with string, number or boolean values, and their most common values. */
  metadataSummary(opts?: MetadataSummaryOptions): Promise<MetadataSummary>;
}

export interface BrokenCollection {
  readonly name: string;
  readonly error: string;
}

type UploadOwner = Pick<CollectionSpec, 'name' | 'uid' | 'createdAt'>;

/**
 * Where the originals of uploaded images are kept, so results can show them: a folder (embedded store, or
 * `Config.uploadsDir`), or the database itself (PostgreSQL: any number of servers share them). An item's `path`
 * names its kept original (a file path, or a `lookalike-upload:` URI for the database).
 */
export interface UploadStorage {
  /** Keep `bytes` (idempotent: the same content is kept once per collection) and return the path items store. */
  keep(owner: UploadOwner, bytes: Uint8Array, contentHash: string, ext: string): Promise<string>;
  /** Whether `path` is one of this collection's kept originals. */
  owns(owner: UploadOwner, path: string | null): path is string;
  /** The bytes of a kept original (undefined when it is not kept here or is gone). */
  read(owner: UploadOwner, path: string): Promise<Uint8Array | undefined>;
  /** Delete the kept originals among `paths` that no record still uses (`stillUsed` says which are). */
  release(owner: UploadOwner, paths: readonly (string | null)[], stillUsed: (paths: string[]) => Promise<ReadonlySet<string>>): Promise<void>;
  dropCollection(owner: UploadOwner): Promise<void>;
}

/** A place collections live: the embedded directory store, or PostgreSQL. */
export interface VectorStore {
  /** A directory, or a URL with the password hidden. */
  readonly location: string;
  readonly capabilities: StoreCapabilities;
  /** Where the originals of uploaded images are kept, when the store has a place for them (else `Config.uploadsDir`). */
  readonly uploadsDir?: string;
  /** The store's own upload storage (PostgreSQL keeps originals in the database), when it has one. */
  readonly uploads?: UploadStorage;
  /** Throws `STORE_UNAVAILABLE` when the store cannot answer. */
  ping(): Promise<void>;
  /** Readable collections by name, and those whose stored definition is damaged. */
  listCollections(): Promise<{ collections: CollectionSpec[]; broken: BrokenCollection[] }>;
  createCollection(spec: Omit<CollectionSpec, 'createdAt' | 'uid'>): Promise<StoreCollection>;
  /** Throws `COLLECTION_NOT_FOUND`. */
  getCollection(name: string): Promise<StoreCollection>;
  hasCollection(name: string): Promise<boolean>;
  /** Works on a collection whose definition is damaged too. */
  dropCollection(name: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** Create the store when missing (default true); otherwise `STORE_NOT_FOUND`. */
  readonly create?: boolean;
  /** How long transient errors of a server store are retried (connection reset, server restarting…). */
  readonly retry?: { readonly timeoutMs: number };
  /**
   * PostgreSQL: streaming replicas that answer searches (round-robin); writes and every other read go to the primary.
   * A replica's hits are confirmed on the primary, so an item deleted there is never returned (see docs/scale.md).
   */
  readonly readReplicas?: readonly string[];
  /**
   * PostgreSQL: shard servers (`postgres://user@host/db`, pgvector installed). New collections are hash-partitioned
   * over them by id with native partitioning and postgres_fdw foreign partitions; the store's URL is the coordinator
   * that every read and write goes through (see docs/scale.md, "Shards").
   */
  readonly shards?: readonly string[];
}
