// A search as the page knows it, and its round trip through the URL (what makes Back/Forward and shared links work).
//
// A query is its first term (`kind`/`value`: the image, item or text it was started with, with an optional region
// `crop` and `weight`) plus the terms added to it (`terms`: 👍/👎 hits, a text "added to the query"), combined by
// `strategy`. A term's weight is `null` until the user edits it: the page then uses the Rocchio defaults (terms.ts).

export type QueryKind = 'none' | 'id' | 'text' | 'upload';
export type TermKind = 'id' | 'text' | 'upload';
export type Strategy = 'average' | 'best-score';
/** Query expansion / re-ranking of the top hits (docs/tuning.md); off by default. */
export type Rerank = 'aqe' | 'alpha-qe' | 'diffusion';
export const RERANKS: readonly Rerank[] = ['aqe', 'alpha-qe', 'diffusion'];
/** The min confidence levels offered (collections with calibrated scores). */
export const CONFIDENCES: readonly number[] = [0.9, 0.99, 0.999];

/** A region of an image as fractions of its width and height. */
export interface Crop {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A term added to a query: more like it (positive) or less like it (negative). */
export interface Term {
  kind: TermKind;
  value: string;
  negative: boolean;
  /** Set when the user edited it; `null`: the default (see `effectiveTerms`). */
  weight: number | null;
}

export interface Query {
  collection: string;
  kind: QueryKind;
  /** The item id, the text, or the name (hash) of an uploaded image; '' for `none`. */
  value: string;
  /** A region of the first term's image (id and upload queries). */
  crop: Crop | null;
  /** The first term's weight when edited. */
  weight: number | null;
  terms: Term[];
  strategy: Strategy;
  /** Fold near-duplicates of better hits into them (collapse 0.97). */
  fold: boolean;
  k: number;
  minScore: number | null;
  /** Re-rank the top hits (not with folding, best-score or a min confidence: the server refuses those). */
  rerank: Rerank | null;
  /** Collections with calibrated scores: leave out hits less sure than this (0…1). */
  minConfidence: number | null;
  /** Metadata equality filters, values as text. */
  where: Record<string, string>;
  /** Date taken from / to (days, YYYY-MM-DD; both ends included), or null. */
  takenFrom: string | null;
  takenTo: string | null;
}

/** What the URL holds besides the query: the item open in the detail view. */
export interface Location {
  query: Query;
  item: string | null;
}

export const DEFAULT_K = 12;
/** How similar a hit must be to a better one to be folded into it. */
export const COLLAPSE = 0.97;

/** No search, with the knobs (k, min score, strategy, folding, re-ranking, min confidence) of `base`. */
export function emptyQuery(collection: string, base?: Query): Query {
  return {
    collection,
    kind: 'none',
    value: '',
    crop: null,
    weight: null,
    terms: [],
    strategy: base?.strategy ?? 'average',
    fold: base?.fold ?? false,
    k: base?.k ?? DEFAULT_K,
    minScore: base?.minScore ?? null,
    rerank: base?.rerank ?? null,
    minConfidence: base?.minConfidence ?? null,
    where: {},
    takenFrom: null,
    takenTo: null,
  };
}

/** A new search by `kind`/`value` with the knobs and filters of `q`: the terms of `q` are gone. */
/** A day as YYYY-MM-DD (a real date), or null. */
export function validDay(text: string | null): string | null {
  if (!text || !/^\d{4}-\d{2}-\d{2}$/u.test(text)) return null;
  return Number.isNaN(Date.parse(`${text}T00:00:00Z`)) ? null : text;
}

/**
 * The filter sent to the server: the equality filters, and the date-taken range as `taken: {gte, lte}` over the
 * UTC ISO dates the server stores (the last day included whole). Undefined when there is none.
 */
export function wireWhere(q: Query): Record<string, unknown> | undefined {
  const where: Record<string, unknown> = { ...q.where };
  if (q.takenFrom || q.takenTo) {
    where.taken = { ...(q.takenFrom ? { gte: q.takenFrom } : {}), ...(q.takenTo ? { lte: `${q.takenTo}T23:59:59.999Z` } : {}) };
  }
  return Object.keys(where).length > 0 ? where : undefined;
}

export function freshQuery(q: Query, kind: TermKind, value: string, crop: Crop | null = null): Query {
  return { ...q, kind, value, crop, weight: null, terms: [] };
}

const round = (n: number, digits = 4): number => Number(n.toFixed(digits));
const cropText = (c: Crop): string => [c.x, c.y, c.w, c.h].map((n) => String(round(n))).join(',');

/** A region as fractions (all four from 0 to 1, inside the image, not empty), or null. */
export function parseCrop(text: string | null): Crop | null {
  if (!text) return null;
  const n = text.split(',').map(Number);
  if (n.length !== 4 || !n.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)) return null;
  const [x, y, w, h] = n as [number, number, number, number];
  if (w <= 0 || h <= 0 || x + w > 1.0001 || y + h > 1.0001) return null;
  return { x, y, w, h };
}

const validWeight = (w: number): boolean => Number.isFinite(w) && w > 0 && w <= 100;

