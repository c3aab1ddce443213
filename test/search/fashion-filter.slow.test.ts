/**
 * Issue 15: the fashion-products catalogue attached from its CSV and filtered with the filter language —
 * `articleType=Watches and year>=2012` — through the CLI and HTTP (400 images, colour histograms).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { buildServer } from '../../src/server/app.js';
import type { FastifyInstance } from 'fastify';
import { requireShared, SHARED, tmpDir } from '../helpers.js';
import { cli, requireBuiltCli } from '../cli/run.js';

const FASHION = path.join(SHARED, 'datasets', 'fashion-products');

describe('fashion catalogue: metadata from the CSV, filters in CLI and HTTP', () => {
  const db = path.join(tmpDir(), 'db');
  const images = tmpDir('lookalike-fashion-');
  let rows: Map<string, Record<string, string>>;
  let database: LookalikeDatabase;
  let app: FastifyInstance;

  beforeAll(async () => {
    requireBuiltCli();
    requireShared(FASHION);
    const csv = fs.readFileSync(path.join(FASHION, 'styles_subset.csv'), 'utf8').trim().split('\n');
    const head = csv[0]!.split(',');
    rows = new Map();
    for (const line of csv.slice(1)) {
      const cells = line.split(','); // the subset's display names contain no commas in these columns' positions we read
      rows.set(cells[0]!, Object.fromEntries(head.map((h, i) => [h, cells[i]!])));
    }
    // every watch, and 300 other images
    const all = fs.readdirSync(path.join(FASHION, 'images')).sort();
    const watches = all.filter((f) => rows.get(path.parse(f).name)?.articleType === 'Watches');
    const chosen = [...new Set([...watches, ...all.filter((_, i) => i % 8 === 0).slice(0, 300)])];
    for (const f of chosen) fs.symlinkSync(path.join(FASHION, 'images', f), path.join(images, f));
    const r = await cli(['index', images, '--db', db, '-c', 'fashion', '--model', 'color-histogram', '--metadata-csv', path.join(FASHION, 'styles_subset.csv'), '--key-column', 'id', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ added: chosen.length, failed: 0 });
    database = await openDatabase(db, { threads: 1 });
    app = await buildServer({ db: database });
  }, 240_000);
  afterAll(async () => {
    await app?.close();
    await database?.close();
  });

  it('CLI: --where articleType=Watches --where year>=2012 returns only such items, as many as exist', async () => {
    const want = [...rows.values()].filter((r) => r.articleType === 'Watches' && Number(r.year) >= 2012).map((r) => r.id);
    const present = want.filter((id) => fs.existsSync(path.join(images, `${id}.jpg`)));
    expect(present.length).toBeGreaterThan(5);
    const q = path.join(images, fs.readdirSync(images)[0]!);
    const r = await cli(['search', '--db', db, '-c', 'fashion', '--image', q, '-k', '500', '--where', 'articleType=Watches', '--where', 'year>=2012', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const hits = (JSON.parse(r.stdout) as { results: { path: string; metadata: { articleType: string; year: number } }[] }).results;
    expect(hits.map((h) => path.parse(h.path).name).sort()).toEqual(present.filter((id) => `${id}.jpg` !== path.basename(q)).sort());
    for (const h of hits) {
      expect(h.metadata.articleType).toBe('Watches');
      expect(h.metadata.year).toBeGreaterThanOrEqual(2012);
      expect(typeof h.metadata.year).toBe('number');
    }
  });

  it('HTTP: the same filter as JSON, a range on year, and "in"', async () => {
    const id = (await (await database.openCollection('fashion')).files())[0]!.id;
    const r = await app.inject({
      method: 'POST',
      url: '/v1/collections/fashion/search',
      payload: { id, k: 500, where: { articleType: 'Watches', year: { gte: 2012 } } },
    });
    expect(r.statusCode, r.body).toBe(200);
    const hits = (r.json() as { results: { metadata: { articleType: string; year: number } }[] }).results;
    expect(hits.length).toBeGreaterThan(5);
    for (const h of hits) expect(h.metadata.articleType === 'Watches' && h.metadata.year >= 2012).toBe(true);
    const seasons = await app.inject({ method: 'POST', url: '/v1/collections/fashion/search', payload: { id, k: 50, where: { season: { in: ['Summer', 'Fall'] }, year: { gte: 2011, lte: 2012 } } } });
    for (const h of (seasons.json() as { results: { metadata: { season: string; year: number } }[] }).results) {
      expect(['Summer', 'Fall']).toContain(h.metadata.season);
      expect(h.metadata.year >= 2011 && h.metadata.year <= 2012).toBe(true);
    }
    const bad = await app.inject({ method: 'POST', url: '/v1/collections/fashion/search', payload: { id, where: { year: { between: [1, 2] } } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/unknown operator "between" on "year"/) } });
  });
});
