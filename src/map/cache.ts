/**
 * Maps are kept per collection state: in memory (the last few, per process) and on disk as JSON files named by a
 * hash of the collection's uid and the map's options, each holding the store generation it was computed at. A map
 * whose generation is not the collection's current one is stale and recomputed (and its file replaced). Files that
 * cannot be written (a read-only cache folder) only cost a recomputation next time.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CollectionMap } from './types.js';

/** Bump when the computation or the file layout changes: older files are then never read. */
export const MAP_FORMAT = 1;
/** Maps kept in memory per process. */
const MEMORY_ENTRIES = 8;

interface Entry {
  readonly generation: number;
  readonly map: CollectionMap;
}

const memory = new Map<string, Entry>();

/** The name of a map: its collection's identity and the options that shape it (canonical JSON, hashed). */
export function mapKey(identity: readonly (string | number)[], options: Record<string, unknown>): string {
  const canonical = JSON.stringify([MAP_FORMAT, identity, Object.keys(options).sort().map((k) => [k, options[k]])]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

export class MapCache {
  /** `dir`: where map files go (null: memory only). */
  constructor(private readonly dir: string | null) {}

  private file(key: string): string {
    return path.join(this.dir!, `${key}.json`);
  }

  /** The map stored under `key` for exactly this generation, or undefined. */
  async get(key: string, generation: number): Promise<CollectionMap | undefined> {
    const m = memory.get(key);
    if (m && m.generation === generation) {
      memory.delete(key);
      memory.set(key, m);
      return m.map;
    }
    if (!this.dir) return undefined;
    try {
      const stored = JSON.parse(await fs.readFile(this.file(key), 'utf8')) as { format?: number; generation?: number; map?: CollectionMap };
      if (stored.format !== MAP_FORMAT || stored.generation !== generation || !stored.map || !Array.isArray(stored.map.points)) return undefined;
      remember(key, { generation, map: stored.map });
      return stored.map;
    } catch {
      return undefined; // missing, unreadable or damaged: computed again
    }
  }

  async put(key: string, generation: number, map: CollectionMap): Promise<void> {
    remember(key, { generation, map });
    if (!this.dir) return;
    const tmp = `${this.file(key)}.${process.pid}.${Date.now()}.tmp`;
    try {
      await fs.mkdir(this.dir, { recursive: true });
      await fs.writeFile(tmp, JSON.stringify({ format: MAP_FORMAT, generation, map }));
      await fs.rename(tmp, this.file(key));
    } catch {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}

function remember(key: string, e: Entry): void {
  memory.delete(key);
  memory.set(key, e);
  while (memory.size > MEMORY_ENTRIES) memory.delete(memory.keys().next().value!);
}

/** Forget the maps held in memory (tests: make the next call read the disk). */
export function clearMemoryCache(): void {
  memory.clear();
}
