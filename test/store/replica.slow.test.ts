/**
 * Issue 16.3: read replicas with PostgreSQL's own streaming replication — a primary and a hot standby on loopback
 * (pg_basebackup), searches answered by the replica, and the consistency rule: a replica that has not replayed a
 * delete yet never returns the deleted item as a live result (hits are confirmed on the primary).
 */
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { openStore } from '../../src/store/registry.js';
import { SAMPLES } from '../helpers.js';
import { startPostgresReplica, startPostgresServer, type PostgresServer } from '../setup/postgres.js';

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

describe('PostgreSQL read replica', () => {
  let primary: PostgresServer;
  let replica: PostgresServer;
  let db: LookalikeDatabase;

  const caughtUp = async () => {
    const { lsn } = (await sql<{ lsn: string }>(primary.url, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!;
    for (let i = 0; i < 200; i++) {
      const { behind } = (await sql<{ behind: boolean }>(replica.url, `SELECT pg_last_wal_replay_lsn() < '${lsn}'::pg_lsn AS behind`))[0]!;
      if (!behind) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the replica did not catch up in 10 s');
  };

  beforeAll(async () => {
    primary = await startPostgresServer();
    replica = await startPostgresReplica(primary);
    db = await openDatabase(primary.url, { threads: 1, readReplicas: [replica.url] });
    const col = await db.collection('flowers', { model: 'color-histogram' });
    await col.indexFolder(SAMPLES);
    await col.close();
    await caughtUp();
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    replica?.destroy();
    primary?.destroy();
  });

  it('searches run on the replica and answer as the primary does', async () => {
    const direct = await openDatabase(primary.url, { threads: 1 });
    try {
      const col = await db.openCollection('flowers');
      const plain = await direct.openCollection('flowers');
      const ids = (await plain.files()).slice(0, 10).map((f) => f.id);
      const commits = async () => Number((await sql<{ n: string }>(replica.url, 'SELECT sum(xact_commit)::text AS n FROM pg_stat_database'))[0]!.n);
      const before = await commits();
      for (const id of ids) {
        const a = await col.search({ id }, { k: 5 });
        const b = await plain.search({ id }, { k: 5 });
        expect(a.map((h) => [h.id, h.path])).toEqual(b.map((h) => [h.id, h.path]));
      }
      // the searches ran there (statistics are flushed about once a second)
      await expect.poll(async () => (await commits()) - before, { timeout: 10_000, interval: 250 }).toBeGreaterThanOrEqual(ids.length);
    } finally {
      await direct.close();
    }
  });

  it('a lagging replica never returns an item deleted on the primary', async () => {
    const col = await db.openCollection('flowers');
    const [first] = await col.files();
    const hits = await col.search({ id: first!.id }, { k: 3 });
    const victim = hits[0]!.id;
    await sql(replica.url, 'SELECT pg_wal_replay_pause()');
    try {
      expect(await col.delete([victim])).toBe(1);
      // the replica still has it…
      const stale = await openStore(replica.url, { create: false });
      try {
        const r = await (await stale.getCollection('flowers')).search((await (await stale.getCollection('flowers')).getVector(first!.id))!, { k: 3, excludeIds: [first!.id] });
        expect(r.map((h) => h.id)).toContain(victim);
      } finally {
        await stale.close();
      }
      // …but a search through the store never shows it
      const now = await col.search({ id: first!.id }, { k: 3 });
      expect(now.map((h) => h.id)).not.toContain(victim);
    } finally {
      await sql(replica.url, 'SELECT pg_wal_replay_resume()');
    }
    await caughtUp();
    expect((await col.search({ id: first!.id }, { k: 3 })).map((h) => h.id)).not.toContain(victim);
    expect(path.isAbsolute(hits[0]!.path!)).toBe(true);
  });
});
