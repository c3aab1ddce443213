/**
 * Tiles: extra vectors per image, so that a region can be found inside larger photos. A tiled collection keeps one
 * global vector per item (the collection itself) and one vector per tile window in a companion collection of the
 * same store (`<name>#tiles`, never listed; dropped with the collection). `TiledStore` wraps the two as one
 * `StoreCollection`: an item scores by its best vector (global or any tile) and a hit says which tile matched.
 */
import { createError } from '../errors.js';
import { matchesWhere } from '../search/where.js';
import type { Hit, ItemInput, ScannedVector, StoreCollection, TileBox, VectorSearchOptions } from './types.js';

/** The companion collection holding the tiles of `name` (a name users cannot give: `#` is not allowed in names). */
export const tilesCollectionName = (name: string): string => `${name}#tiles`;
export const isTilesCollection = (name: string): boolean => name.endsWith('#tiles');

/**
 * Tile grids: `NxM` (N columns × M rows of equal, non-overlapping tiles) or `NxM@s` (N × M windows of width and
 * height `s` — a fraction of the image's — spread evenly from edge to edge, so they overlap when N·s > 1).
 * E.g. `2x2`, `3x3@0.5` (9 half-size windows, stride a quarter).
 */
export function parseTiles(specs: readonly string[], field = 'tiles'): TileBox[] {
  const boxes: TileBox[] = [];
  for (const spec of specs) {
    const m = /^(\d{1,2})x(\d{1,2})(?:@(0?\.\d+|1(?:\.0+)?))?$/u.exec(spec.trim());
    const cols = m ? Number(m[1]) : 0;
    const rows = m ? Number(m[2]) : 0;
    if (!m || cols < 1 || rows < 1 || cols * rows > 64) {
      throw createError(
        'INVALID_ARGUMENT',
        `${field}: "${spec}" is not a tile grid. Give NxM (e.g. 2x2: N columns × M rows of tiles, at most 64) or NxM@s (e.g. 3x3@0.5: windows of half the width and height, overlapping).`,
        { field },
      );
    }
    const w = m[3] ? Number(m[3]) : 1 / cols;
    const h = m[3] ? Number(m[3]) : 1 / rows;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const x = cols === 1 ? (1 - w) / 2 : (c * (1 - w)) / (cols - 1);
        const y = rows === 1 ? (1 - h) / 2 : (r * (1 - h)) / (rows - 1);
        boxes.push({ x: round(x), y: round(y), w: round(w), h: round(h) });
      }
    }
  }
  if (boxes.length > 64) throw createError('INVALID_ARGUMENT', `${field}: at most 64 tiles per image (got ${boxes.length}).`, { field });
  return boxes;
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

const SEP = '#t';
export const tileId = (parent: string, i: number): string => `${parent}${SEP}${i}`;
function parentOf(tile: string): { parent: string; i: number } | undefined {
  const at = tile.lastIndexOf(SEP);
  if (at <= 0) return undefined;
  const i = Number(tile.slice(at + SEP.length));
  return Number.isInteger(i) ? { parent: tile.slice(0, at), i } : undefined;
}

export class TiledStore implements StoreCollection {
  constructor(
    readonly main: StoreCollection,
    readonly tiles: StoreCollection,
    /** Tile windows (fractions of the image), in tile-index order. */
    readonly boxes: readonly TileBox[],
  ) {}

  get spec() {
    return this.main.spec;
  }

  /** Store the tile vectors of items (before the items themselves: a crash in between leaves the item to re-index). */
  async upsertTiles(items: readonly { id: string; vectors: readonly Float32Array[] }[]): Promise<void> {
    const rows: ItemInput[] = items.flatMap((it) =>
      it.vectors.map((vector, i) => ({ id: tileId(it.id, i), path: null, metadata: { parent: it.id, tile: i }, vector })),
    );
    if (rows.length) await this.tiles.upsert(rows);
  }

  upsert(items: readonly ItemInput[]) {
    return this.main.upsert(items);
  }
  touchFiles(states: readonly { id: string; size: number; mtimeMs: number }[]) {
    return this.main.touchFiles(states);
  }
  async delete(ids: readonly string[]): Promise<number> {
    await this.tiles.delete(ids.flatMap((id) => this.boxes.map((_, i) => tileId(id, i))));
    return this.main.delete(ids);
  }
  get(id: string) {
    return this.main.get(id);
  }
  getVector(id: string) {
    return this.main.getVector(id);
  }
  getVectors(ids: readonly string[]) {
    return this.main.getVectors(ids);
  }
  generation() {
    return this.main.generation();
  }
  scanVectors(batchSize?: number): AsyncGenerator<ScannedVector[]> {
    return this.main.scanVectors(batchSize);
  }
  scanItems(batchSize?: number): AsyncGenerator<ItemInput[]> {
    return this.main.scanItems(batchSize);
  }
  count() {
    return this.main.count();
  }
  fileStates(paths?: readonly string[]) {
    return this.main.fileStates(paths);
  }
  async setIndex(...args: Parameters<StoreCollection['setIndex']>): Promise<void> {
    await this.main.setIndex(...args);
    await this.tiles.setIndex(...args);
  }
  sampleIds(n: number) {
    return this.main.sampleIds(n);
  }
  metadataSummary(...args: Parameters<StoreCollection['metadataSummary']>) {
    return this.main.metadataSummary(...args);
  }

  /**
   * Each item scores by its best vector: the global one or any tile (the hit's `tile` names the window when a tile
   * won). The tiles are searched for several candidates per wanted hit, then merged by item.
   */
  async search(query: Float32Array, opts: VectorSearchOptions): Promise<Hit[]> {
    const offset = opts.offset ?? 0;
    const want = opts.k + offset;
    const { offset: _o, minScore: _m, where, excludeIds, ...rest } = opts;
    const [globals, tiles] = await Promise.all([
      this.main.search(query, { ...rest, k: want, ...(where ? { where } : {}), ...(excludeIds ? { excludeIds } : {}) }),
      this.tiles.search(query, { ...rest, k: Math.min(want * Math.max(4, this.boxes.length), 100_000), includeMetadata: false }),
    ]);
    const excluded = new Set(excludeIds ?? []);
    const best = new Map<string, Hit>();
    for (const h of globals) best.set(h.id, h);
    const fromTiles = new Map<string, { score: number; i: number }>();
    for (const t of tiles) {
      const p = parentOf(t.id);
      if (!p || excluded.has(p.parent)) continue;
      const seen = fromTiles.get(p.parent);
      if (!seen || t.score > seen.score) fromTiles.set(p.parent, { score: t.score, i: p.i });
    }
    const missing = [...fromTiles.keys()].filter((id) => !best.has(id));
    const items = await Promise.all(missing.map((id) => this.main.get(id)));
    for (const item of items) {
      if (!item || (where && !matchesWhere(item.metadata, where))) continue;
      // found by a tile only: its global score is not known here, the tile's (higher or equal) score counts
      best.set(item.id, { id: item.id, path: item.path, score: -Infinity, metadata: opts.includeMetadata === false ? {} : item.metadata });
    }
    const merged: Hit[] = [];
    for (const [id, h] of best) {
      const t = fromTiles.get(id);
      if (t && t.score > h.score) merged.push({ ...h, score: t.score, tile: this.boxes[t.i]! });
      else if (h.score > -Infinity) merged.push(h);
    }
    merged.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const min = opts.minScore ?? -Infinity;
    return merged.slice(offset, want).filter((h) => h.score >= min);
  }
}
