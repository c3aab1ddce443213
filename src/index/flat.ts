import { dotRow, TopK } from './kernels.js';

/**
 * Exact inner-product index over one contiguous Float32Array (no per-vector objects). Keys are the store's
 * integer row ids. Deletes move the last row into the hole, so the matrix stays dense. Rebuildable at any time
 * from the store, which stays the source of truth.
 */
export class FlatIndex {
  private data: Float32Array;
  private keys: Float64Array;
  private n = 0;
  private readonly slotOf = new Map<number, number>();

  constructor(
    readonly dimension: number,
    capacity = 1024,
  ) {
    this.data = new Float32Array(Math.max(1, capacity) * dimension);
    this.keys = new Float64Array(Math.max(1, capacity));
  }

  get size(): number {
    return this.n;
  }

  has(key: number): boolean {
    return this.slotOf.has(key);
  }

  private ensureCapacity(rows: number): void {
    if (rows <= this.keys.length) return;
    const cap = Math.max(rows, Math.ceil(this.keys.length * 1.5));
    const data = new Float32Array(cap * this.dimension);
    data.set(this.data.subarray(0, this.n * this.dimension));
    const keys = new Float64Array(cap);
    keys.set(this.keys.subarray(0, this.n));
    this.data = data;
    this.keys = keys;
  }

  /** Insert or replace; `bytes` may be any little-endian float32 buffer of length `dimension * 4`. */
  upsert(key: number, vector: Float32Array | Uint8Array): void {
    let slot = this.slotOf.get(key);
    if (slot === undefined) {
      this.ensureCapacity(this.n + 1);
      slot = this.n++;
      this.slotOf.set(key, slot);
      this.keys[slot] = key;
    }
    if (vector instanceof Float32Array) this.data.set(vector, slot * this.dimension);
    else new Uint8Array(this.data.buffer).set(vector, slot * this.dimension * 4);
  }

  remove(key: number): boolean {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return false;
    const last = this.n - 1;
    if (slot !== last) {
      const d = this.dimension;
      this.data.copyWithin(slot * d, last * d, (last + 1) * d);
      const movedKey = this.keys[last]!;
      this.keys[slot] = movedKey;
      this.slotOf.set(movedKey, slot);
    }
    this.slotOf.delete(key);
    this.n = last;
    return true;
  }

  clear(): void {
    this.n = 0;
    this.slotOf.clear();
  }

  /**
   * The k best keys by inner product (= cosine for normalised vectors). `candidates` restricts the scan to those
   * keys (metadata filters); `exclude` drops keys (the query item itself).
   */
  search(
    query: Float32Array,
    k: number,
    opts: { candidates?: Iterable<number>; exclude?: ReadonlySet<number> } = {},
  ): { key: number; score: number }[] {
    if (query.length !== this.dimension) throw new RangeError(`query has ${query.length} dims, index has ${this.dimension}`);
    const top = new TopK(k);
    const { candidates, exclude } = opts;
    if (candidates) {
      for (const key of candidates) {
        const slot = this.slotOf.get(key);
        if (slot === undefined || exclude?.has(key)) continue;
        top.push(dotRow(query, this.data, slot), key);
      }
    } else {
      const n = this.n;
      const keys = this.keys;
      const data = this.data;
      for (let slot = 0; slot < n; slot++) {
        const s = dotRow(query, data, slot);
        if (s > top.threshold && !exclude?.has(keys[slot]!)) top.push(s, keys[slot]!);
      }
    }
    return top.sorted().map(({ id, score }) => ({ key: id, score }));
  }
}
