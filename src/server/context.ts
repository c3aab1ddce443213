/** What the server's plugins share: the options (with their defaults), the database and the open collections. */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { BatchingEmbedder, type BatchingOptions } from '../embed/batcher.js';
import { createError, isLookalikeError } from '../errors.js';
import type { Collection, LookalikeDatabase } from '../lookalike.js';
import type { QueryImageCache } from './query-images.js';

export interface RateLimitOptions {
  /** Requests a client may make to the CPU-heavy routes per window. */
  readonly max: number;
  readonly timeWindowMs: number;
}

export interface ServerOptions {
  readonly db: LookalikeDatabase;
  /** Collection the web page opens first (and `/v1/embed`'s default). */
  readonly defaultCollection?: string;
  /** When set, write routes (or every `/v1` route, see `apiKeyRequiredFor`) need `Authorization: Bearer <key>` or `x-api-key`. */
  readonly apiKey?: string;
  /** `writes` (default): only routes that change data need the key; `reads`: every `/v1` route does. */
  readonly apiKeyRequiredFor?: 'writes' | 'reads';
  /** Largest accepted upload, bytes (default 20 MiB). */
  readonly maxUploadBytes?: number;
  /** Largest k a search may ask for (default 1000). */
  readonly maxK?: number;
  /**
   * Host names (optionally `name:port`) the server answers to besides `localhost`, `127.0.0.1`, `[::1]`, the address
   * a connection arrived on and `host`; any other `Host` header gets 403 (DNS rebinding). `['*']` turns the check off.
   */
  readonly allowedHosts?: readonly string[];
  /** The address the server will listen on (its name is allowed as a Host). */
  readonly host?: string;
  /** Origins (`https://app.example.com`) that may call the API from a browser (CORS); same-origin calls always may. */
  readonly corsOrigins?: readonly string[];
  /** Per-client limit on the CPU-heavy routes (search by image or text, /v1/embed, uploads); `false`: none. Default 120 per minute. */
  readonly rateLimit?: RateLimitOptions | false;
  /** CPU-heavy requests one client may have in flight (default 8); more get 429. */
  readonly maxConcurrentPerClient?: number;
  /** Time to receive a whole request, headers and body (default 30 s); slower requests get 408 and are closed. */
  readonly requestTimeoutMs?: number;
  /** A socket with no traffic for this long is closed (default 120 s). */
  readonly connectionTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this long (default 5 s). */
  readonly keepAliveTimeoutMs?: number;
  /** Most open connections (default 256); more are refused. */
  readonly maxConnections?: number;
  /** Behind a reverse proxy: trust its X-Forwarded-For for client addresses (Fastify's `trustProxy`). */
  readonly trustProxy?: boolean | string | readonly string[] | number;
  /** Load the default collection's model when the server starts (image+text models: run the text tower once). */
  readonly warmUp?: boolean;
  /**
   * Embed concurrent queries (uploads, texts, `/v1/embed`) in shared micro-batches: each waits at most 5 ms for
   * others, up to the database's `batchSize` per inference call, at most the model's concurrency batches at once;
   * past 4 × batchSize × concurrency waiting items, 503 `SERVER_BUSY` (see `embed/batcher.ts`). Default: on when
   * the database's `device` is `cuda` (GPUs run a batch in little more than the time of one image — not measured
   * here, the project's machines have no GPU), off on CPU, where a batch costs the same per image as single images
   * (mobilenet-v1: 7.1 vs 6.9–8.7 ms) and batching only adds the wait — `bench:http` measured 144 vs 148 uploads/s
   * with 16 clients on 2 cores.
   */
  readonly batchQueries?: boolean;
  readonly logger?: boolean;
}

/** The options with every default applied. */
export interface Settings {
  readonly defaultCollection: string | undefined;
  readonly apiKey: string | undefined;
  readonly apiKeyRequiredFor: 'writes' | 'reads';
  readonly maxUploadBytes: number;
  readonly maxK: number;
  readonly allowedHosts: readonly string[];
  readonly host: string | undefined;
  readonly corsOrigins: readonly string[];
  readonly rateLimit: RateLimitOptions | false;
  readonly maxConcurrentPerClient: number;
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
  readonly trustProxy: boolean | string | string[] | number;
  readonly warmUp: boolean;
  /** Undefined: decided by the database's device (see `ServerOptions.batchQueries`). */
  readonly batchQueries: boolean | undefined;
  readonly logger: boolean;
}

