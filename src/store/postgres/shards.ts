/**
 * Shards: a collection hash-partitioned over several PostgreSQL servers with PostgreSQL's own machinery — native
 * partitioning and `postgres_fdw` foreign partitions (docs/scale.md, "Shards").
 *
 * On the coordinator (`--db`) the collection's table is `PARTITION BY HASH (id)`; each partition is a foreign table
 * on one shard server (`--shard URL`), where the real table lives with its own indexes (GIN on metadata, HNSW on the
 * vectors). Every collection gets its own foreign servers (`lookalike_<cid>_s<i>`), because the HNSW search width
 * (`hnsw.ef_search`) reaches a shard only as a setting of the connection (`options '-c hnsw.ef_search=…'`).
 *
 * - Writes go through the coordinator: INSERT into the parent routes rows to their partitions; upserts are a lookup
 *   of the existing ids, a DELETE of those and one INSERT (ON CONFLICT … DO UPDATE is not supported on foreign
 *   tables), all in the coordinator's transaction under the collection's row lock (so writers queue).
 * - Searches are one `UNION ALL` of per-partition subqueries, each `ORDER BY distance LIMIT k`: postgres_fdw ships
 *   both to the shard (on the parent, only the ORDER BY would be shipped and each shard would stream its whole
 *   ordering), and with `async_capable` the shards answer concurrently (Async Foreign Scans under one Append).
 */
import pg from 'pg';
import { createError, isLookalikeError, reasonOf } from '../../errors.js';
import { checkCapabilities, checkVector, CollectionSpecSchema } from '../spec.js';
import type { CollectionSpec, Hit, IndexSpec, ItemInput, Metadata, UpsertResult, VectorSearchOptions, VectorType } from '../types.js';
import { postgresWhere } from '../where-sql.js';
import { columnType, hnswDdl, itemsIndexDdl, itemsTableDdl, PG_CAPABILITIES, PgCollection, table, vecLiteral } from './collection.js';
import { changedError, isUndefinedTable, type RetryingPool } from './pool.js';
import { isTransient } from './retry.js';
import { redactUrl } from '../../util/redact.js';

/** How one shard is reached: libpq keywords of its foreign server and of the user mapping. */
export interface ShardAddress {
  /** host, port, dbname and the other connection keywords the URL gave (sslmode, connect_timeout…). */
  readonly server: Readonly<Record<string, string>>;
  /** user, and password when there is one. */
  readonly user: Readonly<Record<string, string>>;
  /** The URL with the password hidden, for messages. */
  readonly where: string;
}

