import { TopK } from './kernels.js';
import { PARALLEL_MIN_BYTES, runPart, ScanKernel, scanPool, type ScanJob, type ScanKernels, type ScanPool } from './scan-pool.js';
import type { IndexSearchParams, ScoredKey, VectorIndex } from './types.js';
import { KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64 } from './wasm/kernels-wasm.js';

/**
 * How vectors are held in memory: 4, 2 or 1 byte per dimension. `float16` rows are 16-bit fixed-point codes with a
 * float32 scale per row (value = code · scale, scale = max(1, max|x|) / 32767): steps of 3·10⁻⁵ for the components
 * of unit vectors — as fine as IEEE half precision where it matters (half's steps are 2⁻¹¹ of the value: 2·10⁻⁵ at
 * 0.04, the typical component of a 512-d unit vector, 5·10⁻⁴ at 1) — and an integer SIMD kernel with no per-value
 * conversion, which is what makes the scan faster than float32 rather than only smaller (kernels.wat, dot_i16).
 * `int8` rows use per-dimension scales learnt from the vectors.
 */
export type VectorEncoding = 'float32' | 'float16' | 'int8';

/** The largest 16-bit code (codes are symmetric: −32767…32767, so no product reaches 2^30 · 2). */
const CODE_MAX = 32767;
/** Bytes after a row's 16-bit codes: its float32 scale, padded so rows stay 16-byte aligned. */
const ROW_TAIL = 16;

/** Per-dimension int8 scales (max |x| / 127) over a set of vectors. */
export function int8Scales(vectors: Iterable<Float32Array>, dimension: number): Float32Array {
  const max = new Float32Array(dimension);
  for (const v of vectors) for (let i = 0; i < dimension; i++) max[i] = Math.max(max[i]!, Math.abs(v[i]!));
  return max.map((m) => (m > 0 ? m / 127 : 1 / 127));
}

let compiled: WebAssembly.Module | undefined;
function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
  return compiled;
}
let compiledShared: WebAssembly.Module | undefined;
function sharedKernelModule(): WebAssembly.Module {
  compiledShared ??= new WebAssembly.Module(Buffer.from(KERNELS_SHARED_WASM_BASE64, 'base64'));
  return compiledShared;
}

const PAGE = 65536;
const MAX_PAGES = 65536;
const MAX_BYTES = MAX_PAGES * PAGE; // wasm32: 4 GiB of linear memory

/** Thrown when the rows would not fit in the index's WebAssembly memory (the index is left as it was). */
export class FlatIndexFullError extends RangeError {
  constructor(
    readonly rows: number,
    readonly maxRows: number,
  ) {
    super(`FlatIndex: ${rows} rows do not fit in its WebAssembly memory (4 GiB at most; ${maxRows} rows at this dimension and encoding)`);
    this.name = 'FlatIndexFullError';
  }
}

/**
 * Exact inner-product index. Vectors live in one contiguous block of WebAssembly memory (rows zero-padded to a
 * multiple of 8 floats) scanned by a SIMD kernel (src/ann/wasm/kernels.wat); no per-vector objects. Keys are the
 * store's integer row ids. Deletes move the last row into the hole, so the matrix stays dense. Rebuildable at any
 * time from the store, which stays the source of truth.
 *
 * Memory layout: [4 query rows][4 x capacity scores][capacity data rows].
 *
 * Past `PARALLEL_MIN_BYTES` of rows the memory becomes a shared one (moved once, when the index grows past it) and a
 * scan is split over worker threads (./scan-pool.ts); the scores are the same, computed by the same kernel.
 */
export class FlatIndex implements VectorIndex {
  /** Values per stored row (the dimension, zero-padded for the SIMD kernels). */
  readonly stride: number;
  private readonly rowBytes: number;
  /** The most WebAssembly memory this index may use (4 GiB, or less when asked). */
  private readonly maxBytes: number;
  readonly encoding: VectorEncoding;
  private readonly scales: Float32Array | undefined;
  /** int8 / float16: 1 / the factor the int16 query was scaled by (see writeQuery). */
  private qInv = 1;
  /** float16: the largest Euclidean norm of a row's codes (only grows), which bounds every integer dot product. */
  private maxCodeNorm = 0;
  private wasm: ScanKernels;
  private mem: WebAssembly.Memory;
  /** Set once the rows live in shared memory (large indexes, more than one search thread). */
  private shared = false;
  private registered: { pool: ScanPool; id: number } | undefined;
  private keys: Float64Array;
  private n = 0;
  private capacity: number;
  private readonly slotOf = new Map<number, number>();
  private readonly qOff = 0;
  private readonly outOff: number;
  private dataOff: number;
  private view: Float32Array;

