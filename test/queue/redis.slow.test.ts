/**
 * SLOW (end-to-end, issue 16): the job queue on a Redis that wants a password, as deployed. The test runs its own
 * redis-server (with `--requirepass`) on a free loopback port — never the shared one of test/setup — and the real
 * CLI (`lookalike worker`, `lookalike index --queue`) against the test PostgreSQL server:
 *
 * (a) 200 images through one worker, the worker authenticating with the password and the submitter as an ACL user:
 *     every image indexed exactly once, and neither secret anywhere in what either process printed;
 * (b) a wrong password (and no password at all) fails at once with QUEUE_AUTH_FAILED naming the redacted URL and
 *     what to do — no hang, no secret on stderr, nothing created in the database;
 * (c) an outage: Redis dies (SIGKILL) while the worker is ingesting and comes back 5 s later from its append-only
 *     file; the worker reconnects and finishes: every image indexed exactly once, no job failed;
 * (d) `rediss://`: a TLS-only redis-server with a test certificate; trusted (NODE_EXTRA_CA_CERTS) the ingest works,
 *     untrusted it fails at once with QUEUE_UNAVAILABLE saying how to trust it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { cifarSubset, CLI, freshPostgresDb, tmpDir } from '../helpers.js';
import { freePort } from '../setup/postgres.js';

const PASSWORD = 'secret';
const ACL_USER = 'ingest';
const ACL_PASSWORD = 'acl-s3cret';
const WRONG = 'not-the-password';
const ENV: NodeJS.ProcessEnv = { ...process.env, LOOKALIKE_THREADS: '1', LOOKALIKE_INFERENCE_WORKERS: '1' };
delete ENV.NODE_EXTRA_CA_CERTS;

/**
 * A self-signed certificate for 127.0.0.1 / localhost (EC P-256, valid 2000–2126), for the TLS test only: made with
 * `openssl req -new -newkey ec …` and `openssl ca -selfsign -startdate 20000101000000Z -enddate 21260101000000Z`.
 */
const TEST_TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgoWWJF/ZdIQm4zcjs
etoTnzvCIG0l+mMP1uRSUbuin+ChRANCAAQz8v6DHrBGJgwZ7SiOz7KgcBT2tf0u
OhkNukMAsrb+Rlq471alGFahRbz30/0OB+0eS2My15BNIaNnqc3o82wI
-----END PRIVATE KEY-----
`;
const TEST_TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBfjCCASOgAwIBAgIBATAKBggqhkjOPQQDAjAfMR0wGwYDVQQDDBRsb29rYWxp
a2UgdGVzdCBSZWRpczAgFw0wMDAxMDEwMDAwMDBaGA8yMTI2MDEwMTAwMDAwMFow
HzEdMBsGA1UEAwwUbG9va2FsaWtlIHRlc3QgUmVkaXMwWTATBgcqhkjOPQIBBggq
hkjOPQMBBwNCAAQz8v6DHrBGJgwZ7SiOz7KgcBT2tf0uOhkNukMAsrb+Rlq471al
GFahRbz30/0OB+0eS2My15BNIaNnqc3o82wIo04wTDAaBgNVHREEEzARhwR/AAAB
gglsb2NhbGhvc3QwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUD8WoZZ0P4WOB
Of3F+H7p1JpRb5AwCgYIKoZIzj0EAwIDSQAwRgIhAOe+k4SuHn2WfiWRhGoeJcnV
60bSemOGhR7+yuano0ncAiEA+iiaPZjPkQq/mtWWdzQC8Fltf39MY2CE9U0npOVB
2Us=
-----END CERTIFICATE-----
`;

/** Debian's redis-server (scripts/setup-system.sh installs it); missing, the test fails — it is never skipped. */
function redisServerBinary(): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin', '/usr/sbin'];
  const bin = dirs.map((d) => path.join(d, 'redis-server')).find((p) => fs.existsSync(p));
  if (!bin) throw new Error('redis-server is not installed: run `bash scripts/setup-system.sh` (it installs Debian\'s redis-server)');
  return bin;
}


