/**
 * SLOW: a real PostgreSQL server (private to this file) stopped and restarted under lookalike. An index run rides
 * out the restart (transient errors retried, nothing lost or duplicated); a server answers 503 STORE_UNAVAILABLE
 * with Retry-After while the database is down, `/readyz` follows, `/healthz` stays live, and all recovers.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/lookalike.js';
import { buildServer } from '../../src/server/app.js';
import { startPostgresServer, type PostgresServer } from '../setup/postgres.js';
import { cifarSubset, CLI } from '../helpers.js';

const run = promisify(execFile);

async function rows(url: string, name: string): Promise<{ n: number; paths: number }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  try {
    await client.connect();
    const t = await client.query<{ cid: number }>(`SELECT cid FROM lookalike_collections WHERE name = $1`, [name]);
    if (!t.rows[0]) return { n: 0, paths: 0 };
    const r = await client.query<{ n: string; paths: string }>(`SELECT count(*) AS n, count(DISTINCT path) AS paths FROM lookalike_items_${t.rows[0].cid}`);
    return { n: Number(r.rows[0]!.n), paths: Number(r.rows[0]!.paths) };
  } catch {
    return { n: 0, paths: 0 };
  } finally {
    await client.end().catch(() => {});
  }
}

describe('PostgreSQL restarting under lookalike (slow)', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgresServer();
  }, 60_000);
  afterAll(() => server?.destroy());

  it('an index run survives a PostgreSQL restart: transient errors are retried, nothing is lost or duplicated (10.27)', async () => {
    const N = 1500;
    const folder = cifarSubset(N);
    const child = run(process.execPath, [CLI, 'index', folder, '--db', server.url, '-c', 'restart', '--model', 'color-histogram', '--batch-size', '16', '--json'], {
      env: { ...process.env, LOOKALIKE_THREADS: '1', LOOKALIKE_STORE_RETRY_MS: '60000' },
      maxBuffer: 64 << 20,
    });
    const deadline = Date.now() + 60_000;
    while ((await rows(server.url, 'restart')).n < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const before = (await rows(server.url, 'restart')).n;
    expect(before).toBeGreaterThanOrEqual(100);
    server.stop(); // fast shutdown: the run's connections are terminated mid-batch
    await new Promise((r) => setTimeout(r, 2000));
    server.start();
    const { stdout } = await child;
    const report = JSON.parse(stdout) as { added: number; updated: number; unchanged: number; failed: number };
    expect(before).toBeLessThan(N); // the restart happened while work was left
    expect(report.failed).toBe(0);
    expect(report.added + report.updated + report.unchanged).toBe(N);
    expect(await rows(server.url, 'restart')).toEqual({ n: N, paths: N });
  }, 180_000);

  it('a retry budget that runs out is STORE_UNAVAILABLE with what to do, not a stack trace (10.27)', async () => {
    server.stop();
    try {
      const r = await run(process.execPath, [CLI, 'info', '--db', server.url, '-c', 'restart'], {
        env: { ...process.env, LOOKALIKE_STORE_RETRY_MS: '1500' },
      }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/unavailable[\s\S]*Check that the server is running[\s\S]*STORE_UNAVAILABLE/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      server.start();
    }
  }, 60_000);

  it('serve: 503 STORE_UNAVAILABLE with Retry-After while PostgreSQL is down, /readyz follows it, /healthz stays live (10.28)', async () => {
    const db = await openDatabase(server.url, { threads: 1, storeRetryMs: 500 });
    const app = await buildServer({ db });
    try {
      const search = () => app.inject({ method: 'POST', url: '/v1/collections/restart/search', payload: { vector: Array.from({ length: 128 }, () => 0.1), k: 3 } });
      expect((await search()).statusCode).toBe(200);
      expect((await app.inject('/readyz')).statusCode).toBe(200);
      server.stop();
      const down = await search();
      expect(down.statusCode).toBe(503);
      expect(down.headers['retry-after']).toMatch(/^\d+$/);
      expect(down.json()).toMatchObject({ error: { code: 'STORE_UNAVAILABLE' } });
      expect((await app.inject('/readyz')).statusCode).toBe(503);
      expect((await app.inject('/healthz')).statusCode).toBe(200);
      server.start();
      const deadline = Date.now() + 30_000;
      let ready = 0;
      while (Date.now() < deadline && (ready = (await app.inject('/readyz')).statusCode) !== 200) await new Promise((r) => setTimeout(r, 200));
      expect(ready).toBe(200);
      expect((await search()).statusCode).toBe(200);
    } finally {
      await app.close();
      await db.close();
    }
  }, 120_000);
});
