/**
 * The k-nearest-neighbour graph of a collection, built with the collection's own index (one `search` per item: HNSW,
 * IVF or the flat scan; never a loop over all pairs), and what the decision rule reads from it: each item's
 * background score (how similar its k-th neighbour is: high in dense regions of the space), the density-normalised
 * margin of a pair, and an automatic threshold.
 */
import type { StoreCollection } from '../store/types.js';

export interface NeighbourGraph {
  /** Item ids; an item's index in this array is its node number. */
  readonly ids: string[];
  /** Node numbers of each item's neighbours, best first: `k` per node, -1 where there were fewer. */
  readonly neighbours: Int32Array;
  /** Their scores (the collection's similarity: cosine). */
  readonly scores: Float32Array;
  /** Neighbours per node (the candidates are taken from the first few; the last one gives the background). */
  readonly k: number;
}

export interface GraphProgress {
  readonly phase: 'neighbours' | 'group';
  readonly done: number;
  readonly total: number;
}

/** Searches in flight at once (a server store answers several; the embedded store runs them one after another). */
const CONCURRENCY = 4;
const BATCH = 512;

/**
 * One search per item for its `k` nearest other items. Items are read in insertion order (`scanVectors`), so the
 * graph, and everything derived from it, is the same from run to run for the same collection and index.
 */
export async function buildGraph(
  store: StoreCollection,
  k: number,
  opts: { signal?: AbortSignal; onProgress?: (p: GraphProgress) => void; ef?: number } = {},
): Promise<NeighbourGraph> {
  const total = await store.count();
  const node = new Map<string, number>();
  const ids: string[] = [];
  const nodeOf = (id: string): number => {
    let n = node.get(id);
    if (n === undefined) {
      n = ids.length;
      ids.push(id);
      node.set(id, n);
    }
    return n;
  };
  // rows by node number, grown as items are seen (items added while the graph is built may appear)
  let neighbours = new Int32Array(Math.max(1, total) * k).fill(-1);
  let scores = new Float32Array(Math.max(1, total) * k).fill(Number.NEGATIVE_INFINITY);
  const ensure = (nodes: number) => {
    if (nodes * k <= neighbours.length) return;
    const size = Math.max(nodes, Math.ceil((neighbours.length / k) * 1.5)) * k;
    const nn = new Int32Array(size).fill(-1);
    nn.set(neighbours);
    const ns = new Float32Array(size).fill(Number.NEGATIVE_INFINITY);
    ns.set(scores);
    neighbours = nn;
    scores = ns;
  };
  let done = 0;
  // HNSW: a candidate list of 2k + 8 holds the k neighbours and the item itself with room to spare; near duplicates
  // are the closest neighbours, which even a short list finds (measured: bench:duplicates recall)
  const ef = opts.ef ?? (store.spec.index?.type === 'hnsw' ? 2 * k + 8 : undefined);
  for await (const batch of store.scanVectors(BATCH)) {
    opts.signal?.throwIfAborted();
    for (let start = 0; start < batch.length; start += CONCURRENCY) {
      const slice = batch.slice(start, start + CONCURRENCY);
      // k + 1 without `excludeIds` (which costs the store a lookup per query): the item itself is dropped here
      const found = await Promise.all(slice.map((b) => store.search(b.vector, { k: k + 1, includeMetadata: false, ...(ef !== undefined ? { ef } : {}) })));
      found.forEach((hits, i) => {
        const self = slice[i]!.id;
        const row = nodeOf(self);
        // ties broken by node number, so the order does not depend on how the index happened to return them
        const mine = hits.filter((h) => h.id !== self).map((h) => ({ n: nodeOf(h.id), s: h.score }));
        mine.sort((a, b) => b.s - a.s || a.n - b.n);
        ensure(ids.length);
        for (let j = 0; j < Math.min(k, mine.length); j++) {
          neighbours[row * k + j] = mine[j]!.n;
          scores[row * k + j] = mine[j]!.s;
        }
      });
    }
    done += batch.length;
    opts.onProgress?.({ phase: 'neighbours', done: Math.min(done, total), total });
  }
  const n = ids.length;
  neighbours = neighbours.slice(0, n * k);
  scores = scores.slice(0, n * k);
  return { ids, neighbours, scores, k };
}

/**
 * Each node's background: the score of its last (k-th) neighbour (the median one when it has fewer). Unrelated items in a
 * dense region of the space score high against each other; a near-duplicate pair scores well above both backgrounds.
 * (The graph is searched twice as deep as the candidates are taken, so that a group of copies larger than the
 * candidates' k does not make its own members the background.)
 */
export function backgrounds(g: NeighbourGraph): Float32Array {
  const n = g.ids.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let m = 0; // neighbours the node has: all k, unless the collection has k items or fewer
    while (m < g.k && g.neighbours[i * g.k + m]! >= 0) m++;
    // with fewer than k, the median one: the farthest of a handful of items says nothing about the neighbourhood
    out[i] = m === 0 ? Number.NEGATIVE_INFINITY : g.scores[i * g.k + (m === g.k ? m - 1 : Math.ceil(m / 2) - 1)]!;
  }
  return out;
}

/**
 * How far a pair's score lies above the higher of the two backgrounds, as a share of the distance from that background
 * to a perfect 1: 0 = no better than the k-th neighbours, 1 = identical vectors. Without a background (a collection
 * with fewer than k + 1 items) the score itself counts.
 */
export function margin(score: number, backgroundA: number, backgroundB: number): number {
  const b = Math.max(backgroundA, backgroundB);
  if (!Number.isFinite(b)) return score;
  if (b >= 1) return score >= 1 ? 1 : 0;
  return Math.max(-1, Math.min(1, (score - b) / (1 - b)));
}

/**
 * The automatic threshold: the median background (the typical score of an item's k-th neighbour). A pair below it
 * scores no better than the neighbours most items have, whatever the embedder's scale (cosines of CNN features
 * crowd near 1, those of hashes spread down to 0); above it, the margin decides.
 */
export function autoThreshold(bg: Float32Array, fallback: number): number {
  // fewer than 20 items with a background (a tiny collection): the median says nothing, the fallback is used
  const xs = Array.from(bg).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length < 20) return fallback;
  return xs[Math.floor(xs.length / 2)]!;
}
