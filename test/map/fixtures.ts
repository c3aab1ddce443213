/** Shared by the map tests: what a map looks like without its timing, and how pure its clusters are. */
import type { CollectionMap } from '../../src/map/types.js';
import { classOf } from '../helpers.js';

/** The parts of a map that a seed and a collection state fix (not when or how fast it was computed). */
export function layoutOf(m: CollectionMap): unknown {
  return { points: m.points, clusters: m.clusters, method: m.method, seed: m.seed, items: m.items };
}

/** Share of the points whose cluster's most common class (parent folder) is their own. */
export function purity(m: CollectionMap): number {
  const byCluster = new Map<number, Map<string, number>>();
  for (const p of m.points) {
    const counts = byCluster.get(p.cluster) ?? new Map<string, number>();
    counts.set(classOf(p.path), (counts.get(classOf(p.path)) ?? 0) + 1);
    byCluster.set(p.cluster, counts);
  }
  let agree = 0;
  for (const counts of byCluster.values()) agree += Math.max(...counts.values());
  return agree / Math.max(1, m.points.length);
}

/**
 * Trustworthiness of a 2-D layout (Venna & Kaski): how far the layout's k nearest neighbours of each point are from
 * being its true neighbours (1: every layout neighbour is a true one). `high(i, j)`: distance in the original space.
 */
export function trustworthiness(n: number, high: (i: number, j: number) => number, xy: readonly { x: number; y: number }[], k = 7): number {
  const rank = (dist: (j: number) => number, i: number): number[] => {
    const order = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i);
    order.sort((a, b) => dist(a) - dist(b) || a - b);
    return order;
  };
  let penalty = 0;
  for (let i = 0; i < n; i++) {
    const trueOrder = rank((j) => high(i, j), i);
    const trueRank = new Map(trueOrder.map((j, r) => [j, r + 1]));
    const low = rank((j) => (xy[i]!.x - xy[j]!.x) ** 2 + (xy[i]!.y - xy[j]!.y) ** 2, i).slice(0, k);
    for (const j of low) penalty += Math.max(0, trueRank.get(j)! - k);
  }
  return 1 - (2 / (n * k * (2 * n - 3 * k - 1))) * penalty;
}
