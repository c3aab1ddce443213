import type pg from 'pg';
import { checkCapabilities, checkVector, CollectionSpecSchema, type StoreCapabilities } from '../spec.js';
import { commonFolder, SUMMARY_DEFAULTS, summaryFromRows, type SummaryRow } from '../metadata-summary.js';
import type { CollectionSpec, FileState, Hit, IndexSpec, Item, ItemInput, Metadata, StoreCollection, UpsertResult, VectorSearchOptions, VectorType } from '../types.js';
import type { MetadataSummary, MetadataSummaryOptions, ScannedVector } from '../types.js';
import { postgresWhere } from '../where-sql.js';
import { changedError, isUndefinedTable, type RetryingPool } from './pool.js';

export const PG_CAPABILITIES: StoreCapabilities = {
  indexTypes: ['flat', 'hnsw'],
  vectorTypes: ['float32', 'float16'],
  projection: false,
  filters: ['equals'],
};

export const table = (cid: number): string => `lookalike_items_${cid}`;
export const vecLiteral = (v: Float32Array): string => `[${Array.from(v).join(',')}]`;
const parseVec = (s: string): Float32Array => Float32Array.from(s.slice(1, -1).split(','), Number);
export const columnType = (spec: Pick<CollectionSpec, 'vectorType' | 'dimension'>): string =>
  spec.vectorType === 'float16' ? `halfvec(${spec.dimension})` : `vector(${spec.dimension})`;
export const opsClass = (spec: Pick<CollectionSpec, 'vectorType'>): string => (spec.vectorType === 'float16' ? 'halfvec_cosine_ops' : 'vector_cosine_ops');

/** The HNSW index `<name>_hnsw` of a collection's table `on` (its own table, or a shard's). */
export function hnswDdl(cid: number | string, spec: CollectionSpec, index: Extract<IndexSpec, { type: 'hnsw' }>, on = typeof cid === 'number' ? table(cid) : cid): string {
  const name = typeof cid === 'number' ? table(cid) : cid;
  return `CREATE INDEX ${name}_hnsw ON ${on} USING hnsw (vector ${opsClass(spec)}) WITH (m = ${index.m}, ef_construction = ${index.efConstruction})`;
}

/**
 * The items table of a collection, one definition for every form: a plain table (`rid` from a sequence, both keys
 * unique), a shard's table (`rid` given by the coordinator, both keys unique there), and the partitioned parent on
 * a coordinator (no keys: its partitions are foreign tables, which cannot have them; each shard enforces its own).
 */
export function itemsTableDdl(name: string, spec: Pick<CollectionSpec, 'vectorType' | 'dimension'>, form: 'plain' | 'shard' | 'parent'): string {
  const keys = {
    plain: 'rid BIGSERIAL PRIMARY KEY,\n  id TEXT NOT NULL UNIQUE',
    shard: 'rid BIGINT PRIMARY KEY,\n  id TEXT NOT NULL UNIQUE',
    parent: 'rid BIGSERIAL NOT NULL,\n  id TEXT NOT NULL',
  }[form];
  return `CREATE TABLE ${name} (
  ${keys},
  path TEXT,
  content_hash TEXT,
  size BIGINT,
  mtime_ms DOUBLE PRECISION,
  width INTEGER,
  height INTEGER,
  metadata JSONB NOT NULL DEFAULT '{}',
  vector ${columnType(spec)} NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)${form === 'parent' ? ' PARTITION BY HASH (id)' : ''}`;
}

/** The secondary indexes of an items table (paths, metadata filters, date-taken ranges). */
export const itemsIndexDdl = (name: string): string[] => [
  `CREATE INDEX ON ${name} (path)`,
  `CREATE INDEX ON ${name} USING gin (metadata jsonb_path_ops)`, // equality / in filters
  `CREATE INDEX ON ${name} (((metadata ->> 'taken') COLLATE "C"))`, // date-taken ranges
];

interface Row {
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

type FileRow = { id: string; path: string; size: string | null; mtime_ms: number | null; content_hash: string | null };
const toFileState = (x: FileRow): FileState => ({ id: x.id, path: x.path, size: x.size === null ? null : Number(x.size), mtimeMs: x.mtime_ms, contentHash: x.content_hash });

/**
 * One collection of the PostgreSQL store: a table with a `vector(D)`/`halfvec(D)` column (pgvector enforces the
 * dimension), metadata as jsonb. Writes lock the collection's row first: a collection dropped meanwhile makes them
 * fail with `COLLECTION_CHANGED`, never land elsewhere (collection ids come from a sequence and are never reused).
 */
export class PgCollection implements StoreCollection {
  #next = 0;

