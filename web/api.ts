// What the page exchanges with the server (/v1 only): the shapes it reads and one fetch wrapper.

export interface Info {
  collection: string;
  count: number;
  model: string;
  embedder: string;
  dimension: number;
  modalities: string[];
  /** Whether the collection has calibrated scores (`lookalike tune --calibrate`); absent from servers that do not say. */
  calibrated?: boolean;
}
export interface Hit {
  id: string;
  path: string | null;
  score: number;
  metadata: Record<string, unknown>;
  /** With `collapse`: the near-duplicates folded into this hit. */
  folded?: { id: string; path: string | null; score: number }[];
  /** Tiled collections: the region of the image (fractions) that matched, when it beat the whole image. */
  tile?: { x: number; y: number; w: number; h: number };
  /** Collections with calibrated scores: the share of random pairs of the collection's images scoring below this hit. */
  confidence?: number;
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
  /** Most terms (positive and negative) in one query. */
  maxQueryTerms: number;
  /** Default 👍/👎 weights (Rocchio); absent from older servers. */
  feedbackWeights?: { alpha: number; beta: number; gamma: number };
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

/** The API key the user gave this tab (sessionStorage: never in the URL, gone with the tab). */
const KEY_ITEM = 'lookalike.apiKey';

export function apiKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_ITEM);
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null): void {
  try {
    if (key === null) sessionStorage.removeItem(KEY_ITEM);
    else sessionStorage.setItem(KEY_ITEM, key);
  } catch {
    // storage refused (private mode): the key lives as long as the page
  }
  memoryKey = key;
}

let memoryKey: string | null = null;
const currentKey = (): string | null => apiKey() ?? memoryKey;

/** `init` with the API key's Authorization header, when the user gave one. */
export function withKey(init: RequestInit = {}): RequestInit {
  const key = currentKey();
  if (key === null) return init;
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  return { ...init, headers };
}

export const hasKey = (): boolean => currentKey() !== null;

export async function api<T>(url: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, withKey(init));
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
