/**
 * Grouping candidate pairs without letting chains merge unrelated images. Pairs are taken best first (score, then
 * node numbers: deterministic); a pair joins two groups only when the pair itself is accepted (e.g. geometrically
 * verified) and the two groups are compatible as a whole: complete linkage (every cross pair scores at least the link
 * threshold) or the anchors' rule (the groups' anchors — their suggested keepers — are accepted as a pair too).
 */

export interface CandidateEdge {
  readonly a: number;
  readonly b: number;
  readonly score: number;
  readonly margin: number;
}

export interface GroupingRules {
  /** Whether the pair itself is a duplicate (always true when the score rule alone decides). */
  readonly acceptPair: (a: number, b: number, margin: number) => Promise<boolean>;
  /** Whether two groups (member lists, anchors) may become one, given that the pair `a`–`b` between them was accepted. */
  readonly compatible: (membersA: readonly number[], membersB: readonly number[], anchorA: number, anchorB: number, a: number, b: number) => Promise<boolean>;
  /** Orders nodes by how good a keeper they make (negative: `x` is the better one). */
  readonly keeperOrder: (x: number, y: number) => number;
  /** Largest group (default 1000): bigger merges are refused (a sign of a threshold set too low). */
  readonly maxGroupSize?: number;
  readonly onEdge?: (done: number, total: number) => void;
  readonly signal?: AbortSignal | undefined;
}

/** Candidate pairs best first: score, then the node numbers (the graph numbers nodes in insertion order). */
export function sortEdges(edges: CandidateEdge[]): CandidateEdge[] {
  return edges.sort((x, y) => y.score - x.score || x.a - y.a || x.b - y.b);
}

/** Groups of two or more nodes, each with its anchor (the best keeper among its members) first. */
export async function groupEdges(edges: readonly CandidateEdge[], rules: GroupingRules): Promise<number[][]> {
  const parent = new Map<number, number>();
  const members = new Map<number, number[]>();
  const anchor = new Map<number, number>();
  const find = (x: number): number => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    // path compression
    let y = x;
    while (y !== r) {
      const next = parent.get(y)!;
      parent.set(y, r);
      y = next;
    }
    return r;
  };
  const maxSize = rules.maxGroupSize ?? 1000;
  let done = 0;
  for (const e of edges) {
    rules.signal?.throwIfAborted();
    rules.onEdge?.(++done, edges.length);
    const ra = find(e.a);
    const rb = find(e.b);
    if (ra === rb) continue;
    const ma = members.get(ra) ?? [ra];
    const mb = members.get(rb) ?? [rb];
    if (ma.length + mb.length > maxSize) continue;
    const aa = anchor.get(ra) ?? ra;
    const ab = anchor.get(rb) ?? rb;
    if (!(await rules.acceptPair(e.a, e.b, e.margin))) continue;
    if (!(await rules.compatible(ma, mb, aa, ab, e.a, e.b))) continue;
    // the larger group's root stays the root
    const [root, other] = ma.length >= mb.length ? [ra, rb] : [rb, ra];
    parent.set(other, root);
    parent.set(root, root);
    members.set(root, [...(members.get(root) ?? [root]), ...(members.get(other) ?? [other])]);
    members.delete(other);
    anchor.set(root, rules.keeperOrder(aa, ab) <= 0 ? aa : ab);
    anchor.delete(other);
  }
  const out: number[][] = [];
  for (const [root, m] of members) {
    const a = anchor.get(root) ?? root;
    out.push([a, ...m.filter((x) => x !== a).sort((x, y) => x - y)]);
  }
  return out;
}

/** Complete linkage: every pair across the two groups is `linked` (scores high enough). */
export function completeLinkage(linked: (a: number, b: number) => boolean): GroupingRules['compatible'] {
  return async (ma, mb) => {
    for (const x of ma) for (const y of mb) if (!linked(x, y)) return false;
    return true;
  };
}
