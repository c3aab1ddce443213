/** Checking the near-duplicate options (named fields, what was expected) and the keeper rule. */
import { createError } from '../errors.js';
import type { Item } from '../store/types.js';
import type { CheckDuplicateOptions, FindDuplicatesOptions } from './types.js';
import type { VerifyOptions } from './verify.js';

/** Most groups one page may hold, and the largest k. */
export const MAX_LIMIT = 10_000;
export const MAX_K = 100;

/** Without verification, pairs need this margin by default; with it, verification decides (margin 0). */
export const DEFAULT_MARGIN = 0.5;
export const DEFAULT_VERIFY_MARGIN = 0;

export interface Checked {
  readonly threshold: number | 'auto';
  readonly k: number;
  readonly margin: number;
  /** The margin of the score rule (the decision without verification, and for pairs that cannot be verified). */
  readonly scoreMargin: number;
  readonly mutual: boolean;
  readonly verify: boolean;
  readonly verifyOptions: VerifyOptions;
  readonly linkThreshold: number | undefined;
  readonly maxGroupSize: number;
}

export type Resolved = Omit<Checked, 'threshold' | 'linkThreshold'> & { threshold: number; linkThreshold: number };

function bad(field: string, expected: string, got: unknown): never {
  throw createError('INVALID_ARGUMENT', `${field} must be ${expected} (got ${JSON.stringify(got) ?? String(got)}).`, { field });
}

function scoreIn(field: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > 1) bad(field, `a number from ${min} to 1`, v);
  return v;
}

function intIn(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(field, `an integer from ${min} to ${max}`, v);
  return v;
}

export function checkCommonOptions(o: CheckDuplicateOptions): Pick<Checked, 'threshold' | 'k' | 'margin' | 'scoreMargin' | 'verify' | 'verifyOptions'> {
  const threshold = o.threshold === undefined || o.threshold === 'auto' ? 'auto' : scoreIn('threshold', o.threshold, -1);
  const k = o.k === undefined ? 10 : intIn('k', o.k, 1, MAX_K);
  const verify = o.verify !== undefined && o.verify !== false;
  const verifyOptions: VerifyOptions = typeof o.verify === 'object' && o.verify !== null ? o.verify : {};
  if (verifyOptions.minInliers !== undefined) intIn('verify.minInliers', verifyOptions.minInliers, 4, 10_000);
  if (verifyOptions.ratio !== undefined) scoreIn('verify.ratio', verifyOptions.ratio, 0.1);
  const margin = o.margin === undefined ? (verify ? DEFAULT_VERIFY_MARGIN : DEFAULT_MARGIN) : scoreIn('margin', o.margin, -1);
  // pairs that cannot be verified (no readable files) are decided by scores, with at least the default margin
  return { threshold, k, margin, scoreMargin: verify ? Math.max(margin, DEFAULT_MARGIN) : margin, verify, verifyOptions };
}

export function checkFindOptions(o: FindDuplicatesOptions): Checked {
  return {
    ...checkCommonOptions(o),
    mutual: o.mutual === true,
    linkThreshold: o.linkThreshold === undefined ? undefined : scoreIn('linkThreshold', o.linkThreshold, -1),
    maxGroupSize: o.maxGroupSize === undefined ? 1000 : intIn('maxGroupSize', o.maxGroupSize, 2, 100_000),
  };
}

export function pageOf(o: { offset?: number; limit?: number }): { offset: number; limit: number | undefined } {
  const offset = o.offset === undefined ? 0 : intIn('offset', o.offset, 0, Number.MAX_SAFE_INTEGER);
  const limit = o.limit === undefined ? undefined : intIn('limit', o.limit, 1, MAX_LIMIT);
  return { offset, limit };
}

/** The keeper rule: most pixels, then the largest file, then the oldest, then the smallest id (negative: `a` first). */
export function keeperOrder(a: Item | undefined, b: Item | undefined, idA: string, idB: string): number {
  const px = (i: Item | undefined) => (i?.width ?? 0) * (i?.height ?? 0);
  return (
    px(b) - px(a) ||
    (b?.size ?? 0) - (a?.size ?? 0) ||
    (a?.mtimeMs ?? Number.MAX_SAFE_INTEGER) - (b?.mtimeMs ?? Number.MAX_SAFE_INTEGER) ||
    (idA < idB ? -1 : idA > idB ? 1 : 0)
  );
}
