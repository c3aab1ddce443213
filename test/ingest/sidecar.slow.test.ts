/**
 * Metadata at ingest end to end (issue 15.1): the whole fashion-products catalogue attached through the built CLI,
 * and typed metadata (facts + a metadata file) round-tripping through both stores, the real PostgreSQL included.
 */
import { parse } from 'csv-parse/sync';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, inject, it } from 'vitest';
import { fileId } from '../../src/ingest/folder.js';
import { openDatabase } from '../../src/lookalike.js';
import { cli, requireBuiltCli } from '../cli/run.js';
import { freshPostgresDb, requireShared, SHARED, tmpDir } from '../helpers.js';

const FASHION = path.join(SHARED, 'datasets', 'fashion-products');

describe('lookalike index --metadata-csv (built CLI)', () => {
  it('attaches the whole fashion-products catalogue by its id column: every image, every non-empty cell, year a number', async () => {
    requireBuiltCli();
    const images = requireShared(path.join(FASHION, 'images'));
    const csv = requireShared(path.join(FASHION, 'styles_subset.csv'));
    const db = tmpDir();
    const r = await cli(['index', images, '--db', db, '-c', 'fashion', '--model', 'color-histogram', '--metadata-csv', csv, '--key-column', 'id', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { added: number; failed: number; metadataFile: Record<string, unknown> };
    console.log('fashion-products attach:', JSON.stringify({ added: report.added, failed: report.failed, ...report.metadataFile }));
    expect(report).toMatchObject({ added: 2350, failed: 0 });
    expect(report.metadataFile).toMatchObject({
      keyColumn: 'id',
      rows: 2350,
      matched: 2350,
      matchedBy: { stem: 2350 },
      unmatchedRows: { count: 0 },
      unmatchedImages: { count: 0 },
      columns: { gender: 'string', masterCategory: 'string', subCategory: 'string', articleType: 'string', baseColour: 'string', season: 'string', year: 'number', usage: 'string', productDisplayName: 'string', image: 'string' },
    });

    const rows = parse(fs.readFileSync(csv), { columns: true, bom: true, trim: true }) as Record<string, string>[];
    const lib = await openDatabase(db, { threads: 1 });
    const col = await lib.openCollection('fashion');
    for (const row of rows) {
      const item = (await col.get(fileId(path.join(images, `${row.id}.jpg`))))!;
      const expected: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(row)) if (k !== 'id' && v !== '') expected[k] = k === 'year' ? Number(v) : v;
      expect(item.metadata, row.id).toMatchObject(expected);
      for (const [k, v] of Object.entries(row)) if (v === '') expect(item.metadata[k], `${row.id} ${k}`).toBeUndefined();
    }
    // the CLI's filter finds them by the attached values
    const watches = await col.search({ id: fileId(path.join(images, `${rows[0]!.id}.jpg`)) }, { k: 500, where: { articleType: 'Watches' } });
    expect(watches.length).toBe(rows.filter((x) => x.articleType === 'Watches').length - (rows[0]!.articleType === 'Watches' ? 1 : 0));
    await col.close();
    await lib.close();
  }, 300_000);
});

describe.each([
  ['embedded', async () => tmpDir()],
  ['postgres', () => freshPostgresDb(inject('pgUrl'))],
] as const)('typed metadata round trip (%s store)', (_name, location) => {
  it('facts and metadata-file values come back with their types', async () => {
    const dir = path.join(tmpDir(), 'shots');
    fs.mkdirSync(dir);
    const jpeg = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#3060a0' } })
      .withMetadata({ orientation: 6 })
      .withExifMerge({
        IFD0: { Make: 'Fujifilm', Model: 'X-T4' },
        IFD2: { DateTimeOriginal: '2019:05:01 10:00:00', OffsetTimeOriginal: '+02:00', ISOSpeedRatings: '400' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 0/1', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 0/1' },
      })
      .jpeg()
      .toBuffer();
    fs.writeFileSync(path.join(dir, 'p1.jpg'), jpeg);
    const meta = path.join(path.dirname(dir), 'meta.jsonl');
    fs.writeFileSync(meta, '{"file":"p1.jpg","price":"19.90","inStock":true,"sizes":["S","M"],"released":"2018-03-01","dims":{"w":3}}\n');
    const db = await openDatabase(await location(), { threads: 1 });
    try {
      const col = await db.collection('typed', { model: 'color-histogram' });
      const r = await col.indexFolder(dir, { metadataFile: { path: meta, columnTypes: { price: 'number', released: 'date' } } });
      expect(r).toMatchObject({ added: 1, failed: 0, warnings: [], metadataFile: { matched: 1 } });
      const item = (await col.get(fileId(path.join(dir, 'p1.jpg'))))!;
      expect(item).toMatchObject({ width: 20, height: 30 });
      expect(item.metadata).toEqual({
        format: 'jpeg',
        taken: '2019-05-01T08:00:00.000Z',
        takenOffset: '+02:00',
        cameraMake: 'Fujifilm',
        cameraModel: 'X-T4',
        iso: 400,
        lat: 48.85,
        lon: 2.35,
        orientation: 6,
        price: 19.9,
        inStock: true,
        sizes: ['S', 'M'],
        released: '2018-03-01T00:00:00.000Z',
        dims: { w: 3 },
      });
      await col.close();
    } finally {
      await db.close();
    }
  });
});