function positiveInt(value: number | undefined, fallback: number, field: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw createError('INVALID_ARGUMENT', `Server option ${field} must be a positive integer (got ${value}).`, { field });
  return v;
}

/** Apply defaults and check the options; a bad one is `INVALID_ARGUMENT` naming it. */
export function resolveSettings(opts: Omit<ServerOptions, 'db'>): Settings {
  if (opts.apiKey !== undefined && opts.apiKey.trim() === '') {
    throw createError('INVALID_ARGUMENT', 'The API key is empty: give a non-empty key, or none to run without one.', { field: 'apiKey' });
  }
  const apiKeyRequiredFor = opts.apiKeyRequiredFor ?? 'writes';
  if (apiKeyRequiredFor !== 'writes' && apiKeyRequiredFor !== 'reads') {
    throw createError('INVALID_ARGUMENT', `apiKeyRequiredFor must be "writes" or "reads" (got "${String(apiKeyRequiredFor)}").`, { field: 'apiKeyRequiredFor' });
  }
  if (apiKeyRequiredFor === 'reads' && !opts.apiKey) {
    throw createError('INVALID_ARGUMENT', 'apiKeyRequiredFor "reads" needs an API key.', { field: 'apiKeyRequiredFor' });
  }
  for (const o of opts.corsOrigins ?? []) {
    let ok = false;
    try {
      const u = new URL(o);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === o.replace(/\/$/u, '');
    } catch {
      ok = false;
    }
    if (!ok) {
      throw createError('INVALID_ARGUMENT', `CORS origin "${o}" must be a scheme, host and optional port, e.g. https://app.example.com (no "*", no path).`, {
        field: 'corsOrigins',
      });
    }
  }
  for (const h of opts.allowedHosts ?? []) {
    if (h !== '*' && !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/u.test(h)) {
      throw createError('INVALID_ARGUMENT', `Allowed host "${h}" must be a host name or address, optionally with :port.`, { field: 'allowedHosts' });
    }
  }
  const rateLimit =
    opts.rateLimit === false
      ? false
      : {
          max: positiveInt(opts.rateLimit?.max, 120, 'rateLimit.max'),
          timeWindowMs: positiveInt(opts.rateLimit?.timeWindowMs, 60_000, 'rateLimit.timeWindowMs'),
        };
  return {
    defaultCollection: opts.defaultCollection,
    apiKey: opts.apiKey,
    apiKeyRequiredFor,
    maxUploadBytes: positiveInt(opts.maxUploadBytes, 20 * 1024 * 1024, 'maxUploadBytes'),
    maxK: positiveInt(opts.maxK, 1000, 'maxK'),
    allowedHosts: opts.allowedHosts ?? [],
    host: opts.host,
    corsOrigins: (opts.corsOrigins ?? []).map((o) => o.replace(/\/$/u, '')),
    rateLimit,
    maxConcurrentPerClient: positiveInt(opts.maxConcurrentPerClient, 8, 'maxConcurrentPerClient'),
    requestTimeoutMs: positiveInt(opts.requestTimeoutMs, 30_000, 'requestTimeoutMs'),
    connectionTimeoutMs: positiveInt(opts.connectionTimeoutMs, 120_000, 'connectionTimeoutMs'),
    keepAliveTimeoutMs: positiveInt(opts.keepAliveTimeoutMs, 5_000, 'keepAliveTimeoutMs'),
    maxConnections: positiveInt(opts.maxConnections, 256, 'maxConnections'),
    trustProxy: typeof opts.trustProxy === 'object' ? [...opts.trustProxy] : (opts.trustProxy ?? false),
    warmUp: opts.warmUp ?? false,
    batchQueries: opts.batchQueries,
    logger: opts.logger ?? false,
  };
}

