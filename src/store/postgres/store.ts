import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createError, reasonOf } from '../../errors.js';
import { checkCapabilities, parseStoredSpec, validateCollectionName } from '../spec.js';
import type { BrokenCollection, CollectionSpec, OpenStoreOptions, StoreCollection, VectorStore } from '../types.js';
import { hnswDdl, itemsIndexDdl, itemsTableDdl, PG_CAPABILITIES, PgCollection, table } from './collection.js';
import { RetryingPool } from './pool.js';
import { PgUploadStorage, UPLOADS_DDL } from './uploads.js';
import { withRetry } from './retry.js';
import { redactUrl } from '../../util/redact.js';
import { createShardedCollection, dropShardedCollection, openShardedCollection, parseShardUrl, shardedCollectionId, type ShardAddress } from './shards.js';

const SCHEMA_VERSION = 2;

/** Versioned migrations, each in one transaction: MIGRATIONS[v] takes the schema from v to v + 1. */
const MIGRATIONS: Record<number, string> = {
  0: `
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE IF NOT EXISTS lookalike_collections (
      cid SERIAL PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      spec JSONB NOT NULL,
      generation BIGINT NOT NULL DEFAULT 0
    );`,
  // 2: originals of uploads in the database (stateless API servers)
  1: `${UPLOADS_DDL};`,
};



const isSqlState = (e: unknown): boolean => typeof (e as { code?: unknown } | null)?.code === 'string' && (e as { code: string }).code.length === 5;

/**
 * PostgreSQL + pgvector back-end (`--db postgres://user@host:port/db`): one table per collection with a
 * `vector(D)` (or `halfvec(D)` for float16) column, metadata as `jsonb` with filters in SQL, an HNSW index with
 * `vector_cosine_ops` when the collection asks for one (`hnsw.ef_search` per query), batches written in one
 * transaction with multi-row upserts, a connection pool; transient errors (a restarting server, a lost
 * connection, serialization failures) are retried for `retry.timeoutMs`, then `STORE_UNAVAILABLE`.
 */
export class PostgresStore implements VectorStore {
  readonly capabilities = PG_CAPABILITIES;
  readonly uploadsDir = undefined;
  /** Originals of uploads live in the database: every API server on it sees them. */
  readonly uploads: PgUploadStorage;

  private constructor(
    readonly location: string,
    private readonly db: RetryingPool,
    /** Streaming replicas that answer searches (see `OpenStoreOptions.readReplicas`). */
    private readonly replicas: readonly RetryingPool[] = [],
    /** Shard servers new collections are hash-partitioned over (see `OpenStoreOptions.shards`, shards.ts). */
    private readonly shards: readonly ShardAddress[] = [],
  ) {
    this.uploads = new PgUploadStorage(db);
  }

