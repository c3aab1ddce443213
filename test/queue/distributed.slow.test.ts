/**
 * SLOW (end-to-end): distributed ingestion with real Redis and real PostgreSQL. Three `lookalike worker` processes
 * ingest ../shared/datasets/cifar10-test (10,000 images); one is killed with SIGKILL halfway. At the end every image
 * is indexed exactly once.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { CLI, freshPostgresDb, requireShared, SHARED } from '../helpers.js';

const run = promisify(execFile);

describe('distributed ingestion (slow)', () => {
  it('3 workers, one SIGKILLed halfway: every image indexed exactly once', async () => {
    const redis = inject('redisUrl');
    const pgUrl = inject('pgUrl');
    for (const u of [redis, pgUrl]) if (u.startsWith('error:')) throw new Error(u.slice(7));
    const data = requireShared(path.join(SHARED, 'datasets', 'cifar10-test'));
    const db = await freshPostgresDb(pgUrl, 'lookalike_queue');

    const env = { ...process.env, LOOKALIKE_THREADS: '1' };
    const workers: ChildProcess[] = [0, 1, 2].map(() =>
      spawn(process.execPath, [CLI, 'worker', '--queue', redis, '--db', db, '--quiet'], { stdio: 'ignore', env }),
    );
    const client = new pg.Client({ connectionString: db });
    try {
      const submit = run(process.execPath, [CLI, 'index', data, '--db', db, '-c', 'cifar', '--model', 'color-histogram', '--queue', redis, '--json'], {
        env,
        maxBuffer: 64 << 20,
      });
      // kill one worker with SIGKILL once about half of the images are in
      await client.connect();
      const count = async () => {
        try {
          const t = await client.query<{ cid: number }>(`SELECT cid FROM lookalike_collections WHERE name = 'cifar'`);
          if (!t.rows[0]) return 0;
          return Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM lookalike_items_${t.rows[0].cid}`)).rows[0]!.n);
        } catch {
          return 0;
        }
      };
      const deadline = Date.now() + 120_000;
      while ((await count()) < 5000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      workers[0]!.kill('SIGKILL');
      const atKill = await count();
      expect(atKill).toBeGreaterThanOrEqual(5000);
      expect(atKill).toBeLessThan(10_000); // killed while work was still in progress
      const { stdout } = await submit;
      const report = JSON.parse(stdout) as { added: number; updated: number; unchanged: number; failed: number };
      expect(report.failed).toBe(0);
      // every file accounted for exactly once: the killed worker's job was taken over, and the files it had already
      // committed are found unchanged by the same change detection a local run uses
      expect(report.added + report.updated + report.unchanged).toBe(10_000);
      const t = await client.query<{ cid: number }>(`SELECT cid FROM lookalike_collections WHERE name = 'cifar'`);
      const r = await client.query<{ n: string; paths: string; ids: string }>(
        `SELECT count(*) AS n, count(DISTINCT path) AS paths, count(DISTINCT id) AS ids FROM lookalike_items_${t.rows[0]!.cid}`,
      );
      expect(r.rows[0]).toEqual({ n: '10000', paths: '10000', ids: '10000' });
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      await client.end().catch(() => {});
    }
  }, 240_000);
});
