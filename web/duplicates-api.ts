// What the page exchanges with the near-duplicate routes (GET …/duplicates, POST …/duplicates/check), and how it
// says what they answer: how a copy was confirmed, an image's size.
import { collectionUrl } from './api.js';
import { megabytes } from './state.js';

/** How a copy was confirmed against its keeper: same content, geometric match, mirrored match; null: by scores. */
export type Verified = 'identical' | 'geometry' | 'mirrored' | null;

export interface DuplicateMember {
  id: string;
  path: string | null;
  /** Score against the group's keeper (1 for the keeper). */
  score: number;
  width: number | null;
  height: number | null;
  size: number | null;
  mtimeMs: number | null;
  verified: Verified;
}

export interface DuplicateGroup {
  keeper: DuplicateMember;
  duplicates: DuplicateMember[];
}

export interface DuplicatesPage {
  collection: string;
  items: number;
  threshold: number;
  auto: boolean;
  k: number;
  margin: number;
  verified: boolean;
  totalGroups: number;
  totalDuplicates: number;
  offset: number;
  limit: number;
  groups: DuplicateGroup[];
  stats: { candidatePairs: number; verifiedPairs: number; rejectedPairs: number; ms: number };
  /** When the groups were computed: pages of one computation share it. */
  computedAt: string;
}

export interface DuplicateMatch {
  id: string;
  path: string | null;
  score: number;
  margin: number;
  verified: Verified;
}

export interface CheckReply {
  duplicate: boolean;
  matches: DuplicateMatch[];
  threshold: number;
  ms: number;
}

/** What the groups are asked for with: a threshold (null: automatic) and verification. */
export interface DuplicateOptions {
  threshold: number | null;
  verify: boolean;
}

/** A threshold as the query string takes it (a plain decimal, never an exponent). */
export const thresholdText = (t: number): string => String(Number(t.toFixed(6)));

export function duplicatesUrl(collection: string, o: DuplicateOptions, offset: number, limit: number): string {
  const p = new URLSearchParams({ threshold: o.threshold === null ? 'auto' : thresholdText(o.threshold) });
  if (o.verify) p.set('verify', 'true');
  p.set('offset', String(offset));
  p.set('limit', String(limit));
  return `${collectionUrl(collection)}/duplicates?${p.toString()}`;
}

export const checkUrl = (collection: string): string => `${collectionUrl(collection)}/duplicates/check`;

/** How a copy was decided, in words. `verifying`: the groups were asked for with verification. */
export function verifiedText(v: Verified, verifying: boolean): string {
  if (v === 'identical') return 'identical file';
  if (v === 'geometry') return 'verified: same picture';
  if (v === 'mirrored') return 'verified: mirrored';
  return verifying ? 'by score (files not verifiable)' : 'by score, not verified';
}

/** `['640 × 427', '158 KB']`: an image's dimensions and file size, as far as they are known. */
export function fileFacts(m: Pick<DuplicateMember, 'width' | 'height' | 'size'>): string[] {
  const parts: string[] = [];
  if (m.width && m.height) parts.push(`${m.width} × ${m.height}`);
  if (m.size) parts.push(m.size < 1024 * 1024 ? `${Math.max(1, Math.round(m.size / 1024))} KB` : megabytes(m.size));
  return parts;
}
