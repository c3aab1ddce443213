import { seededRandom } from '../util/random.js';
import type { FlatIndex } from './flat.js';
import type { IndexSearchParams, ScoredKey, VectorIndex } from './types.js';

/**
 * Gaussian random projection from `dimension` to `target` dimensions (Johnson–Lindenstrauss): entries N(0, 1/target),
 * so inner products are preserved in expectation. Seeded: the same seed always gives the same matrix, so the
 * projection needs no storage beyond (dimension, target, seed).
 */
export class RandomProjection {
  private readonly matrix: Float32Array;

  constructor(
    readonly dimension: number,
    readonly target: number,
    readonly seed = 1,
  ) {
    if (!(target >= 1 && target < dimension)) throw new RangeError(`projection target ${target} must be between 1 and ${dimension - 1}`);
    const rand = seededRandom(seed);
    const scale = 1 / Math.sqrt(target);
    this.matrix = new Float32Array(target * dimension);
    for (let i = 0; i < this.matrix.length; i += 2) {
      // Box–Muller: two standard normals per pair of uniforms
      const u = Math.max(rand(), 1e-12);
      const v = rand();
      const r = Math.sqrt(-2 * Math.log(u));
      this.matrix[i] = r * Math.cos(2 * Math.PI * v) * scale;
      if (i + 1 < this.matrix.length) this.matrix[i + 1] = r * Math.sin(2 * Math.PI * v) * scale;
    }
  }

  apply(v: Float32Array): Float32Array {
    const out = new Float32Array(this.target);
    const d = this.dimension;
    for (let r = 0; r < this.target; r++) {
      let s = 0;
      const o = r * d;
      for (let j = 0; j < d; j++) s += this.matrix[o + j]! * v[j]!;
      out[r] = s;
    }
    return out;
  }
}

/** A flat index over randomly projected vectors: vectors and queries are projected on the way in. */
export class ProjectedIndex implements VectorIndex {
  constructor(
    readonly projection: RandomProjection,
    readonly inner: FlatIndex,
  ) {}

  get size(): number {
    return this.inner.size;
  }

  upsert(key: number, vector: Float32Array): void {
    this.inner.upsert(key, this.projection.apply(vector));
  }

  remove(key: number): void {
    this.inner.remove(key);
  }

  search(query: Float32Array, k: number, params: IndexSearchParams & { candidates?: Iterable<number> | undefined } = {}): ScoredKey[] {
    return this.inner.search(this.projection.apply(query), k, params);
  }
}