/** libpq keywords a shard URL may carry as `?key=value` (passed on to the foreign server). */
const PASSED_KEYWORDS = new Set(['host', 'hostaddr', 'sslmode', 'sslrootcert', 'sslcrl', 'sslcompression', 'connect_timeout', 'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'target_session_attrs', 'gssencmode', 'krbsrvname']);

/** Rows upserted per statement (and routed per INSERT). */
const CHUNK = 200;

const literal = (s: string): string => `'${s.replaceAll("'", "''")}'`;
const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`;
const describe = (server: Readonly<Record<string, string>>, user: string | undefined): string =>
  `postgres://${user ? `${user}@` : ''}${server.host ?? 'localhost'}:${server.port ?? '5432'}/${server.dbname ?? ''}`;

/** A shard URL (`postgres://user[:password]@host[:port]/db[?sslmode=…]`) as the keywords of a foreign server and user mapping. */
export function parseShardUrl(url: string): ShardAddress {
  const hidden = redactUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw createError('INVALID_ARGUMENT', `The shard "${hidden}" is not a URL; give postgres://user@host:port/database.`, { field: 'shards' });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw createError('INVALID_ARGUMENT', `The shard ${hidden} is not a postgres:// URL; shards are PostgreSQL servers with pgvector.`, { field: 'shards' });
  }
  const user = decodeURIComponent(u.username);
  if (!user) throw createError('INVALID_ARGUMENT', `The shard ${hidden} names no user (postgres://user@host/database): the coordinator logs in to it as that user.`, { field: 'shards' });
  const server: Record<string, string> = {};
  if (u.hostname) server.host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  server.port = u.port || '5432';
  server.dbname = decodeURIComponent(u.pathname.replace(/^\//, '')) || user;
  for (const [key, value] of u.searchParams) {
    if (!PASSED_KEYWORDS.has(key)) {
      throw createError('INVALID_ARGUMENT', `The shard ${hidden} has "?${key}=", which lookalike does not pass on to postgres_fdw (it takes: ${[...PASSED_KEYWORDS].join(', ')}).`, { field: 'shards' });
    }
    server[key] = value;
  }
  server.host ??= 'localhost';
  const login: Record<string, string> = { user };
  if (u.password) login.password = decodeURIComponent(u.password);
  return { server, user: login, where: describe(server, user) };
}

/** Run `fn` on a direct connection to a shard (DDL: its tables and indexes), closed afterwards. */
async function onShard<T>(shard: ShardAddress, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const s = shard.server;
  const mode = s.sslmode ?? 'disable';
  const c = new pg.Client({
    host: s.host,
    port: Number(s.port ?? 5432),
    database: s.dbname,
    user: shard.user.user,
    ...(shard.user.password !== undefined ? { password: shard.user.password } : {}),
    ...(['require', 'verify-ca', 'verify-full'].includes(mode) ? { ssl: { rejectUnauthorized: mode !== 'require' } } : {}),
    connectionTimeoutMillis: 10_000,
  });
  c.on('error', () => {}); // a lost connection fails the query in flight instead of crashing the process
  try {
    await c.connect();
  } catch (e) {
    await c.end().catch(() => {});
    throw createError('STORE_UNAVAILABLE', `The shard ${shard.where} cannot be reached (${reasonOf(e)}). Start it (or fix --shard) and run the command again.`, { db: shard.where }, e);
  }
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** A failure on a shard as a typed error: transient ones (a server down) are STORE_UNAVAILABLE, the rest name the shard. */
function shardError(shard: ShardAddress, doing: string, e: unknown): Error {
  if (isLookalikeError(e)) return e;
  if (isTransient(e)) return createError('STORE_UNAVAILABLE', `The shard ${shard.where} failed while ${doing} (${reasonOf(e)}). Run the command again when it is up.`, { db: shard.where }, e);
  return createError('INVALID_ARGUMENT', `The shard ${shard.where} refused ${doing}: ${reasonOf(e)}. It needs pgvector installed and a user allowed to create tables.`, { field: 'shards', db: shard.where }, e);
}

/** `-c` settings of a collection's connections to its shards: the HNSW search width, and iterative scans (filters, k > ef). */
function connectionOptions(spec: CollectionSpec): string {
  const ef = spec.index?.type === 'hnsw' ? spec.index.ef : 40;
  return `-c hnsw.ef_search=${ef} -c hnsw.iterative_scan=strict_order`;
}

const remoteTable = (spec: CollectionSpec, i: number): string => `lookalike_shard_${(spec.uid ?? '').replaceAll('-', '')}_${i}`;
const serverName = (cid: number, i: number): string => `lookalike_${cid}_s${i}`;
const partitionName = (cid: number, i: number): string => `${table(cid)}_p${i}`;

/** The HNSW index `<table>_hnsw` of a shard's table (`on`: the table, schema-qualified or not). */
const hnswOn = (name: string, on: string, spec: CollectionSpec, index: Extract<IndexSpec, { type: 'hnsw' }>): string => hnswDdl(name, spec, index, on);

/** The real table of one partition, on its shard: the columns of the PostgreSQL store's items table and its indexes. */
async function createRemoteTable(c: pg.Client, name: string, spec: CollectionSpec): Promise<string> {
  await c.query('CREATE EXTENSION IF NOT EXISTS vector');
  await c.query('BEGIN');
  try {
    await c.query(itemsTableDdl(name, spec, 'shard'));
    for (const ddl of itemsIndexDdl(name)) await c.query(ddl);
    if (spec.index?.type === 'hnsw') await c.query(hnswOn(name, name, spec, spec.index));
    const schema = (await c.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
    await c.query('COMMIT');
    return schema;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

/**
 * Create a sharded collection: its real table on every shard, then on the coordinator (one transaction) its row in
 * `lookalike_collections`, the parent table partitioned by hash of `id`, and per shard a foreign server, a user
 * mapping and a foreign table attached as the partition `MODULUS n, REMAINDER i`. A failure leaves nothing behind.
 */
export async function createShardedCollection(db: RetryingPool, spec: CollectionSpec, shards: readonly ShardAddress[]): Promise<void> {
  if ((await db.query('SELECT 1 FROM lookalike_collections WHERE name = $1', [spec.name])).rowCount) {
    throw createError('COLLECTION_EXISTS', `Collection "${spec.name}" already exists.`, { name: spec.name });
  }
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS postgres_fdw');
  } catch (e) {
    // two creators at once: the other one made it
    if ((e as { code?: string }).code !== '23505' && (e as { code?: string }).code !== '42710') {
      throw createError('STORE_CORRUPT', `Cannot install postgres_fdw on ${db.where} (${reasonOf(e)}): sharded collections need it (CREATE EXTENSION postgres_fdw, as a superuser).`, { db: db.where }, e);
    }
  }
  const made = await Promise.allSettled(
    shards.map((shard, i) =>
      onShard(shard, async (c) => {
        try {
          return await createRemoteTable(c, remoteTable(spec, i), spec);
        } catch (e) {
          throw shardError(shard, `to create the table ${remoteTable(spec, i)}`, e);
        }
      }),
    ),
  );
  const dropRemote = () =>
    Promise.all(made.map((m, i) => (m.status === 'fulfilled' ? onShard(shards[i]!, (c) => c.query(`DROP TABLE IF EXISTS ${ident(m.value)}.${remoteTable(spec, i)}`)).catch(() => {}) : undefined)));
  const failed = made.find((m): m is PromiseRejectedResult => m.status === 'rejected');
  if (failed) {
    await dropRemote();
    throw failed.reason;
  }
  const schemas = made.map((m) => (m as PromiseFulfilledResult<string>).value);
  try {
    await db.tx(async (client) => {
      const cid = (await client.query<{ cid: number }>('INSERT INTO lookalike_collections (name, spec) VALUES ($1, $2) RETURNING cid', [spec.name, JSON.stringify(spec)])).rows[0]!.cid;
      await client.query(itemsTableDdl(table(cid), spec, 'parent'));
      for (const [i, shard] of shards.entries()) {
        const options = {
          ...shard.server,
          extensions: 'vector', // pgvector's operators and types may be shipped: ORDER BY vector <=> q runs on the shard
          async_capable: 'true', // the shards of one query run concurrently (Async Append)
          parallel_commit: 'true',
          batch_size: String(CHUNK),
          options: connectionOptions(spec),
        };
        const list = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `${k} ${literal(v)}`).join(', ');
        await client.query(`CREATE SERVER ${serverName(cid, i)} FOREIGN DATA WRAPPER postgres_fdw OPTIONS (${list(options)})`);
        await client.query(`CREATE USER MAPPING FOR CURRENT_USER SERVER ${serverName(cid, i)} OPTIONS (${list(shard.user)})`);
        await client.query(
          `CREATE FOREIGN TABLE ${partitionName(cid, i)} PARTITION OF ${table(cid)} FOR VALUES WITH (MODULUS ${shards.length}, REMAINDER ${i}) ` +
            `SERVER ${serverName(cid, i)} OPTIONS (schema_name ${literal(schemas[i]!)}, table_name ${literal(remoteTable(spec, i))})`,
        );
      }
    });
  } catch (e) {
    await dropRemote();
    if ((e as { code?: string }).code === '23505') throw createError('COLLECTION_EXISTS', `Collection "${spec.name}" already exists.`, { name: spec.name });
    throw e;
  }
}

/** One partition of a sharded collection as the coordinator's catalog describes it. */
interface Partition {
  readonly partition: string;
  readonly server: string;
  readonly schema: string;
  readonly table: string;
  readonly shard: ShardAddress;
}

const keywords = (options: readonly string[] | null): Record<string, string> =>
  Object.fromEntries((options ?? []).map((o) => [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)]));

/** The partitions of collection `cid` (in remainder order), with how to reach their shards, from the coordinator's catalog. */
async function partitionsOf(db: RetryingPool, cid: number): Promise<Partition[]> {
  const r = await db.query<{ partition: string; server: string; srv: string[] | null; um: string[] | null; ft: string[] | null }>(
    `SELECT c.relname AS partition, s.srvname AS server, s.srvoptions AS srv, um.umoptions AS um, f.ftoptions AS ft
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_foreign_table f ON f.ftrelid = c.oid
       JOIN pg_foreign_server s ON s.oid = f.ftserver
       LEFT JOIN pg_user_mappings um ON um.srvid = s.oid AND um.usename = current_user
      WHERE i.inhparent = to_regclass($1)
      ORDER BY length(c.relname), c.relname`,
    [table(cid)],
  );
  return r.rows.map((x) => {
    const srv = keywords(x.srv);
    const server = Object.fromEntries(Object.entries(srv).filter(([k]) => PASSED_KEYWORDS.has(k) || k === 'port' || k === 'dbname'));
    const user = keywords(x.um);
    const ft = keywords(x.ft);
    return { partition: x.partition, server: x.server, schema: ft.schema_name ?? 'public', table: ft.table_name ?? x.partition, shard: { server, user, where: describe(server, user.user) } };
  });
}

/** The id of collection `name` when it is sharded (its table is partitioned), else undefined. */
export async function shardedCollectionId(db: RetryingPool, name: string): Promise<number | undefined> {
  const r = await db.query<{ cid: number; sharded: boolean | null }>(
    `SELECT cid, (SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('lookalike_items_' || cid)) AS sharded FROM lookalike_collections WHERE name = $1`,
    [name],
  );
  return r.rows[0]?.sharded ? r.rows[0].cid : undefined;
}

/** Open sharded collection `cid` (its partitions read from the catalog). */
export async function openShardedCollection(db: RetryingPool, cid: number, spec: CollectionSpec, replicas: readonly RetryingPool[]): Promise<ShardedPgCollection> {
  const parts = await partitionsOf(db, cid);
  if (parts.length === 0) throw createError('STORE_CORRUPT', `Collection "${spec.name}" is partitioned but has no shard partitions on ${db.where}; drop it and create it again.`, { name: spec.name });
  return new ShardedPgCollection(db, cid, spec, replicas, parts);
}

/**
 * Drop a sharded collection: every shard must answer first (else STORE_UNAVAILABLE and nothing is dropped); then the
 * coordinator's objects in one transaction, then the shards' tables.
 */
export async function dropShardedCollection(db: RetryingPool, name: string, cid: number): Promise<boolean> {
  const parts = await partitionsOf(db, cid);
  await Promise.all(parts.map((p) => onShard(p.shard, (c) => c.query('SELECT 1'))));
  const dropped = await db.tx(async (client) => {
    const r = await client.query('DELETE FROM lookalike_collections WHERE cid = $1 RETURNING cid', [cid]);
    if (r.rowCount === 0) return false;
    await client.query(`DROP TABLE IF EXISTS ${table(cid)}`);
    for (const p of parts) await client.query(`DROP SERVER IF EXISTS ${p.server} CASCADE`);
    return true;
  });
  if (!dropped) return false;
  const left: string[] = [];
  await Promise.all(
    parts.map((p) =>
      onShard(p.shard, (c) => c.query(`DROP TABLE IF EXISTS ${ident(p.schema)}.${p.table}`)).catch((e: unknown) => {
        left.push(`${p.schema}.${p.table} on ${p.shard.where} (${reasonOf(e)})`);
      }),
    ),
  );
  if (left.length) {
    throw createError('STORE_UNAVAILABLE', `Collection "${name}" was dropped, but these shard tables could not be: ${left.join('; ')}. Drop them by hand.`, { name });
  }
  return true;
}

type SearchRow = { id: string; path: string | null; metadata: Metadata; score: number };

/**
 * Planner settings of a sharded search (its transaction). postgres_fdw ships a branch's LIMIT only when it expects
 * more matching rows than k on the shard; with a filter and a table it has no statistics of, it often expects fewer,
 * and would then fetch every matching row to sort them here. Without local sorts the ORDER BY is always the shard's,
 * so at most one cursor batch (fetch_size, 100 rows) travels per shard. The sorts' penalty cost would start JIT
 * compilation (measured: +40 ms a query), so JIT is off too.
 */
async function planForShards(client: pg.PoolClient): Promise<void> {
  await client.query('SET LOCAL enable_sort = off');
  await client.query('SET LOCAL jit = off');
}

/**
 * A collection hash-partitioned over shard servers (see the top of this file). Reads of single items are routed to
 * their partition by the coordinator (partition pruning on `id`); counts are summed per partition on the shards.
 */
export class ShardedPgCollection extends PgCollection {
  constructor(
    db: RetryingPool,
    cid: number,
    spec: CollectionSpec,
    replicas: readonly RetryingPool[],
    private readonly parts: readonly Partition[],
  ) {
    super(db, cid, spec, replicas);
  }

  /**
   * Every read the PostgreSQL collection makes (items by id, file states, scans, samples, summaries) planned as
   * searches are: the shards order and the coordinator merges (a scan's `ORDER BY rid LIMIT` reads a cursor batch per
   * shard, never a shard's every row to sort them here).
   */
  protected override async read<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.db.tx(async (client) => {
        await planForShards(client);
        return client.query<R>(sql, params);
      });
    } catch (e) {
      if (isUndefinedTable(e)) throw changedError(this.spec.name, e);
      throw e;
    }
  }

  /** The shards this collection lives on (URLs without passwords), in partition order. */
  get shards(): string[] {
    return this.parts.map((p) => p.shard.where);
  }

  /**
   * Upsert: ids already stored are looked up (one query per shard, concurrently), deleted and inserted again with
   * their row id, new ones inserted; the coordinator routes every row to its partition. One transaction.
   */
  override async upsert(items: readonly ItemInput[]): Promise<UpsertResult> {
    for (const it of items) checkVector(it.vector, this.spec.dimension, `vector of item "${it.id}"`);
    if (items.length === 0) return { added: 0, updated: 0 };
    const added = await this.write(async (client) => {
      let n = 0;
      for (let i = 0; i < items.length; i += CHUNK) {
        const byId = new Map(items.slice(i, i + CHUNK).map((it) => [it.id, it])); // the last of an id wins, as with one upsert after another
        const ids = [...byId.keys()];
        const old = await client.query<{ id: string; rid: string }>(`SELECT id, rid FROM ${this.t} WHERE id = ANY($1::text[])`, [ids]);
        const rids = new Map(old.rows.map((r) => [r.id, r.rid]));
        if (rids.size) await client.query(`DELETE FROM ${this.t} WHERE id = ANY($1::text[])`, [[...rids.keys()]]);
        const params: unknown[] = [];
        const rows = [...byId.values()].map((it) => {
          const p = (v: unknown) => (params.push(v), `$${params.length}`);
          const rid = rids.get(it.id);
          return `(${rid === undefined ? 'DEFAULT' : `${p(rid)}::bigint`}, ${[it.id, it.path ?? null, it.contentHash ?? null, it.size ?? null, it.mtimeMs ?? null, it.width ?? null, it.height ?? null, JSON.stringify(it.metadata ?? {}), vecLiteral(it.vector)].map(p).join(', ')})`;
        });
        await client.query(`INSERT INTO ${this.t} (rid, id, path, content_hash, size, mtime_ms, width, height, metadata, vector) VALUES ${rows.join(', ')}`, params);
        n += ids.length - rids.size;
      }
      return n;
    });
    return { added, updated: items.length - added };
  }

  /** Sizes and times of unchanged files: one UPDATE per shard, executed there (no join, so it is shipped whole). */
  override async touchFiles(states: readonly { id: string; size: number; mtimeMs: number }[]): Promise<void> {
    if (states.length === 0) return;
    await this.write(
      (client) =>
        client.query(
          `UPDATE ${this.t} SET size = ($2::bigint[])[array_position($1::text[], id)], mtime_ms = ($3::double precision[])[array_position($1::text[], id)]
           WHERE id = ANY($1::text[])`,
          [states.map((s) => s.id), states.map((s) => s.size), states.map((s) => s.mtimeMs)],
        ),
      { bump: false },
    );
  }

  /** Counted on every shard (one aggregate each, concurrently), summed here. */
  override async count(): Promise<number> {
    const each = this.parts.map((p) => `(SELECT count(*) AS n FROM ${p.partition})`).join(' UNION ALL ');
    return Number((await this.read<{ n: string }>(`SELECT coalesce(sum(n), 0) AS n FROM (${each}) AS s`)).rows[0]!.n);
  }

  /**
   * The search as SQL: per partition `ORDER BY distance LIMIT k + offset` (shipped to its shard whole: the shard's HNSW
   * index or a top-k scan answers it), the partitions' answers appended (concurrently) and ranked here. Exact
   * searches order by `distance + 0`, which no HNSW index serves, so every shard scans all of its vectors.
   */
  private searchSql(query: Float32Array, opts: VectorSearchOptions): { sql: string; params: unknown[] } {
    checkVector(query, this.spec.dimension, 'query vector');
    const index = this.spec.index;
    const ann = opts.exact !== true && index?.type === 'hnsw';
    if (ann && opts.ef !== undefined && opts.ef !== index.ef) {
      throw createError(
        'INVALID_ARGUMENT',
        `Collection "${this.spec.name}" is sharded: its HNSW search width (ef ${index.ef}) is a setting of the connections to its shards, so a ` +
          `search cannot ask for ef ${opts.ef}. Change it for the collection (\`lookalike reindex --ef ${opts.ef}\`, or setIndex).`,
        { field: 'ef' },
      );
    }
    const offset = opts.offset ?? 0;
    const n = opts.k + offset;
    if (!Number.isInteger(n) || n < 1) throw createError('INVALID_ARGUMENT', `k + offset must be a positive integer (got ${n}).`, { field: 'k' });
    const params: unknown[] = [vecLiteral(query), opts.k, offset];
    const clauses: string[] = [];
    if (opts.excludeIds?.length) {
      params.push(opts.excludeIds);
      clauses.push(`id <> ALL($${params.length}::text[])`);
    }
    if (opts.where !== undefined && Object.keys(opts.where).length > 0) {
      const w = postgresWhere(opts.where, params.length + 1);
      params.push(...w.params);
      clauses.push(w.sql);
    }
    const dist = `vector <=> $1::${columnType(this.spec)}`;
    const meta = opts.includeMetadata === false ? `'{}'::jsonb` : 'metadata';
    const where = clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '';
    // every column a branch orders by is one it returns (no hidden sort column): then each branch is its Foreign Scan
    // alone, which an Append can run asynchronously
    const branch = (p: Partition) =>
      `(SELECT id, path, ${meta} AS metadata, 1 - (${dist}) AS score, ${ann ? dist : `(${dist}) + 0`} AS o FROM ${p.partition}${where} ORDER BY o LIMIT ${n})`;
    // ranked by score first, which no branch is ordered by: one Append (async) and a sort of n × shards rows, rather
    // than a Merge Append, which cannot run its inputs concurrently; ties by distance, then id
    const sql = `SELECT id, path, metadata, score FROM (${this.parts.map(branch).join(' UNION ALL ')}) AS s ORDER BY score DESC, o, id LIMIT $2 OFFSET $3`;
    return { sql, params };
  }

  override async search(query: Float32Array, opts: VectorSearchOptions): Promise<Hit[]> {
    const { sql, params } = this.searchSql(query, opts);
    const run = (db: RetryingPool) =>
      db.tx(async (client) => {
        await planForShards(client);
        return (await client.query<SearchRow>(sql, params)).rows;
      });
    return this.runSearch(run, opts);
  }

  /** `EXPLAIN (VERBOSE[, ANALYZE])` of the SQL `search` runs, as text (what each shard is sent, and how the coordinator combines). */
  async explainSearch(query: Float32Array, opts: VectorSearchOptions, analyze = false): Promise<string> {
    const { sql, params } = this.searchSql(query, opts);
    return this.db.tx(async (client) => {
      await planForShards(client);
      const r = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (VERBOSE${analyze ? ', ANALYZE' : ''}, COSTS OFF) ${sql}`, params);
      return r.rows.map((x) => x['QUERY PLAN']).join('\n');
    });
  }

  /**
   * A new index (or new HNSW parameters) is built on every shard, concurrently; then the collection's connections to
   * its shards get the new search width, with its spec, in one coordinator transaction. The vector type of a sharded
   * collection is fixed.
   */
  override async setIndex(index: IndexSpec, vectorType?: VectorType): Promise<void> {
    checkCapabilities(PG_CAPABILITIES, index, vectorType ?? this.spec.vectorType, this.spec.dimension);
    if (vectorType && vectorType !== this.spec.vectorType) {
      throw createError(
        'INVALID_ARGUMENT',
        `Collection "${this.spec.name}" is sharded: its vector type (${this.spec.vectorType}) cannot change. Export it and import it into a new collection instead.`,
        { field: 'vectorType' },
      );
    }
    const next: CollectionSpec = CollectionSpecSchema.parse({ ...this.currentSpec, index });
    await Promise.all(
      this.parts.map((p) =>
        onShard(p.shard, async (c) => {
          try {
            await c.query(`DROP INDEX IF EXISTS ${ident(p.schema)}.${p.table}_hnsw`);
            if (index.type === 'hnsw') await c.query(hnswOn(p.table, `${ident(p.schema)}.${p.table}`, next, index));
          } catch (e) {
            throw shardError(p.shard, `to build the index of ${p.table}`, e);
          }
        }),
      ),
    );
    await this.write(async (client) => {
      for (const p of this.parts) await client.query(`ALTER SERVER ${p.server} OPTIONS (SET options ${literal(connectionOptions(next))})`);
      await client.query('UPDATE lookalike_collections SET spec = $1 WHERE cid = $2', [JSON.stringify(next), this.cid]);
    });
    this.currentSpec = next;
  }
}
