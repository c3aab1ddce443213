import type Database from 'better-sqlite3';
import { DerivedFiles } from '../../ann/files.js';
import type { ScoredKey } from '../../ann/types.js';
import { createError } from '../../errors.js';
import { checkCapabilities, checkVector, CollectionSpecSchema } from '../spec.js';
import type {
  ScannedVector,
  CollectionSpec,
  FileState,
  Hit,
  IndexSpec,
  Item,
  ItemInput,
  Metadata,
  MetadataSummary,
  MetadataSummaryOptions,
  StoreCollection,
  UpsertResult,
  VectorSearchOptions,
  VectorType,
  Where,
} from '../types.js';
import { commonFolder, SUMMARY_DEFAULTS, summaryFromRows, type SummaryRow } from '../metadata-summary.js';
import { sqliteWhere } from '../where-sql.js';
import { EMBEDDED_CAPABILITIES, write } from './schema.js';
import { blobToVector, CollectionVectors } from './vectors.js';

interface ItemRow {
  rid: number;
  id: string;
  path: string | null;
  content_hash: string | null;
  size: number | null;
  mtime_ms: number | null;
  width: number | null;
  height: number | null;
  metadata: string;
  updated_at: string;
}

/** Stored metadata as an object; a row whose JSON cannot be parsed reads as `{}` rather than failing the request. */
function parseMetadata(json: string): Metadata {
  try {
    const m: unknown = JSON.parse(json);
    return m && typeof m === 'object' && !Array.isArray(m) ? (m as Metadata) : {};
  } catch {
    return {};
  }
}

function toItem(r: ItemRow): Item {
  return {
    id: r.id,
    path: r.path,
    contentHash: r.content_hash,
    size: r.size,
    mtimeMs: r.mtime_ms,
    width: r.width,
    height: r.height,
    metadata: parseMetadata(r.metadata),
    updatedAt: r.updated_at,
  };
}