/** `t=` values: `+id:abc`, `-id*0.5:abc`, `+text:in black and white` (sign, kind, an edited weight, the value). */
export function termText(t: Term): string {
  return `${t.negative ? '-' : '+'}${t.kind}${t.weight !== null ? `*${round(t.weight)}` : ''}:${t.value}`;
}

export function parseTerm(text: string): Term | null {
  const m = /^([+-])(id|text|upload)(?:\*([^:]+))?:([\s\S]+)$/u.exec(text);
  if (!m) return null;
  const weight = m[3] === undefined ? null : Number(m[3]);
  if (weight !== null && !validWeight(weight)) return null;
  return { kind: m[2] as TermKind, value: m[4]!, negative: m[1] === '-', weight };
}

/**
 * Parse `?collection=…&id=…|text=…|upload=…&crop=x,y,w,h&w=…&t=…&strategy=…&fold=1&k=…&min=…&rerank=…&conf=…&f.key=value&item=…`;
 * unknown or bad parts are ignored.
 */
export function fromUrl(search: string, fallbackCollection: string): Location {
  const p = new URLSearchParams(search);
  const q = emptyQuery(p.get('collection') ?? fallbackCollection);
  for (const kind of ['id', 'text', 'upload'] as const) {
    const v = p.get(kind);
    if (v !== null && v !== '') {
      q.kind = kind;
      q.value = v;
      break;
    }
  }
  if (q.kind === 'id' || q.kind === 'upload') q.crop = parseCrop(p.get('crop'));
  if (q.kind !== 'none') {
    const w = Number(p.get('w') ?? NaN);
    if (validWeight(w)) q.weight = w;
    q.terms = p.getAll('t').flatMap((t) => parseTerm(t) ?? []);
  }
  if (p.get('strategy') === 'best-score') q.strategy = 'best-score';
  q.fold = p.get('fold') === '1';
  const k = Number(p.get('k'));
  if (Number.isInteger(k) && k >= 1) q.k = k;
  const minRaw = p.get('min');
  const min = minRaw === null || minRaw === '' ? NaN : Number(minRaw);
  if (Number.isFinite(min)) q.minScore = min;
  const rerank = p.get('rerank');
  q.rerank = RERANKS.find((r) => r === rerank) ?? null;
  const confRaw = p.get('conf');
  const conf = confRaw === null || confRaw === '' ? NaN : Number(confRaw);
  if (Number.isFinite(conf) && conf >= 0 && conf <= 1) q.minConfidence = conf;
  for (const [key, value] of p) if (key.startsWith('f.') && key.length > 2) q.where[key.slice(2)] = value;
  q.takenFrom = validDay(p.get('from'));
  q.takenTo = validDay(p.get('to'));
  return { query: q, item: p.get('item') || null };
}

export function toUrl(loc: Location): string {
  const q = loc.query;
  const p = new URLSearchParams();
  if (q.collection) p.set('collection', q.collection);
  if (q.kind !== 'none') {
    p.set(q.kind, q.value);
    if (q.crop) p.set('crop', cropText(q.crop));
    if (q.weight !== null) p.set('w', String(round(q.weight)));
    for (const t of q.terms) p.append('t', termText(t));
  }
  if (q.strategy !== 'average') p.set('strategy', q.strategy);
  if (q.fold) p.set('fold', '1');
  if (q.k !== DEFAULT_K) p.set('k', String(q.k));
  if (q.minScore !== null) p.set('min', String(q.minScore));
  if (q.rerank !== null) p.set('rerank', q.rerank);
  if (q.minConfidence !== null) p.set('conf', String(q.minConfidence));
  for (const key of Object.keys(q.where).sort()) p.set(`f.${key}`, q.where[key]!);
  if (q.takenFrom) p.set('from', q.takenFrom);
  if (q.takenTo) p.set('to', q.takenTo);
  if (loc.item) p.set('item', loc.item);
  const s = p.toString();
  return s ? `?${s}` : location.pathname;
}

/** Two queries ask for the same results. */
export const sameQuery = (a: Query, b: Query): boolean => toUrl({ query: a, item: null }) === toUrl({ query: b, item: null });

/** The same search as a multipart form, for a freshly chosen file (a new search: one term). */
export function searchForm(q: Query, file: File): FormData {
  const form = new FormData();
  form.append('image', file, file.name);
  form.append('k', String(q.k));
  if (q.crop) form.append('crop', cropText(q.crop));
  if (q.minScore !== null) form.append('minScore', String(q.minScore));
  const where = wireWhere(q);
  if (where) form.append('where', JSON.stringify(where));
  if (q.fold) form.append('collapse', String(COLLAPSE));
  if (q.rerank !== null) form.append('rerank', q.rerank);
  if (q.minConfidence !== null) form.append('minConfidence', String(q.minConfidence));
  return form;
}

/**
 * What keeps re-ranking from being chosen with the rest of `q` (the server refuses rerank with a min confidence,
 * with collapse and with best-score): the settings in the way, as words, or none.
 */
export function rerankBlockers(q: Query): string[] {
  const out: string[] = [];
  if (q.minConfidence !== null) out.push('a min confidence');
  if (q.fold) out.push('folded near-duplicates');
  if (q.strategy === 'best-score' && q.terms.length > 0) out.push('the best-score strategy');
  return out;
}