interface RedisServer {
  readonly port: number;
  /** The test certificate (PEM file) a TLS server presents. */
  readonly certFile: string;
  /** A queue URL: `auth` is what goes before `@` (`:secret`, `user:password`, or '' for none). */
  url(auth: string): string;
  /** Start redis-server (again: same port, same data) and wait until it answers. */
  start(): Promise<void>;
  /** SIGKILL it and wait until it is gone. */
  kill(): Promise<void>;
}

/**
 * A redis-server of this test's own; `persist`: an append-only file in a temp dir, fsynced on every write; `tls`:
 * only a TLS port (the test certificate), no plain one.
 */
async function redisServer(opts: { persist?: boolean; tls?: boolean } = {}): Promise<RedisServer> {
  const bin = redisServerBinary();
  const port = await freePort();
  const dir = tmpDir('lookalike-redis-');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  fs.writeFileSync(certFile, TEST_TLS_CERT);
  fs.writeFileSync(keyFile, TEST_TLS_KEY, { mode: 0o600 });
  const args = [
    ...(opts.tls ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-auth-clients', 'no'] : ['--port', String(port)]),
    '--bind', '127.0.0.1', '--requirepass', PASSWORD, '--save', '', '--dir', dir,
    ...(opts.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
  ];
  const tls = opts.tls ? { ca: TEST_TLS_CERT } : undefined;
  let child: ChildProcess | undefined;
  let log = '';
  const server: RedisServer = {
    port,
    certFile,
    url: (auth) => `${opts.tls ? 'rediss' : 'redis'}://${auth ? `${auth}@` : ''}127.0.0.1:${port}`,
    async start() {
      child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
      const deadline = Date.now() + 15_000;
      for (;;) {
        const c = new Redis({ port, host: '127.0.0.1', password: PASSWORD, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, ...(tls ? { tls } : {}) });
        c.on('error', () => {});
        try {
          await c.connect();
          // answers PING only once the append-only file is loaded (LOADING errors before)
          if ((await c.ping()) === 'PONG') return;
        } catch {
          // not up yet
        } finally {
          c.disconnect();
        }
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    },
  };
  servers.push(server);
  dirs.push(dir);
  await server.start();
  return server;
}

const servers: RedisServer[] = [];
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of servers) await s.kill();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A `lookalike` process whose output is collected. */
function startCli(args: string[], env: NodeJS.ProcessEnv = ENV): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

/** Run the CLI to its end (killed after `timeoutMs`: a hang is a failure, not a stuck test). */
function runCli(args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = ENV): Promise<{ code: number | null; stdout: string; stderr: string; ms: number; timedOut: boolean }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
      const err = e as (Error & { code?: number | string; killed?: boolean }) | null;
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
        stdout,
        stderr,
        ms: performance.now() - t0,
        timedOut: err?.killed === true,
      });
    });
  });
}