const vectorBlob = (v: Float32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Recent filters whose matching rows are kept (per collection instance). */
const FILTER_CACHE = 8;

/** SQL rows in chunks of 500 ids (SQLite's parameter limit is far above; this keeps statements small). */
function* chunks<T>(xs: readonly T[], n = 500): Generator<T[]> {
  for (let i = 0; i < xs.length; i += n) yield xs.slice(i, i + n);
}

/**
 * One collection of the embedded store: records in SQLite (the source of truth), vectors searched in memory
 * (`CollectionVectors`). Every write checks, inside its transaction, that this collection instance still exists:
 * a collection dropped (or dropped and re-created) meanwhile makes it fail with `COLLECTION_CHANGED`.
 */
export class EmbeddedCollection implements StoreCollection {
  private readonly vectors: CollectionVectors;
  private readonly stmts;

  constructor(
    private readonly db: Database.Database,
    readonly cid: number,
    private currentSpec: CollectionSpec,
    indexDir: string,
  ) {
    this.stmts = {
      alive: db.prepare(`SELECT 1 FROM collections WHERE cid = ?`).pluck(),
      generation: db.prepare(`SELECT generation FROM collections WHERE cid = ?`).pluck(),
      bump: db.prepare(`UPDATE collections SET generation = generation + 1 WHERE cid = ?`),
      setSpec: db.prepare(`UPDATE collections SET spec = ? WHERE cid = ?`),
      ids: db.prepare(`SELECT id FROM items WHERE cid = ? ORDER BY rid`).pluck(),
      findRid: db.prepare(`SELECT rid FROM items WHERE cid = ? AND id = ?`).pluck(),
      insert: db.prepare(
        `INSERT INTO items (cid, id, path, content_hash, size, mtime_ms, width, height, metadata, vector, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      update: db.prepare(
        `UPDATE items SET path = ?, content_hash = ?, size = ?, mtime_ms = ?, width = ?, height = ?, metadata = ?,
         vector = ?, updated_at = ? WHERE rid = ?`,
      ),
      touch: db.prepare(`UPDATE items SET size = ?, mtime_ms = ? WHERE cid = ? AND id = ?`),
      del: db.prepare(`DELETE FROM items WHERE cid = ? AND id = ? RETURNING rid`).pluck(),
      get: db.prepare(`SELECT * FROM items WHERE cid = ? AND id = ?`),
      getVector: db.prepare(`SELECT vector FROM items WHERE cid = ? AND id = ?`).pluck(),
      count: db.prepare(`SELECT count(*) FROM items WHERE cid = ?`).pluck(),
      files: db.prepare(`SELECT id, path, size, mtime_ms, content_hash FROM items WHERE cid = ? AND path IS NOT NULL`),
      fileByPath: db.prepare(`SELECT id, path, size, mtime_ms, content_hash FROM items WHERE cid = ? AND path = ?`),
      vectors: db.prepare(`SELECT rid, vector FROM items WHERE cid = ?`).raw(),
      dataVersion: db.prepare(`PRAGMA data_version`).pluck(),
    };
    this.vectors = new CollectionVectors(() => this.currentSpec, new DerivedFiles(indexDir, String(cid)), {
      count: () => this.stmts.count.get(cid) as number,
      rows: () => this.stmts.vectors.iterate(cid) as IterableIterator<[number, Buffer]>,
      generation: () => this.stmts.generation.get(cid) as number,
    });
  }

  get spec(): CollectionSpec {
    return this.currentSpec;
  }

  async generation(): Promise<number> {
    return (this.stmts.generation.get(this.cid) as number | undefined) ?? 0;
  }

  private dataVersion(): number {
    return this.stmts.dataVersion.get() as number;
  }

  /** Inside a write transaction: this collection instance must still exist. */
  private assertAlive(): void {
    if (this.stmts.alive.get(this.cid) === undefined) {
      throw createError(
        'COLLECTION_CHANGED',
        `Collection "${this.spec.name}" was deleted (or deleted and re-created) while this request was running; nothing was written. Open it again and retry.`,
        { name: this.spec.name },
      );
    }
  }

  async upsert(items: readonly ItemInput[]): Promise<UpsertResult> {
    for (const it of items) checkVector(it.vector, this.spec.dimension, `vector of item "${it.id}"`);
    const now = new Date().toISOString();
    const written: [number, Float32Array][] = [];
    let added = 0;
    let updated = 0;
    this.vectors.sync(this.dataVersion());
    write(() =>
      this.db.transaction(() => {
        this.assertAlive();
        for (const it of items) {
          const fields = [
            it.path ?? null,
            it.contentHash ?? null,
            it.size ?? null,
            it.mtimeMs ?? null,
            it.width ?? null,
            it.height ?? null,
            JSON.stringify(it.metadata ?? {}),
            vectorBlob(it.vector),
            now,
          ];
          const rid = this.stmts.findRid.get(this.cid, it.id) as number | undefined;
          if (rid === undefined) {
            written.push([Number(this.stmts.insert.run(this.cid, it.id, ...fields).lastInsertRowid), it.vector]);
            added++;
          } else {
            this.stmts.update.run(...fields, rid);
            written.push([rid, it.vector]);
            updated++;
          }
        }
        if (items.length > 0) this.stmts.bump.run(this.cid);
      }).immediate(),
    );
    this.vectors.upserted(written, this.dataVersion());
    return { added, updated };
  }

  async touchFiles(states: readonly { id: string; size: number; mtimeMs: number }[]): Promise<void> {
    write(() =>
      this.db.transaction(() => {
        this.assertAlive();
        for (const s of states) this.stmts.touch.run(s.size, s.mtimeMs, this.cid, s.id);
      }).immediate(),
    );
  }

  async delete(ids: readonly string[]): Promise<number> {
    this.vectors.sync(this.dataVersion());
    const removed: number[] = [];
    write(() =>
      this.db.transaction(() => {
        this.assertAlive();
        for (const id of ids) {
          const rid = this.stmts.del.get(this.cid, id) as number | undefined;
          if (rid !== undefined) removed.push(rid);
        }
        if (removed.length > 0) this.stmts.bump.run(this.cid);
      }).immediate(),
    );
    this.vectors.removed(removed, this.dataVersion());
    return removed.length;
  }

  async get(id: string): Promise<Item | undefined> {
    const r = this.stmts.get.get(this.cid, id) as ItemRow | undefined;
    return r ? toItem(r) : undefined;
  }

  async getVector(id: string): Promise<Float32Array | undefined> {
    const b = this.stmts.getVector.get(this.cid, id) as Buffer | undefined;
    return b ? blobToVector(b) : undefined;
  }

  async getVectors(ids: readonly string[]): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const id of ids) {
      const b = this.stmts.getVector.get(this.cid, id) as Buffer | undefined;
      if (b) out.set(id, blobToVector(b));
    }
    return out;
  }

  async *scanVectors(batchSize = 1000): AsyncGenerator<ScannedVector[]> {
    const page = this.db.prepare(`SELECT rid, id, vector FROM items WHERE cid = ? AND rid > ? ORDER BY rid LIMIT ?`).raw();
    let after = 0;
    for (;;) {
      const rows = page.all(this.cid, after, batchSize) as [number, string, Buffer][];
      if (rows.length === 0) return;
      after = rows[rows.length - 1]![0];
      yield rows.map(([, id, blob]) => ({ id, vector: blobToVector(blob) }));
      if (rows.length < batchSize) return;
    }
  }

  async *scanItems(batchSize = 1000): AsyncGenerator<ItemInput[]> {
    const page = this.db.prepare(`SELECT * FROM items WHERE cid = ? AND rid > ? ORDER BY rid LIMIT ?`);
    let after = 0;
    for (;;) {
      const rows = page.all(this.cid, after, batchSize) as (ItemRow & { vector: Buffer })[];
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.rid;
      yield rows.map((r) => {
        const { updatedAt: _u, ...item } = toItem(r);
        return { ...item, vector: blobToVector(r.vector) };
      });
      if (rows.length < batchSize) return;
    }
  }

  async count(): Promise<number> {
    return this.stmts.count.get(this.cid) as number;
  }

  async fileStates(paths?: readonly string[]): Promise<Map<string, FileState>> {
    type Row = { id: string; path: string; size: number | null; mtime_ms: number | null; content_hash: string | null };
    const rows: Iterable<Row> = paths
      ? paths.flatMap((p) => this.stmts.fileByPath.all(this.cid, p) as Row[])
      : (this.stmts.files.iterate(this.cid) as IterableIterator<Row>);
    const out = new Map<string, FileState>();
    for (const r of rows) out.set(r.path, { id: r.id, path: r.path, size: r.size, mtimeMs: r.mtime_ms, contentHash: r.content_hash });
    return out;
  }

  /** Save derived index files that have unsaved changes (called when the store closes). */
  flush(): void {
    this.vectors.flush();
  }

  /** The collection was dropped: remove its derived files. */
  forget(): void {
    this.vectors.reset();
  }

  async setIndex(index: IndexSpec, vectorType?: VectorType): Promise<void> {
    checkCapabilities(EMBEDDED_CAPABILITIES, index, vectorType ?? this.spec.vectorType, this.spec.dimension);
    const next: CollectionSpec = CollectionSpecSchema.parse({ ...this.currentSpec, index, ...(vectorType ? { vectorType } : {}) });
    write(() =>
      this.db.transaction(() => {
        this.assertAlive();
        this.stmts.setSpec.run(JSON.stringify(next), this.cid);
      }).immediate(),
    );
    this.currentSpec = next;
    this.vectors.reset();
    this.vectors.sync(this.dataVersion()); // rebuilt now, so `reindex` reports the build time
  }

  async sampleIds(n: number): Promise<string[]> {
    const all = this.stmts.ids.all(this.cid) as string[];
    const step = Math.max(1, Math.floor(all.length / Math.max(1, n)));
    return all.filter((_, i) => i % step === 0).slice(0, n);
  }

  /**
   * Top-level metadata keys with scalar values and their most common values, counted in SQL (json_each). Values read
   * as text the way `where` compares them; rows whose metadata SQLite cannot parse are left out.
   */
  async metadataSummary(opts: MetadataSummaryOptions = {}): Promise<MetadataSummary> {
    const rows = this.db
      .prepare(
        `WITH v AS (
           SELECT j.key AS key,
                  CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(j.value AS TEXT) END AS value,
                  count(*) AS n
           FROM items,
                json_each(CASE WHEN json_valid(items.metadata) AND json_type(items.metadata) = 'object' THEN items.metadata ELSE '{}' END) AS j
           WHERE items.cid = ? AND j.type IN ('text', 'integer', 'real', 'true', 'false')
           GROUP BY 1, 2
         ), r AS (
           SELECT key, value, n,
                  row_number() OVER (PARTITION BY key ORDER BY n DESC, value) AS rank,
                  count(*) OVER (PARTITION BY key) AS distinct_values,
                  sum(n) OVER (PARTITION BY key) AS items
           FROM v
         )
         SELECT key, value, n, distinct_values, items FROM r WHERE rank <= ? ORDER BY key, rank`,
      )
      .all(this.cid, opts.maxValues ?? SUMMARY_DEFAULTS.maxValues) as SummaryRow[];
    const span = this.db.prepare(`SELECT min(path) AS lo, max(path) AS hi FROM items WHERE cid = ? AND path IS NOT NULL`).get(this.cid) as {
      lo: string | null;
      hi: string | null;
    };
    return summaryFromRows(rows, await this.count(), commonFolder(span.lo, span.hi), opts);
  }

  /** Which derived index files the in-memory state was loaded from (diagnostics; tests check they are reused). */
  get derivedReuse(): CollectionVectors['reuse'] {
    return this.vectors.reuse;
  }

  async search(query: Float32Array, opts: VectorSearchOptions): Promise<Hit[]> {
    checkVector(query, this.spec.dimension, 'query vector');
    this.vectors.sync(this.dataVersion());
    const exclude = new Set<number>();
    for (const id of opts.excludeIds ?? []) {
      const rid = this.stmts.findRid.get(this.cid, id) as number | undefined;
      if (rid !== undefined) exclude.add(rid);
    }
    const filtered = opts.where !== undefined && Object.keys(opts.where).length > 0;
    const rescore = this.vectors.rescores && opts.rescore !== false;
    const offset = opts.offset ?? 0;
    const ranked = opts.k + offset; // paging: rank k + offset, return the last k
    const approximate = !opts.exact && (this.spec.index?.type === 'hnsw' || this.spec.index?.type === 'ivf');
    let top: ScoredKey[] | undefined = filtered && approximate ? this.filteredAnn(query, opts.where!, ranked, exclude, opts) : undefined;
    if (!top) {
      const candidates = filtered ? this.filter(opts.where!) : undefined;
      top = this.vectors.search(query, {
        k: ranked,
        exclude,
        candidates,
        exact: opts.exact,
        ef: opts.ef,
        nprobe: opts.nprobe,
        wide: rescore ? Math.max(4 * ranked, 40) : undefined,
      });
    }
    if (rescore) top = this.rescore(query, top);
    top = top.slice(offset, ranked);
    const minScore = opts.minScore ?? -Infinity;
    const kept = top.filter((h) => h.score >= minScore);
    if (kept.length === 0) return [];
    const withMeta = opts.includeMetadata ?? true;
    const byRid = new Map<number, { id: string; path: string | null; metadata?: string }>();
    for (const chunk of chunks(kept)) {
      const rows = this.db
        .prepare(`SELECT rid, id, path${withMeta ? ', metadata' : ''} FROM items WHERE rid IN (${chunk.map(() => '?').join(',')})`)
        .all(...chunk.map((h) => h.key)) as { rid: number; id: string; path: string | null; metadata?: string }[];
      for (const r of rows) byRid.set(r.rid, r);
    }
    const hits: Hit[] = [];
    for (const h of kept) {
      const r = byRid.get(h.key);
      if (r) hits.push({ id: r.id, path: r.path, score: h.score, metadata: r.metadata ? parseMetadata(r.metadata) : {} });
    }
    return hits;
  }

  /**
   * Filtered search through the ANN index (adaptive oversampling): take the index's best `n` unfiltered candidates
   * (n = 4·wanted at first), keep those the filter accepts (checked in SQL on just those rows); when fewer than
   * wanted pass, estimate the filter's selectivity from the share that did and widen n to match, up to twice. A
   * selective filter (under 0.5% passing, a widened n past a fifth of the collection, or rows already known from the
   * filter cache to be few) is answered by the exact scan of the matching rows instead (undefined): cheap because few
   * rows match, and exact.
   */
  private filteredAnn(query: Float32Array, where: Where, wanted: number, exclude: ReadonlySet<number>, opts: VectorSearchOptions): ScoredKey[] | undefined {
    const total = this.vectors.size; // in memory after sync: a count(*) would cost more than the search
    const known = this.cachedFilter(where);
    // a filter whose rows are known: scan them exactly when they are few (a fraction of a millisecond per thousand)
    if (known && known.length <= Math.max(5000, total * 0.02)) return undefined;
    const w = sqliteWhere(where);
    let n = Math.max(4 * wanted, 64);
    for (let round = 0; round < 3; round++) {
      if (n > total / 5) return undefined;
      // ef twice the candidates wanted: the filter keeps a share of them, so their order must be good deep down
      const top = this.vectors.search(query, { k: n, exclude, ef: Math.max(opts.ef ?? 0, 2 * n), nprobe: opts.nprobe, wide: n });
      const accepted = new Set<number>();
      for (const chunk of chunks(top)) {
        const rows = this.db
          .prepare(`SELECT rid FROM items WHERE rid IN (${chunk.map(() => '?').join(',')}) AND CASE WHEN json_valid(metadata) THEN ${w.sql} ELSE 0 END`)
          .pluck()
          .all(...chunk.map((h) => h.key), ...w.params) as number[];
        for (const r of rows) accepted.add(r);
      }
      const passing = top.filter((h) => accepted.has(h.key));
      if (passing.length >= wanted || top.length < n) return passing;
      const share = passing.length / Math.max(1, top.length);
      if (share < 0.005) return undefined;
      n = Math.ceil((wanted / share) * 1.5);
    }
    return undefined;
  }

  /** Exact scores of `hits` from the float32 vectors in the database, best first. */
  private rescore(query: Float32Array, hits: readonly ScoredKey[]): ScoredKey[] {
    const out: ScoredKey[] = [];
    for (const chunk of chunks(hits)) {
      const rows = this.db
        .prepare(`SELECT rid, vector FROM items WHERE rid IN (${chunk.map(() => '?').join(',')})`)
        .raw()
        .all(...chunk.map((h) => h.key)) as [number, Buffer][];
      for (const [rid, blob] of rows) {
        const v = blobToVector(blob);
        let s = 0;
        for (let j = 0; j < v.length; j++) s += query[j]! * v[j]!;
        out.push({ key: rid, score: s });
      }
    }
    return out.sort((a, b) => b.score - a.score || a.key - b.key);
  }

  /**
   * Row ids matching a metadata filter (src/search/where.ts, compiled by `sqliteWhere`). Rows whose metadata SQLite
   * cannot parse (e.g. nested past its depth limit) never match and never fail the search.
   */
  private filter(where: Where): number[] {
    const key = JSON.stringify(where);
    const version = this.dataVersion();
    const hit = this.filterCache.get(key);
    if (hit && hit.version === version) {
      this.filterCache.delete(key); // most recently used last
      this.filterCache.set(key, hit);
      return hit.rids;
    }
    const w = sqliteWhere(where);
    const rids = this.db
      .prepare(`SELECT rid FROM items WHERE cid = ? AND CASE WHEN json_valid(metadata) THEN ${w.sql} ELSE 0 END`)
      .pluck()
      .all(this.cid, ...w.params) as number[];
    this.filterCache.set(key, { version, rids });
    if (this.filterCache.size > FILTER_CACHE) this.filterCache.delete(this.filterCache.keys().next().value!);
    return rids;
  }

  /** The rows of recent filters, valid while the database is unchanged (the same filter over many queries, paging). */
  private readonly filterCache = new Map<string, { version: number; rids: number[] }>();

  /** The rows matching `where` when they are known without running the filter (cached for this data version). */
  private cachedFilter(where: Where): number[] | undefined {
    const hit = this.filterCache.get(JSON.stringify(where));
    return hit && hit.version === this.dataVersion() ? hit.rids : undefined;
  }
}
