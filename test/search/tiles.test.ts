/** Issue 13.3: tiles — extra vectors per image so that a region is found inside larger composites; both stores. */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { openStore } from '../../src/store/registry.js';
import { parseTiles } from '../../src/store/tiled.js';
import { freshPostgresDb, SAMPLES, tmpDir } from '../helpers.js';

describe('tile grids', () => {
  it('NxM tiles the image; NxM@s spreads overlapping windows edge to edge', () => {
    expect(parseTiles(['2x2'])).toEqual([
      { x: 0, y: 0, w: 0.5, h: 0.5 },
      { x: 0.5, y: 0, w: 0.5, h: 0.5 },
      { x: 0, y: 0.5, w: 0.5, h: 0.5 },
      { x: 0.5, y: 0.5, w: 0.5, h: 0.5 },
    ]);
    const w = parseTiles(['3x3@0.5']);
    expect(w).toHaveLength(9);
    expect(w.map((b) => b.x).slice(0, 3)).toEqual([0, 0.25, 0.5]);
    expect(w[8]).toEqual({ x: 0.5, y: 0.5, w: 0.5, h: 0.5 });
    expect(parseTiles(['1x1@0.5'])).toEqual([{ x: 0.25, y: 0.25, w: 0.5, h: 0.5 }]);
    expect(() => parseTiles(['3by3'])).toThrow(/"3by3" is not a tile grid/);
    expect(() => parseTiles(['9x9'])).toThrow(/at most 64/);
  });
});

/** 2×2 composites of four flowers each (each flower a quarter of the area). */
async function composites(dir: string, files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let c = 0; c + 4 <= files.length; c += 4) {
    const parts = await Promise.all(files.slice(c, c + 4).map((f) => sharp(f).resize(160, 160, { fit: 'cover' }).toBuffer()));
    const file = path.join(dir, `composite-${c / 4}.png`);
    await sharp({ create: { width: 320, height: 320, channels: 3, background: '#777' } })
      .composite(parts.map((input, i) => ({ input, left: (i % 2) * 160, top: Math.floor(i / 2) * 160 })))
      .png()
      .toFile(file);
    out.push(file);
  }
  return out;
}

const BACKENDS: [string, () => Promise<string>][] = [
  ['embedded', async () => tmpDir()],
  ['postgres', () => freshPostgresDb(inject('pgUrl'))],
];

for (const [backend, location] of BACKENDS) {
  describe(`tiled collections: ${backend}`, () => {
    let db: LookalikeDatabase;
    let loc: string;
    const flowers = fs.readdirSync(SAMPLES).sort().flatMap((c) => fs.readdirSync(path.join(SAMPLES, c)).sort().slice(0, 2).map((f) => path.join(SAMPLES, c, f)));
    const dir = tmpDir('lookalike-composites-');
    let made: string[] = [];

    beforeAll(async () => {
      loc = await location();
      db = await openDatabase(loc, { threads: 1 });
      // interleave classes so that a composite holds four different flowers
      const order = flowers.filter((_, i) => i % 2 === 0).concat(flowers.filter((_, i) => i % 2 === 1));
      made = await composites(dir, order);
      for (const [name, tiles] of [['plain', undefined], ['tiled', ['2x2']]] as const) {
        const col = await db.createCollection(name, { model: 'mobilenet-v1', ...(tiles ? { tiles } : {}) });
        await col.indexFolder(dir);
        await col.close();
      }
    }, 180_000);
    afterAll(async () => {
      await db?.close();
    });

    it('finds the composite holding a flower more often with tiles, and says which tile matched', async () => {
      const order = flowers.filter((_, i) => i % 2 === 0).concat(flowers.filter((_, i) => i % 2 === 1));
      const plain = await db.openCollection('plain');
      const tiled = await db.openCollection('tiled');
      let top1 = { plain: 0, tiled: 0 };
      let rightTile = 0;
      for (const [i, flower] of order.entries()) {
        const want = made[Math.floor(i / 4)]!;
        const quadrant = parseTiles(['2x2'])[i % 4]!;
        const p = await plain.search({ image: flower }, { k: 1 });
        const t = await tiled.search({ image: flower }, { k: 1 });
        if (p[0]!.path === want) top1.plain++;
        if (t[0]!.path === want) {
          top1.tiled++;
          if (JSON.stringify(t[0]!.tile) === JSON.stringify(quadrant)) rightTile++;
        }
      }
      console.log(`${backend}: recall@1 over ${order.length} flowers in ${made.length} 2×2 composites: global ${top1.plain}, tiles ${top1.tiled} (right tile ${rightTile})`);
      expect(top1.tiled).toBeGreaterThan(top1.plain);
      expect(top1.tiled).toBeGreaterThanOrEqual(order.length * 0.8);
      expect(rightTile).toBeGreaterThanOrEqual(top1.tiled * 0.9);
      expect(await tiled.info()).toMatchObject({ tiles: ['2x2'], vectorsPerImage: 5, bytesPerImage: 5 * 4096, count: made.length });
      await plain.close();
      await tiled.close();
    });

    it('the tiles live in a hidden companion collection, deleted with their items and with the collection', async () => {
      expect((await db.listCollections()).map((c) => c.name).sort()).toEqual(['plain', 'tiled']);
      const store = await openStore(loc);
      try {
        const companion = await store.getCollection('tiled#tiles');
        expect(await companion.count()).toBe(made.length * 4);
        const tiled = await db.openCollection('tiled');
        const [first] = await tiled.files();
        expect(await tiled.delete([first!.id])).toBe(1);
        expect(await companion.count()).toBe((made.length - 1) * 4);
        await tiled.close();
        expect(await db.dropCollection('tiled')).toBe(true);
        expect(await store.hasCollection('tiled#tiles')).toBe(false);
      } finally {
        await store.close();
      }
    });
  });
}
