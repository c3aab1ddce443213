import { createError } from '../errors.js';
import { EmbeddedStore } from './embedded/store.js';
import type { OpenStoreOptions, VectorStore } from './types.js';

type Opener = (location: string, opts: OpenStoreOptions) => Promise<VectorStore>;

/** Store back-ends by URL scheme; a plain path is the embedded store. */
const OPENERS: Record<string, Opener> = {
  file: (location, opts) => EmbeddedStore.open(location.replace(/^file:\/\//, ''), opts),
  // the driver (pg) loads only for PostgreSQL stores
  postgres: async (location, opts) => (await import('./postgres/store.js')).PostgresStore.open(location, opts),
  postgresql: async (location, opts) => (await import('./postgres/store.js')).PostgresStore.open(location, opts),
};

export function storeScheme(location: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location);
  return m ? m[1]!.toLowerCase() : 'file';
}

/** Open a store: `./lookalike-db` (embedded, the default) or a URL whose scheme names a back-end. */
export async function openStore(location: string, opts: OpenStoreOptions = {}): Promise<VectorStore> {
  if (!location) throw createError('INVALID_ARGUMENT', 'The store location (--db) is empty.', { field: 'db' });
  const scheme = storeScheme(location);
  const opener = OPENERS[scheme];
  if (!opener) {
    throw createError('INVALID_ARGUMENT', `No store back-end for "${scheme}://" (${location}). Use a directory path for the embedded store.`, { field: 'db' });
  }
  if (opts.shards?.length && scheme !== 'postgres' && scheme !== 'postgresql') {
    throw createError('INVALID_ARGUMENT', `Shards (--shard, LOOKALIKE_SHARDS) need a PostgreSQL store as the coordinator; --db is ${location}.`, { field: 'shards' });
  }
  return opener(location, opts);
}
