import os from 'node:os';
import type { DerivedFiles } from '../../ann/files.js';
import { FlatIndex, FlatIndexFullError, int8Scales } from '../../ann/flat.js';
import { HnswIndex, type HnswQuantization } from '../../ann/hnsw.js';
import { IvfIndex } from '../../ann/ivf.js';
import { ProjectedIndex, RandomProjection } from '../../ann/projection.js';
import type { ScoredKey, VectorIndex } from '../../ann/types.js';
import { createError, type LookalikeError } from '../../errors.js';
import type { CollectionSpec } from '../types.js';

/** Where the vectors come from: the store's rows (row id, little-endian float32 blob). */
export interface VectorRows {
  count(): number;
  rows(): IterableIterator<[number, Buffer]>;
  /** The collection's write counter: derived index files are valid for exactly one generation. */
  generation(): number;
}

export function blobToVector(b: Buffer): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export interface VectorQuery {
  readonly k: number;
  readonly exclude: ReadonlySet<number>;
  /** Restrict to these row ids (a metadata filter): always scanned exactly. */
  readonly candidates?: readonly number[] | undefined;
  readonly exact?: boolean | undefined;
  readonly ef?: number | undefined;
  readonly nprobe?: number | undefined;
  /** How many candidates to take when the caller re-scores them (compact or projected vectors). */
  readonly wide?: number | undefined;
}

/**
 * A collection's in-memory search state, derived from the store: the vector cache (a `FlatIndex` in the
 * collection's vector type, over random projections when the spec asks for them) and the index the spec asks for
 * (flat, HNSW or IVF; one `VectorIndex` interface). Rebuilt when another connection has written; mirrors this
 * connection's writes; saves the persistent parts with the generation they reflect.
 */
export class CollectionVectors {
  private flat: FlatIndex | null = null;
  private projected: ProjectedIndex | null = null;
  private ann: HnswIndex | IvfIndex | null = null;
  private version = -1;
  private dirty = false;
  /** Which derived structures the last `sync` took from their saved files instead of rebuilding them. */
  private reused = { graph: false, centroids: false, assignments: false };

  constructor(
    private readonly spec: () => CollectionSpec,
    private readonly files: DerivedFiles,
    private readonly source: VectorRows,
  ) {}

  /** The HNSW graph holds the collection's vector type (float16 / int8 graphs are re-scored like compact scans). */
  private get quantization(): HnswQuantization {
    const t = this.spec().vectorType;
    return t === 'float16' ? 'f16' : t === 'int8' ? 'i8' : 'f32';
  }

  /** Whether compact or projected vectors make search re-score candidates with the stored float32 vectors. */
  get rescores(): boolean {
    return this.spec().vectorType !== 'float32' || this.projected !== null;
  }

  /** The index searched without filters: the ANN index the spec asks for, else the (projected) flat scan. */
  private get primary(): VectorIndex {
    return this.ann ?? this.scan;
  }

  /** Bring the state in step with the store (`dataVersion` changes when any connection commits). */
  sync(dataVersion: number): void {
    if ((this.flat || this.ann) && dataVersion === this.version) return;
    const index = this.spec().index ?? { type: 'flat' as const };
    this.reused = { graph: false, centroids: false, assignments: false };
    this.flat = null;
    this.projected = null;
    this.ann = null;
    // An HNSW collection whose saved graph reflects this generation opens without reading a vector: the graph is
    // memory-mapped and answers alone; the vector cache is built only when something needs it (exact or filtered
    // scans, a rebuild) — cold start at a million vectors is then the graph's mapping, not a read of every vector.
    if (index.type === 'hnsw') {
      // the graph was saved with the store generation it reflects, and every write moves the generation on: equal
      // generations mean the same items (no count(*) over the rows — 0.1 s at a million on a cold cache)
      const mapped = HnswIndex.load(this.files, this.spec().dimension, index, this.source.generation(), this.quantization);
      if (mapped) {
        this.ann = mapped;
        this.reused.graph = true;
        this.version = dataVersion;
        return;
      }
    }
    this.loadFlat();
    this.version = dataVersion;
    this.ann = index.type === 'hnsw' ? this.openHnsw(index) : index.type === 'ivf' ? this.openIvf(index) : null;
  }

