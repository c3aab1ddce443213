/**
 * Regression tests of the server's security defects of issue 10: Host/Origin checks and CORS, the API key on
 * reads, rate limits (10.4), slow clients (10.6) and an empty API key (10.16).
 */
import net from 'node:net';
import path from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../../src/lookalike.js';
import { buildServer, type ServerOptions } from '../../../src/server/_old/app.js';
import { SAMPLES, tmpDir } from '../../helpers.js';
import { multipart, queryBytes } from '../fixtures.js';

const KEY = 'security-key';
const auth = { authorization: `Bearer ${KEY}` };

describe('server security (issue 10)', () => {
  let db: LookalikeDatabase;
  const apps: FastifyInstance[] = [];
  const server = async (opts: Omit<ServerOptions, 'db'> = {}) => {
    const app = await buildServer({ db, ...opts });
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    db = await openDatabase(tmpDir(), { threads: 1 });
    const hist = await db.collection('hist', { model: 'color-histogram' });
    await hist.indexFolder(path.join(SAMPLES, 'daisy'));
  }, 120_000);

  afterAll(async () => {
    for (const a of apps) await a.close();
    await db?.close();
  });

  const searchById = (headers: Record<string, string> = {}): InjectOptions => ({
    method: 'POST',
    url: '/v1/collections/hist/search',
    payload: { vector: new Array(128).fill(1), k: 2 },
    headers,
  });

  it('10.4 DNS rebinding: a Host that is not this server gets 403 FORBIDDEN_HOST on every route', async () => {
    const app = await server({ apiKey: KEY, allowedHosts: ['photos.example', 'lookalike.internal:8443'] });
    const evil = { host: 'evil.example:18080' };
    const mp = await multipart({ image: { name: 'x.jpg', bytes: queryBytes() } });
    const routes: InjectOptions[] = [
      { method: 'GET', url: '/v1/collections', headers: evil },
      { method: 'GET', url: '/healthz', headers: evil },
      { method: 'GET', url: '/openapi.json', headers: evil },
      { method: 'GET', url: '/', headers: evil },
      { method: 'GET', url: '/no/such/route', headers: evil },
      { ...searchById(evil) },
      { method: 'POST', url: '/v1/collections/hist/items', payload: mp.payload, headers: { ...mp.headers, ...auth, ...evil, origin: 'http://evil.example:18080' } },
      { method: 'GET', url: '/v1/collections', headers: { host: 'lookalike.internal:9999' } },
      { method: 'GET', url: '/v1/collections', headers: { host: 'localhost.evil.example' } },
      { method: 'GET', url: '/v1/collections', headers: { host: '127.0.0.1.nip.io' } },
    ];
    for (const r of routes) {
      const res = await app.inject(r);
      expect([r.url, res.statusCode, res.json().error.code]).toEqual([r.url, 403, 'FORBIDDEN_HOST']);
    }
    expect((await db.openCollection('hist').then((c) => c.count()))).toBe(8); // the upload did not land

    for (const host of ['localhost', 'localhost:8080', '127.0.0.1:80', '[::1]:8080', 'LOCALHOST', 'photos.example', 'photos.example:80', 'lookalike.internal:8443']) {
      const res = await app.inject({ method: 'GET', url: '/v1/collections', headers: { host } });
      expect([host, res.statusCode]).toEqual([host, 200]);
    }
  });

  it('10.4 the address the server listens on is an allowed Host', async () => {
    const app = await server();
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    expect((await fetch(`${address}/v1/collections`)).status).toBe(200);
    const port = new URL(address).port;
    const raw = await rawRequest(Number(port), `GET /v1/collections HTTP/1.1\r\nHost: rebound.example:${port}\r\nConnection: close\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 403/);
    expect(raw).toContain('FORBIDDEN_HOST');
  });

  it('10.4 CSRF: writes need the same origin or a listed one; CORS preflight answers listed origins only', async () => {
    const app = await server({ apiKey: KEY, corsOrigins: ['https://app.example'] });
    const mp = await multipart({ image: { name: 'x.jpg', bytes: queryBytes() } });
    const addFrom = (headers: Record<string, string>) =>
      app.inject({ method: 'POST', url: '/v1/collections/hist/items', payload: mp.payload, headers: { ...mp.headers, ...auth, ...headers } });

    // a foreign page posting with the key it somehow knows, or without: refused before anything is read
    for (const origin of ['http://evil.example', 'null', 'http://localhost.evil.example', 'https://app.example.evil']) {
      const r = await addFrom({ origin });
      expect([origin, r.statusCode, r.json().error.code]).toEqual([origin, 403, 'FORBIDDEN_ORIGIN']);
    }
    expect((await addFrom({ 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);
    const del = await app.inject({ method: 'DELETE', url: '/v1/collections/hist', headers: { ...auth, origin: 'http://evil.example' } });
    expect([del.statusCode, del.json().error.code]).toEqual([403, 'FORBIDDEN_ORIGIN']);
    const search = await app.inject(searchById({ origin: 'http://evil.example' }));
    expect(search.statusCode).toBe(403);

    // same origin (the web page), a listed origin, and non-browser clients (no Origin) are fine
    expect((await app.inject(searchById({ host: 'localhost:8080', origin: 'http://localhost:8080' }))).statusCode).toBe(200);
    expect((await app.inject(searchById({ host: '127.0.0.1', origin: 'http://127.0.0.1' }))).statusCode).toBe(200);
    expect((await app.inject(searchById())).statusCode).toBe(200);
    const listed = await app.inject(searchById({ origin: 'https://app.example' }));
    expect(listed.statusCode).toBe(200);
    expect(listed.headers['access-control-allow-origin']).toBe('https://app.example');

    // preflight
    const preflight = (origin: string) =>
      app.inject({
        method: 'OPTIONS',
        url: '/v1/collections/hist/items',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
    const ok = await preflight('https://app.example');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(String(ok.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(ok.headers['access-control-allow-headers'])).toContain('authorization');
    const refused = await preflight('http://evil.example');
    expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'FORBIDDEN_ORIGIN']);
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();

    // reads from a foreign page are answered without CORS headers (the browser hides them)
    const read = await app.inject({ method: 'GET', url: '/v1/collections', headers: { origin: 'http://evil.example' } });
    expect(read.statusCode).toBe(200);
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('10.4 apiKeyRequiredFor=reads: every /v1 route needs the key; the page, health probes and OpenAPI do not', async () => {
    const app = await server({ apiKey: KEY, apiKeyRequiredFor: 'reads' });
    for (const r of [
      { method: 'GET', url: '/v1/collections' },
      { method: 'GET', url: '/v1/collections/hist' },
      { method: 'GET', url: '/v1/collections/hist/items/x' },
      { method: 'GET', url: '/v1/collections/hist/items/x/thumbnail' },
      searchById(),
      { method: 'POST', url: '/v1/embed', payload: { text: 'x', collection: 'hist' } },
      { method: 'GET', url: '/v1/no-such-route' },
    ] as InjectOptions[]) {
      const res = await app.inject(r);
      expect([r.url, res.statusCode, res.json().error.code]).toEqual([r.url, 401, 'UNAUTHORIZED']);
    }
    expect((await app.inject({ method: 'GET', url: '/v1/collections', headers: auth })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/collections', headers: { 'x-api-key': KEY } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/collections', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    expect((await app.inject(searchById(auth))).statusCode).toBe(200);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    expect((await app.inject('/openapi.json')).statusCode).toBe(200);

    // default (writes): reads are open
    const open = await server({ apiKey: KEY });
    expect((await open.inject('/v1/collections')).statusCode).toBe(200);
    await expect(buildServer({ db, apiKeyRequiredFor: 'reads' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('10.4 CPU-heavy routes are rate-limited per client (429 with Retry-After); searches by id or vector are not', async () => {
    const app = await server({ rateLimit: { max: 2, timeWindowMs: 60_000 } });
    const mp = await multipart({ image: { name: 'q.jpg', bytes: queryBytes() }, k: '2' });
    const byImage = () => app.inject({ method: 'POST', url: '/v1/collections/hist/search', ...mp });
    expect((await byImage()).statusCode).toBe(200);
    expect((await byImage()).statusCode).toBe(200);
    const limited = await byImage();
    expect([limited.statusCode, limited.json().error.code]).toEqual([429, 'RATE_LIMITED']);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // the limit is per client and shared by the heavy routes (embed, uploads)
    const mpEmbed = await multipart({ image: { name: 'q.jpg', bytes: queryBytes() }, collection: 'hist' });
    expect((await app.inject({ method: 'POST', url: '/v1/embed', ...mpEmbed })).statusCode).toBe(429);
    const other = await app.inject({ method: 'POST', url: '/v1/collections/hist/search', ...mp, remoteAddress: '10.0.0.7' });
    expect(other.statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await app.inject(searchById())).statusCode).toBe(200);
  });

  it('10.4 a client cannot have more than maxConcurrentPerClient CPU-heavy requests in flight', async () => {
    const app = await server({ rateLimit: false, maxConcurrentPerClient: 1 });
    const mp = await multipart({ image: { name: 'q.jpg', bytes: queryBytes() }, k: '2' });
    const all = await Promise.all(Array.from({ length: 4 }, () => app.inject({ method: 'POST', url: '/v1/collections/hist/search', ...mp })));
    const codes = all.map((r) => r.statusCode).sort();
    expect(codes[0]).toBe(200);
    expect(codes).toContain(429);
    expect(all.find((r) => r.statusCode === 429)!.headers['retry-after']).toBe('1');
    // once they are done, the next one is served
    expect((await app.inject({ method: 'POST', url: '/v1/collections/hist/search', ...mp })).statusCode).toBe(200);
  });

  it('10.16 buildServer refuses an empty API key', async () => {
    for (const apiKey of ['', '   ']) {
      await expect(buildServer({ db, apiKey })).rejects.toMatchObject({ name: 'LookalikeError', code: 'INVALID_ARGUMENT' });
    }
    await expect(buildServer({ db, corsOrigins: ['*'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(buildServer({ db, allowedHosts: ['evil/path'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('10.6 slow request bodies and headers are cut off after the request timeout; connections are capped', async () => {
    const app = await server({ requestTimeoutMs: 1_000, maxConnections: 4 });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(address).port);
    const body = 'POST /v1/collections/hist/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const headersOnly = 'GET /v1/collections HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';
    const started = Date.now();
    // 3 sockets trickling a body one byte per 100 ms, 1 trickling its headers: each must be closed within ~1 s
    const closed = await Promise.all([
      trickle(port, body, 'x', 100, 6_000),
      trickle(port, body, 'x', 100, 6_000),
      trickle(port, body, 'x', 100, 6_000),
      trickle(port, headersOnly, 'a', 100, 6_000),
    ]);
    for (const c of closed) {
      expect(c.closedByServer).toBe(true);
      expect(c.afterMs).toBeLessThan(4_000);
    }
    expect(Date.now() - started).toBeLessThan(5_000);

    // beyond maxConnections, connections are closed at once
    const idle = await Promise.all(Array.from({ length: 4 }, () => connect(port)));
    const extra = await connect(port);
    const extraClosed = await waitClose(extra, 2_000);
    expect(extraClosed).toBe(true);
    for (const s of idle) s.destroy();
    // and the server still answers
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${address}/healthz`)).status).toBe(200);
  }, 20_000);
});

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}

function waitClose(s: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    s.on('error', () => undefined);
    s.once('close', () => (clearTimeout(t), resolve(true)));
  });
}

/** Send `head`, then one `byte` every `everyMs` until the server closes the socket or `maxMs` passes (loopback only). */
async function trickle(port: number, head: string, byte: string, everyMs: number, maxMs: number): Promise<{ closedByServer: boolean; afterMs: number }> {
  const s = await connect(port);
  const t0 = Date.now();
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  s.write(head);
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (Date.now() - t0 > maxMs) {
        clearInterval(timer);
        s.destroy();
        resolve({ closedByServer: false, afterMs: Date.now() - t0 });
      } else if (!s.destroyed && s.writable) s.write(byte);
    }, everyMs);
    s.once('close', () => {
      clearInterval(timer);
      resolve({ closedByServer: true, afterMs: Date.now() - t0 });
    });
  });
}

function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(request));
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    setTimeout(() => (s.destroy(), resolve(out)), 5_000).unref();
  });
}
