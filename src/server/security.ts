/**
 * What protects the server, for every route: the Host allow-list (DNS rebinding), the Origin check and CORS
 * (cross-site requests), the API key, the per-client limits on CPU-heavy routes, timeouts and a connection cap
 * (slow clients), and a few response headers. See README, "Security".
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { globalPlugin, needsKey, type ServerContext, type Settings } from './context.js';
import { HttpError } from './errors.js';

/** Fastify constructor options that bound how long a client may hold a connection. */
export function connectionOptions(s: Settings): Pick<FastifyServerOptions, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout'> & {
  http: { requestTimeout: number; headersTimeout: number; keepAliveTimeout: number; connectionsCheckingInterval: number };
} {
  return {
    // idle socket
    connectionTimeout: s.connectionTimeoutMs,
    keepAliveTimeout: s.keepAliveTimeoutMs,
    // the whole request (headers and body) must arrive in this time, however slowly its bytes trickle in
    requestTimeout: s.requestTimeoutMs,
    http: {
      requestTimeout: s.requestTimeoutMs,
      headersTimeout: Math.min(s.requestTimeoutMs, 15_000),
      keepAliveTimeout: s.keepAliveTimeoutMs,
      // how often Node checks the two timeouts above (its default, 30 s, would let a 1 s timeout last 30 s)
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(s.requestTimeoutMs / 4))),
    },
  };
}

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

/** `Host` header → lower-case host name (IPv6 in brackets) and port (or undefined). */
export function parseHost(header: string | undefined): { name: string; port: string | undefined } | undefined {
  if (!header) return undefined;
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/u.exec(header.trim().toLowerCase());
  if (!m) return undefined;
  return { name: m[1]!.replace(/\.$/u, ''), port: m[2] };
}

/** An address as it appears in a Host header (`::ffff:1.2.3.4` → `1.2.3.4`, IPv6 in brackets). */
function asHostName(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const a = address.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/u, '$1');
  return a.includes(':') ? `[${a}]` : a;
}

/** Whether a Host header names this server: loopback names, configured names, or the address the request came in on. */
export function hostAllowed(s: Pick<Settings, 'allowedHosts' | 'host'>, header: string | undefined, localAddress: string | undefined): boolean {
  if (s.allowedHosts.includes('*')) return true;
  const h = parseHost(header);
  if (!h) return false;
  if (LOOPBACK.includes(h.name) || h.name === asHostName(localAddress)) return true;
  const configured = [...s.allowedHosts, ...(s.host ? [s.host.includes(':') && !s.host.startsWith('[') ? `[${s.host}]` : s.host] : [])];
  return configured.some((entry) => {
    const e = parseHost(entry);
    return e !== undefined && e.name === h.name && (e.port === undefined || e.port === h.port);
  });
}

