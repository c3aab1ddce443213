// What the page exchanges with the server (/v1 only): the shapes it reads and one fetch wrapper.

export interface Info {
  collection: string;
  count: number;
  model: string;
  embedder: string;
  dimension: number;
  modalities: string[];
}
export interface Hit {
  id: string;
  path: string | null;
  score: number;
  metadata: Record<string, unknown>;
}
export interface Item {
  id: string;
  path: string | null;
  size: number | null;
  width: number | null;
  height: number | null;
  mtimeMs: number | null;
  metadata: Record<string, unknown>;
  updatedAt: string;
}
export interface Limits {
  maxK: number;
  maxUploadBytes: number;
  maxWhereConditions: number;
  acceptedFormats: string[];
  acceptedTypes: string[];
}
export interface KeySummary {
  key: string;
  items: number;
  distinct: number;
  values: { value: string; count: number }[];
}
export interface Summary {
  items: number;
  pathPrefix: string | null;
  keys: KeySummary[];
}
export interface SearchReply {
  results: Hit[];
  upload?: string;
}

/** An error the server answered with (its stable code and message), or a network failure (`NETWORK`). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export async function api<T>(url: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError('NETWORK', 'Cannot reach the lookalike server: is it still running?', 0);
  }
  const body = (await res.json().catch(() => null)) as ({ error?: { message: string; code: string } } & T) | null;
  if (!res.ok) {
    throw body?.error ? new ApiError(body.error.code, body.error.message, res.status) : new ApiError('HTTP', `The server answered HTTP ${res.status}.`, res.status);
  }
  return body as T;
}

export const enc = encodeURIComponent;
export const collectionUrl = (c: string): string => `/v1/collections/${enc(c)}`;
export const itemUrl = (c: string, id: string): string => `${collectionUrl(c)}/items/${enc(id)}`;
export const thumbUrl = (c: string, id: string, size: number): string => `${itemUrl(c, id)}/thumbnail?size=${size}`;
export const queryImageUrl = (hash: string): string => `/v1/query-images/${enc(hash)}`;
