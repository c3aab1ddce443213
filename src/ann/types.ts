/** A key (the store's row id) with its score: higher is better (cosine / inner product, or −L2²). */
export interface ScoredKey {
  readonly key: number;
  readonly score: number;
}

export interface IndexSearchParams {
  /** Keys never returned (e.g. the query item itself). */
  readonly exclude?: ReadonlySet<number> | undefined;
  /** HNSW: candidate list size for this query. */
  readonly ef?: number | undefined;
  /** IVF: lists scanned for this query. */
  readonly nprobe?: number | undefined;
}

/**
 * One interface for every search index (flat, HNSW, IVF): keyed by the store's integer row ids, kept in step with
 * the store's writes, searched with one signature. Indexes are derived data: the store stays the source of truth,
 * and a persistent index is saved with the store generation it reflects (see `DerivedFiles`).
 */
export interface VectorIndex {
  readonly size: number;
  upsert(key: number, vector: Float32Array): void;
  remove(key: number): void;
  /** The k best keys, best first (ties by smaller key). */
  search(query: Float32Array, k: number, params?: IndexSearchParams): ScoredKey[];
}