  /** Squared norms per slot (only kept for `l2`). */
  private norms: Float32Array;

  /**
   * `metric`: `ip` scores by inner product (cosine when vectors are normalised, as the store's are); `l2` scores
   * by the negated squared Euclidean distance, −‖q − x‖² = 2 q·x − ‖x‖² − ‖q‖², so higher is always better.
   */
  constructor(
    readonly dimension: number,
    capacity = 1024,
    readonly metric: 'ip' | 'l2' = 'ip',
    opts: { encoding?: VectorEncoding; int8Scales?: Float32Array; maxBytes?: number } = {},
  ) {
    this.maxBytes = Math.min(MAX_BYTES, opts.maxBytes ?? MAX_BYTES);
    this.encoding = opts.encoding ?? 'float32';
    const align = this.encoding === 'float32' ? 8 : 16;
    this.stride = Math.ceil(dimension / align) * align;
    this.rowBytes = this.encoding === 'float32' ? this.stride * 4 : this.encoding === 'float16' ? this.stride * 2 + ROW_TAIL : this.stride;
    if (this.encoding === 'int8') {
      if (!opts.int8Scales || opts.int8Scales.length !== dimension) throw new RangeError('int8 encoding needs per-dimension scales');
      this.scales = opts.int8Scales;
    }
    const own = new WebAssembly.Instance(kernelModule(), {}).exports as unknown as ScanKernels & { memory: WebAssembly.Memory };
    this.wasm = own;
    this.mem = own.memory;
    this.outOff = this.qOff + 4 * this.stride * 4;
    this.capacity = Math.max(1, Math.min(capacity, this.maxRows));
    this.keys = new Float64Array(this.capacity);
    this.norms = new Float32Array(metric === 'l2' ? this.capacity : 0);
    this.dataOff = this.outOff + 4 * this.capacity * 4;
    const bytes = this.dataOff + this.capacity * this.rowBytes;
    if (!this.shareIfLarge(this.capacity, bytes)) this.ensureMemory(bytes);
    this.view = new Float32Array(this.mem.buffer);
  }

