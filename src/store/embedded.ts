import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { createError, reasonOf } from '../errors.js';
import { FlatIndex, int8Scales } from '../ann/flat.js';
import os from 'node:os';
import { HnswIndex } from '../ann/hnsw.js';
import { IvfIndex } from '../ann/ivf.js';
import { RandomProjection } from '../ann/projection.js';
import { checkVector, CollectionSpecSchema, parseStoredSpec, validateCollectionName, validateWhere } from './spec.js';
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
  VectorType,
  VectorStore,
} from './types.js';

export const DB_FILE = 'lookalike.sqlite';
const SCHEMA_VERSION = 2;

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
 * Run a write transaction. Writes use BEGIN IMMEDIATE (the write lock is taken first, so SQLite waits up to the busy
 * timeout for another process instead of failing when a read would have to upgrade); if the lock is still held by
 * another process after that, the error says so.
 */
function write<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_BUSY')) {
      throw createError('STORE_BUSY', 'The store is busy: another process held its write lock for more than 15 s. Try again when it is done.', {}, e);
    }
    if (code.startsWith('SQLITE_FULL') || code === 'SQLITE_IOERR_WRITE') {
      throw createError(
        'STORAGE_FULL',
        'The disk holding the store is full. Everything committed before is kept (the last batch was rolled back): free some space and run the same command again to continue.',
        {},
        e,
      );
    }
    throw e;
  }
}

/** Versioned schema migrations, each in one transaction: `MIGRATIONS[v]` takes a store from version v to v + 1. */
const MIGRATIONS: Record<number, (db: Database.Database) => void> = {
  // 2: a per-collection write counter, so derived indexes saved on disk know whether they are current
  1: (db) => {
    const cols = db.prepare(`PRAGMA table_info(collections)`).all() as { name: string }[];
    if (!cols.some((c) => c.name === 'generation')) db.exec(`ALTER TABLE collections ADD COLUMN generation INTEGER NOT NULL DEFAULT 0`);
  },
};

