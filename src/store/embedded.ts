import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { createError, reasonOf } from '../errors.js';
import { FlatIndex } from '../index/flat.js';
import { checkVector, parseStoredSpec, validateCollectionName, validateWhere } from './spec.js';
import type {
  CollectionSpec,
  FileState,
  Hit,
  Item,
  ItemInput,
  Metadata,
  StoreCollection,
  UpsertResult,
  VectorSearchOptions,
  VectorStore,
} from './types.js';

export const DB_FILE = 'lookalike.sqlite';
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections (
  cid INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
  rid INTEGER PRIMARY KEY,
  cid INTEGER NOT NULL REFERENCES collections(cid) ON DELETE CASCADE,
  id TEXT NOT NULL,
  path TEXT,
  content_hash TEXT,
  size INTEGER,
  mtime_ms REAL,
  width INTEGER,
  height INTEGER,
  metadata TEXT NOT NULL DEFAULT '{}',
  vector BLOB NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (cid, id)
);
CREATE INDEX IF NOT EXISTS items_path ON items (cid, path);
`;

/**
 * The default store: one directory holding a SQLite database (WAL mode) that is the source of truth for records
 * and vectors. A write is one transaction, so a killed process leaves either all or none of a batch. Search runs
 * over an in-memory `FlatIndex` built from the database on first use and kept in step with this process's writes
 * (and rebuilt when another process has written).
 */
export class EmbeddedStore implements VectorStore {
  private readonly collections = new Map<string, EmbeddedCollection>();

  private constructor(
    readonly location: string,
    readonly db: Database.Database,
  ) {}

  static async open(dir: string): Promise<EmbeddedStore> {
    const location = path.resolve(dir);
    try {
      fs.mkdirSync(location, { recursive: true });
    } catch (e) {
      throw createError('FILE_NOT_FOUND', `Cannot create the store directory ${location}: ${reasonOf(e)}`, { path: location }, e);
    }
    let db: Database.Database;
    try {
      db = new Database(path.join(location, DB_FILE), { timeout: 15_000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
    } catch (e) {
      throw createError(
        'STORE_CORRUPT',
        `Cannot open the store at ${location}: ${reasonOf(e)}. Is it a lookalike store directory?`,
        { path: location },
        e,
      );
    }
    const row = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: string } | undefined;
    if (!row) db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)`).run(String(SCHEMA_VERSION));
    else if (Number(row.value) > SCHEMA_VERSION) {
      db.close();
      throw createError(
        'STORE_CORRUPT',
        `The store at ${location} was written by a newer lookalike (schema ${row.value}; this version reads ${SCHEMA_VERSION}). Upgrade lookalike.`,
      );
    }
    return new EmbeddedStore(location, db);
  }

  async listCollections(): Promise<CollectionSpec[]> {
    const rows = this.db.prepare(`SELECT name, spec FROM collections ORDER BY name`).all() as { name: string; spec: string }[];
    return rows.map((r) => parseStoredSpec(r.spec, r.name));
  }

  async hasCollection(name: string): Promise<boolean> {
    return this.db.prepare(`SELECT 1 FROM collections WHERE name = ?`).get(name) !== undefined;
  }

  async createCollection(input: Omit<CollectionSpec, 'createdAt'>): Promise<StoreCollection> {
    validateCollectionName(input.name);
    const spec: CollectionSpec = { ...input, createdAt: new Date().toISOString() };
    try {
      this.db.prepare(`INSERT INTO collections (name, spec) VALUES (?, ?)`).run(spec.name, JSON.stringify(spec));
    } catch (e) {
      if (/UNIQUE/.test(reasonOf(e))) {
        throw createError('COLLECTION_EXISTS', `Collection "${spec.name}" already exists in ${this.location}.`, { name: spec.name });
      }
      throw e;
    }
    return this.getCollection(spec.name);
  }

  async getCollection(name: string): Promise<StoreCollection> {
    const row = this.db.prepare(`SELECT cid, spec FROM collections WHERE name = ?`).get(name) as
      | { cid: number; spec: string }
      | undefined;
    if (!row) {
      this.collections.delete(name);
      const names = (await this.listCollections()).map((c) => c.name);
      throw createError(
        'COLLECTION_NOT_FOUND',
        `No collection "${name}" in ${this.location}.` +
          (names.length ? ` Collections: ${names.join(', ')}.` : ' The store is empty: run `lookalike index` first.'),
        { name },
      );
    }
    const cached = this.collections.get(name);
    if (cached && cached.cid === row.cid) return cached;
    const c = new EmbeddedCollection(this.db, row.cid, parseStoredSpec(row.spec, name));
    this.collections.set(name, c);
    return c;
  }

  async dropCollection(name: string): Promise<boolean> {
    this.collections.delete(name);
    return this.db.prepare(`DELETE FROM collections WHERE name = ?`).run(name).changes > 0;
  }

  async close(): Promise<void> {
    this.collections.clear();
    if (this.db.open) this.db.close();
  }
}

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