  /**
   * Moves to a shared memory of at least `bytes` (the first `keep` bytes copied over) when `capacity` rows are large
   * enough to be scanned by several threads and more than one is configured. Returns whether it moved.
   */
  private shareIfLarge(capacity: number, bytes: number, keep = 0): boolean {
    if (this.shared || capacity * this.rowBytes < PARALLEL_MIN_BYTES || bytes > MAX_BYTES) return false;
    if (!scanPool(sharedKernelModule())) return false;
    // `shared` is missing from @types/node's MemoryDescriptor; V8 has had it since Node 16
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / PAGE), maximum: MAX_PAGES, shared: true } as { initial: number; maximum: number });
    if (keep > 0) new Uint8Array(memory.buffer).set(new Uint8Array(this.mem.buffer, 0, keep));
    this.wasm = new WebAssembly.Instance(sharedKernelModule(), { env: { memory } }).exports as unknown as ScanKernels;
    this.mem = memory;
    this.shared = true;
    return true;
  }

  get size(): number {
    return this.n;
  }

  /** Bytes of vector data held (rows x padded row bytes). */
  get bytes(): number {
    return this.n * this.rowBytes;
  }

  /** The most rows this index can hold: each takes its row bytes plus 4 scores of 4 bytes (see the layout). */
  get maxRows(): number {
    return Math.floor((this.maxBytes - this.outOff) / (this.rowBytes + 16));
  }

  /** Bytes per vector in memory. */
  get bytesPerVector(): number {
    return this.rowBytes;
  }

  has(key: number): boolean {
    return this.slotOf.has(key);
  }

  private ensureMemory(bytes: number): void {
    if (bytes > this.maxBytes) {
      throw new RangeError(`FlatIndex: ${bytes} bytes exceed its WebAssembly memory (4 GiB at most); use an approximate index or fewer dimensions`);
    }
    const have = this.mem.buffer.byteLength;
    if (bytes > have) this.mem.grow(Math.ceil((bytes - have) / PAGE));
  }

  /** The Float32 view of memory (re-made after the memory grew or moved: a grown buffer is a new object). */
  private f32(): Float32Array {
    if (this.view.buffer !== this.mem.buffer) this.view = new Float32Array(this.mem.buffer);
    return this.view;
  }

  private grow(rows: number): void {
    if (rows <= this.capacity) return;
    if (rows > this.maxRows) throw new FlatIndexFullError(rows, this.maxRows);
    const capacity = Math.min(this.maxRows, Math.max(rows, Math.ceil(this.capacity * 1.5)));
    const dataOff = this.outOff + 4 * capacity * 4;
    const moved = this.shareIfLarge(capacity, dataOff + capacity * this.rowBytes, this.dataOff + this.n * this.rowBytes);
    if (!moved) this.ensureMemory(dataOff + capacity * this.rowBytes);
    const bytes = new Uint8Array(this.mem.buffer);
    bytes.copyWithin(dataOff, this.dataOff, this.dataOff + this.n * this.rowBytes);
    bytes.fill(0, dataOff + this.n * this.rowBytes, dataOff + capacity * this.rowBytes);
    const keys = new Float64Array(capacity);
    keys.set(this.keys.subarray(0, this.n));
    this.keys = keys;
    if (this.metric === 'l2') {
      const norms = new Float32Array(capacity);
      norms.set(this.norms.subarray(0, this.n));
      this.norms = norms;
    }
    this.capacity = capacity;
    this.dataOff = dataOff;
  }

  /** Insert or replace; `vector` may be any little-endian float32 buffer of length `dimension * 4`. */
  upsert(key: number, vector: Float32Array | Uint8Array): void {
    let slot = this.slotOf.get(key);
    if (slot === undefined) {
      this.grow(this.n + 1);
      slot = this.n++;
      this.slotOf.set(key, slot);
      this.keys[slot] = key;
    }
    const off = this.dataOff + slot * this.rowBytes;
    if (this.encoding === 'float32') {
      if (vector instanceof Float32Array) this.f32().set(vector, off / 4);
      else new Uint8Array(this.mem.buffer).set(vector, off);
    } else {
      const v = vector instanceof Float32Array ? vector : new Float32Array(vector.slice().buffer);
      if (this.encoding === 'float16') {
        let max = 1;
        for (let i = 0; i < this.dimension; i++) max = Math.max(max, Math.abs(v[i]!));
        const scale = max / CODE_MAX;
        const codes = new Int16Array(this.mem.buffer, off, this.dimension);
        let norm = 0;
        for (let i = 0; i < this.dimension; i++) {
          const c = Math.max(-CODE_MAX, Math.min(CODE_MAX, Math.round(v[i]! / scale)));
          codes[i] = c;
          norm += c * c;
        }
        new Float32Array(this.mem.buffer, off + this.stride * 2, 1)[0] = scale;
        this.maxCodeNorm = Math.max(this.maxCodeNorm, Math.sqrt(norm));
      } else {
        const c = new Int8Array(this.mem.buffer, off, this.dimension);
        const sc = this.scales!;
        for (let i = 0; i < this.dimension; i++) c[i] = Math.max(-127, Math.min(127, Math.round(v[i]! / sc[i]!)));
      }
    }
    if (this.metric === 'l2') {
      const row = this.decodeRow(slot);
      let s = 0;
      for (let i = 0; i < this.dimension; i++) s += row[i]! * row[i]!;
      this.norms[slot] = s;
    }
  }

  /** The stored (possibly quantised) values of a row, as float32. */
  private decodeRow(slot: number): Float32Array {
    const off = this.dataOff + slot * this.rowBytes;
    const d = this.dimension;
    if (this.encoding === 'float32') return this.f32().slice(off / 4, off / 4 + d);
    const out = new Float32Array(d);
    if (this.encoding === 'float16') {
      const codes = new Int16Array(this.mem.buffer, off, d);
      const scale = new Float32Array(this.mem.buffer, off + this.stride * 2, 1)[0]!;
      for (let i = 0; i < d; i++) out[i] = codes[i]! * scale;
    } else {
      const c = new Int8Array(this.mem.buffer, off, d);
      for (let i = 0; i < d; i++) out[i] = c[i]! * this.scales![i]!;
    }
    return out;
  }

  remove(key: number): boolean {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return false;
    const last = this.n - 1;
    const rowBytes = this.rowBytes;
    const bytes = new Uint8Array(this.mem.buffer);
    if (slot !== last) {
      bytes.copyWithin(this.dataOff + slot * rowBytes, this.dataOff + last * rowBytes, this.dataOff + (last + 1) * rowBytes);
      const movedKey = this.keys[last]!;
      this.keys[slot] = movedKey;
      if (this.metric === 'l2') this.norms[slot] = this.norms[last]!;
      this.slotOf.set(movedKey, slot);
    }
    bytes.fill(0, this.dataOff + last * rowBytes, this.dataOff + (last + 1) * rowBytes);
    this.slotOf.delete(key);
    this.n = last;
    return true;
  }

  /** The keys held, in slot order. */
  keysSnapshot(): number[] {
    return Array.from(this.keys.subarray(0, this.n));
  }

  /** The stored vector of `key` (a copy; decoded when quantised), or undefined. */
  vector(key: number): Float32Array | undefined {
    const slot = this.slotOf.get(key);
    return slot === undefined ? undefined : this.decodeRow(slot);
  }

  private checkQuery(q: Float32Array): void {
    if (q.length !== this.dimension) throw new RangeError(`query has ${q.length} dims, index has ${this.dimension}`);
  }

  private writeQuery(q: Float32Array, row: number): void {
    const v = this.f32();
    const o = (this.qOff >> 2) + row * this.stride;
    if (this.scales) {
      // int8 rows: the query in int16 (dot_i8), scaled so that no row's integer sum can overflow 32 bits
      let max = 0;
      for (let i = 0; i < this.dimension; i++) max = Math.max(max, Math.abs(q[i]! * this.scales[i]!));
      const s = max > 0 ? Math.min(32767, Math.floor((2 ** 31 - 1) / (127 * this.stride))) / max : 1;
      const q16 = new Int16Array(this.mem.buffer, this.qOff + row * this.stride * 2, this.stride);
      for (let i = 0; i < this.dimension; i++) q16[i] = Math.round(q[i]! * this.scales[i]! * s);
      q16.fill(0, this.dimension);
      this.qInv = 1 / s;
      return;
    }
    if (this.encoding === 'float16') {
      // 16-bit rows: the query in int16 too (dot_i16), as fine as it fits, and never so large that a row's sum could
      // overflow 32 bits: |Σ q·c| ≤ ‖q‖·‖c‖ (Cauchy–Schwarz) holds for every partial sum of every row
      let max = 0;
      let norm = 0;
      for (let i = 0; i < this.dimension; i++) {
        max = Math.max(max, Math.abs(q[i]!));
        norm += q[i]! * q[i]!;
      }
      norm = Math.sqrt(norm);
      // rounding adds at most 0.5 per dimension: ‖q16‖ ≤ s·‖q‖ + 0.5·√stride
      const fits = this.maxCodeNorm > 0 ? ((2 ** 31 - 1) / this.maxCodeNorm - 0.5 * Math.sqrt(this.stride)) / norm : Infinity;
      const s = max > 0 ? Math.min(CODE_MAX / max, fits * (1 - 1e-6)) : 1;
      const q16 = new Int16Array(this.mem.buffer, this.qOff + row * this.stride * 2, this.stride);
      for (let i = 0; i < this.dimension; i++) q16[i] = Math.round(q[i]! * s);
      q16.fill(0, this.dimension);
      this.qInv = 1 / s;
      return;
    }
    v.set(q, o);
    v.fill(0, o + this.dimension, o + this.stride);
  }

  /** Scores of the query (or, with Dot4, the four queries) against every row, into the scores area. */
  private scan(kernel: ScanKernel = this.encoding === 'float32' ? ScanKernel.Dot1 : this.encoding === 'float16' ? ScanKernel.I16 : ScanKernel.I8): void {
    const job: ScanJob = { kernel, q: this.qOff, data: this.dataOff, n: this.n, stride: this.stride, rowBytes: this.rowBytes, out: this.outOff, inv: this.qInv };
    const pool = this.shared && this.n * this.rowBytes >= PARALLEL_MIN_BYTES ? scanPool(sharedKernelModule()) : undefined;
    if (!pool) return runPart(this.wasm, job, 0, this.n);
    if (this.registered?.pool !== pool) this.registered = { pool, id: pool.register(this.mem, this) };
    pool.run(this.registered.id, job, (a, b) => runPart(this.wasm, job, a, b));
  }

  private static sqNorm(q: Float32Array): number {
    let s = 0;
    for (let i = 0; i < q.length; i++) s += q[i]! * q[i]!;
    return s;
  }

  private topFromScores(scoresOff: number, k: number, query: Float32Array, exclude?: ReadonlySet<number>): { key: number; score: number }[] {
    const v = this.f32();
    const top = new TopK(k);
    const base = scoresOff >> 2;
    if (this.metric === 'l2') {
      const qn = FlatIndex.sqNorm(query);
      for (let slot = 0; slot < this.n; slot++) {
        const s = 2 * v[base + slot]! - this.norms[slot]! - qn;
        if (s >= top.threshold && !exclude?.has(this.keys[slot]!)) top.push(s, this.keys[slot]!);
      }
    } else {
      for (let slot = 0; slot < this.n; slot++) {
        const s = v[base + slot]!;
        if (s >= top.threshold && !exclude?.has(this.keys[slot]!)) top.push(s, this.keys[slot]!);
      }
    }
    return top.sorted().map(({ id, score }) => ({ key: id, score }));
  }

  /**
   * The k best keys by inner product (= cosine for normalised vectors). `candidates` restricts the scan to those
   * keys (metadata filters); `exclude` drops keys (the query item itself).
   */
  search(query: Float32Array, k: number, opts: IndexSearchParams & { candidates?: Iterable<number> | undefined } = {}): ScoredKey[] {
    this.checkQuery(query);
    const { candidates, exclude } = opts;
    if (candidates) {
      const top = new TopK(k);
      const d = this.dimension;
      for (const key of candidates) {
        const slot = this.slotOf.get(key);
        if (slot === undefined || exclude?.has(key)) continue;
        const row = this.decodeRow(slot);
        let s = 0;
        for (let i = 0; i < d; i++) s += query[i]! * row[i]!;
        top.push(this.metric === 'l2' ? 2 * s - this.norms[slot]! - FlatIndex.sqNorm(query) : s, key);
      }
      return top.sorted().map(({ id, score }) => ({ key: id, score }));
    }
    if (this.n === 0) return [];
    this.writeQuery(query, 0);
    this.scan();
    return this.topFromScores(this.outOff, k, query, exclude);
  }

  /** Raw inner products of `query` with every stored vector, in slot order (see `keysSnapshot`). */
  scoreAll(query: Float32Array): Float32Array {
    this.checkQuery(query);
    if (this.n === 0) return new Float32Array(0);
    this.writeQuery(query, 0);
    this.scan();
    return this.f32().slice(this.outOff >> 2, (this.outOff >> 2) + this.n);
  }

  /** Several queries in one pass over the data (four at a time): a matrix product, then top-k per query. */
  searchBatch(queries: readonly Float32Array[], k: number): { key: number; score: number }[][] {
    if (this.encoding !== 'float32') return queries.map((q) => this.search(q, k));
    const results: { key: number; score: number }[][] = [];
    for (let i = 0; i < queries.length; i += 4) {
      const group = queries.slice(i, i + 4);
      group.forEach((q, j) => {
        this.checkQuery(q);
        this.writeQuery(q, j);
      });
      for (let j = group.length; j < 4; j++) this.f32().fill(0, (this.qOff >> 2) + j * this.stride, (this.qOff >> 2) + (j + 1) * this.stride);
      if (this.n > 0) this.scan(ScanKernel.Dot4);
      for (let j = 0; j < group.length; j++) results.push(this.n === 0 ? [] : this.topFromScores(this.outOff + j * this.n * 4, k, group[j]!));
    }
    return results;
  }
}
