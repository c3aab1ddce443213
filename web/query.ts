// A search as the page knows it, and its round trip through the URL (what makes Back/Forward and shared links work).

export type QueryKind = 'none' | 'id' | 'text' | 'upload';

export interface Query {
  collection: string;
  kind: QueryKind;
  /** The item id, the text, or the name (hash) of an uploaded image; '' for `none`. */
  value: string;
  k: number;
  minScore: number | null;
  /** Metadata equality filters, values as text. */
  where: Record<string, string>;
}

/** What the URL holds besides the query: the item open in the detail view. */
export interface Location {
  query: Query;
  item: string | null;
}

export const DEFAULT_K = 12;

export function emptyQuery(collection: string, base?: Query): Query {
  return { collection, kind: 'none', value: '', k: base?.k ?? DEFAULT_K, minScore: base?.minScore ?? null, where: {} };
}

/** Parse `?collection=…&id=…|text=…|upload=…&k=…&min=…&f.key=value&item=…`; unknown or bad parts are ignored. */
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
  const k = Number(p.get('k'));
  if (Number.isInteger(k) && k >= 1) q.k = k;
  const minRaw = p.get('min');
  const min = minRaw === null || minRaw === '' ? NaN : Number(minRaw);
  if (Number.isFinite(min)) q.minScore = min;
  for (const [key, value] of p) if (key.startsWith('f.') && key.length > 2) q.where[key.slice(2)] = value;
  return { query: q, item: p.get('item') || null };
}

export function toUrl(loc: Location): string {
  const q = loc.query;
  const p = new URLSearchParams();
  if (q.collection) p.set('collection', q.collection);
  if (q.kind !== 'none') p.set(q.kind, q.value);
  if (q.k !== DEFAULT_K) p.set('k', String(q.k));
  if (q.minScore !== null) p.set('min', String(q.minScore));
  for (const key of Object.keys(q.where).sort()) p.set(`f.${key}`, q.where[key]!);
  if (loc.item) p.set('item', loc.item);
  const s = p.toString();
  return s ? `?${s}` : location.pathname;
}

/** Two queries ask for the same results. */
export const sameQuery = (a: Query, b: Query): boolean => toUrl({ query: a, item: null }) === toUrl({ query: b, item: null });

/** The JSON body of a search (uploads that the server keeps are searched again by their name). */
export function searchBody(q: Query, offset: number): Record<string, unknown> {
  const body: Record<string, unknown> = { k: q.k };
  if (q.kind === 'id') body.id = q.value;
  else if (q.kind === 'text') body.text = q.value;
  else if (q.kind === 'upload') body.upload = q.value;
  if (offset > 0) body.offset = offset;
  if (q.minScore !== null) body.minScore = q.minScore;
  if (Object.keys(q.where).length > 0) body.where = q.where;
  return body;
}

/** The same search as a multipart form, for a freshly chosen file. */
export function searchForm(q: Query, file: File): FormData {
  const form = new FormData();
  form.append('image', file, file.name);
  form.append('k', String(q.k));
  if (q.minScore !== null) form.append('minScore', String(q.minScore));
  if (Object.keys(q.where).length > 0) form.append('where', JSON.stringify(q.where));
  return form;
}