  /** The vector cache (a `FlatIndex`, projected when the spec asks), read from the store's rows. */
  private loadFlat(): FlatIndex {
    const spec = this.spec();
    const index = spec.index ?? { type: 'flat' as const };
    const rows = () => this.source.rows();
    const proj = index.type === 'flat' && index.projection !== undefined ? new RandomProjection(spec.dimension, index.projection, 1) : undefined;
    const dimension = proj?.target ?? spec.dimension;
    let scales: Float32Array | undefined;
    if (spec.vectorType === 'int8') {
      // per-dimension scales from the vectors present now (later vectors are clamped to them; rebuilt on reindex)
      scales = int8Scales(
        (function* () {
          for (const [, blob] of rows()) yield proj ? proj.apply(blobToVector(blob)) : blobToVector(blob);
        })(),
        dimension,
      );
    }
    const count = this.source.count();
    const flat = new FlatIndex(dimension, count + 64, 'ip', { encoding: spec.vectorType, ...(scales ? { int8Scales: scales } : {}) });
    if (count > flat.maxRows) throw tooLarge(spec.name, count, dimension, spec.vectorType, flat.maxRows);
    this.projected = proj ? new ProjectedIndex(proj, flat) : null;
    for (const [rid, blob] of rows()) {
      if (this.projected) this.projected.upsert(rid, blobToVector(blob));
      else flat.upsert(rid, blob);
    }
    this.flat = flat;
    return flat;
  }

  /** The vector cache, read now if the collection opened with its memory-mapped graph alone (see `sync`). */
  private get scan(): FlatIndex | ProjectedIndex {
    if (!this.flat) this.loadFlat();
    return this.projected ?? this.flat!;
  }

  /** Whether the vector cache is in memory (false after a cold open of an HNSW collection, until it is needed). */
  get cached(): boolean {
    return this.flat !== null;
  }

  private openHnsw(params: { m: number; efConstruction: number; ef: number }): HnswIndex {
    const flat = this.flat!;
    const generation = this.source.generation();
    const loaded = HnswIndex.load(this.files, flat.dimension, params, generation, this.quantization);
    if (loaded && loaded.size === flat.size) {
      this.reused.graph = true;
      return loaded;
    }
    const hnsw = HnswIndex.create(flat.dimension, params, 'cos', this.quantization);
    const keys = flat.keysSnapshot();
    const d = flat.dimension;
    const CHUNK = 4096;
    for (let i = 0; i < keys.length; i += CHUNK) {
      const part = keys.slice(i, i + CHUNK);
      const block = new Float32Array(part.length * d);
      part.forEach((k, j) => block.set(flat.vector(k)!, j * d));
      hnsw.addBatch(part, block, Math.max(1, os.availableParallelism()));
    }
    hnsw.save(this.files, generation);
    this.dirty = false;
    return hnsw;
  }

  private openIvf(params: { nlist: number; nprobe: number }): IvfIndex | null {
    const flat = this.flat!;
    const keys = flat.keysSnapshot();
    let ivf = IvfIndex.load(this.files, flat.dimension, params);
    this.reused.centroids = ivf !== undefined;
    if (!ivf) {
      // train on an even sample of the vectors (at most 20,000), then keep the centroids
      const step = Math.max(1, Math.floor(keys.length / 20_000));
      const sample = keys.filter((_, i) => i % step === 0).map((k) => flat.vector(k)!);
      if (sample.length === 0) return null; // nothing to train on yet: exact search until the next rebuild
      ivf = IvfIndex.create(flat.dimension, params, sample);
      ivf.save(this.files);
    }
    const generation = this.source.generation();
    const saved = IvfIndex.loadAssignments(this.files, generation);
    if (saved && saved.size === keys.length) {
      this.reused.assignments = true;
      for (const k of keys) ivf.upsertInto(k, flat.vector(k)!, saved.get(k) ?? -1);
    } else {
      for (const k of keys) ivf.upsert(k, flat.vector(k)!);
      ivf.saveAssignments(this.files, generation);
    }
    this.dirty = false;
    return ivf;
  }

