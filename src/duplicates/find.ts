/**
 * Near-duplicate groups of a collection, and "is this image already in here?".
 *
 * 1. Candidates: the k-nearest-neighbour graph from the collection's own index (`graph.ts`); a pair is a candidate
 *    when its score reaches the threshold (given, or picked from the score distribution) and its density-normalised
 *    margin reaches `margin` (unrelated pictures in a crowded region score high, but not above their neighbours).
 * 2. Optionally each candidate pair is verified geometrically (`verify.ts`): ORB keypoints + RANSAC, mirrored too.
 * 3. Grouping (`group.ts`), best pairs first, with complete linkage on scores (or, verified, the groups' keepers must
 *    match) so chains do not merge unrelated images. Each group names a keeper: most pixels, largest file, oldest.
 */
import { createError } from '../errors.js';
import type { Item, StoreCollection } from '../store/types.js';
import { autoThreshold, backgrounds, buildGraph, margin as marginOf } from './graph.js';
import { completeLinkage, groupEdges, sortEdges, type CandidateEdge } from './group.js';
import { checkFindOptions, keeperOrder, pageOf, type Resolved } from './options.js';
import type { DuplicateGroup, DuplicateMember, DuplicatesResult, FindDuplicatesOptions } from './types.js';
import { PairVerifier } from './verifier.js';

/**
 * Pairs below this margin are not tried mirrored: embeddings barely change when an image is flipped (CNN and CLIP
 * features are trained with flips), so a flipped copy scores a high margin.
 */
const MIRROR_MARGIN = 0.3;

/** Threshold when a collection is too small to pick one from its scores. */
export const FALLBACK_THRESHOLD = 0.95;

