// The page's one state object, and what is derived from it (names, chips, alt texts, paging).
import type { Hit, Info, Item, Limits, Summary } from './api.js';
import type { Query } from './query.js';

export interface SearchState {
  /** The id of the search this state belongs to; responses of any other search are ignored. */
  seq: number;
  query: Query;
  phase: 'idle' | 'loading' | 'done' | 'error';
  hits: Hit[];
  error: string | null;
  ms: number | null;
  /** `limit`: more results exist than the server ranks for one query. */
  more: 'no' | 'yes' | 'loading' | 'limit';
  /** A freshly chosen file (its name and an object URL of it) while its search runs, or the one it was. */
  file: { name: string; url: string } | null;
}

export interface DetailState {
  /** The item's id; with `query`, the name (hash) of the uploaded query image. */
  id: string;
  /** The uploaded query image (to search with a region of it), not an item. */
  query?: true;
  item: Item | null;
  error: string | null;
}

export interface State {
  /** `key`: the server needs an API key for reads and has none (or a wrong one) from this tab. */
  boot: 'loading' | 'ready' | 'failed' | 'key';
  bootError: string | null;
  /** Why the key form is shown again (a key the server did not accept). */
  keyError: string | null;
  /** Something the page decided for the user (e.g. a link named a collection that does not exist). */
  notice: string | null;
  collections: Info[];
  limits: Limits;
  summaries: Map<string, Summary | 'loading' | 'failed'>;
  search: SearchState;
  detail: DetailState | null;
  /** Hits of the current search marked 👍 (false) or 👎 (true), not searched yet, in the order marked. */
  marks: Map<string, boolean>;
  /** A k or min score the user typed that cannot be used (nothing is clamped silently). */
  knobError: string | null;
  /** Hits seen, by collection and id (names for captions, scores for the detail view). */
  seen: Map<string, Hit>;
  /** Items fetched, by collection and id. */
  items: Map<string, Item>;
  /** Whether a collection has calibrated scores, as learnt from its hits (`confidence`) or its info. */
  calibrated: Map<string, boolean>;
}

export const DEFAULT_LIMITS: Limits = {
  maxK: 1000,
  maxUploadBytes: 20 * 1024 * 1024,
  maxWhereConditions: 32,
  acceptedFormats: ['JPEG', 'PNG', 'WebP', 'GIF', 'TIFF', 'AVIF', 'HEIF'],
  acceptedTypes: ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif', 'image/heif'],
  maxQueryTerms: 32,
};

export const seenKey = (collection: string, id: string): string => `${collection}\u0000${id}`;

export const currentInfo = (s: State): Info | undefined => s.collections.find((c) => c.collection === s.search.query.collection);

/** Whether `collection` has calibrated scores: its info says so (newer servers), or its hits did; undefined: not known yet. */
export function isCalibrated(s: State, collection: string): boolean | undefined {
  return s.collections.find((c) => c.collection === collection)?.calibrated ?? s.calibrated.get(collection);
}

/**
 * A confidence as a percentage, e.g. 99.6 %: enough decimals to tell 99 % from 99.9 % from 99.99 %, rounded down (a
 * hit is never said to beat more pairs than it does, nor "100 %" short of it).
 */
export function percentText(c: number): string {
  const digits = c >= 0.999 ? 2 : c >= 0.99 ? 1 : 0;
  const f = 10 ** digits;
  return `${String(Math.floor(c * 100 * f + 1e-6) / f)}\u00a0%`;
}

export function summaryOf(s: State, collection: string): Summary | undefined {
  const v = s.summaries.get(collection);
  return typeof v === 'object' ? v : undefined;
}

/** How an item is named on the page: the uploaded file's name, or its path below the collection's common folder. */
export function displayName(h: Pick<Hit, 'id' | 'path' | 'metadata'>, summary: Summary | undefined): string {
  const filename = typeof h.metadata.filename === 'string' ? h.metadata.filename : null;
  if (filename) return filename;
  if (!h.path) return h.id;
  const prefix = summary?.pathPrefix;
  if (prefix && h.path.startsWith(prefix) && h.path.length > prefix.length) return h.path.slice(prefix.length);
  const parts = h.path.split(/[\\/]/u).filter(Boolean);
  return parts.length > 3 ? `…/${parts.slice(-3).join('/')}` : h.path;
}

/** Keys not worth a chip: the uploaded file's name (the display name already), the file format (the same on most). */
const NO_CHIP = new Set(['filename', 'format']);

/** Scalar metadata as `key: value` (the detail view shows all of it). */
export function chips(metadata: Record<string, unknown>, max = 6): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(metadata)) {
    if (NO_CHIP.has(k)) continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') continue;
    const text = String(v);
    out.push(`${k}: ${text.length > 40 ? `${text.slice(0, 39)}…` : text}`);
    if (out.length === max) break;
  }
  return out;
}

/** Alt text of a thumbnail: its name and metadata, never a server path. */
export function altText(h: Pick<Hit, 'id' | 'path' | 'metadata'>, summary: Summary | undefined): string {
  const c = chips(h.metadata);
  return `${displayName(h, summary)}${c.length ? ` (${c.join(', ')})` : ''}`;
}

/** Whether another page of results can be asked for, given the server's largest k. */
export function moreAfter(got: number, asked: number, shown: number, maxK: number): SearchState['more'] {
  if (got < asked) return 'no';
  return shown >= maxK ? 'limit' : 'yes';
}

export function megabytes(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}
