import net from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { createError, reasonOf, type LookalikeError } from '../errors.js';
import { redactUrl } from '../util/redact.js';

export { redactUrl };

/**
 * The queue's Redis, from its URL: `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS.
 *
 * - `redis://:secret@host:6379` authenticates with `requirepass`; `redis://user:secret@host` as an ACL user;
 *   characters of the password that a URL reserves are percent-encoded (`p%40ss` for `p@ss`).
 * - `rediss://` turns on ioredis's `tls` option: the server's certificate is verified against Node's CAs (add
 *   yours with `NODE_EXTRA_CA_CERTS=/path/ca.pem`).
 * - The password is never printed: every message says the URL as `redis://:***@host:port`.
 * - Connections reconnect for ever (at most 2 s apart) and commands wait for them (`maxRetriesPerRequest: null`,
 *   which BullMQ requires of its workers): a Redis that restarts or a network that drops for a while delays the
 *   work, it does not fail it. Jobs survive only if Redis keeps them: run it with `appendonly yes`.
 * - At the start, `checkQueue` fails fast instead of waiting for ever: a refused password, a missing one, a user
 *   without permissions or an untrusted certificate at once; an unreachable server after `connectTimeoutMs`.
 */
export interface QueueConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
  /** `rediss://`: TLS, verified against Node's CAs (and `NODE_EXTRA_CA_CERTS`). */
  readonly tls?: TlsOptions;
  /** Commands wait for a reconnect instead of failing (BullMQ requires it of workers). */
  readonly maxRetriesPerRequest: null;
  readonly retryStrategy: (times: number) => number;
}

export interface QueueTarget {
  /** ioredis options for BullMQ's connections (and for the check). */
  readonly options: QueueConnectionOptions;
  /** The URL fit to print (password replaced by `***`). */
  readonly redacted: string;
  /** `message` with the password (raw or percent-encoded) replaced by `***`, and on one line. */
  scrub(message: string): string;
}

/** Reconnect delay: 100 ms, 200 ms, … at most 2 s apart, for ever. */
export function reconnectDelay(times: number): number {
  return Math.min(times * 100, 2000);
}


