/** The collection map's shapes: options, points, clusters, the result (shared by the library, the CLI and HTTP). */
import type { MetadataValue } from '../store/types.js';

/** How the 2-D layout is made: `umap` (neighbourhoods kept; up to `UMAP_MAX_POINTS`), `pca` (linear, any size). */
export type MapMethod = 'umap' | 'pca';

/** What the map is computing now (`reading`: the vectors; `projecting`: PCA; `neighbours`, `layout`: UMAP). */
export type MapPhase = 'reading' | 'projecting' | 'neighbours' | 'layout' | 'clusters' | 'labels';

export interface MapProgress {
  readonly phase: MapPhase;
  readonly done: number;
  readonly total: number;
}

export interface MapOptions {
  /** `auto` (default): UMAP up to `UMAP_MAX_POINTS` items, PCA beyond. */
  readonly method?: MapMethod | 'auto';
  /** Number of k-means clusters, or `auto` (default): about √(n/2), at most `MAX_AUTO_CLUSTERS`. */
  readonly clusters?: number | 'auto';
  /** Seed of every random choice (UMAP, k-means++): the same seed and collection give the same map. Default 42. */
  readonly seed?: number;
  /** Representative items per cluster, nearest to its centre first (default 4, at most 16). */
  readonly representatives?: number;
  /**
   * Zero-shot words for each cluster from a small built-in vocabulary (colours, common objects, scenes). Only for
   * collections whose model embeds text (CLIP); default true there. Needs the model.
   */
  readonly labels?: boolean;
  /** UMAP: neighbours per point (default 15, 2–100). */
  readonly neighbors?: number;
  /** UMAP: how tightly points may pack (default 0.1, 0–1). */
  readonly minDist?: number;
  /**
   * Also return these metadata values of every point (at most 8 keys; read at call time, not cached): for colouring
   * the map by a key.
   */
  readonly metadataKeys?: readonly string[];
  /** Recompute even when a map of this collection state is cached. */
  readonly refresh?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: MapProgress) => void;
}

/** One item on the map. `x` and `y` lie in [0, 1] (the layout scaled to fit, aspect kept). */
export interface MapPoint {
  readonly id: string;
  readonly path: string | null;
  readonly x: number;
  readonly y: number;
  /** Index into `clusters`. */
  readonly cluster: number;
  /** The values of `MapOptions.metadataKeys` (missing or non-scalar values are null). */
  readonly metadata?: Readonly<Record<string, MetadataValue>>;
}

export interface MapCluster {
  readonly id: number;
  readonly size: number;
  /** Mean position of the cluster's points on the map. */
  readonly x: number;
  readonly y: number;
  /** Item ids nearest to the cluster's centre (in the embedding space), nearest first. */
  readonly representatives: readonly string[];
  /** Zero-shot words (CLIP collections), best first; absent when the model cannot embed text or labels are off. */
  readonly labels?: readonly string[];
}

export interface CollectionMap {
  readonly collection: string;
  /** Items on the map. */
  readonly items: number;
  readonly method: MapMethod;
  readonly seed: number;
  /** The store's write generation the map was computed at (a later write makes a new map). */
  readonly generation: number;
  readonly computedAt: string;
  /** Time the computation took. */
  readonly ms: number;
  /** Served from the cache (memory or disk) rather than computed by this call. */
  readonly cached: boolean;
  readonly points: readonly MapPoint[];
  readonly clusters: readonly MapCluster[];
}