  constructor(
    protected readonly db: RetryingPool,
    protected readonly cid: number,
    protected currentSpec: CollectionSpec,
    protected readonly replicas: readonly RetryingPool[] = [],
  ) {}

  get spec(): CollectionSpec {
    return this.currentSpec;
  }

  protected get t(): string {
    return table(this.cid);
  }

  /**
   * Run a write transaction bound to this collection instance: its row in `lookalike_collections` is locked first
   * (a dropped collection fails with COLLECTION_CHANGED). Vector writes bump the generation in that same first
   * statement — taking the row lock once, in one mode, so concurrent writers queue instead of deadlocking on a
   * shared lock they would later have to upgrade.
   */
  protected async write<T>(fn: (client: pg.PoolClient) => Promise<T>, opts: { bump: boolean } = { bump: true }): Promise<T> {
    try {
      return await this.db.tx(async (client) => {
        const alive = opts.bump
          ? await client.query('UPDATE lookalike_collections SET generation = generation + 1 WHERE cid = $1 RETURNING cid', [this.cid])
          : await client.query('SELECT 1 FROM lookalike_collections WHERE cid = $1 FOR SHARE', [this.cid]);
        if (alive.rowCount === 0) throw changedError(this.spec.name);
        return fn(client);
      });
    } catch (e) {
      if (isUndefinedTable(e)) throw changedError(this.spec.name, e);
      throw e;
    }
  }