function migrate(db: Database.Database, from: number): void {
  for (let v = from; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      MIGRATIONS[v]!(db);
      db.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(
        String(v + 1),
      );
    }).immediate();
  }
  if (from === SCHEMA_VERSION) {
    db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)`).run(String(SCHEMA_VERSION));
  }
}

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
    const version = row ? Number(row.value) : 1;
    if (version <= SCHEMA_VERSION) migrate(db, version);
    else {
      db.close();
      throw createError(
        'STORE_CORRUPT',
        `The store at ${location} was written by a newer lookalike (schema ${version}; this version reads ${SCHEMA_VERSION}). Upgrade lookalike.`,
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
    const c = new EmbeddedCollection(this.db, row.cid, parseStoredSpec(row.spec, name), path.join(this.location, 'indexes'));
    this.collections.set(name, c);
    return c;
  }

  async dropCollection(name: string): Promise<boolean> {
    this.collections.delete(name);
    return this.db.prepare(`DELETE FROM collections WHERE name = ?`).run(name).changes > 0;
  }

  async close(): Promise<void> {
    for (const c of this.collections.values()) c.flush();
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
  /** Approximate index (HNSW), when the spec asks for one; mirrors `index`. */
  private ann: HnswIndex | null = null;
  /** The ANN index (HNSW graph or IVF list assignments) has changes not yet saved to disk. */
  private annDirty = false;
  /** IVF index, when the spec asks for one (its lists mirror `index`; centroids saved beside the store). */
  private ivf: IvfIndex | null = null;
  private readonly stmts;

  constructor(
    private readonly db: Database.Database,
    readonly cid: number,
    private currentSpec: CollectionSpec,
    /** Folder for derived index files. */
    private readonly indexDir: string,
  ) {
    this.stmts = {
      generation: db.prepare(`SELECT generation FROM collections WHERE cid = ?`).pluck(),
      bump: db.prepare(`UPDATE collections SET generation = generation + 1 WHERE cid = ?`),
      setSpec: db.prepare(`UPDATE collections SET spec = ? WHERE cid = ?`),
      sampleIds: db.prepare(`SELECT id FROM items WHERE cid = ? ORDER BY rid`).pluck(),
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

  get spec(): CollectionSpec {
    return this.currentSpec;
  }

  get name(): string {
    return this.spec.name;
  }

  private get annFile(): string {
    return path.join(this.indexDir, `${this.cid}-hnsw.usearch`);
  }

  private get ivfFile(): string {
    return path.join(this.indexDir, `${this.cid}-ivf-centroids.f32`);
  }

  async upsert(items: readonly ItemInput[]): Promise<UpsertResult> {
    for (const it of items) checkVector(it.vector, this.spec.dimension, `vector of item "${it.id}"`);
    const now = new Date().toISOString();
    const written: [number, Float32Array][] = [];
    let added = 0;
    let updated = 0;
    this.syncIndex();
    write(() => this.db.transaction(() => {
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
      if (items.length > 0) this.stmts.bump.run(this.cid);
    }).immediate());
    // Committed: now mirror into the in-memory indexes (if they are loaded).
    const proj = this.projection();
    if (this.index) for (const [rid, v] of written) this.index.upsert(rid, proj ? proj.apply(v) : v);
    if (this.ann && written.length > 0) {
      for (const [rid, v] of written) this.ann.upsert(rid, v);
      this.annDirty = true;
    }
    if (this.ivf && written.length > 0) {
      for (const [rid, v] of written) this.ivf.upsert(rid, v);
      this.annDirty = true;
    }
    return { added, updated };
  }

  async touchFiles(states: readonly { id: string; size: number; mtimeMs: number }[]): Promise<void> {
    write(() =>
      this.db.transaction(() => {
        for (const s of states) this.stmts.touch.run(s.size, s.mtimeMs, this.cid, s.id);
      }).immediate(),
    );
  }

  async delete(ids: readonly string[]): Promise<number> {
    this.syncIndex();
    const removed: number[] = [];
    write(() => this.db.transaction(() => {
      for (const id of ids) {
        const rid = this.stmts.del.get(this.cid, id) as number | undefined;
        if (rid !== undefined) removed.push(rid);
      }
      if (removed.length > 0) this.stmts.bump.run(this.cid);
    }).immediate());
    if (this.index) for (const rid of removed) this.index.remove(rid);
    if (this.ann && removed.length > 0) {
      for (const rid of removed) this.ann.remove(rid);
      this.annDirty = true;
    }
    if (this.ivf && removed.length > 0) {
      for (const rid of removed) this.ivf.remove(rid);
      this.annDirty = true;
    }
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
    const rows = () => this.stmts.vectors.iterate(this.cid) as IterableIterator<[number, Buffer]>;
    const encoding = this.spec.vectorType;
    let scales: Float32Array | undefined;
    if (encoding === 'int8') {
      // per-dimension scales from the vectors present now (later vectors are clamped to them; rebuilt on reindex)
      const all = function* () {
        for (const [, blob] of rows()) yield blobToVector(blob);
      };
      scales = int8Scales(all(), this.spec.dimension);
    }
    const proj = this.projection();
    if (proj && scales) scales = int8Scales((function* (p) { for (const [, blob] of rows()) yield p.apply(blobToVector(blob)); })(proj), proj.target);
    const index = new FlatIndex(proj?.target ?? this.spec.dimension, count + 64, 'ip', { encoding, ...(scales ? { int8Scales: scales } : {}) });
    for (const [rid, blob] of rows()) index.upsert(rid, proj ? proj.apply(blobToVector(blob)) : blob);
    this.index = index;
    this.indexVersion = version;
    this.ann = null;
    this.annDirty = false;
    this.syncAnn();
    return index;
  }

  private proj: RandomProjection | undefined;
  /** The random projection of a `flat` index with `projection`, if any (seeded, so always the same matrix). */
  private projection(): RandomProjection | undefined {
    const p = this.spec.index?.type === 'flat' ? this.spec.index.projection : undefined;
    if (p === undefined) return undefined;
    if (!this.proj || this.proj.target !== p) this.proj = new RandomProjection(this.spec.dimension, p, 1);
    return this.proj;
  }

  /** Load the saved HNSW index if it reflects the current generation, else rebuild it from the vectors. */
  private syncAnn(): void {
    const spec = this.spec.index;
    this.ivf = null;
    if (spec?.type === 'ivf' && this.index) {
      const keys = this.index.keysSnapshot();
      let ivf = IvfIndex.load(this.ivfFile, this.spec.dimension, spec);
      if (!ivf) {
        // train on an even sample of the vectors (at most 20,000), then keep the centroids
        const step = Math.max(1, Math.floor(keys.length / 20_000));
        const sample = keys.filter((_, i) => i % step === 0).map((k) => this.index!.vector(k)!);
        if (sample.length === 0) return; // nothing to train on yet: exact search until the next rebuild
        ivf = IvfIndex.create(this.spec.dimension, spec, sample);
        ivf.save(this.ivfFile);
      }
      const generation = this.stmts.generation.get(this.cid) as number;
      const saved = IvfIndex.loadAssignments(this.ivfFile + '.lists', generation);
      if (saved && saved.size === keys.length) {
        for (const k of keys) ivf.upsertInto(k, this.index.vector(k)!, saved.get(k) ?? -1);
      } else {
        for (const k of keys) ivf.upsert(k, this.index.vector(k)!);
        ivf.saveAssignments(this.ivfFile + '.lists', generation);
      }
      this.ivf = ivf;
      return;
    }
    if (!spec || spec.type !== 'hnsw' || !this.index) return;
    const generation = this.stmts.generation.get(this.cid) as number;
    const loaded = HnswIndex.load(this.annFile, this.spec.dimension, spec, generation);
    if (loaded && loaded.size === this.index.size) {
      this.ann = loaded;
      return;
    }
    const ann = HnswIndex.create(this.spec.dimension, spec);
    const keys = this.index.keysSnapshot();
    const d = this.spec.dimension;
    const CHUNK = 4096;
    for (let i = 0; i < keys.length; i += CHUNK) {
      const part = keys.slice(i, i + CHUNK);
      const block = new Float32Array(part.length * d);
      part.forEach((k, j) => block.set(this.index!.vector(k)!, j * d));
      ann.addBatch(part, block, Math.max(1, os.availableParallelism()));
    }
    this.ann = ann;
    ann.save(this.annFile, generation);
    this.annDirty = false;
  }

  /** Save derived index files that have unsaved changes (called when the store closes). */
  flush(): void {
    if (this.ivf && this.annDirty) {
      this.ivf.saveAssignments(this.ivfFile + '.lists', this.stmts.generation.get(this.cid) as number);
      this.annDirty = false;
    }
    if (this.ann && this.annDirty) {
      this.ann.save(this.annFile, this.stmts.generation.get(this.cid) as number);
      this.annDirty = false;
    }
  }

  async setIndex(index: IndexSpec, vectorType?: VectorType): Promise<void> {
    if (index.type === 'flat' && index.projection !== undefined && index.projection >= this.spec.dimension) {
      throw createError('INVALID_ARGUMENT', `projection must be below the dimension (${this.spec.dimension}); got ${index.projection}.`, {
        field: 'projection',
      });
    }
    const next: CollectionSpec = { ...this.currentSpec, index, ...(vectorType ? { vectorType } : {}) };
    CollectionSpecSchema.parse(next);
    this.stmts.setSpec.run(JSON.stringify(next), this.cid);
    this.currentSpec = next;
    this.index = null; // rebuilt (with the ANN index) on next use
    this.ann = null;
    try {
      for (const f of [this.annFile, this.annFile + '.json', this.ivfFile, this.ivfFile + '.json', this.ivfFile + '.lists']) fs.rmSync(f, { force: true });
    } catch {
      // stale files are ignored anyway (generation check)
    }
    this.syncIndex();
  }

  async sampleIds(n: number): Promise<string[]> {
    const all = this.stmts.sampleIds.all(this.cid) as string[];
    const step = Math.max(1, Math.floor(all.length / Math.max(1, n)));
    return all.filter((_, i) => i % step === 0).slice(0, n);
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
    let top: { key: number; score: number }[];
    if (this.ivf && !candidates && !opts.exact) {
      top = this.ivf.search(query, opts.k, opts.nprobe ?? this.ivf.params.nprobe, exclude);
    } else if (this.ann && !candidates && !opts.exact) {
      // approximate: ask for enough extra neighbours to drop the excluded ones
      const ef = Math.max(opts.ef ?? this.ann.params.ef, opts.k + exclude.size);
      top = this.ann
        .search(query, opts.k + exclude.size, ef)
        .filter((h) => !exclude.has(h.key))
        .slice(0, opts.k);
    } else if ((this.spec.vectorType !== 'float32' || this.projection()) && opts.rescore !== false) {
      // compact or projected vectors: take more candidates, then re-score them exactly with the stored float32 vectors
      const proj = this.projection();
      const wide = index.search(proj ? proj.apply(query) : query, Math.max(4 * opts.k, 40), { ...(candidates ? { candidates } : {}), exclude });
      top = this.rescore(query, wide).slice(0, opts.k);
    } else {
      const proj = this.projection();
      top = index.search(proj ? proj.apply(query) : query, opts.k, { ...(candidates ? { candidates } : {}), exclude });
    }
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

  /** Exact scores of `hits` from the float32 vectors in the database, best first. */
  private rescore(query: Float32Array, hits: { key: number; score: number }[]): { key: number; score: number }[] {
    const out: { key: number; score: number }[] = [];
    for (let i = 0; i < hits.length; i += 500) {
      const chunk = hits.slice(i, i + 500);
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
