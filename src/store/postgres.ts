import pg from 'pg';
import { createError, reasonOf } from '../errors.js';
import { checkVector, parseStoredSpec, validateCollectionName, validateWhere, CollectionSpecSchema } from './spec.js';
import type {
  CollectionSpec,
  FileState,
  Hit,
  IndexSpec,
  Item,
  ItemInput,
  Metadata,
  StoreCollection,
  UpsertResult,
  VectorSearchOptions,
  VectorStore,
  VectorType,
} from './types.js';

const SCHEMA_VERSION = 1;

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
};

const table = (cid: number): string => `lookalike_items_${cid}`;
const vecLiteral = (v: Float32Array): string => `[${Array.from(v).join(',')}]`;
const parseVec = (s: string): Float32Array => Float32Array.from(s.slice(1, -1).split(','), Number);
const columnType = (spec: CollectionSpec): string =>
  spec.vectorType === 'float16' ? `halfvec(${spec.dimension})` : `vector(${spec.dimension})`;
const opsClass = (spec: CollectionSpec): string => (spec.vectorType === 'float16' ? 'halfvec_cosine_ops' : 'vector_cosine_ops');

/**
 * PostgreSQL + pgvector back-end (`--db postgres://user@host:port/db`): one table per collection with a
 * `vector(D)` (or `halfvec(D)` for float16) column, metadata as `jsonb` with filters in SQL, an HNSW index with
 * `vector_cosine_ops` when the collection asks for one (`hnsw.ef_search` per query), batches written in one
 * transaction with multi-row upserts, a connection pool.
 */
export class PostgresStore implements VectorStore {
  private constructor(
    readonly location: string,
    private readonly pool: pg.Pool,
  ) {}