function toItem(r: ItemRow): Item {
  return {
    id: r.id,
    path: r.path,
    contentHash: r.content_hash,
    size: r.size,
    mtimeMs: r.mtime_ms,
    width: r.width,
    height: r.height,
    metadata: JSON.parse(r.metadata) as Metadata,
    updatedAt: r.updated_at,
  };
}

function vectorBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function blobToVector(b: Buffer): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

class EmbeddedCollection implements StoreCollection {
  private index: FlatIndex | null = null;
  /** `PRAGMA data_version` when the index was last in step with the database. */
  private indexVersion = -1;
  private readonly stmts;

  constructor(
    private readonly db: Database.Database,
    readonly cid: number,
    readonly spec: CollectionSpec,
  ) {
    this.stmts = {
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
      vectors: db.prepare(`SELECT rid, vector FROM items WHERE cid = ?`).raw(),
      dataVersion: db.prepare(`PRAGMA data_version`).pluck(),
    };
  }

  get name(): string {
    return this.spec.name;
  }

  async upsert(items: readonly ItemInput[]): Promise<UpsertResult> {
    for (const it of items) checkVector(it.vector, this.spec.dimension, `vector of item "${it.id}"`);
    const now = new Date().toISOString();
    const written: [number, Float32Array][] = [];
    let added = 0;
    let updated = 0;
    this.syncIndex();
    this.db.transaction(() => {
      for (const it of items) {
        const blob = vectorBlob(it.vector);
        const fields = [
          it.path ?? null,
          it.contentHash ?? null,
          it.size ?? null,
          it.mtimeMs ?? null,
          it.width ?? null,
          it.height ?? null,
          JSON.stringify(it.metadata ?? {}),
          blob,
          now,
        ];
        const rid = this.stmts.findRid.get(this.cid, it.id) as number | undefined;
        if (rid === undefined) {
          const r = this.stmts.insert.run(this.cid, it.id, ...fields);
          written.push([Number(r.lastInsertRowid), it.vector]);
          added++;
        } else {
          this.stmts.update.run(...fields, rid);
          written.push([rid, it.vector]);
          updated++;
        }
      }
    })();
    // Committed: now mirror into the in-memory index (if it is loaded).
    if (this.index) for (const [rid, v] of written) this.index.upsert(rid, v);
    return { added, updated };
  }

  async touchFiles(states: readonly { id: string; size: number; mtimeMs: number }[]): Promise<void> {
    this.db.transaction(() => {
      for (const s of states) this.stmts.touch.run(s.size, s.mtimeMs, this.cid, s.id);
    })();
  }

