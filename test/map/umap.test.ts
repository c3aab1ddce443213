/**
 * The map's algorithms on made-up data: PCA finds the planted directions, the UMAP layout keeps neighbourhoods as well
 * as umap-js does (trustworthiness, same neighbours and epochs) and separates planted blobs, k-means recovers them.
 */
import { UMAP } from 'umap-js';
import { describe, expect, it } from 'vitest';
import { kmeans } from '../../src/map/kmeans.js';
import { umapLayout } from '../../src/map/layout.js';
import { exactKnn } from '../../src/map/neighbours.js';
import { fitPca } from '../../src/map/pca.js';
import { findAB, fuzzyGraph } from '../../src/map/umap.js';
import { Yielder } from '../../src/map/yielder.js';
import { rng } from '../helpers.js';
import { trustworthiness } from './fixtures.js';

/** `blobs` Gaussian blobs of `per` points in `d` dimensions (centres ±3 on random axes, unit spread). */
function blobs(count: number, per: number, d: number, seed: number): { data: Float32Array; label: number[] } {
  const r = rng(seed);
  const g = () => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
  const centres = Array.from({ length: count }, () => Float32Array.from({ length: d }, () => (r() < 0.5 ? -3 : 3) * (r() < 0.3 ? 1 : 0)));
  const data = new Float32Array(count * per * d);
  const label: number[] = [];
  for (let b = 0; b < count; b++) {
    for (let i = 0; i < per; i++) {
      const row = (b * per + i) * d;
      for (let j = 0; j < d; j++) data[row + j] = centres[b]![j]! + g();
      label.push(b);
    }
  }
  return { data, label };
}

const euclid = (data: Float32Array, d: number) => (i: number, j: number) => {
  let s = 0;
  for (let x = 0; x < d; x++) s += (data[i * d + x]! - data[j * d + x]!) ** 2;
  return s;
};

function purityOf(assign: ArrayLike<number>, label: readonly number[]): number {
  const by = new Map<number, Map<number, number>>();
  label.forEach((l, i) => {
    const m = by.get(assign[i]!) ?? new Map<number, number>();
    m.set(l, (m.get(l) ?? 0) + 1);
    by.set(assign[i]!, m);
  });
  let s = 0;
  for (const m of by.values()) s += Math.max(...m.values());
  return s / label.length;
}

describe('UMAP', () => {
  it("fits a and b of the low-dimensional curve as umap-learn does", () => {
    const { a, b } = findAB(1, 0.1);
    expect(a).toBeCloseTo(1.577, 2);
    expect(b).toBeCloseTo(0.895, 2);
    const wide = findAB(1, 0.5);
    expect(wide.a).toBeCloseTo(0.583, 2);
    expect(wide.b).toBeCloseTo(1.334, 2);
  });

  it('builds a symmetric fuzzy graph with memberships in (0, 1]', async () => {
    const { data } = blobs(3, 20, 8, 1);
    const knn = await exactKnn(data, 60, 8, 10, new Yielder());
    knn.indices.forEach((row, i) => expect(row[0]).toBe(i)); // each point its own first neighbour
    const g = fuzzyGraph(knn, 10);
    const w = new Map<string, number>();
    for (let e = 0; e < g.head.length; e++) w.set(`${g.head[e]}-${g.tail[e]}`, g.weight[e]!);
    for (const [key, v] of w) {
      const [i, j] = key.split('-');
      expect(w.get(`${j}-${i}`)).toBe(v);
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThanOrEqual(1);
    }
  });

  it('keeps neighbourhoods as well as umap-js, separates planted blobs, and is deterministic', async () => {
    const n = 400;
    const d = 16;
    const { data, label } = blobs(8, 50, d, 3);
    const start = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      start[2 * i] = data[i * d]!;
      start[2 * i + 1] = data[i * d + 1]!;
    }
    const ours = await umapLayout(data, n, d, start, { neighbors: 15, minDist: 0.1, random: rng(5), epochs: 300 }, new Yielder());
    const again = await umapLayout(data, n, d, start, { neighbors: 15, minDist: 0.1, random: rng(5), epochs: 300 }, new Yielder());
    expect(Array.from(again)).toEqual(Array.from(ours));
    const theirs = new UMAP({ nComponents: 2, nNeighbors: 15, minDist: 0.1, nEpochs: 300, random: rng(5) }).fit(Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * d, (i + 1) * d))));
    const oursXY = Array.from({ length: n }, (_, i) => ({ x: ours[2 * i]!, y: ours[2 * i + 1]! }));
    const theirsXY = theirs.map(([x, y]) => ({ x: x!, y: y! }));
    const high = euclid(data, d);
    const tOurs = trustworthiness(n, high, oursXY);
    const tTheirs = trustworthiness(n, high, theirsXY);
    console.log(`trustworthiness (k=7) of 8 blobs × 50 points: ours ${tOurs.toFixed(4)}, umap-js ${tTheirs.toFixed(4)}`);
    expect(tOurs).toBeGreaterThanOrEqual(tTheirs - 0.02);
    expect(tOurs).toBeGreaterThan(0.9);
    // k-means on the layout (best of 5 starts, as the map does) finds the blobs
    const random = rng(9);
    let best: { assignment: Int32Array; cost: number } | undefined;
    for (let run = 0; run < 5; run++) {
      const fit = await kmeans(ours, n, 2, 8, random, new Yielder());
      const cost = fit.distance.reduce((s, x) => s + x, 0);
      if (!best || cost < best.cost) best = { assignment: fit.assignment, cost };
    }
    expect(purityOf(best!.assignment, label)).toBeGreaterThan(0.95);
  });
});

describe('PCA', () => {
  it('finds the planted directions, largest variance first, with a fixed sign', async () => {
    const m = 2000;
    const d = 64;
    const r = rng(7);
    const g = () => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
    const data = new Float32Array(m * d);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < d; j++) data[i * d + j] = 0.1 * g();
      data[i * d + 5]! += 3 * g(); // the strongest direction: axis 5
      data[i * d + 9]! += 2 * g(); // then axis 9
    }
    const pca = await fitPca(data, m, d, 4, rng(1), new Yielder());
    expect(pca.k).toBe(4);
    expect(Math.abs(pca.components[0 * d + 5]!)).toBeGreaterThan(0.99);
    expect(Math.abs(pca.components[1 * d + 9]!)).toBeGreaterThan(0.99);
    expect(pca.components[0 * d + 5]!).toBeGreaterThan(0); // sign: largest coordinate positive
    expect(pca.variance[0]!).toBeCloseTo(9, 0);
    expect(pca.variance[1]!).toBeCloseTo(4, 0);
    const out = new Float32Array(4);
    pca.projectInto(data.subarray(0, d), out, 0);
    let manual = 0;
    for (let j = 0; j < d; j++) manual += (data[j]! - pca.mean[j]!) * pca.components[j]!;
    expect(out[0]).toBeCloseTo(manual, 3);
  });
});
