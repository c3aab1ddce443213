import fs from 'node:fs';
import path from 'node:path';
import usearch, { type Index as UsearchIndex } from 'usearch';

export type HnswMetric = 'cos' | 'l2' | 'ip';

export interface HnswParams {
  /** Graph connectivity M (links per node). */
  readonly m: number;
  /** Candidate list size while inserting. */
  readonly efConstruction: number;
  /** Default candidate list size while searching (per query: max(ef, k)). */
  readonly ef: number;
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
export class HnswIndex {
  private constructor(
    private index: UsearchIndex,
    readonly dimension: number,
    readonly params: HnswParams,
    /** Memory-mapped from this file (read-only): loaded in full on the first change. */
    private viewOf?: string,
  ) {}

  /** A memory-mapped index is read-only: load it into memory before changing it. */
  private writable(): UsearchIndex {
    if (this.viewOf) {
      const index = HnswIndex.make(this.dimension, this.params, this.metric);
      index.load(this.viewOf);
      this.index = index;
      this.viewOf = undefined;
    }
    return this.index;
  }

  /** `metric`: the store uses `cos` (scores = cosine); `l2` (squared distance) and `ip` serve raw vector sets. */
  static create(dimension: number, params: HnswParams, metric: HnswMetric = 'cos'): HnswIndex {
    const h = new HnswIndex(HnswIndex.make(dimension, params, metric), dimension, params);
    h.metric = metric;
    return h;
  }

  private metric: HnswMetric = 'cos';

  private static make(dimension: number, params: HnswParams, metric: HnswMetric = 'cos'): UsearchIndex {
    return new usearch.Index({
      dimensions: dimension,
      metric: metric === 'l2' ? usearch.MetricKind.L2sq : metric === 'ip' ? usearch.MetricKind.IP : usearch.MetricKind.Cos,
      quantization: usearch.ScalarKind.F32,
      connectivity: params.m,
      expansion_add: params.efConstruction,
      expansion_search: 1,
      multi: false,
    });
  }

  /**
   * Open a saved index if its sidecar says it reflects `generation` (otherwise undefined). It is memory-mapped
   * (usearch `view`), so opening is instant whatever its size; the first change loads it into memory.
   */
  static load(file: string, dimension: number, params: HnswParams, generation: number): HnswIndex | undefined {
    try {
      const side = JSON.parse(fs.readFileSync(file + '.json', 'utf8')) as { generation: number; params: HnswParams; dimension: number };
      if (side.generation !== generation || side.dimension !== dimension || JSON.stringify(side.params) !== JSON.stringify(params)) return undefined;
      const index = HnswIndex.make(dimension, params);
      index.view(file);
      return new HnswIndex(index, dimension, params, file);
    } catch {
      return undefined;
    }
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

  /** The k nearest (best first), searching with a candidate list of max(ef, k). */
  search(query: Float32Array, k: number, ef = this.params.ef): { key: number; score: number }[] {
    const count = Math.max(k, ef);
    const m = this.index.search(query.slice(), count, 1);
    const out: { key: number; score: number }[] = [];
    for (let i = 0; i < m.keys.length && out.length < k; i++) {
      // cos/ip: usearch returns 1 − similarity; l2: the squared distance, returned negated so higher is better
      const dist = m.distances[i]!;
      out.push({ key: Number(m.keys[i]!), score: this.metric === 'l2' ? -dist : 1 - dist });
    }
    return out;
  }

  /** Save atomically (temp file + rename) with the generation it reflects. */
  save(file: string, generation: number): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (this.viewOf === file) return; // unchanged since it was mapped from this very file
    const tmp = `${file}.tmp-${process.pid}`;
    this.index.save(tmp);
    fs.renameSync(tmp, file);
    const side = `${file}.json`;
    fs.writeFileSync(`${side}.tmp-${process.pid}`, JSON.stringify({ generation, params: this.params, dimension: this.dimension }));
    fs.renameSync(`${side}.tmp-${process.pid}`, side);
  }
}