  async delete(ids: readonly string[]): Promise<number> {
    this.syncIndex();
    const removed: number[] = [];
    this.db.transaction(() => {
      for (const id of ids) {
        const rid = this.stmts.del.get(this.cid, id) as number | undefined;
        if (rid !== undefined) removed.push(rid);
      }
    })();
    if (this.index) for (const rid of removed) this.index.remove(rid);
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

  async count(): Promise<number> {
    return this.stmts.count.get(this.cid) as number;
  }

  async fileStates(): Promise<Map<string, FileState>> {
    const out = new Map<string, FileState>();
    for (const r of this.stmts.files.iterate(this.cid) as IterableIterator<{
      id: string;
      path: string;
      size: number | null;
      mtime_ms: number | null;
      content_hash: string | null;
    }>) {
      out.set(r.path, { id: r.id, path: r.path, size: r.size, mtimeMs: r.mtime_ms, contentHash: r.content_hash });
    }
    return out;
  }

  /** Build the in-memory index, or rebuild it when another connection has committed since. */
  private syncIndex(): FlatIndex {
    const version = this.stmts.dataVersion.get() as number;
    if (this.index && version === this.indexVersion) return this.index;
    const count = this.stmts.count.get(this.cid) as number;
    const index = new FlatIndex(this.spec.dimension, count + 64);
    for (const [rid, blob] of this.stmts.vectors.iterate(this.cid) as IterableIterator<[number, Buffer]>) {
      index.upsert(rid, blob);
    }
    this.index = index;
    this.indexVersion = version;
    return index;
  }

  async search(query: Float32Array, opts: VectorSearchOptions): Promise<Hit[]> {
    checkVector(query, this.spec.dimension, 'query vector');
    const index = this.syncIndex();
    const exclude = new Set<number>();
    for (const id of opts.excludeIds ?? []) {
      const rid = this.stmts.findRid.get(this.cid, id) as number | undefined;
      if (rid !== undefined) exclude.add(rid);
    }
    const candidates = opts.where && Object.keys(opts.where).length > 0 ? this.filter(validateWhere(opts.where)) : undefined;
    const top = index.search(query, opts.k, { ...(candidates ? { candidates } : {}), exclude });
    const minScore = opts.minScore ?? -Infinity;
    const kept = top.filter((h) => h.score >= minScore);
    if (kept.length === 0) return [];
    const withMeta = opts.includeMetadata ?? true;
    const byRid = new Map<number, { id: string; path: string | null; metadata?: string }>();
    for (let i = 0; i < kept.length; i += 500) {
      const chunk = kept.slice(i, i + 500);
      const rows = this.db
        .prepare(`SELECT rid, id, path${withMeta ? ', metadata' : ''} FROM items WHERE rid IN (${chunk.map(() => '?').join(',')})`)
        .all(...chunk.map((h) => h.key)) as { rid: number; id: string; path: string | null; metadata?: string }[];
      for (const r of rows) byRid.set(r.rid, r);
    }
    const hits: Hit[] = [];
    for (const h of kept) {
      const r = byRid.get(h.key);
      if (r) hits.push({ id: r.id, path: r.path, score: h.score, metadata: r.metadata ? (JSON.parse(r.metadata) as Metadata) : {} });
    }
    return hits;
  }

  private filter(where: Record<string, string | number | boolean | null>): number[] {
    const clauses: string[] = [];
    const params: unknown[] = [this.cid];
    for (const [key, value] of Object.entries(where)) {
      const jsonPath = `$."${key.replaceAll('"', '""')}"`;
      if (value === null) {
        clauses.push(`json_type(metadata, ?) IS 'null'`);
        params.push(jsonPath);
      } else {
        // Compare as text so `--where year=2020` matches both 2020 and "2020"; booleans as true/false.
        clauses.push(
          `(CASE json_type(metadata, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(metadata, ?) AS TEXT) END) = ?`,
        );
        params.push(jsonPath, jsonPath, String(value));
      }
    }
    return this.db
      .prepare(`SELECT rid FROM items WHERE cid = ? AND ${clauses.join(' AND ')}`)
      .pluck()
      .all(...params) as number[];
  }
}
