/** The near-duplicate API's shapes: options, groups, results (shared by the library, the CLI and the HTTP routes). */
import type { GraphProgress } from './graph.js';
import type { VerifyOptions } from './verify.js';

export interface FindDuplicatesOptions {
  /**
   * Least score (the collection's similarity, cosine) of a duplicate pair, or `auto` (the default): picked from the
   * distribution of the items' best-neighbour scores. With `verify` it only preselects the pairs to verify.
   */
  readonly threshold?: number | 'auto';
  /** Neighbours looked up per item (default 10, 1–100): pairs come from this k-nearest-neighbour graph only. */
  readonly k?: number;
  /**
   * Least density-normalised margin of a pair (0–1): how far its score lies above the two items' k-th-neighbour
   * scores, as a share of the way to 1. Keeps apart unrelated pictures that score high only because their region of
   * the space is crowded. Default 0.5 without `verify`, 0 with it.
   */
  readonly margin?: number;
  /** Keep only pairs that are in each other's k nearest neighbours (default false). */
  readonly mutual?: boolean;
  /**
   * Confirm each pair by geometric matching of local features (ORB + RANSAC, the mirrored image too), reading the
   * items' files. Pairs whose files cannot be read fall back to the score rule. Default false.
   */
  readonly verify?: boolean | VerifyOptions;
  /**
   * Least score of every pair within a group (complete linkage, so chains of similar pairs do not merge unrelated
   * images). Default: `1 − 2 (1 − threshold)`. Verified groups use their keepers instead: the keepers of two groups
   * must match each other before the groups merge.
   */
  readonly linkThreshold?: number;
  /** Largest group (default 1000). */
  readonly maxGroupSize?: number;
  /** HNSW collections: candidate list size of each neighbour search (default: enough for k). */
  readonly ef?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: GraphProgress) => void;
}

/** One image of a group. */
export interface DuplicateMember {
  readonly id: string;
  readonly path: string | null;
  /** Score against the group's keeper (1 for the keeper). */
  readonly score: number;
  readonly width: number | null;
  readonly height: number | null;
  readonly size: number | null;
  readonly mtimeMs: number | null;
  /**
   * How the pair with the keeper was confirmed: `identical` (same content hash), `geometry`, `mirrored`, or null
   * (decided by scores: not verified, or not verifiable).
   */
  readonly verified: 'identical' | 'geometry' | 'mirrored' | null;
}

export interface DuplicateGroup {
  /** The suggested keeper: most pixels, then the largest file, then the oldest, then the smallest id. */
  readonly keeper: DuplicateMember;
  /** The others, best score first. */
  readonly duplicates: readonly DuplicateMember[];
}

export interface DuplicatesResult {
  readonly collection: string;
  /** Items in the collection. */
  readonly items: number;
  /** The score threshold used (picked from the data when `auto`). */
  readonly threshold: number;
  readonly auto: boolean;
  readonly k: number;
  readonly margin: number;
  readonly linkThreshold: number;
  readonly verified: boolean;
  /** Groups in all. */
  readonly totalGroups: number;
  /** Images that are not their group's keeper, in all groups. */
  readonly totalDuplicates: number;
  readonly offset: number;
  /** Groups, largest first (then best score, then keeper id): those from `offset`, at most `limit`. */
  readonly groups: readonly DuplicateGroup[];
  readonly stats: {
    readonly candidatePairs: number;
    readonly verifiedPairs: number;
    readonly rejectedPairs: number;
    readonly ms: number;
  };
}

export interface CheckDuplicateOptions {
  readonly threshold?: number | 'auto';
  readonly k?: number;
  readonly margin?: number;
  readonly verify?: boolean | VerifyOptions;
}

export interface DuplicateMatch {
  readonly id: string;
  readonly path: string | null;
  readonly score: number;
  readonly margin: number;
  readonly verified: 'identical' | 'geometry' | 'mirrored' | null;
}

export interface CheckDuplicateResult {
  /** Whether the image is (a near-duplicate of) an item of the collection. */
  readonly duplicate: boolean;
  /** The items it duplicates, best first (empty when none). */
  readonly matches: readonly DuplicateMatch[];
  readonly threshold: number;
  readonly ms: number;
}