/** Wait for the worker's start line (stderr, text mode). */
async function workerReady(w: ReturnType<typeof startCli>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!/waiting for jobs/.test(w.err())) {
    if (w.child.exitCode !== null) throw new Error(`worker exited ${w.child.exitCode}: ${w.err()}`);
    if (Date.now() > deadline) throw new Error(`worker not ready after 30 s: ${w.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Rows, distinct paths and distinct ids of collection `name` (zeros while it does not exist). */
async function itemCounts(client: pg.Client, name: string): Promise<{ n: number; paths: number; ids: number }> {
  try {
    const t = await client.query<{ cid: number }>('SELECT cid FROM lookalike_collections WHERE name = $1', [name]);
    if (!t.rows[0]) return { n: 0, paths: 0, ids: 0 };
    const r = await client.query<{ n: string; paths: string; ids: string }>(
      `SELECT count(*) AS n, count(DISTINCT path) AS paths, count(DISTINCT id) AS ids FROM lookalike_items_${t.rows[0].cid}`,
    );
    const row = r.rows[0]!;
    return { n: Number(row.n), paths: Number(row.paths), ids: Number(row.ids) };
  } catch {
    return { n: 0, paths: 0, ids: 0 };
  }
}

/** Every job of the queue for `collection`, with whether any attempt of it failed. */
async function jobsOf(redis: RedisServer, collection: string): Promise<{ completed: number; failed: number; everFailed: number }> {
  const queue = new Queue('lookalike-ingest', { connection: { host: '127.0.0.1', port: redis.port, password: PASSWORD, maxRetriesPerRequest: null } });
  queue.on('error', () => {});
  try {
    const mine = (jobs: Awaited<ReturnType<typeof queue.getJobs>>) => jobs.filter((j) => (j.data as { collection?: string }).collection === collection);
    const completed = mine(await queue.getJobs(['completed']));
    const failed = mine(await queue.getJobs(['failed']));
    return {
      completed: completed.length,
      failed: failed.length,
      everFailed: [...completed, ...failed].filter((j) => (j.stacktrace ?? []).length > 0 || Boolean(j.failedReason)).length,
    };
  } finally {
    await queue.close();
  }
}

/** The `{"error":…}` line of a `--json` run's stderr. */
function jsonError(stderr: string): { code: string; message: string } {
  const line = stderr.trim().split('\n').at(-1) ?? '';
  try {
    return (JSON.parse(line) as { error: { code: string; message: string } }).error;
  } catch {
    throw new Error(`not a JSON error on stderr:\n${stderr}`);
  }
}

function pgUrl(): string {
  const u = inject('pgUrl');
  if (u.startsWith('error:')) throw new Error(u.slice(7));
  return u;
}

describe('the queue on a Redis with a password (slow, issue 16)', () => {
  it('(a) password and ACL user: 200 images through one worker, each indexed once, no secret printed', async () => {
    const redis = await redisServer();
    const admin = new Redis({ host: '127.0.0.1', port: redis.port, password: PASSWORD, lazyConnect: true });
    await admin.connect();
    await admin.call('ACL', 'SETUSER', ACL_USER, 'on', `>${ACL_PASSWORD}`, '~*', '&*', '+@all');
    admin.disconnect();
    const db = await freshPostgresDb(pgUrl(), 'lookalike_redis_a');
    const folder = cifarSubset(200);
    const t0 = performance.now();
    const worker = startCli(['worker', '--queue', redis.url(`:${PASSWORD}`), '--db', db]);
    const client = new pg.Client({ connectionString: db });
    try {
      await workerReady(worker);
      expect(worker.err()).toContain(`waiting for jobs on redis://:***@127.0.0.1:${redis.port}`);
      // human output (progress lines, the summary) and --json are both checked for the secrets
      const human = await runCli(['index', folder, '--db', db, '-c', 'pw', '--model', 'color-histogram', '--queue', redis.url(`${ACL_USER}:${ACL_PASSWORD}`)], 120_000);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toMatch(/pw: 200 added, 0 updated, 0 unchanged, 0 removed, 0 failed/);
      const again = await runCli(['index', folder, '--db', db, '-c', 'pw', '--queue', redis.url(`${ACL_USER}:${ACL_PASSWORD}`), '--json'], 120_000);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ added: 0, updated: 0, unchanged: 200, failed: 0 });
      await client.connect();
      expect(await itemCounts(client, 'pw')).toEqual({ n: 200, paths: 200, ids: 200 });
      expect(await jobsOf(redis, 'pw')).toEqual({ completed: 4, failed: 0, everFailed: 0 });
      for (const text of [human.stdout, human.stderr, again.stdout, again.stderr, worker.out(), worker.err()]) {
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain(ACL_PASSWORD);
      }
      expect(worker.err()).toMatch(/job .*: 64 added/);
      console.log(`(a) 200 images with a password and an ACL user: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
      await client.end().catch(() => {});
    }
  }, 180_000);

  it('(b) a wrong or missing password fails within seconds with QUEUE_AUTH_FAILED, the URL redacted, nothing created', async () => {
    const redis = await redisServer();
    const db = await freshPostgresDb(pgUrl(), 'lookalike_redis_b');
    const folder = cifarSubset(5);
    const cases: { args: string[]; shown: string }[] = [
      { args: ['worker', '--queue', redis.url(`:${WRONG}`), '--json'], shown: `redis://:***@127.0.0.1:${redis.port}` },
      { args: ['worker', '--queue', redis.url(`${ACL_USER}:${WRONG}`)], shown: `redis://${ACL_USER}:***@127.0.0.1:${redis.port}` },
      { args: ['index', folder, '--db', db, '-c', 'nope', '--model', 'color-histogram', '--queue', redis.url(`:${WRONG}`), '--json'], shown: `redis://:***@127.0.0.1:${redis.port}` },
      { args: ['index', folder, '--db', db, '-c', 'nope', '--model', 'color-histogram', '--queue', redis.url(`:${WRONG}`)], shown: `redis://:***@127.0.0.1:${redis.port}` },
      // no password at all, where the server wants one
      { args: ['worker', '--queue', redis.url(''), '--json'], shown: `redis://127.0.0.1:${redis.port}` },
    ];
    for (const c of cases) {
      const r = await runCli(c.args, 30_000);
      const what = `${c.args.slice(0, 1).join(' ')} ${c.args.includes('--json') ? '--json' : ''}: ${r.stderr}`;
      expect(r.timedOut, what).toBe(false);
      expect(r.code, what).toBe(1);
      // a refused password fails on the first answer; only an unreachable server is retried (10 s): well under that,
      // even with the CLI's own start (1–2 s, more on a loaded machine) included
      expect(r.ms, what).toBeLessThan(10_000);
      expect(r.stderr, what).not.toContain(WRONG);
      expect(r.stderr, what).not.toContain(PASSWORD);
      expect(r.stdout, what).toBe('');
      if (c.args.includes('--json')) {
        const error = jsonError(r.stderr);
        expect(error.code, what).toBe('QUEUE_AUTH_FAILED');
        expect(error.message, what).toContain(c.shown);
        expect(error.message, what).toMatch(/password/);
      } else {
        expect(r.stderr, what).toContain(c.shown);
        expect(r.stderr, what).toContain('QUEUE_AUTH_FAILED');
        // one message, no stack trace, no dump of the failed command
        expect(r.stderr, what).not.toMatch(/\n\s+at |args:/);
      }
      console.log(`(b) ${c.args[0]} ${c.shown}: exit ${r.code} after ${r.ms.toFixed(0)} ms`);
    }
    // `index` checked the queue before it created anything
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      const t = await client.query<{ n: string }>("SELECT count(*) AS n FROM information_schema.tables WHERE table_name LIKE 'lookalike%'");
      expect(t.rows[0]!.n).toBe('0');
    } finally {
      await client.end();
    }
  }, 120_000);

  it('(c) Redis dies mid-ingest and is back 5 s later: the worker reconnects, every image is indexed exactly once', async () => {
    // How the outage is made. The worker must really lose its connection: `DEBUG SLEEP 5` or SIGSTOP only freeze
    // the server — the TCP connection stays up and the worker just waits for a late reply, so no reconnect happens —
    // and `SIGKILL` / `shutdown nosave` without persistence lose the queue itself (every waiting job), which is data
    // loss, not an outage. So the server runs with an append-only file fsynced on every write (as a production
    // Redis holding a job queue should), is SIGKILLed (every connection is reset; reconnects are refused), and is
    // started again 5 s later on the same port from the same file — the worker has to reconnect and carry on.
    const N = 2000;
    const redis = await redisServer({ persist: true });
    const db = await freshPostgresDb(pgUrl(), 'lookalike_redis_c');
    const folder = cifarSubset(N);
    const url = redis.url(`:${PASSWORD}`);
    const worker = startCli(['worker', '--queue', url, '--db', db]);
    const client = new pg.Client({ connectionString: db });
    try {
      await workerReady(worker);
      await client.connect();
      const t0 = performance.now();
      const submit = runCli(['index', folder, '--db', db, '-c', 'outage', '--model', 'color-histogram', '--queue', url, '--json'], 240_000);
      const deadline = Date.now() + 120_000;
      while ((await itemCounts(client, 'outage')).n < N / 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await redis.kill();
      const atKill = (await itemCounts(client, 'outage')).n;
      const tKill = performance.now();
      await new Promise((r) => setTimeout(r, 5_000));
      await redis.start();
      const atRestart = (await itemCounts(client, 'outage')).n;
      const tBack = performance.now();
      expect(atKill).toBeGreaterThanOrEqual(N / 5);
      expect(atRestart).toBeLessThan(N); // work was left that the worker could only get by reconnecting
      const r = await submit;
      const tDone = performance.now();
      expect(r.timedOut, r.stderr).toBe(false);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as { added: number; updated: number; unchanged: number; failed: number };
      expect(report).toMatchObject({ failed: 0, added: N, updated: 0, unchanged: 0 });
      expect(await itemCounts(client, 'outage')).toEqual({ n: N, paths: N, ids: N });
      expect(await jobsOf(redis, 'outage')).toEqual({ completed: Math.ceil(N / 64), failed: 0, everFailed: 0 });
      expect(worker.child.exitCode).toBe(null); // still serving
      for (const text of [r.stdout, r.stderr, worker.out(), worker.err()]) expect(text).not.toContain(PASSWORD);
      // a few readable lines about the outage (not one error dump per reconnect attempt, as before)
      expect(worker.err()).toContain(`lost the connection to Redis at redis://:***@127.0.0.1:${redis.port}`);
      expect(worker.err()).toMatch(/reconnected to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ after \d+\.\d s/);
      expect(worker.err()).not.toMatch(/^\s+at |errno/m);
      console.log(
        `(c) ${N} images; Redis killed at ${atKill} indexed, ${((tBack - tKill) / 1000).toFixed(1)} s down (${atRestart} indexed when back); ` +
          `done ${((tDone - tBack) / 1000).toFixed(1)} s later, ${((tDone - t0) / 1000).toFixed(1)} s in all`,
      );
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
      await client.end().catch(() => {});
    }
  }, 300_000);

  it('(d) rediss://: with the server\'s CA trusted the ingest works; untrusted, QUEUE_UNAVAILABLE at once says how to trust it', async () => {
    const redis = await redisServer({ tls: true });
    const db = await freshPostgresDb(pgUrl(), 'lookalike_redis_d');
    const folder = cifarSubset(20);
    const url = redis.url(`:${PASSWORD}`);
    expect(url).toMatch(/^rediss:\/\//);
    const untrusted = await runCli(['index', folder, '--db', db, '-c', 'tls', '--model', 'color-histogram', '--queue', url, '--json'], 30_000);
    expect(untrusted.timedOut, untrusted.stderr).toBe(false);
    expect(untrusted.code, untrusted.stderr).toBe(1);
    const error = jsonError(untrusted.stderr);
    expect(error.code).toBe('QUEUE_UNAVAILABLE');
    expect(error.message).toContain(`rediss://:***@127.0.0.1:${redis.port}`);
    expect(error.message).toMatch(/certificate/i);
    expect(error.message).toContain('NODE_EXTRA_CA_CERTS');
    expect(untrusted.stderr).not.toContain(PASSWORD);
    console.log(`(d) untrusted certificate: exit ${untrusted.code} after ${untrusted.ms.toFixed(0)} ms`);

    const trusted = { ...ENV, NODE_EXTRA_CA_CERTS: redis.certFile };
    const worker = startCli(['worker', '--queue', url, '--db', db], trusted);
    const client = new pg.Client({ connectionString: db });
    try {
      await workerReady(worker);
      const r = await runCli(['index', folder, '--db', db, '-c', 'tls', '--model', 'color-histogram', '--queue', url, '--json'], 120_000, trusted);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ added: 20, failed: 0 });
      await client.connect();
      expect(await itemCounts(client, 'tls')).toEqual({ n: 20, paths: 20, ids: 20 });
      for (const text of [r.stdout, r.stderr, worker.out(), worker.err()]) expect(text).not.toContain(PASSWORD);
      expect(worker.err()).toContain(`waiting for jobs on rediss://:***@127.0.0.1:${redis.port}`);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
      await client.end().catch(() => {});
    }
  }, 120_000);
});
