import type Database from 'better-sqlite3';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createError, LookalikeError, reasonOf } from '../../errors.js';
import type { StoreCapabilities } from '../spec.js';
import { loadNative } from '../../util/native.js';
import { SQLITE_KM_FUNCTION, sqliteKm } from '../where-sql.js';

export const DB_FILE = 'lookalike.sqlite';

export const EMBEDDED_CAPABILITIES: StoreCapabilities = {
  indexTypes: ['flat', 'hnsw', 'ivf'],
  vectorTypes: ['float32', 'float16', 'int8'],
  projection: true,
  filters: ['equals'],
};
export const SCHEMA_VERSION = 3;

const TABLES = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections (
  cid INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  spec TEXT NOT NULL,
  generation INTEGER NOT NULL DEFAULT 0
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

/** Versioned migrations, each in one transaction: `MIGRATIONS[v]` takes a store from version v to v + 1. */
const MIGRATIONS: Record<number, (db: Database.Database) => void> = {
  // 2: a per-collection write counter, so derived indexes saved on disk know whether they are current
  1: (db) => {
    const cols = db.prepare(`PRAGMA table_info(collections)`).all() as { name: string }[];
    if (!cols.some((c) => c.name === 'generation')) db.exec(`ALTER TABLE collections ADD COLUMN generation INTEGER NOT NULL DEFAULT 0`);
  },
  // 3: collection ids are never reused (AUTOINCREMENT): a write bound to a dropped collection can never land in a
  // new one, and derived index files of a dropped collection can never be taken for a new one's
  2: (db) => {
    const sql = (db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'collections'`).pluck().get() as string) ?? '';
    if (/AUTOINCREMENT/i.test(sql)) return;
    db.exec(`
      CREATE TABLE collections_v3 (cid INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, spec TEXT NOT NULL, generation INTEGER NOT NULL DEFAULT 0);
      INSERT INTO collections_v3 (cid, name, spec, generation) SELECT cid, name, spec, generation FROM collections;
      DROP TABLE collections;
      ALTER TABLE collections_v3 RENAME TO collections;`);
  },
};

const OUR_TABLES = new Set(['meta', 'collections', 'items', 'sqlite_sequence', 'collections_v3']);

type SqliteCtor = typeof Database;
let ctor: SqliteCtor | undefined;
function sqlite(): SqliteCtor {
  ctor ??= createRequire(import.meta.url)('better-sqlite3') as SqliteCtor;
  return ctor;
}

/** `new Database(...)`, with a native-module load failure reported as such (not as a damaged store). */
function connect(file: string, options: Database.Options): Database.Database {
  return loadNative('better-sqlite3', () => new (sqlite())(file, options));
}

function notOurs(location: string, why: string): Error {
  return createError(
    'STORE_CORRUPT',
    `${location} is not a lookalike store (${why}); nothing was changed. Point --db at a lookalike store directory or a new folder.`,
    { path: location },
  );
}

/** The stored schema version: 1 when the row is missing (stores from before versioning), else an integer ≥ 1. */
function storedVersion(db: Database.Database, location: string): number {
  const row = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: unknown } | undefined;
  if (!row) return 1;
  const v = Number(row.value);
  if (!Number.isInteger(v) || v < 1) {
    throw createError(
      'STORE_CORRUPT',
      `The store at ${location} records schema version "${String(row.value)}", which is not a version lookalike ever wrote. ` +
        'Restore the store from a backup, or index into a new folder.',
      { path: location },
    );
  }
  if (v > SCHEMA_VERSION) {
    throw createError(
      'STORE_CORRUPT',
      `The store at ${location} was written by a newer lookalike (schema ${v}; this version reads ${SCHEMA_VERSION}). Upgrade lookalike.`,
      { path: location },
    );
  }
  return v;
}

/**
 * Look at an existing database file read-only before anything is written: another program's SQLite file, or a
 * store with an impossible schema version, is refused unchanged.
 */
function inspect(file: string, location: string): void {
  let db: Database.Database;
  try {
    db = connect(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    if ((e as { code?: string }).code === 'NATIVE_MODULE_FAILED') throw e;
    throw notOurs(location, `cannot be read as SQLite: ${reasonOf(e)}`);
  }
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
    const foreign = tables.filter((t) => !OUR_TABLES.has(t));
    if (foreign.length > 0) throw notOurs(location, `its database has other tables: ${foreign.slice(0, 5).join(', ')}`);
    if (tables.includes('meta')) storedVersion(db, location);
  } catch (e) {
    if (e instanceof LookalikeError) throw e;
    throw notOurs(location, reasonOf(e));
  } finally {
    db.close();
  }
}

/** Open (and, when allowed, create and migrate) the store's database in `location`. */
export function openDatabaseFile(location: string, create: boolean): Database.Database {
  const file = path.join(location, DB_FILE);
  const exists = fs.existsSync(file);
  if (!exists && !create) {
    throw createError('STORE_NOT_FOUND', `No lookalike store at ${location}. Check --db, or create one with \`lookalike index\`.`, { path: location });
  }
  if (exists) inspect(file, location);
  else {
    try {
      fs.mkdirSync(location, { recursive: true });
    } catch (e) {
      throw createError('FILE_NOT_FOUND', `Cannot create the store directory ${location}: ${reasonOf(e)}`, { path: location }, e);
    }
  }
  let db: Database.Database;
  try {
    db = connect(file, { timeout: 15_000 });
    // 32 KiB pages for a new file (fixed once written): an item's row is its vector blob (2 KiB at 512-d, 4 KiB at
    // 1024-d) plus a little, and SQLite's default 4 KiB page holds one 2 KiB row — half of every page empty (measured
    // at 1M × 512: 4,140 bytes/vector on disk); a 32 KiB page holds fifteen 2 KiB rows or seven 4 KiB ones.
    if (!exists) db.pragma('page_size = 32768');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.function(SQLITE_KM_FUNCTION, { deterministic: true }, sqliteKm);
    db.exec(TABLES);
  } catch (e) {
    if ((e as { code?: string }).code === 'NATIVE_MODULE_FAILED') throw e;
    throw createError('STORE_CORRUPT', `Cannot open the store at ${location}: ${reasonOf(e)}.`, { path: location }, e);
  }
  const from = storedVersion(db, location);
  for (let v = from; v < SCHEMA_VERSION; v++) {
    db.pragma('foreign_keys = OFF'); // table rebuilds must not cascade
    db.transaction(() => {
      MIGRATIONS[v]!(db);
      db.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(String(v + 1));
    }).immediate();
    db.pragma('foreign_keys = ON');
  }
  db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)`).run(String(SCHEMA_VERSION));
  return db;
}

/**
 * Run a write. Writes use BEGIN IMMEDIATE (the write lock is taken first, so SQLite waits up to the busy timeout
 * for another process instead of failing when a read would have to upgrade); a lock held past that, or a full
 * disk, becomes an error that says what to do.
 */
export function write<T>(fn: () => T): T {
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
