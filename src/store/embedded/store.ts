import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { DerivedFiles } from '../../ann/files.js';
import { createError, reasonOf } from '../../errors.js';
import { checkCapabilities, parseStoredSpec, validateCollectionName } from '../spec.js';
import type { BrokenCollection, CollectionSpec, OpenStoreOptions, StoreCollection, VectorStore } from '../types.js';
import { EmbeddedCollection } from './collection.js';
import { EMBEDDED_CAPABILITIES, openDatabaseFile, write } from './schema.js';

export { DB_FILE } from './schema.js';


/**
 * The default store: one directory holding a SQLite database (WAL mode) that is the source of truth for records
 * and vectors, derived index files (`indexes/`) and kept uploads (`uploads/`). A write is one transaction, so a
 * killed process leaves either all or none of a batch.
 */
export class EmbeddedStore implements VectorStore {
  readonly capabilities = EMBEDDED_CAPABILITIES;
  private readonly collections = new Map<string, EmbeddedCollection>();

  private constructor(
    readonly location: string,
    private readonly db: Database.Database,
  ) {}

  get uploadsDir(): string {
    return path.join(this.location, 'uploads');
  }

  private get indexDir(): string {
    return path.join(this.location, 'indexes');
  }

  static async open(dir: string, opts: OpenStoreOptions = {}): Promise<EmbeddedStore> {
    const location = path.resolve(dir);
    return new EmbeddedStore(location, openDatabaseFile(location, opts.create ?? true));
  }

  async ping(): Promise<void> {
    try {
      this.db.prepare('SELECT 1').get();
    } catch (e) {
      throw createError('STORE_UNAVAILABLE', `The store at ${this.location} cannot be read: ${reasonOf(e)}`, {}, e);
    }
  }

  async listCollections(): Promise<{ collections: CollectionSpec[]; broken: BrokenCollection[] }> {
    const rows = this.db.prepare(`SELECT name, spec FROM collections ORDER BY name`).all() as { name: string; spec: string }[];
    const collections: CollectionSpec[] = [];
    const broken: BrokenCollection[] = [];
    for (const r of rows) {
      try {
        collections.push(parseStoredSpec(r.spec, r.name));
      } catch (e) {
        broken.push({ name: r.name, error: reasonOf(e) });
      }
    }
    return { collections, broken };
  }

  async hasCollection(name: string): Promise<boolean> {
    return this.db.prepare(`SELECT 1 FROM collections WHERE name = ?`).get(name) !== undefined;
  }

  async createCollection(input: Omit<CollectionSpec, 'createdAt' | 'uid'>): Promise<StoreCollection> {
    validateCollectionName(input.name, { companion: true });
    checkCapabilities(this.capabilities, input.index ?? { type: 'flat' }, input.vectorType, input.dimension);
    const spec: CollectionSpec = { ...input, uid: randomUUID(), createdAt: new Date().toISOString() };
    try {
      write(() => this.db.prepare(`INSERT INTO collections (name, spec) VALUES (?, ?)`).run(spec.name, JSON.stringify(spec)));
    } catch (e) {
      if (/UNIQUE/.test(reasonOf(e))) throw createError('COLLECTION_EXISTS', `Collection "${spec.name}" already exists.`, { name: spec.name });
      throw e;
    }
    return this.getCollection(spec.name);
  }

  async getCollection(name: string): Promise<StoreCollection> {
    const row = this.db.prepare(`SELECT cid, spec FROM collections WHERE name = ?`).get(name) as { cid: number; spec: string } | undefined;
    if (!row) {
      this.collections.delete(name);
      const names = (await this.listCollections()).collections.map((c) => c.name);
      throw createError(
        'COLLECTION_NOT_FOUND',
        `No collection "${name}" in ${this.location}.` +
          (names.length ? ` Collections: ${names.join(', ')}.` : ' The store is empty: run `lookalike index` first.'),
        { name },
      );
    }
    const cached = this.collections.get(name);
    if (cached && cached.cid === row.cid) return cached;
    const c = new EmbeddedCollection(this.db, row.cid, parseStoredSpec(row.spec, name), this.indexDir);
    this.collections.set(name, c);
    return c;
  }

  async dropCollection(name: string): Promise<boolean> {
    const cid = this.db.prepare(`SELECT cid FROM collections WHERE name = ?`).pluck().get(name) as number | undefined;
    this.collections.get(name)?.forget();
    this.collections.delete(name);
    if (cid === undefined) return false;
    const n = write(() => this.db.prepare(`DELETE FROM collections WHERE cid = ?`).run(cid).changes);
    new DerivedFiles(this.indexDir, String(cid)).removeAll();
    return n > 0;
  }

  async close(): Promise<void> {
    for (const c of this.collections.values()) c.flush();
    this.collections.clear();
    if (this.db.open) this.db.close();
  }
}
