import type { EmbedderSpec } from '../embed/types.js';

export type Metric = 'cosine';
/** How the search index holds vectors in memory (the store always keeps float32 for exact re-scoring). */
export type VectorType = 'float32' | 'float16' | 'int8';
export type MetadataValue = string | number | boolean | null;
export type Metadata = Record<string, unknown>;

/** Search index of a collection: exact (`flat`) or an HNSW graph. Can be changed later (`reindex`). */
export type IndexSpec =
  | { readonly type: 'flat'; /** scan random projections to this many dimensions, then re-score exactly */ readonly projection?: number }
  | { readonly type: 'hnsw'; readonly m: number; readonly efConstruction: number; readonly ef: number }
  | { readonly type: 'ivf'; readonly nlist: number; readonly nprobe: number };

/** How a collection was built. Fixed at creation (but for `index`); every insert and query is checked against it. */
export interface CollectionSpec {
  readonly name: string;
  readonly embedder: EmbedderSpec;
  readonly dimension: number;
  readonly metric: Metric;
  readonly vectorType: VectorType;
  readonly createdAt: string;
  /** Defaults to `{ type: 'flat' }`. */
  readonly index?: IndexSpec;
}

export interface ItemInput {
  /** Stable id, unique within the collection. Upserting an existing id replaces it. */
  readonly id: string;
  readonly path?: string | null;
  readonly contentHash?: string | null;
  readonly size?: number | null;
  readonly mtimeMs?: number | null;
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
export interface FileState {
  readonly id: string;
  readonly path: string;
  readonly size: number | null;
  readonly mtimeMs: number | null;
  readonly contentHash: string | null;
}

export interface Hit {
  readonly id: string;
  readonly path: string | null;
  readonly score: number;
  readonly metadata: Metadata;
}

export interface VectorSearchOptions {
  readonly k: number;
  /** Drop hits scoring below this. */
  readonly minScore?: number;
  /** Metadata equality filter: every key must equal its value (compared as text). */
  readonly where?: Readonly<Record<string, MetadataValue>>;
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
  /** float16/int8 collections: re-score the best candidates with the stored float32 vectors (default true). */
  readonly rescore?: boolean;
}

export interface UpsertResult {
  readonly added: number;
  readonly updated: number;
}

/** One collection in a store: records and their vectors. All writes of one call are atomic. */
export interface StoreCollection {
  readonly spec: CollectionSpec;
  upsert(items: readonly ItemInput[]): Promise<UpsertResult>;
  /** Update size/mtime of files whose bytes did not change (no re-embedding). */
  touchFiles(states: readonly { id: string; size: number; mtimeMs: number }[]): Promise<void>;
  delete(ids: readonly string[]): Promise<number>;
  get(id: string): Promise<Item | undefined>;
  getVector(id: string): Promise<Float32Array | undefined>;
  count(): Promise<number>;
  fileStates(): Promise<Map<string, FileState>>;
  search(query: Float32Array, opts: VectorSearchOptions): Promise<Hit[]>;
  /** Change the search index (and optionally the in-memory vector type) and rebuild it from the stored vectors. */
  setIndex(index: IndexSpec, vectorType?: VectorType): Promise<void>;
  /** Ids of up to `n` items, spread evenly over the collection (for sampling). */
  sampleIds(n: number): Promise<string[]>;
}

/** A place collections live: the embedded directory store, or (later) PostgreSQL. */
export interface VectorStore {
  readonly location: string;
  listCollections(): Promise<CollectionSpec[]>;
  createCollection(spec: Omit<CollectionSpec, 'createdAt'>): Promise<StoreCollection>;
  /** Throws `COLLECTION_NOT_FOUND`. */
  getCollection(name: string): Promise<StoreCollection>;
  hasCollection(name: string): Promise<boolean>;
  dropCollection(name: string): Promise<boolean>;
  close(): Promise<void>;
}