  static async open(url: string): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 10_000 });
    pool.on('error', () => {}); // idle client errors surface on the next query instead of crashing the process
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      await pool.end();
      throw createError('STORE_BUSY', `Cannot connect to PostgreSQL at ${redact(url)}: ${reasonOf(e)}`, { db: redact(url) }, e);
    }
    try {
      await client.query('SELECT pg_advisory_lock(74201)'); // one migrator at a time
      await client.query('CREATE TABLE IF NOT EXISTS lookalike_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      const r = await client.query<{ value: string }>(`SELECT value FROM lookalike_meta WHERE key = 'schema_version'`);
      const from = r.rows[0] ? Number(r.rows[0].value) : 0;
      if (from > SCHEMA_VERSION) {
        throw createError('STORE_CORRUPT', `The database schema is version ${from}; this lookalike reads ${SCHEMA_VERSION}. Upgrade lookalike.`);
      }
      for (let v = from; v < SCHEMA_VERSION; v++) {
        await client.query('BEGIN');
        await client.query(MIGRATIONS[v]!);
        await client.query(
          `INSERT INTO lookalike_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
          [String(v + 1)],
        );
        await client.query('COMMIT');
      }
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
      await pool.end();
      if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string' && (e as { code: string }).code.length === 5) {
        throw createError('STORE_CORRUPT', `Cannot prepare the PostgreSQL schema: ${reasonOf(e)} (is pgvector installed?)`, {}, e);
      }
      throw e;
    }
    await client.query('SELECT pg_advisory_unlock(74201)');
    client.release();
    return new PostgresStore(redact(url), pool);
  }

  async listCollections(): Promise<CollectionSpec[]> {
    const r = await this.pool.query<{ name: string; spec: unknown }>('SELECT name, spec FROM lookalike_collections ORDER BY name');
    return r.rows.map((row) => parseStoredSpec(JSON.stringify(row.spec), row.name));
  }

  async hasCollection(name: string): Promise<boolean> {
    return (await this.pool.query('SELECT 1 FROM lookalike_collections WHERE name = $1', [name])).rowCount! > 0;
  }

  async createCollection(input: Omit<CollectionSpec, 'createdAt'>): Promise<StoreCollection> {
    validateCollectionName(input.name);
    const spec: CollectionSpec = { ...input, createdAt: new Date().toISOString() };
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const r = await client.query<{ cid: number }>('INSERT INTO lookalike_collections (name, spec) VALUES ($1, $2) RETURNING cid', [
        spec.name,
        JSON.stringify(spec),
      ]);
      const cid = r.rows[0]!.cid;
      await client.query(`CREATE TABLE ${table(cid)} (
        rid BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        path TEXT,
        content_hash TEXT,
        size BIGINT,
        mtime_ms DOUBLE PRECISION,
        width INTEGER,
        height INTEGER,
        metadata JSONB NOT NULL DEFAULT '{}',
        vector ${columnType(spec)} NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
      await client.query(`CREATE INDEX ON ${table(cid)} (path)`);
      await client.query(`CREATE INDEX ON ${table(cid)} USING gin (metadata jsonb_path_ops)`);
      if (spec.index?.type === 'hnsw') await client.query(hnswDdl(cid, spec, spec.index));
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      if (/unique/i.test(reasonOf(e))) throw createError('COLLECTION_EXISTS', `Collection "${spec.name}" already exists in ${this.location}.`);
      throw e;
    } finally {
      client.release();
    }
    return this.getCollection(spec.name);
  }

  async getCollection(name: string): Promise<StoreCollection> {
    const r = await this.pool.query<{ cid: number; spec: unknown }>('SELECT cid, spec FROM lookalike_collections WHERE name = $1', [name]);
    const row = r.rows[0];
    if (!row) {
      const names = (await this.listCollections()).map((c) => c.name);
      throw createError(
        'COLLECTION_NOT_FOUND',
        `No collection "${name}" in ${this.location}.` + (names.length ? ` Collections: ${names.join(', ')}.` : ' The database has none yet.'),
        { name },
      );
    }
    return new PgCollection(this.pool, row.cid, parseStoredSpec(JSON.stringify(row.spec), name));
  }

  async dropCollection(name: string): Promise<boolean> {
    const r = await this.pool.query<{ cid: number }>('DELETE FROM lookalike_collections WHERE name = $1 RETURNING cid', [name]);
    if (!r.rows[0]) return false;
    await this.pool.query(`DROP TABLE IF EXISTS ${table(r.rows[0].cid)}`);
    return true;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

function hnswDdl(cid: number, spec: CollectionSpec, index: Extract<IndexSpec, { type: 'hnsw' }>): string {
  return `CREATE INDEX ${table(cid)}_hnsw ON ${table(cid)} USING hnsw (vector ${opsClass(spec)}) WITH (m = ${index.m}, ef_construction = ${index.efConstruction})`;
}

interface Row {
  rid: string;
  id: string;
  path: string | null;
  content_hash: string | null;
  size: string | null;
  mtime_ms: number | null;
  width: number | null;
  height: number | null;
  metadata: Metadata;
  updated_at: Date;
}

class PgCollection implements StoreCollection {
  constructor(
    private readonly pool: pg.Pool,
    private readonly cid: number,
    private currentSpec: CollectionSpec,
  ) {}

  get spec(): CollectionSpec {
    return this.currentSpec;
  }

  private get t(): string {
    return table(this.cid);
  }

  async upsert(items: readonly ItemInput[]): Promise<UpsertResult> {
    for (const it of items) checkVector(it.vector, this.spec.dimension, `vector of item "${it.id}"`);
    if (items.length === 0) return { added: 0, updated: 0 };
    const client = await this.pool.connect();
    let added = 0;
    try {
      await client.query('BEGIN');
      for (let i = 0; i < items.length; i += 200) {
        const chunk = items.slice(i, i + 200);
        const params: unknown[] = [];
        const rows = chunk.map((it) => {
          const base = params.length;
          params.push(it.id, it.path ?? null, it.contentHash ?? null, it.size ?? null, it.mtimeMs ?? null, it.width ?? null, it.height ?? null, JSON.stringify(it.metadata ?? {}), vecLiteral(it.vector));
          return `(${Array.from({ length: 9 }, (_, j) => `$${base + j + 1}`).join(', ')})`;
        });
        const r = await client.query<{ inserted: boolean }>(
          `INSERT INTO ${this.t} (id, path, content_hash, size, mtime_ms, width, height, metadata, vector) VALUES ${rows.join(', ')}
           ON CONFLICT (id) DO UPDATE SET path = excluded.path, content_hash = excluded.content_hash, size = excluded.size,
             mtime_ms = excluded.mtime_ms, width = excluded.width, height = excluded.height, metadata = excluded.metadata,
             vector = excluded.vector, updated_at = now()
           RETURNING (xmax = 0) AS inserted`,
          params,
        );
        added += r.rows.filter((x) => x.inserted).length;
      }
      await client.query('UPDATE lookalike_collections SET generation = generation + 1 WHERE cid = $1', [this.cid]);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
    return { added, updated: items.length - added };
  }

  async touchFiles(states: readonly { id: string; size: number; mtimeMs: number }[]): Promise<void> {
    if (states.length === 0) return;
    await this.pool.query(
      `UPDATE ${this.t} AS t SET size = s.size, mtime_ms = s.mtime_ms
       FROM unnest($1::text[], $2::bigint[], $3::double precision[]) AS s(id, size, mtime_ms) WHERE t.id = s.id`,
      [states.map((s) => s.id), states.map((s) => s.size), states.map((s) => s.mtimeMs)],
    );
  }

  async delete(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const r = await this.pool.query(`DELETE FROM ${this.t} WHERE id = ANY($1::text[])`, [ids]);
    return r.rowCount ?? 0;
  }

  async get(id: string): Promise<Item | undefined> {
    const r = await this.pool.query<Row>(`SELECT rid, id, path, content_hash, size, mtime_ms, width, height, metadata, updated_at FROM ${this.t} WHERE id = $1`, [id]);
    const row = r.rows[0];
    if (!row) return undefined;
    return {
      id: row.id,
      path: row.path,
      contentHash: row.content_hash,
      size: row.size === null ? null : Number(row.size),
      mtimeMs: row.mtime_ms,
      width: row.width,
      height: row.height,
      metadata: row.metadata,
      updatedAt: row.updated_at.toISOString(),
    };
  }

  async getVector(id: string): Promise<Float32Array | undefined> {
    const r = await this.pool.query<{ v: string }>(`SELECT vector::text AS v FROM ${this.t} WHERE id = $1`, [id]);
    return r.rows[0] ? parseVec(r.rows[0].v) : undefined;
  }

  async count(): Promise<number> {
    return Number((await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.t}`)).rows[0]!.n);
  }

  async fileStates(): Promise<Map<string, FileState>> {
    const r = await this.pool.query<{ id: string; path: string; size: string | null; mtime_ms: number | null; content_hash: string | null }>(
      `SELECT id, path, size, mtime_ms, content_hash FROM ${this.t} WHERE path IS NOT NULL`,
    );
    return new Map(
      r.rows.map((x) => [x.path, { id: x.id, path: x.path, size: x.size === null ? null : Number(x.size), mtimeMs: x.mtime_ms, contentHash: x.content_hash }]),
    );
  }

  async search(query: Float32Array, opts: VectorSearchOptions): Promise<Hit[]> {
    checkVector(query, this.spec.dimension, 'query vector');
    const params: unknown[] = [vecLiteral(query), opts.k];
    const clauses: string[] = [];
    if (opts.excludeIds?.length) {
      params.push(opts.excludeIds);
      clauses.push(`id <> ALL($${params.length}::text[])`);
    }
    if (opts.where && Object.keys(opts.where).length > 0) {
      for (const [key, value] of Object.entries(validateWhere(opts.where))) {
        params.push(key);
        if (value === null) clauses.push(`jsonb_typeof(metadata -> $${params.length}) = 'null'`);
        else {
          params.push(String(value));
          clauses.push(`metadata ->> $${params.length - 1} = $${params.length}`);
        }
      }
    }
    const cast = this.spec.vectorType === 'float16' ? `$1::halfvec(${this.spec.dimension})` : `$1::vector(${this.spec.dimension})`;
    const sql = `SELECT id, path, ${opts.includeMetadata === false ? `'{}'::jsonb AS metadata` : 'metadata'}, 1 - (vector <=> ${cast}) AS score
      FROM ${this.t} ${clauses.length ? `WHERE ${clauses.join(' AND ')}` : ''} ORDER BY vector <=> ${cast} LIMIT $2`;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const index = this.spec.index;
      if (opts.exact || !index || index.type !== 'hnsw') await client.query('SET LOCAL enable_indexscan = off');
      else await client.query(`SET LOCAL hnsw.ef_search = ${Math.max(opts.ef ?? index.ef, opts.k)}`);
      const r = await client.query<{ id: string; path: string | null; metadata: Metadata; score: number }>(sql, params);
      await client.query('COMMIT');
      const min = opts.minScore ?? -Infinity;
      return r.rows.filter((x) => x.score >= min).map((x) => ({ id: x.id, path: x.path, score: x.score, metadata: x.metadata }));
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  async setIndex(index: IndexSpec, vectorType?: VectorType): Promise<void> {
    if (index.type === 'ivf' || (index.type === 'flat' && index.projection !== undefined)) {
      throw createError('INVALID_ARGUMENT', 'The PostgreSQL store supports the flat and hnsw indexes (pgvector HNSW).', { field: 'index' });
    }
    if (vectorType === 'int8') throw createError('INVALID_ARGUMENT', 'The PostgreSQL store holds float32 (vector) or float16 (halfvec).');
    const next: CollectionSpec = { ...this.currentSpec, index, ...(vectorType ? { vectorType } : {}) };
    CollectionSpecSchema.parse(next);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`DROP INDEX IF EXISTS ${this.t}_hnsw`);
      if (vectorType && vectorType !== this.currentSpec.vectorType) {
        await client.query(`ALTER TABLE ${this.t} ALTER COLUMN vector TYPE ${columnType(next)} USING vector::${columnType(next)}`);
      }
      if (index.type === 'hnsw') await client.query(hnswDdl(this.cid, next, index));
      await client.query('UPDATE lookalike_collections SET spec = $1 WHERE cid = $2', [JSON.stringify(next), this.cid]);
      await client.query('COMMIT');
      this.currentSpec = next;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  async sampleIds(n: number): Promise<string[]> {
    const total = await this.count();
    const step = Math.max(1, Math.floor(total / Math.max(1, n)));
    const r = await this.pool.query<{ id: string }>(
      `SELECT id FROM (SELECT id, row_number() OVER (ORDER BY rid) AS i FROM ${this.t}) s WHERE (i - 1) % $1 = 0 ORDER BY i LIMIT $2`,
      [step, n],
    );
    return r.rows.map((x) => x.id);
  }
}
