/**
 * The images benchmark of `npm run bench:duplicates -- --images` in a short configuration: 10 COCO photos with their
 * 10 edited copies each among 100 other images (COCO and fashion-products), indexed with mobilenet-v1. lookalike's
 * verified rule must find the easy edits (resize, recompression, mirror, brightness, watermark) and keep precision.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distinctImages, pairsOfGroups, recallPerEdit, scorePairs, writeBenchmarkSet, type BenchmarkImage } from '../../src/duplicates/bench.js';
import type { DuplicatesResult } from '../../src/duplicates/types.js';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { requireShared, SHARED, tmpDir } from '../helpers.js';

const list = (dir: string): string[] =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? list(path.join(dir, e.name)) : /\.(jpe?g|png)$/iu.test(e.name) ? [path.join(dir, e.name)] : []))
    .sort();

describe('near-duplicates on edited copies of real photos (short benchmark)', () => {
  let truth: BenchmarkImage[];
  let db: LookalikeDatabase;
  let result: DuplicatesResult;

  beforeAll(async () => {
    const coco = list(requireShared(path.join(SHARED, 'datasets', 'coco-mini')));
    const fashion = list(requireShared(path.join(SHARED, 'datasets', 'fashion-products', 'images')));
    const originals = coco.filter((_, i) => i % 20 === 0).slice(0, 10);
    const chosen = new Set(originals);
    const others = await distinctImages([...coco.filter((p, i) => !chosen.has(p) && i % 4 === 1).slice(0, 50), ...fashion.filter((_, i) => i % 40 === 0).slice(0, 50)]);
    const root = tmpDir('lookalike-dup-bench-');
    truth = await writeBenchmarkSet(path.join(root, 'images'), originals, others);
    db = await openDatabase(path.join(root, 'db'), { threads: 2 });
    const c = await db.createCollection('bench', { model: 'mobilenet-v1' });
    await c.indexFolder(path.join(root, 'images'));
    result = await c.findDuplicates({ verify: true });
  }, 180_000);
  afterAll(async () => {
    await db?.close();
  });

  it('finds the easy edits of every original and keeps precision', () => {
    const pairs = pairsOfGroups(result.groups.map((g) => [g.keeper, ...g.duplicates].map((m) => m.path!)));
    const perEdit = recallPerEdit(pairs, truth);
    for (const edit of ['resize50', 'jpeg30', 'hflip', 'brighter', 'darker', 'text'] as const) {
      expect(perEdit[edit], `${edit}: ${JSON.stringify(perEdit)}`).toBeGreaterThanOrEqual(0.9);
    }
    const s = scorePairs(pairs, truth);
    expect(s.precision, JSON.stringify(s)).toBeGreaterThanOrEqual(0.95);
    expect(s.recall, JSON.stringify({ s, perEdit })).toBeGreaterThanOrEqual(0.85);
  });

  it('names a keeper that is never a reduced copy (the half-size or the cropped one)', () => {
    const edit = new Map(truth.map((t) => [t.path, t.edit]));
    for (const g of result.groups) expect(['resize50', 'crop80']).not.toContain(edit.get(g.keeper.path!));
  });
});