  /** Run a read; a table dropped meanwhile is `COLLECTION_CHANGED`. */
  protected async read<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.db.query<R>(sql, params);
    } catch (e) {
      if (isUndefinedTable(e)) throw changedError(this.spec.name, e);
      throw e;
    }
  }

  async upsert(items: readonly ItemInput[]): Promise<UpsertResult> {
    for (const it of items) checkVector(it.vector, this.spec.dimension, `vector of item "${it.id}"`);
    if (items.length === 0) return { added: 0, updated: 0 };
    const added = await this.write(async (client) => {
      let n = 0;
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
        n += r.rows.filter((x) => x.inserted).length;
      }
      return n;
    });
    return { added, updated: items.length - added };
  }

  async touchFiles(states: readonly { id: string; size: number; mtimeMs: number }[]): Promise<void> {
    if (states.length === 0) return;
    await this.write(
      (client) =>
        client.query(
          `UPDATE ${this.t} AS t SET size = s.size, mtime_ms = s.mtime_ms
           FROM unnest($1::text[], $2::bigint[], $3::double precision[]) AS s(id, size, mtime_ms) WHERE t.id = s.id`,
          [states.map((s) => s.id), states.map((s) => s.size), states.map((s) => s.mtimeMs)],
        ),
      { bump: false },
    );
  }

  async delete(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.write(async (client) => (await client.query(`DELETE FROM ${this.t} WHERE id = ANY($1::text[])`, [ids])).rowCount ?? 0);
  }

  async get(id: string): Promise<Item | undefined> {
    const r = await this.read<Row>(`SELECT id, path, content_hash, size, mtime_ms, width, height, metadata, updated_at FROM ${this.t} WHERE id = $1`, [id]);
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
    const r = await this.read<{ v: string }>(`SELECT vector::text AS v FROM ${this.t} WHERE id = $1`, [id]);
    return r.rows[0] ? parseVec(r.rows[0].v) : undefined;
  }

  async getVectors(ids: readonly string[]): Promise<Map<string, Float32Array>> {
    if (ids.length === 0) return new Map();
    const r = await this.read<{ id: string; v: string }>(`SELECT id, vector::text AS v FROM ${this.t} WHERE id = ANY($1::text[])`, [ids]);
    return new Map(r.rows.map((x) => [x.id, parseVec(x.v)]));
  }

  async *scanVectors(batchSize = 1000): AsyncGenerator<ScannedVector[]> {
    let after = 0;
    for (;;) {
      const r = await this.read<{ rid: string; id: string; v: string }>(
        `SELECT rid, id, vector::text AS v FROM ${this.t} WHERE rid > $1 ORDER BY rid LIMIT $2`,
        [after, batchSize],
      );
      if (r.rows.length === 0) return;
      after = Number(r.rows[r.rows.length - 1]!.rid);
      yield r.rows.map((x) => ({ id: x.id, vector: parseVec(x.v) }));
      if (r.rows.length < batchSize) return;
    }
  }

  async *scanItems(batchSize = 1000): AsyncGenerator<ItemInput[]> {
    let after = 0;
    for (;;) {
      const r = await this.read<Row & { rid: string; v: string }>(
        `SELECT rid, id, path, content_hash, size, mtime_ms, width, height, metadata, updated_at, vector::text AS v
         FROM ${this.t} WHERE rid > $1 ORDER BY rid LIMIT $2`,
        [after, batchSize],
      );
      if (r.rows.length === 0) return;
      after = Number(r.rows[r.rows.length - 1]!.rid);
      yield r.rows.map((x) => ({
        id: x.id,
        path: x.path,
        contentHash: x.content_hash,
        size: x.size === null ? null : Number(x.size),
        mtimeMs: x.mtime_ms,
        width: x.width,
        height: x.height,
        metadata: x.metadata,
        vector: parseVec(x.v),
      }));
      if (r.rows.length < batchSize) return;
    }
  }

  async generation(): Promise<number> {
    const r = await this.read<{ generation: string }>('SELECT generation FROM lookalike_collections WHERE cid = $1', [this.cid]);
    if (r.rows.length === 0) throw changedError(this.spec.name);
    return Number(r.rows[0]!.generation);
  }

  async count(): Promise<number> {
    return Number((await this.read<{ n: string }>(`SELECT count(*) AS n FROM ${this.t}`)).rows[0]!.n);
  }

  async fileStates(paths?: readonly string[]): Promise<Map<string, FileState>> {
    const r = paths
      ? await this.read<FileRow>(`SELECT id, path, size, mtime_ms, content_hash FROM ${this.t} WHERE path = ANY($1::text[])`, [paths])
      : await this.read<FileRow>(`SELECT id, path, size, mtime_ms, content_hash FROM ${this.t} WHERE path IS NOT NULL`);
    return new Map(r.rows.map((x) => [x.path, toFileState(x)]));
  }

  async search(query: Float32Array, opts: VectorSearchOptions): Promise<Hit[]> {
    checkVector(query, this.spec.dimension, 'query vector');
    const offset = opts.offset ?? 0; // paging: rank k + offset, return the last k
    const params: unknown[] = [vecLiteral(query), opts.k, offset];
    const clauses: string[] = [];
    if (opts.excludeIds?.length) {
      params.push(opts.excludeIds);
      clauses.push(`id <> ALL($${params.length}::text[])`);
    }
    const filtered = opts.where !== undefined && Object.keys(opts.where).length > 0;
    if (filtered) {
      const w = postgresWhere(opts.where!, params.length + 1);
      params.push(...w.params);
      clauses.push(w.sql);
    }
    const cast = `$1::${columnType(this.spec)}`;
    const sql = `SELECT id, path, ${opts.includeMetadata === false ? `'{}'::jsonb AS metadata` : 'metadata'}, 1 - (vector <=> ${cast}) AS score
      FROM ${this.t} ${clauses.length ? `WHERE ${clauses.join(' AND ')}` : ''} ORDER BY vector <=> ${cast} LIMIT $2 OFFSET $3`;
    const index = this.spec.index;
    type Row = { id: string; path: string | null; metadata: Metadata; score: number };
    const run = (db: RetryingPool) =>
      db.tx(async (client) => {
        if (opts.exact || !index || index.type !== 'hnsw') await client.query('SET LOCAL enable_indexscan = off');
        else {
          await client.query(`SET LOCAL hnsw.ef_search = ${Math.max(opts.ef ?? index.ef, opts.k + offset)}`);
          // pgvector 0.8: a filtered HNSW scan goes on past ef_search until enough rows pass the filter
          if (filtered) await client.query(`SET LOCAL hnsw.iterative_scan = strict_order`);
        }
        return (await client.query<Row>(sql, params)).rows;
      });
    return this.runSearch(run, opts);
  }

  /**
   * Run a search's SQL (`run`, on the primary or a replica) and turn its rows into hits at or above `minScore`; a
   * table dropped meanwhile is COLLECTION_CHANGED.
   */
  protected async runSearch(
    run: (db: RetryingPool) => Promise<{ id: string; path: string | null; metadata: Metadata; score: number }[]>,
    opts: VectorSearchOptions,
  ): Promise<Hit[]> {
    let rows: Awaited<ReturnType<typeof run>>;
    try {
      rows = this.replicas.length ? await this.searchReplica(run, opts.includeMetadata !== false) : await run(this.db);
    } catch (e) {
      if (isUndefinedTable(e)) throw changedError(this.spec.name, e);
      throw e;
    }
    const min = opts.minScore ?? -Infinity;
    return rows.filter((x) => x.score >= min).map((x) => ({ id: x.id, path: x.path, score: x.score, metadata: x.metadata }));
  }

  /**
   * A search on a streaming replica (round-robin), its hits confirmed on the primary: an item deleted there is never
   * returned from a replica that has not replayed the delete yet, and paths and metadata are the primary's. A replica
   * that cannot answer (down, or too far behind to have the collection's table) leaves the search to the primary.
   */
  protected async searchReplica<R extends { id: string; path: string | null; metadata: Metadata }>(
    run: (db: RetryingPool) => Promise<R[]>,
    withMetadata: boolean,
  ): Promise<R[]> {
    const replica = this.replicas[this.#next++ % this.replicas.length]!;
    let rows: R[];
    try {
      rows = await run(replica);
    } catch {
      return run(this.db);
    }
    if (rows.length === 0) return rows;
    const live = await this.read<{ id: string; path: string | null; metadata?: Metadata }>(
      `SELECT id, path${withMetadata ? ', metadata' : ''} FROM ${this.t} WHERE id = ANY($1::text[])`,
      [rows.map((r) => r.id)],
    );
    const now = new Map(live.rows.map((r) => [r.id, r]));
    return rows.flatMap((r) => {
      const p = now.get(r.id);
      return p ? [{ ...r, path: p.path, metadata: withMetadata ? (p.metadata ?? {}) : r.metadata }] : [];
    });
  }

  async setIndex(index: IndexSpec, vectorType?: VectorType): Promise<void> {
    checkCapabilities(PG_CAPABILITIES, index, vectorType ?? this.spec.vectorType, this.spec.dimension);
    const next: CollectionSpec = CollectionSpecSchema.parse({ ...this.currentSpec, index, ...(vectorType ? { vectorType } : {}) });
    await this.write(async (client) => {
      await client.query(`DROP INDEX IF EXISTS ${this.t}_hnsw`);
      if (vectorType && vectorType !== this.currentSpec.vectorType) {
        await client.query(`ALTER TABLE ${this.t} ALTER COLUMN vector TYPE ${columnType(next)} USING vector::${columnType(next)}`);
      }
      if (index.type === 'hnsw') await client.query(hnswDdl(this.cid, next, index));
      await client.query('UPDATE lookalike_collections SET spec = $1 WHERE cid = $2', [JSON.stringify(next), this.cid]);
    });
    this.currentSpec = next;
  }

  /** Top-level metadata keys with scalar values and their most common values, counted in SQL (jsonb_each). */
  async metadataSummary(opts: MetadataSummaryOptions = {}): Promise<MetadataSummary> {
    const rows = await this.read<SummaryRow>(
      `WITH v AS (
         SELECT e.key AS key, e.value #>> '{}' AS value, count(*) AS n
         FROM ${this.t} AS t,
              jsonb_each(CASE WHEN jsonb_typeof(t.metadata) = 'object' THEN t.metadata ELSE '{}'::jsonb END) AS e
         WHERE jsonb_typeof(e.value) IN ('string', 'number', 'boolean')
         GROUP BY 1, 2
       ), r AS (
         SELECT key, value, n,
                row_number() OVER (PARTITION BY key ORDER BY n DESC, value COLLATE "C") AS rank,
                count(*) OVER (PARTITION BY key) AS distinct_values,
                sum(n) OVER (PARTITION BY key) AS items
         FROM v
       )
       SELECT key, value, n, distinct_values, items FROM r WHERE rank <= $1 ORDER BY key COLLATE "C", rank`,
      [opts.maxValues ?? SUMMARY_DEFAULTS.maxValues],
    );
    const span = await this.read<{ lo: string | null; hi: string | null }>(
      `SELECT min(path COLLATE "C") AS lo, max(path COLLATE "C") AS hi FROM ${this.t} WHERE path IS NOT NULL`,
    );
    return summaryFromRows(rows.rows, await this.count(), commonFolder(span.rows[0]?.lo, span.rows[0]?.hi), opts);
  }

  async sampleIds(n: number): Promise<string[]> {
    const total = await this.count();
    const step = Math.max(1, Math.floor(total / Math.max(1, n)));
    const r = await this.read<{ id: string }>(
      `SELECT id FROM (SELECT id, row_number() OVER (ORDER BY rid) AS i FROM ${this.t}) s WHERE (i - 1) % $1 = 0 ORDER BY i LIMIT $2`,
      [step, n],
    );
    return r.rows.map((x) => x.id);
  }
}