  static async open(url: string, opts: OpenStoreOptions = {}): Promise<PostgresStore> {
    const where = redactUrl(url);
    const shards = (opts.shards ?? []).map(parseShardUrl);
    const policy = { timeoutMs: opts.retry?.timeoutMs ?? 30_000 };
    const pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 10_000 });
    pool.on('error', () => {}); // idle client errors surface on the next query instead of crashing the process
    try {
      await withRetry(where, policy, () => PostgresStore.migrate(pool, where, opts.create ?? true));
    } catch (e) {
      await pool.end().catch(() => {});
      if (!(e instanceof Error && 'code' in e) || !isSqlState(e)) throw e;
      throw createError('STORE_CORRUPT', `Cannot prepare the PostgreSQL schema at ${where}: ${reasonOf(e)} (is pgvector installed?)`, { db: where }, e);
    }
    const replicas = (opts.readReplicas ?? []).map((u) => {
      const p = new pg.Pool({ connectionString: u, max: 8, connectionTimeoutMillis: 10_000 });
      p.on('error', () => {});
      return new RetryingPool(p, redactUrl(u), policy);
    });
    return new PostgresStore(where, new RetryingPool(pool, where, policy), replicas, shards);
  }

  private static async migrate(pool: pg.Pool, where: string, create: boolean): Promise<void> {
    const client = await pool.connect();
    const ignore = (): void => {};
    client.on('error', ignore);
    try {
      const standby = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
      if (standby) {
        // a hot standby (read replica): read-only, its schema is the primary's — nothing to migrate or create
        const found = (await client.query<{ v: string | null }>(
          `SELECT CASE WHEN to_regclass('lookalike_meta') IS NULL THEN NULL ELSE (SELECT value FROM lookalike_meta WHERE key = 'schema_version') END AS v`,
        )).rows[0]!.v;
        if (found === null) throw createError('STORE_NOT_FOUND', `The replica ${where} holds no lookalike store (yet).`, { db: where });
        if (Number(found) !== SCHEMA_VERSION) {
          throw createError('STORE_CORRUPT', `The replica ${where} has schema version ${found}; this lookalike reads ${SCHEMA_VERSION}.`, { db: where });
        }
        return;
      }
      await client.query('SELECT pg_advisory_lock(74201)'); // one migrator at a time
      const exists = (await client.query(`SELECT to_regclass('lookalike_meta') IS NOT NULL AS e`)).rows[0] as { e: boolean };
      if (!exists.e && !create) {
        throw createError('STORE_NOT_FOUND', `The database ${where} holds no lookalike store. Check --db, or create one with \`lookalike index\`.`, { db: where });
      }
      await client.query('CREATE TABLE IF NOT EXISTS lookalike_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      const r = await client.query<{ value: string }>(`SELECT value FROM lookalike_meta WHERE key = 'schema_version'`);
      const from = r.rows[0] ? Number(r.rows[0].value) : 0;
      if (!Number.isInteger(from) || from < 0) {
        throw createError('STORE_CORRUPT', `The database ${where} records schema version "${r.rows[0]?.value}", which lookalike never wrote.`, { db: where });
      }
      if (from > SCHEMA_VERSION) {
        throw createError('STORE_CORRUPT', `The database schema is version ${from}; this lookalike reads ${SCHEMA_VERSION}. Upgrade lookalike.`, { db: where });
      }
      for (let v = from; v < SCHEMA_VERSION; v++) {
        await client.query('BEGIN');
        try {
          await client.query(MIGRATIONS[v]!);
          await client.query(
            `INSERT INTO lookalike_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
            [String(v + 1)],
          );
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          throw e;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(74201)').catch(() => {});
      client.off('error', ignore);
      client.release();
    }
  }

  async ping(): Promise<void> {
    try {
      await this.db.pool.query('SELECT 1');
    } catch (e) {
      throw createError('STORE_UNAVAILABLE', `PostgreSQL at ${this.location} does not answer: ${reasonOf(e)}`, { db: this.location }, e);
    }
  }

  async listCollections(): Promise<{ collections: CollectionSpec[]; broken: BrokenCollection[] }> {
    const r = await this.db.query<{ name: string; spec: unknown }>('SELECT name, spec FROM lookalike_collections ORDER BY name');
    const collections: CollectionSpec[] = [];
    const broken: BrokenCollection[] = [];
    for (const row of r.rows) {
      try {
        collections.push(parseStoredSpec(JSON.stringify(row.spec), row.name));
      } catch (e) {
        broken.push({ name: row.name, error: reasonOf(e) });
      }
    }
    return { collections, broken };
  }

  async hasCollection(name: string): Promise<boolean> {
    return ((await this.db.query('SELECT 1 FROM lookalike_collections WHERE name = $1', [name])).rowCount ?? 0) > 0;
  }

  async createCollection(input: Omit<CollectionSpec, 'createdAt' | 'uid'>): Promise<StoreCollection> {
    validateCollectionName(input.name, { companion: true });
    checkCapabilities(this.capabilities, input.index ?? { type: 'flat' }, input.vectorType, input.dimension);
    const spec: CollectionSpec = { ...input, uid: randomUUID(), createdAt: new Date().toISOString() };
    if (this.shards.length) {
      await createShardedCollection(this.db, spec, this.shards);
      return this.getCollection(spec.name);
    }
    try {
      await this.db.tx(async (client) => {
        const r = await client.query<{ cid: number }>('INSERT INTO lookalike_collections (name, spec) VALUES ($1, $2) RETURNING cid', [
          spec.name,
          JSON.stringify(spec),
        ]);
        const cid = r.rows[0]!.cid;
        await client.query(itemsTableDdl(table(cid), spec, 'plain'));
        for (const ddl of itemsIndexDdl(table(cid))) await client.query(ddl);
        if (spec.index?.type === 'hnsw') await client.query(hnswDdl(cid, spec, spec.index));
      });
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw createError('COLLECTION_EXISTS', `Collection "${spec.name}" already exists.`, { name: spec.name });
      throw e;
    }
    return this.getCollection(spec.name);
  }

  async getCollection(name: string): Promise<StoreCollection> {
    const r = await this.db.query<{ cid: number; spec: unknown; sharded: boolean | null }>(
      `SELECT cid, spec, (SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('lookalike_items_' || cid)) AS sharded FROM lookalike_collections WHERE name = $1`,
      [name],
    );
    const row = r.rows[0];
    if (!row) {
      const names = (await this.listCollections()).collections.map((c) => c.name);
      throw createError(
        'COLLECTION_NOT_FOUND',
        `No collection "${name}" in ${this.location}.` + (names.length ? ` Collections: ${names.join(', ')}.` : ' The database has none yet.'),
        { name },
      );
    }
    const spec = parseStoredSpec(JSON.stringify(row.spec), name);
    if (row.sharded) return openShardedCollection(this.db, row.cid, spec, this.replicas);
    return new PgCollection(this.db, row.cid, spec, this.replicas);
  }

  async dropCollection(name: string): Promise<boolean> {
    const sharded = await shardedCollectionId(this.db, name);
    if (sharded !== undefined) return dropShardedCollection(this.db, name, sharded);
    return this.db.tx(async (client) => {
      const r = await client.query<{ cid: number }>('DELETE FROM lookalike_collections WHERE name = $1 RETURNING cid', [name]);
      if (!r.rows[0]) return false;
      await client.query(`DROP TABLE IF EXISTS ${table(r.rows[0].cid)}`);
      return true;
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.db.pool.end(), ...this.replicas.map((r) => r.pool.end())]);
  }
}