/** `scheme://host:port` of an Origin header, with the default port made explicit; undefined when not http(s). */
function originKey(origin: string): string | undefined {
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return `${u.hostname.toLowerCase()}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return undefined;
  }
}

/** Whether `origin` is the server's own origin (as named by the Host header). */
function sameOrigin(origin: string, hostHeader: string | undefined): boolean {
  const o = originKey(origin);
  const h = parseHost(hostHeader);
  if (!o || !h) return false;
  const scheme = origin.toLowerCase().startsWith('https:') ? '443' : '80';
  return o === `${h.name}:${h.port ?? scheme}`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const CORS_METHODS = 'GET, HEAD, POST, DELETE';
const CORS_HEADERS = 'authorization, content-type, x-api-key';
const CORS_EXPOSE = 'retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset';

function keyMatches(given: string | undefined, key: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

function givenKey(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  const x = req.headers['x-api-key'];
  return typeof x === 'string' ? x : undefined;
}

export const securityPlugin = globalPlugin(async (app: FastifyInstance, { ctx }: { ctx: ServerContext }) => {
  const s = ctx.settings;
  /** Listed cross origins of requests, for the CORS response headers. */
  const corsOriginOf = new WeakMap<FastifyRequest, string>();

  app.addHook('onRequest', async (req, reply) => {
    // 1. DNS rebinding: only answer to this server's names
    if (!hostAllowed(s, req.headers.host, req.socket?.localAddress)) {
      const shown = (req.headers.host ?? '').slice(0, 100);
      throw new HttpError(
        403,
        'FORBIDDEN_HOST',
        `This server does not answer to host "${shown}". If that is its name, start it with --allowed-host ${shown.replace(/:\d+$/u, '') || '<name>'} (allowedHosts).`,
      );
    }

    // 2. cross-site requests: writes only from the same origin or a listed one; CORS for listed ones
    const origin = req.headers.origin;
    const listed = origin !== undefined && s.corsOrigins.includes(origin);
    if (listed) corsOriginOf.set(req, origin);
    if (req.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
      if (!listed && !sameOrigin(origin, req.headers.host)) {
        throw new HttpError(403, 'FORBIDDEN_ORIGIN', `Origin "${origin.slice(0, 100)}" may not call this API. List it with --cors-origin (corsOrigins).`);
      }
      return reply
        .code(204)
        .header('access-control-allow-methods', CORS_METHODS)
        .header('access-control-allow-headers', CORS_HEADERS)
        .header('access-control-max-age', '600')
        .send();
    }
    if (!SAFE_METHODS.has(req.method)) {
      if (origin !== undefined) {
        if (!listed && !sameOrigin(origin, req.headers.host)) {
          throw new HttpError(
            403,
            'FORBIDDEN_ORIGIN',
            `Requests from origin "${origin.slice(0, 100)}" are not allowed. To call this API from another site, list it with --cors-origin (corsOrigins).`,
          );
        }
      } else {
        const site = req.headers['sec-fetch-site'];
        if (site === 'cross-site' || site === 'same-site') {
          throw new HttpError(403, 'FORBIDDEN_ORIGIN', 'Cross-site requests are not allowed.');
        }
      }
    }

    // 3. the API key (checked before any body is read)
    const kind = req.routeOptions.config?.access ?? (req.url.startsWith('/v1/') || req.url === '/v1' ? 'read' : undefined);
    if (needsKey(s, kind) && !keyMatches(givenKey(req), s.apiKey!)) {
      throw new HttpError(
        401,
        'UNAUTHORIZED',
        kind === 'write' ? 'This route needs the API key: send "Authorization: Bearer <key>".' : 'This server needs the API key for every /v1 route: send "Authorization: Bearer <key>".',
        { 'www-authenticate': 'Bearer' },
      );
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const origin = corsOriginOf.get(req);
    if (origin !== undefined) {
      reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', CORS_EXPOSE);
    }
    if (s.corsOrigins.length > 0) reply.header('vary', 'Origin');
    reply.header('x-content-type-options', 'nosniff').header('x-frame-options', 'DENY').header('referrer-policy', 'same-origin');
    return payload;
  });

  if (s.rateLimit) {
    await app.register(rateLimit, { global: false, max: s.rateLimit.max, timeWindow: s.rateLimit.timeWindowMs });
  }
});

/** The per-client limits on CPU-heavy work (see `ServerContext.heavy`). Call after `securityPlugin` is registered. */
export function heavyGate(app: FastifyInstance, s: Settings): ServerContext['heavy'] {
  const limit = s.rateLimit ? app.createRateLimit({ max: s.rateLimit.max, timeWindow: s.rateLimit.timeWindowMs }) : undefined;
  const inFlight = new Map<string, number>();
  return async (req: FastifyRequest, reply: FastifyReply, work) => {
    if (limit) {
      const r = await limit(req);
      if (!r.isAllowed) {
        reply.header('x-ratelimit-limit', String(r.max)).header('x-ratelimit-remaining', String(r.remaining)).header('x-ratelimit-reset', String(r.ttlInSeconds));
        if (r.isExceeded) {
          throw new HttpError(
            429,
            'RATE_LIMITED',
            `Too many requests that embed images or text from this client (${r.max} per ${Math.round(r.timeWindow / 1000)} s); retry in ${r.ttlInSeconds} s.`,
            { 'retry-after': String(Math.max(1, r.ttlInSeconds)) },
          );
        }
      }
    }
    const client = req.ip;
    const n = inFlight.get(client) ?? 0;
    if (n >= s.maxConcurrentPerClient) {
      throw new HttpError(
        429,
        'RATE_LIMITED',
        `This client already has ${n} requests that embed images or text in progress (the most allowed); retry when one is done.`,
        { 'retry-after': '1' },
      );
    }
    inFlight.set(client, n + 1);
    try {
      return await work();
    } finally {
      const left = (inFlight.get(client) ?? 1) - 1;
      if (left <= 0) inFlight.delete(client);
      else inFlight.set(client, left);
    }
  };
}
