import { createHash } from 'node:crypto';
import { TIE_TOLERANCE, type TieGroup } from './metrics.js';

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** MurmurHash3's finaliser: a well-mixed 32-bit permutation. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Seed of the tie-breaking order (fixed: the same data gives the same numbers). */
const TIE_SEED = 0x1005a11e;

/**
 * What orders tied results: derived from the image's content (its content hash, else its vector), never from its
 * path, so renaming files or class folders cannot change a figure.
 */
export interface TieKey {
  readonly hash: number;
  readonly text: string;
}

export function tieKeyOf(contentHash: string | null, vector: Float32Array): TieKey {
  const text =
    contentHash ?? createHash('sha256').update(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength)).digest('hex');
  return { hash: fnv1a(text), text };
}

/**
 * Order a ranking (scores best first) so that ties do not depend on names: results whose scores are tied (within
 * `TIE_TOLERANCE` of the first of their group) are ordered by a hash of (seed, query content, result content) —
 * a fixed pseudo-random order, different for each query. Returns the new order and the tie groups' sizes.
 */
export function breakTies<H extends { score: number }>(
  hits: readonly H[],
  keyOf: (h: H) => TieKey,
  query: TieKey,
  tieBreakPath: (h: H) => string,
): { ranked: H[]; groupSizes: number[] } {
  const sorted = [...hits].sort((a, b) => b.score - a.score);
  const q = fmix32(query.hash ^ TIE_SEED);
  const ranked: H[] = [];
  const groupSizes: number[] = [];
  let start = 0;
  while (start < sorted.length) {
    const top = sorted[start]!.score;
    let end = start + 1;
    while (end < sorted.length && top - sorted[end]!.score <= TIE_TOLERANCE) end++;
    const group = sorted.slice(start, end);
    if (group.length > 1) {
      const keyed = group.map((h) => {
        const k = keyOf(h);
        return { h, k, r: fmix32(k.hash ^ q) };
      });
      const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
      // hash order; equal hashes: the full content hash; byte-identical images only: the path
      keyed.sort((a, b) => a.r - b.r || cmp(a.k.text, b.k.text) || cmp(tieBreakPath(a.h), tieBreakPath(b.h)));
      for (const x of keyed) ranked.push(x.h);
    } else ranked.push(group[0]!);
    groupSizes.push(end - start);
    start = end;
  }
  return { ranked, groupSizes };
}

/** Tie groups (size, relevant count) of a ranking ordered by `breakTies`. */
export function groupsOf(groupSizes: readonly number[], relevant: readonly boolean[]): TieGroup[] {
  const out: TieGroup[] = [];
  let start = 0;
  for (const size of groupSizes) {
    let r = 0;
    for (let i = start; i < start + size; i++) if (relevant[i]) r++;
    out.push({ size, relevant: r });
    start += size;
  }
  return out;
}