export function parseQueueUrl(url: string): QueueTarget {
  const redacted = redactUrl(url);
  const bad = (why: string): LookalikeError =>
    createError('INVALID_ARGUMENT', `--queue must be a redis:// or rediss:// URL, e.g. redis://:PASSWORD@127.0.0.1:6379 (got "${redacted}": ${why}).`, {
      field: 'queue',
    });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad('not a URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw bad(`the scheme is ${u.protocol.replace(/:$/, '')}`);
  const host = (u.hostname || '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port || 6379);
  const dbPath = u.pathname.replace(/^\//, '');
  if (dbPath && !/^\d+$/.test(dbPath)) throw bad('the path must be a database number, as in /0');
  let username: string;
  let password: string;
  try {
    username = decodeURIComponent(u.username);
    password = decodeURIComponent(u.password);
  } catch {
    throw bad('the user or password is not percent-encoded right');
  }
  const secrets = [password, u.password].filter((s) => s.length > 0);
  const scrub = (message: string): string => {
    let m = message.split('\n')[0] ?? '';
    for (const s of secrets) m = m.split(s).join('***');
    return m;
  };
  const options: QueueConnectionOptions = {
    host,
    port,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(dbPath ? { db: Number(dbPath) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: net.isIP(host) ? {} : { servername: host } } : {}),
    maxRetriesPerRequest: null,
    retryStrategy: reconnectDelay,
  };
  return { options, redacted, scrub };
}

type Failure = { kind: 'auth' | 'noauth' | 'noperm' | 'tls'; reason: string } | { kind: 'retry'; reason: string };

/** What a failed attempt to connect means: give up at once (credentials, certificate) or retry (not up yet). */
function classify(e: unknown, target: QueueTarget): Failure {
  const reason = target.scrub(reasonOf(e));
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  if (/WRONGPASS|invalid password|invalid username-password/i.test(reason)) return { kind: 'auth', reason };
  if (/NOAUTH/.test(reason)) return { kind: 'noauth', reason };
  if (/NOPERM/.test(reason)) return { kind: 'noperm', reason };
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL/.test(code)) return { kind: 'tls', reason };
  return { kind: 'retry', reason };
}

function failure(f: Failure, target: QueueTarget, waitedMs: number): LookalikeError {
  const url = target.redacted;
  const details = { queue: url, reason: f.reason };
  const form = 'redis://:PASSWORD@host:port (or redis://USER:PASSWORD@host:port for an ACL user; percent-encode @ : / in it)';
  switch (f.kind) {
    case 'auth':
      return createError('QUEUE_AUTH_FAILED', `Redis at ${url} refused the credentials of the queue URL (${f.reason}). Put the right password in the URL: ${form}.`, details);
    case 'noauth':
      return createError('QUEUE_AUTH_FAILED', `Redis at ${url} requires a password and the queue URL has none (${f.reason}). Put it in the URL: ${form}.`, details);
    case 'noperm': {
      const user = target.options.username ?? 'default';
      return createError(
        'QUEUE_AUTH_FAILED',
        `Redis at ${url} accepted user "${user}" but does not let it run the queue's commands (${f.reason}). Grant it the queue's keys, channels and commands ` +
          `(e.g. ACL SETUSER ${user} ~bull:* &* +@all), or use another user.`,
        details,
      );
    }
    case 'tls':
      return createError(
        'QUEUE_UNAVAILABLE',
        `Redis at ${url}: the TLS connection failed (${f.reason}). If the server's certificate is from your own CA, trust it with NODE_EXTRA_CA_CERTS=/path/ca.pem; ` +
          'use rediss:// only for a TLS port and redis:// for a plain one.',
        details,
      );
    case 'retry':
      return createError(
        'QUEUE_UNAVAILABLE',
        `Redis at ${url} cannot be reached (${f.reason}); retried for ${Math.round(waitedMs / 1000)} s. Check that it is running and that the host, port and ` +
          'scheme of the queue URL are right (rediss:// for a TLS port), then run the command again.',
        details,
      );
  }
}

/** One connection attempt: PING with the URL's credentials; the error that ended it, or undefined when it answered. */
async function attempt(target: QueueTarget, timeoutMs: number): Promise<unknown> {
  const client = new Redis({
    ...target.options,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(500, timeoutMs),
    // a refused connection is half-closed and would keep the process alive for the default 2 s
    disconnectTimeout: 100,
  });
  let first: unknown;
  // the first error is the one that says why (WRONGPASS, ECONNREFUSED…); then only "Connection is closed"
  client.on('error', (e: unknown) => (first ??= e));
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (e) {
    return first ?? e;
  } finally {
    client.disconnect();
  }
}

/**
 * Check that the queue's Redis answers with the URL's credentials: `QUEUE_AUTH_FAILED` at once when it refuses
 * them, `QUEUE_UNAVAILABLE` at once for an untrusted certificate and after `timeoutMs` (default 10 s) of attempts
 * when it cannot be reached (or is still loading its data).
 */
export async function checkQueue(target: QueueTarget, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  for (let n = 1; ; n++) {
    const left = timeoutMs - (Date.now() - started);
    const e = await attempt(target, Math.min(5_000, left));
    if (e === undefined) return;
    const f = classify(e, target);
    const waited = Date.now() - started;
    if (f.kind !== 'retry' || waited + reconnectDelay(n) >= timeoutMs) throw failure(f, target, waited);
    await new Promise((r) => setTimeout(r, Math.min(500, reconnectDelay(n))));
  }
}

/** Something that reports its connection's state: BullMQ's backends (`worker.getBackend()`). */
interface ConnectionEvents {
  on(event: 'ready' | 'close', listener: () => void): unknown;
}

/** Something that emits errors: BullMQ's Worker, Queue, QueueEvents. */
interface ErrorEvents {
  on(event: 'error', listener: (e: Error) => void): unknown;
}

/**
 * Turns the connection events of BullMQ objects into a few readable lines instead of one error dump per reconnect
 * attempt: "lost the connection …; reconnecting", a reminder every 30 s while it lasts, "reconnected … after N s".
 * Every error gets a listener (BullMQ prints unhandled ones whole, with the AUTH command and its password).
 */
export class ConnectionWatch {
  private down: { since: number; reported: number } | undefined;
  private closing = false;
  private readonly lastSaid = new Map<string, number>();

  constructor(
    private readonly target: QueueTarget,
    private readonly say: (line: string) => void,
  ) {}

  watch(errors: ErrorEvents, connection: ConnectionEvents): void {
    errors.on('error', (e) => this.onError(e));
    connection.on('close', () => this.onLost(undefined));
    connection.on('ready', () => this.onReady());
  }

  /** From now on the connections close on purpose: say nothing more. */
  stop(): void {
    this.closing = true;
  }

  private onLost(reason: string | undefined): void {
    if (this.closing) return;
    const now = Date.now();
    if (!this.down) {
      this.down = { since: now, reported: now };
      this.say(`lost the connection to Redis at ${this.target.redacted}${reason ? ` (${reason})` : ''}; reconnecting (the jobs wait in Redis)…`);
    } else if (now - this.down.reported >= 30_000) {
      this.down.reported = now;
      this.say(`still reconnecting to Redis at ${this.target.redacted}${reason ? ` (${reason})` : ''}: ${Math.round((now - this.down.since) / 1000)} s so far`);
    }
  }

  private onReady(): void {
    if (this.closing || !this.down) return;
    const secs = (Date.now() - this.down.since) / 1000;
    this.down = undefined;
    this.say(`reconnected to Redis at ${this.target.redacted} after ${secs.toFixed(1)} s`);
  }

  private onError(e: unknown): void {
    if (this.closing) return;
    const reason = this.target.scrub(reasonOf(e));
    const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
    const connectionLevel = /^(ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)/.test(code) || /Connection is closed|connect ETIMEDOUT|Stream isn't writeable/i.test(reason);
    if (connectionLevel) return this.onLost(reason);
    // anything else (a refused password after a rotation, a script error…): said once per 30 s per message
    const now = Date.now();
    if (now - (this.lastSaid.get(reason) ?? 0) < 30_000) return;
    this.lastSaid.set(reason, now);
    const f = classify(e, this.target);
    this.say(f.kind === 'retry' ? `Redis at ${this.target.redacted}: ${reason}` : failure(f, this.target, 0).message);
  }
}
