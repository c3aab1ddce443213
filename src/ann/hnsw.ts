import { createRequire } from 'node:module';
import type { Index as UsearchIndex } from 'usearch';
import { loadNative } from '../util/native.js';
import type { DerivedFiles } from './files.js';
import type { IndexSearchParams, ScoredKey, VectorIndex } from './types.js';

export type HnswMetric = 'cos' | 'l2' | 'ip';
/**
 * How the graph stores its vectors (usearch's scalar kind): float32, float16 (half the bytes, same recall in our
 * measurements) or int8 (a quarter; scores are approximate — the store re-scores the top candidates from float32).
 */
export type HnswQuantization = 'f32' | 'f16' | 'i8';

export interface HnswParams {
  /** Graph connectivity M (links per node). */
  readonly m: number;
  /** Candidate list size while inserting. */
  readonly efConstruction: number;
  /** Default candidate list size while searching (per query: max(ef, k)). */
  readonly ef: number;
}

type Usearch = typeof import('usearch');
let usearchModule: Usearch | undefined;
/** usearch is a native module: loaded on first use, with a clear error when it was built for another Node.js. */
function usearch(): Usearch {
  usearchModule ??= loadNative('usearch', () => createRequire(import.meta.url)('usearch') as Usearch);
  return usearchModule;
}

const GRAPH = 'hnsw.usearch';

interface GraphMeta {
  generation: number;
  params: HnswParams;
  dimension: number;
  /** Absent in files written before graphs could be quantised (they are float32). */
  quantization?: HnswQuantization;
}

/**
 * HNSW graph over the collection's normalised vectors (usearch, cosine), keyed by the store's row ids. It is a
 * derived structure: saved beside the database with the store generation it reflects, and rebuilt from the
 * store when that no longer matches (after a crash, or writes by another process).
 *
 * The search-time `ef` is applied by asking usearch for max(ef, k) neighbours: its candidate list is never
 * shorter than the number of results asked for, and the index is built with the smallest default, so any ef
 * can be chosen per query.
 */
export class HnswIndex implements VectorIndex {
  private constructor(
    private index: UsearchIndex,
    readonly dimension: number,
    readonly params: HnswParams,
    private readonly metric: HnswMetric,
    readonly quantization: HnswQuantization,
    /** Memory-mapped from this file (read-only): loaded in full on the first change. */
    private viewOf?: string,
  ) {}

  /** `metric`: the store uses `cos` (scores = cosine); `l2` (squared distance) and `ip` serve raw vector sets. */
  static create(dimension: number, params: HnswParams, metric: HnswMetric = 'cos', quantization: HnswQuantization = 'f32'): HnswIndex {
    return new HnswIndex(HnswIndex.make(dimension, params, metric, quantization), dimension, params, metric, quantization);
  }

  private static make(dimension: number, params: HnswParams, metric: HnswMetric, quantization: HnswQuantization): UsearchIndex {
    const u = usearch();
    return new u.Index({
      dimensions: dimension,
      metric: metric === 'l2' ? u.MetricKind.L2sq : metric === 'ip' ? u.MetricKind.IP : u.MetricKind.Cos,
      quantization: { f32: u.ScalarKind.F32, f16: u.ScalarKind.F16, i8: u.ScalarKind.I8 }[quantization],
      connectivity: params.m,
      expansion_add: params.efConstruction,
      expansion_search: 1,
      multi: false,
    });
  }

  /**
   * The saved graph if its sidecar says it reflects `generation` with these parameters (otherwise undefined). It
   * is memory-mapped (usearch `view`), so opening is instant whatever its size; the first change loads it.
   */
  static load(files: DerivedFiles, dimension: number, params: HnswParams, generation: number, quantization: HnswQuantization = 'f32'): HnswIndex | undefined {
    const meta = files.readMeta<GraphMeta>(
      GRAPH,
      (m) =>
        m.generation === generation &&
        m.dimension === dimension &&
        JSON.stringify(m.params) === JSON.stringify(params) &&
        (m.quantization ?? 'f32') === quantization,
    );
    if (!meta) return undefined;
    try {
      const index = HnswIndex.make(dimension, params, 'cos', quantization);
      index.view(files.path(GRAPH));
      return new HnswIndex(index, dimension, params, 'cos', quantization, files.path(GRAPH));
    } catch {
      return undefined;
    }
  }

  /** Whether this graph is the memory-mapped saved file, untouched since it was opened. */
  get mapped(): boolean {
    return this.viewOf !== undefined;
  }

  /** A memory-mapped index is read-only: load it into memory before changing it. */
  private writable(): UsearchIndex {
    if (this.viewOf) {
      const index = HnswIndex.make(this.dimension, this.params, this.metric, this.quantization);
      index.load(this.viewOf);
      this.index = index;
      this.viewOf = undefined;
    }
    return this.index;
  }

  get size(): number {
    return this.index.size();
  }

  /** Add many vectors at once (rows of `vectors`, `keys.length` x dimension), using `threads` threads. */
  addBatch(keys: readonly number[], vectors: Float32Array, threads = 1): void {
    if (keys.length === 0) return;
    this.writable().add(BigUint64Array.from(keys, (k) => BigInt(k)), vectors, threads);
  }

  upsert(key: number, vector: Float32Array): void {
    const k = BigInt(key);
    const index = this.writable();
    if (index.contains(k)) index.remove(k);
    index.add(k, vector.slice());
  }

  remove(key: number): void {
    this.writable().remove(BigInt(key));
  }

  /** The k nearest (best first), searching with a candidate list of max(ef, k + excluded). */
  search(query: Float32Array, k: number, params: IndexSearchParams = {}): ScoredKey[] {
    const extra = params.exclude?.size ?? 0;
    const count = Math.max(k + extra, params.ef ?? this.params.ef);
    const m = this.index.search(query.slice(), count, 1);
    const out: ScoredKey[] = [];
    for (let i = 0; i < m.keys.length && out.length < k; i++) {
      const key = Number(m.keys[i]!);
      if (params.exclude?.has(key)) continue;
      // cos/ip: usearch returns 1 − similarity; l2: the squared distance, returned negated so higher is better
      const dist = m.distances[i]!;
      out.push({ key, score: this.metric === 'l2' ? -dist : 1 - dist });
    }
    return out;
  }

  /** Save atomically with the generation it reflects (nothing to do when it is the untouched mapped file). */
  save(files: DerivedFiles, generation: number): void {
    if (this.viewOf === files.path(GRAPH)) return;
    files.write(GRAPH, (tmp) => this.index.save(tmp), { generation, params: this.params, dimension: this.dimension, quantization: this.quantization } satisfies GraphMeta);
  }
}