export async function findDuplicates(
  store: StoreCollection,
  opts: FindDuplicatesOptions & { offset?: number; limit?: number },
  maxPixels = 100_000_000,
): Promise<DuplicatesResult> {
  const t0 = performance.now();
  const o = checkFindOptions(opts);
  const { offset, limit } = pageOf(opts);
  const g = await buildGraph(store, 2 * o.k, { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.ef ? { ef: opts.ef } : {}) });
  const n = g.ids.length;
  const bg = backgrounds(g);
  const threshold = o.threshold === 'auto' ? autoThreshold(bg, FALLBACK_THRESHOLD) : o.threshold;
  const link = o.linkThreshold ?? 1 - 2 * (1 - threshold);
  const r: Resolved = { ...o, threshold, linkThreshold: link };

  // candidate pairs: each unordered pair once, with the better of its two directed scores
  const inList = (i: number, j: number) => {
    for (let x = 0; x < o.k; x++) if (g.neighbours[i * g.k + x] === j) return true;
    return false;
  };
  const pairs = new Map<number, CandidateEdge>();
  for (let i = 0; i < n; i++) {
    for (let x = 0; x < o.k; x++) {
      const j = g.neighbours[i * g.k + x]!;
      if (j < 0) break;
      const s = g.scores[i * g.k + x]!;
      const [a, b] = i < j ? [i, j] : [j, i];
      const key = a * n + b;
      const prev = pairs.get(key);
      if (prev && prev.score >= s) continue;
      pairs.set(key, { a, b, score: s, margin: marginOf(s, bg[a]!, bg[b]!) });
    }
  }
  // with verification, scores only preselect the pairs to verify: by the margin, and by the threshold when one is given
  const preselect = { threshold: r.verify && o.threshold === 'auto' ? Number.NEGATIVE_INFINITY : threshold, margin: r.margin };
  const edges = sortEdges(
    [...pairs.values()].filter((e) => e.score >= preselect.threshold && e.margin >= preselect.margin && (!r.mutual || (inList(e.a, e.b) && inList(e.b, e.a)))),
  );

  // what grouping needs of the candidates: their records (keeper rule, files) and vectors (linkage, scores)
  const nodes = [...new Set(edges.flatMap((e) => [e.a, e.b]))].sort((x, y) => x - y);
  const items = new Map<number, Item>();
  const vectors = new Map<number, Float32Array>();
  for (let s = 0; s < nodes.length; s += 500) {
    opts.signal?.throwIfAborted();
    const chunk = nodes.slice(s, s + 500);
    // records one by one (the store has no batch read), in parallel: a server store answers them concurrently
    const [vs, records] = await Promise.all([store.getVectors(chunk.map((x) => g.ids[x]!)), Promise.all(chunk.map((x) => store.get(g.ids[x]!)))]);
    for (const [j, x] of chunk.entries()) {
      const item = records[j];
      const v = vs.get(g.ids[x]!);
      if (item && v) {
        items.set(x, item);
        vectors.set(x, v);
      }
    }
  }
  const score = (a: number, b: number): number => dot(vectors.get(a), vectors.get(b));
  const order = (x: number, y: number) => keeperOrder(items.get(x), items.get(y), g.ids[x]!, g.ids[y]!);
  const verifier = r.verify ? new PairVerifier(r.verifyOptions, maxPixels) : undefined;
  const edgeOk = new Map<number, boolean>(edges.map((e) => [e.a * n + e.b, e.score >= threshold && e.margin >= r.scoreMargin]));
  // unverifiable pairs (no readable files) fall back to the score rule
  const byScores = (a: number, b: number) => edgeOk.get(Math.min(a, b) * n + Math.max(a, b)) ?? (score(a, b) >= threshold);
  const accept = async (a: number, b: number, m = 1, colour = true): Promise<boolean> => {
    if (!vectors.has(a) || !vectors.has(b)) return false;
    if (!verifier) return true;
    const v = await verifier.verify(items.get(a)!, items.get(b)!, m >= MIRROR_MARGIN, colour);
    return v === null ? byScores(a, b) : v.match;
  };
  const groups = await groupEdges(edges, {
    acceptPair: accept,
    compatible: verifier
      ? // the keepers must match geometrically (no chain of overlapping pictures); colours were checked pair by pair,
        // and two copies edited differently (a black-cornered rotation, a white border) may disagree at their edges
        async (ma, mb, aa, ab, a, b) => (aa === a && ab === b) || (aa === b && ab === a) || accept(aa, ab, 1, false)
      : completeLinkage((a, b) => {
          const s = score(a, b);
          return s >= link && marginOf(s, bg[a]!, bg[b]!) >= r.margin / 2;
        }),
    keeperOrder: order,
    maxGroupSize: o.maxGroupSize,
    signal: opts.signal,
    ...(opts.onProgress ? { onEdge: (done: number, total: number) => (done % 256 === 0 || done === total) && opts.onProgress!({ phase: 'group', done, total }) } : {}),
  });

  const member = async (x: number, keeper: number): Promise<DuplicateMember> => {
    const it = items.get(x)!;
    const verdict = x === keeper || !verifier ? null : await verifier.verify(items.get(keeper)!, it);
    return {
      id: it.id,
      path: it.path,
      score: x === keeper ? 1 : score(x, keeper),
      width: it.width,
      height: it.height,
      size: it.size,
      mtimeMs: it.mtimeMs,
      verified: verdict?.match && verdict.how !== 'none' ? verdict.how : null,
    };
  };
  const out: DuplicateGroup[] = [];
  for (const grp of groups) {
    const keeper = [...grp].sort(order)[0]!;
    const others = await Promise.all(grp.filter((x) => x !== keeper).map((x) => member(x, keeper)));
    others.sort((p, q) => q.score - p.score || (p.id < q.id ? -1 : p.id > q.id ? 1 : 0));
    out.push({ keeper: await member(keeper, keeper), duplicates: others });
  }
  out.sort((p, q) => q.duplicates.length - p.duplicates.length || (q.duplicates[0]?.score ?? 0) - (p.duplicates[0]?.score ?? 0) || (p.keeper.id < q.keeper.id ? -1 : 1));
  return {
    collection: store.spec.name,
    items: n,
    threshold,
    auto: o.threshold === 'auto',
    k: o.k,
    margin: r.margin,
    linkThreshold: link,
    verified: verifier !== undefined,
    totalGroups: out.length,
    totalDuplicates: out.reduce((s, x) => s + x.duplicates.length, 0),
    offset,
    groups: out.slice(offset, limit === undefined ? undefined : offset + limit),
    stats: { candidatePairs: edges.length, verifiedPairs: verifier?.verified ?? 0, rejectedPairs: verifier?.rejected ?? 0, ms: Math.round(performance.now() - t0) },
  };
}

function dot(a: Float32Array | undefined, b: Float32Array | undefined): number {
  if (!a || !b) throw createError('INTERNAL', 'A vector of a duplicate candidate is missing.');
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