/**
 * Collections opened by the server, each with its loaded embedder, by name. An instance that turns out to be gone
 * (deleted, or deleted and re-created by another process) is evicted, so the next request opens the current one.
 * With `batching`, every collection's embedder is seen through a `BatchingEmbedder`, so concurrent requests share
 * inference calls (the library's own paths, used outside the server, are unchanged).
 */
export class CollectionCache {
  readonly #open = new Map<string, Promise<Collection>>();
  constructor(
    private readonly db: LookalikeDatabase,
    private readonly batching: BatchingOptions | false = false,
  ) {}

  get(name: string): Promise<Collection> {
    let c = this.#open.get(name);
    if (!c) {
      c = this.db.openCollection(name).then((opened) => this.#batched(opened));
      this.#open.set(name, c);
      c.catch(() => {
        if (this.#open.get(name) === c) this.#open.delete(name);
      });
    }
    return c;
  }

  /** Run `fn` on the collection; evict it when it reports that it no longer exists. */
  async use<T>(name: string, fn: (c: Collection) => Promise<T>): Promise<T> {
    const p = this.get(name);
    const c = await p;
    try {
      return await fn(c);
    } catch (e) {
      if (isLookalikeError(e, 'COLLECTION_CHANGED') || isLookalikeError(e, 'COLLECTION_NOT_FOUND')) {
        if (this.#open.get(name) === p) {
          this.#open.delete(name);
          await c.close().catch(() => undefined);
        }
      }
      throw e;
    }
  }

  set(c: Collection): void {
    this.#open.set(c.name, Promise.resolve(this.#batched(c)));
  }

  /** `c.embedder()` answers a `BatchingEmbedder` over the collection's model (the collection still owns the model). */
  #batched(c: Collection): Collection {
    const opts = this.batching;
    if (opts) c.wrapEmbedder((inner) => new BatchingEmbedder(inner, opts));
    return c;
  }

  /** Forget (and close) the open instance of `name`, if any. */
  async forget(name: string): Promise<void> {
    const c = this.#open.get(name);
    this.#open.delete(name);
    await (await c?.catch(() => undefined))?.close();
  }

  async closeAll(): Promise<void> {
    const all = [...this.#open.values()];
    this.#open.clear();
    for (const c of all) await (await c.catch(() => undefined))?.close();
  }
}

/** `read` routes look at data, `write` routes change it (they need the API key when one is set). */
export type Access = 'read' | 'write';

export interface ServerContext {
  readonly db: LookalikeDatabase;
  readonly settings: Settings;
  readonly collections: CollectionCache;
  /** Uploaded query images kept for repeated searches (`{upload}`). */
  readonly queryImages: QueryImageCache;
  /**
   * Run CPU-heavy work (embedding an upload or a text) under the per-client rate limit and concurrency cap:
   * 429 with Retry-After when the client is over either.
   */
  heavy<T>(req: FastifyRequest, reply: FastifyReply, work: () => Promise<T>): Promise<T>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on every route: what the security hooks check the API key against. */
    access?: Access;
  }
}

/** OpenAPI note for a route of this access level: `{ security: [{ apiKey: [] }] }` when it needs the API key. */
export function securityOf(ctx: Pick<ServerContext, 'settings'>, kind: Access): { security?: { apiKey: string[] }[] } {
  return needsKey(ctx.settings, kind) ? { security: [{ apiKey: [] }] } : {};
}

/** Whether a route of this access level needs the API key. */
export function needsKey(settings: Pick<Settings, 'apiKey' | 'apiKeyRequiredFor'>, kind: Access | undefined): boolean {
  if (settings.apiKey === undefined || kind === undefined) return false;
  return kind === 'write' || settings.apiKeyRequiredFor === 'reads';
}

/**
 * A plugin whose hooks, handlers and decorators apply to the whole server rather than to its own encapsulated
 * context (what the `fastify-plugin` package does, without the dependency).
 */
export function globalPlugin<O extends Record<string, unknown>>(fn: (app: FastifyInstance, opts: O) => Promise<void>): FastifyPluginAsync<O> {
  const plugin = fn as FastifyPluginAsync<O> & Record<symbol, unknown>;
  plugin[Symbol.for('skip-override')] = true;
  return plugin;
}
