import fs from 'node:fs';
import { FlatIndex } from './flat.js';
import { TopK } from './kernels.js';
import { seededRandom } from '../util/random.js';
import type { DerivedFiles } from './files.js';
import type { IndexSearchParams, ScoredKey, VectorIndex } from './types.js';

export interface IvfParams {
  /** Number of inverted lists (k-means centroids). */
  readonly nlist: number;
  /** Lists scanned per query by default. */
  readonly nprobe: number;
}

/**
 * Spherical k-means (inner product on normalised vectors), k-means++ seeded: deterministic for a given seed.
 * Assignment uses the SIMD exact kernel over the centroids.
 */
export function trainCentroids(vectors: readonly Float32Array[], dimension: number, k: number, iterations = 12, seed = 7): Float32Array[] {
  const n = vectors.length;
  k = Math.max(1, Math.min(k, n));
  const rand = seededRandom(seed);
  const centroids: Float32Array[] = [vectors[Math.floor(rand() * n)]!.slice()];
  const best = new Float64Array(n).fill(Infinity);
  while (centroids.length < k) {
    const c = centroids[centroids.length - 1]!;
    let total = 0;
    for (let i = 0; i < n; i++) {
      let dot = 0;
      const v = vectors[i]!;
      for (let j = 0; j < dimension; j++) dot += v[j]! * c[j]!;
      const dist = Math.max(0, 2 - 2 * dot); // squared distance between unit vectors
      if (dist < best[i]!) best[i] = dist;
      total += best[i]!;
    }
    let r = rand() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= best[i]!;
      if (r <= 0) {
        pick = i;
        break;
      }
    }
    centroids.push(vectors[pick]!.slice());
  }
  for (let it = 0; it < iterations; it++) {
    const index = new FlatIndex(dimension, k);
    centroids.forEach((c, i) => index.upsert(i, c));
    const sums = centroids.map(() => new Float64Array(dimension));
    const counts = new Uint32Array(k);
    for (const v of vectors) {
      const c = index.search(v, 1)[0]!.key;
      counts[c]!++;
      const s = sums[c]!;
      for (let j = 0; j < dimension; j++) s[j]! += v[j]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue; // empty list keeps its centroid
      let norm = 0;
      for (let j = 0; j < dimension; j++) norm += sums[c]![j]! * sums[c]![j]!;
      const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      centroids[c] = Float32Array.from(sums[c]!, (x) => x * inv);
    }
  }
  return centroids;
}

const CENTROIDS = 'ivf-centroids.f32';
const LISTS = 'ivf-lists.f64';

/**
 * Inverted-file index: vectors are grouped by their nearest centroid; a query scans the `nprobe` nearest lists
 * exactly (SIMD kernel per list). Centroids are saved beside the store (they stay valid as data changes: new
 * vectors join their nearest list); list assignments are saved with the store generation they reflect, so opening
 * an unchanged collection skips assigning every vector again.
 */
export class IvfIndex implements VectorIndex {
  private readonly centroidIndex: FlatIndex;
  private readonly lists: FlatIndex[];
  private readonly listOf = new Map<number, number>();

  private constructor(
    readonly dimension: number,
    readonly params: IvfParams,
    readonly centroids: readonly Float32Array[],
  ) {
    this.centroidIndex = new FlatIndex(dimension, centroids.length);
    centroids.forEach((c, i) => this.centroidIndex.upsert(i, c));
    this.lists = centroids.map(() => new FlatIndex(dimension, 64));
  }

  static create(dimension: number, params: IvfParams, sample: readonly Float32Array[]): IvfIndex {
    return new IvfIndex(dimension, params, trainCentroids(sample, dimension, params.nlist));
  }

  /** Centroids saved for these params and dimension, or undefined. */
  static load(files: DerivedFiles, dimension: number, params: IvfParams): IvfIndex | undefined {
    const meta = files.readMeta<{ dimension: number; nlist: number }>(CENTROIDS, (m) => m.dimension === dimension && m.nlist === params.nlist);
    if (!meta) return undefined;
    try {
      const buf = fs.readFileSync(files.path(CENTROIDS));
      if (buf.byteLength !== dimension * params.nlist * 4) return undefined;
      const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      const centroids = Array.from({ length: params.nlist }, (_, i) => all.slice(i * dimension, (i + 1) * dimension));
      return new IvfIndex(dimension, params, centroids);
    } catch {
      return undefined;
    }
  }

  /** Save the centroids (valid whatever the data becomes). */
  save(files: DerivedFiles): void {
    const all = new Float32Array(this.centroids.length * this.dimension);
    this.centroids.forEach((c, i) => all.set(c, i * this.dimension));
    files.write(CENTROIDS, (tmp) => fs.writeFileSync(tmp, Buffer.from(all.buffer)), { dimension: this.dimension, nlist: this.centroids.length });
  }

  get size(): number {
    return this.listOf.size;
  }

  /** Save which list every key is in, with the store generation it reflects. */
  saveAssignments(files: DerivedFiles, generation: number): void {
    const pairs = new Float64Array(this.listOf.size * 2);
    let i = 0;
    for (const [k, l] of this.listOf) {
      pairs[i++] = k;
      pairs[i++] = l;
    }
    files.write(LISTS, (tmp) => fs.writeFileSync(tmp, Buffer.from(pairs.buffer)), { generation, count: this.listOf.size });
  }

  /** Assignments saved for exactly this generation (key → list), else undefined. */
  static loadAssignments(files: DerivedFiles, generation: number): Map<number, number> | undefined {
    if (!files.readMeta<{ generation: number }>(LISTS, (m) => m.generation === generation)) return undefined;
    try {
      const buf = fs.readFileSync(files.path(LISTS));
      const all = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      const m = new Map<number, number>();
      for (let i = 0; i + 1 < all.length; i += 2) m.set(all[i]!, all[i + 1]!);
      return m;
    } catch {
      return undefined;
    }
  }

  /** Add to a known list (assignments saved earlier), skipping the nearest-centroid search. */
  upsertInto(key: number, vector: Float32Array, list: number): void {
    if (list < 0 || list >= this.lists.length) return this.upsert(key, vector);
    const prev = this.listOf.get(key);
    if (prev !== undefined && prev !== list) this.lists[prev]!.remove(key);
    this.lists[list]!.upsert(key, vector);
    this.listOf.set(key, list);
  }

  upsert(key: number, vector: Float32Array): void {
    this.upsertInto(key, vector, this.centroidIndex.search(vector, 1)[0]!.key);
  }

  remove(key: number): void {
    const list = this.listOf.get(key);
    if (list === undefined) return;
    this.lists[list]!.remove(key);
    this.listOf.delete(key);
  }

  search(query: Float32Array, k: number, params: IndexSearchParams = {}): ScoredKey[] {
    const probes = this.centroidIndex.search(query, Math.min(params.nprobe ?? this.params.nprobe, this.centroids.length));
    const top = new TopK(k);
    for (const p of probes) {
      for (const h of this.lists[p.key]!.search(query, k, params.exclude ? { exclude: params.exclude } : {})) top.push(h.score, h.key);
    }
    return top.sorted().map(({ id, score }) => ({ key: id, score }));
  }
}