  /** Mirror committed writes (when the state is loaded; otherwise the next `sync` reads them). */
  upserted(written: readonly [number, Float32Array][], dataVersion: number): void {
    if ((!this.flat && !this.ann) || written.length === 0) return;
    for (const [rid, v] of written) {
      if (this.flat) {
        try {
          (this.projected ?? this.flat).upsert(rid, v);
        } catch (e) {
          // the cache is full (4 GiB): the write is committed all the same; an exact scan will say what to do
          if (!(e instanceof FlatIndexFullError)) throw e;
          this.flat = null;
          this.projected = null;
        }
      }
      this.ann?.upsert(rid, v);
    }
    this.dirty ||= this.ann !== null;
    this.version = dataVersion;
  }

  removed(rids: readonly number[], dataVersion: number): void {
    if ((!this.flat && !this.ann) || rids.length === 0) return;
    for (const rid of rids) {
      this.flat?.remove(rid);
      this.ann?.remove(rid);
    }
    this.dirty ||= this.ann !== null;
    this.version = dataVersion;
  }

  /** How many vectors the in-memory state holds (after `sync`; no SQL). */
  get size(): number {
    return this.flat?.size ?? this.ann?.size ?? 0;
  }

  /** Top candidates by the in-memory vectors (the caller re-scores them when `rescores`). */
  search(query: Float32Array, q: VectorQuery): ScoredKey[] {
    const k = this.rescores ? Math.max(q.wide ?? q.k, q.k) : q.k;
    if (q.candidates) return this.scan.search(query, k, { candidates: q.candidates, exclude: q.exclude });
    const index = q.exact ? this.scan : this.primary;
    return index.search(query, k, { exclude: q.exclude, ef: q.ef, nprobe: q.nprobe });
  }

  /** Save derived index files that have unsaved changes. */
  flush(): void {
    if (!this.dirty || !this.ann) return;
    const generation = this.source.generation();
    if (this.ann instanceof IvfIndex) this.ann.saveAssignments(this.files, generation);
    else this.ann.save(this.files, generation);
    this.dirty = false;
  }

  /** Forget everything (the spec changed): rebuilt on next use; stale files are removed. */
  reset(): void {
    this.flat = null;
    this.projected = null;
    this.ann = null;
    this.dirty = false;
    this.version = -1;
    this.files.removeAll();
  }

  /**
   * Diagnostics (tests check derived files are really reused): which structures the last rebuild loaded from their
   * saved files, and whether the HNSW graph in use is still the memory-mapped file, untouched.
   */
  get reuse(): { graph: boolean; centroids: boolean; assignments: boolean; mapped: boolean; cached: boolean } {
    return { ...this.reused, mapped: this.ann instanceof HnswIndex && this.ann.mapped, cached: this.flat !== null };
  }
}

/** The in-memory scan cannot hold the collection: say how big it is and what to switch to. */
function tooLarge(name: string, count: number, dimension: number, vectorType: string, maxRows: number): LookalikeError {
  return createError(
    'COLLECTION_TOO_LARGE',
    `Collection "${name}" holds ${count} vectors of ${dimension} dimensions (${vectorType}): more than the ${maxRows} an in-memory scan ` +
      `can hold (4 GiB of WebAssembly memory). Keep them in fewer bytes: \`lookalike reindex --collection ${name} --vector-type float16\` ` +
      `(or int8; the stored float32 vectors still re-score the results) — with \`--index hnsw\` too for a collection this size.`,
    { collection: name, count, dimension, vectorType, maxRows },
  );
}
