/**
 * Tuning stored with the collection, on both stores: it survives reopening, new items go through the transform,
 * re-learning builds a new companion (new index generation) and drops the old one, calibrated confidences are
 * monotone in the score and `minConfidence` is the equivalent `minScore`, reset brings the raw results back, and
 * dropping the collection drops what was learnt. Data: the sample flowers (12 classes × 8) with color-histogram.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type Collection, type LookalikeDatabase } from '../../src/lookalike.js';
import { fileId } from '../../src/ingest/folder.js';
import { walkImages } from '../../src/ingest/walk.js';
import { freshPostgresDb, SAMPLES, tmpDir } from '../helpers.js';

const BACKENDS: [string, () => Promise<string>][] = [
  ['embedded', async () => tmpDir()],
  ['postgres', () => freshPostgresDb(inject('pgUrl'))],
];

const ranking = async (col: Collection, id: string) => (await col.search({ id }, { k: 10 })).map((h) => [h.id, +h.score.toFixed(5)]);

for (const [backend, location] of BACKENDS) {
  describe(`tuning persists: ${backend}`, () => {
    let where: string;
    let db: LookalikeDatabase;
    let col: Collection;
    let query: string;
    let raw: unknown;
    const first = tmpDir('lookalike-tune-a-');
    const later = tmpDir('lookalike-tune-b-');

    beforeAll(async () => {
      // 84 images first; the last 12 (one per class) are added after tuning
      const files = (await walkImages(SAMPLES)).map((f) => f.path).sort();
      for (const [i, f] of files.entries()) {
        const dir = path.join(i % 8 === 7 ? later : first, path.basename(path.dirname(f)));
        fs.mkdirSync(dir, { recursive: true });
        fs.copyFileSync(f, path.join(dir, path.basename(f)));
      }
      where = await location();
      db = await openDatabase(where, { threads: 1 });
      col = await db.createCollection('flowers', { model: 'color-histogram' });
      await col.indexFolder(first);
      query = fileId(path.join(first, 'daisy', fs.readdirSync(path.join(first, 'daisy')).sort()[0]!));
      raw = await ranking(col, query);
    }, 120_000);
    afterAll(async () => {
      await col?.close();
      await db?.close();
    });

    it('untuned: no tuning, no confidence; minConfidence says to calibrate first', async () => {
      expect(await col.tuning()).toMatchObject({ transform: null, calibration: null, items: 84, transformedItems: null });
      expect((await col.search({ id: query }, { k: 3 }))[0]!.confidence).toBeUndefined();
      await expect(col.search({ id: query }, { minConfidence: 0.9 })).rejects.toThrow(/no calibrated scores.*lookalike tune flowers --calibrate/);
    });

    it('whitening + calibration are learnt, used, and survive reopening', async () => {
      const info = await col.tune({ whiten: { dims: 16, power: 1 }, calibrate: { pairs: 2000 } });
      expect(info.transform).toMatchObject({ kind: 'whiten', inputDimension: 128, outputDimension: 16, learnedFrom: 84 });
      expect(info.calibration).toMatchObject({ space: 'transformed', pairs: 2000, learnedFrom: 84 });
      expect(info.transformedItems).toBe(84);
      const tuned = await ranking(col, query);
      expect(tuned).not.toEqual(raw);
      const hits = await col.search({ id: query }, { k: 20 });
      hits.forEach((h) => expect(h.confidence).toBeGreaterThanOrEqual(0));
      for (let i = 1; i < hits.length; i++) expect(hits[i]!.confidence!).toBeLessThanOrEqual(hits[i - 1]!.confidence!); // monotone in the score

      await col.close();
      await db.close();
      db = await openDatabase(where, { threads: 1 });
      col = await db.openCollection('flowers');
      expect(await col.tuning()).toEqual(info);
      expect(await ranking(col, query)).toEqual(tuned);
      expect((await db.listCollections()).map((c) => c.name)).toEqual(['flowers']); // companions are never listed
    });

    it('minConfidence keeps exactly the hits whose confidence reaches it', async () => {
      const all = await col.search({ id: query }, { k: 83 });
      for (const c of [0.5, 0.9, 0.99]) {
        const kept = await col.search({ id: query }, { k: 83, minConfidence: c });
        expect(kept.map((h) => h.id)).toEqual(all.filter((h) => h.confidence! >= c - 1e-9).map((h) => h.id));
        kept.forEach((h) => expect(h.confidence!).toBeGreaterThanOrEqual(c - 1e-9));
      }
    });

    it('items added later go through the transform', async () => {
      await col.indexFolder(later);
      const t = await col.tuning();
      expect(t.items).toBe(96);
      expect(t.transformedItems).toBe(96);
      const added = fileId(path.join(later, 'iris', fs.readdirSync(path.join(later, 'iris'))[0]!));
      const v = await col.vector(added);
      const [top] = await col.search({ vector: v! }, { k: 1 });
      expect(top!.id).toBe(added);
      expect(top!.score).toBeCloseTo(1, 5);
    });

    it('re-learning builds a new companion (new index) and drops the old one; the calibration follows', async () => {
      expect(await db.hasCollection('flowers#tune-a')).toBe(true);
      expect(await db.hasCollection('flowers#tune-b')).toBe(false);
      const before = await col.tuning();
      const info = await col.tune({ whiten: { dims: 8, power: 1 } });
      expect(await db.hasCollection('flowers#tune-a')).toBe(false);
      expect(await db.hasCollection('flowers#tune-b')).toBe(true);
      expect(info.transform).toMatchObject({ outputDimension: 8, learnedFrom: 96 });
      expect(info.transform!.fingerprint).not.toBe(before.transform!.fingerprint);
      expect(info.calibration).toMatchObject({ space: 'transformed', learnedFrom: 96, pairs: 2000 }); // re-learnt for the new space
      await col.setIndex({ type: 'hnsw', m: 8, efConstruction: 64, ef: 64 });
      const hits = await col.search({ id: query }, { k: 5 });
      expect(hits).toHaveLength(5);
    });

    it('reset brings the raw rankings back; dropping the collection drops its tuning', async () => {
      await col.setIndex({ type: 'flat' });
      await col.tune({ reset: true });
      expect(await col.tuning()).toMatchObject({ transform: null, calibration: null });
      expect((await ranking(col, query)).slice(0, 5)).toEqual((raw as unknown[]).slice(0, 5));
      await col.tune({ calibrate: true }); // calibration alone: raw scores get a confidence
      expect((await col.search({ id: query }, { k: 1 }))[0]!.confidence).toBeGreaterThan(0.5);
      expect(await db.hasCollection('flowers#tune-a')).toBe(true);
      await col.close();
      await db.dropCollection('flowers');
      expect(await db.hasCollection('flowers#tune-a')).toBe(false);
      expect(await db.hasCollection('flowers#tune-b')).toBe(false);
    });
  });
}

describe('a tuning this version cannot read', () => {
  it('does not stop the collection from opening: searches say what to do, and reset or re-learning fixes it', async () => {
    const dir = tmpDir();
    let db = await openDatabase(dir, { threads: 1 });
    let col = await db.createCollection('c', { model: 'color-histogram' });
    await col.indexFolder(SAMPLES);
    await col.tune({ whiten: { dims: 8 } });
    const id = (await col.files())[0]!.id;
    await col.close();
    await db.close();
    // a future format version, written by another lookalike
    const { default: Database } = await import('better-sqlite3');
    const raw = new Database(path.join(dir, 'lookalike.sqlite'));
    raw.prepare(`UPDATE collections SET spec = json_set(spec, '$.tuning.version', 99) WHERE name = 'c#tune-a'`).run();
    raw.close();

    db = await openDatabase(dir, { threads: 1 });
    col = await db.openCollection('c');
    expect(await col.get(id)).toBeDefined(); // reads work
    await expect(col.search({ id })).rejects.toThrow(/tuning of collection "c" cannot be used \(format version 99.*lookalike tune c --reset/);
    await col.tune({ whiten: { dims: 8 } }); // re-learning replaces it
    expect(await col.search({ id }, { k: 3 })).toHaveLength(3);
    expect((await col.tuning()).transform).toMatchObject({ kind: 'whiten', outputDimension: 8 });
    await col.close();
    await db.close();
  });
});

describe('tune from labelled folders', () => {
  it('labels every image in a sub-folder by the folder name; refuses a folder without indexed images and tiled collections', async () => {
    const db = await openDatabase(tmpDir(), { threads: 1 });
    const col = await db.createCollection('c', { model: 'color-histogram' });
    await col.indexFolder(SAMPLES);
    const info = await col.tune({ labelsFromFolders: SAMPLES, lda: { power: 1 } });
    expect(info.transform).toMatchObject({ kind: 'lda', learnedFrom: 96, outputDimension: 11, params: { classes: 12 } });
    await expect(col.tune({ labelsFromFolders: tmpDir() })).rejects.toThrow(/No indexed image of collection "c" is in a sub-folder/);
    await expect(col.tune({ whiten: true, labelsFromFolders: SAMPLES })).rejects.toThrow(/either whiten or labels/);
    await expect(col.tune({})).rejects.toThrow(/Nothing to learn/);
    const tiled = await db.createCollection('t', { model: 'color-histogram', tiles: ['2x2'] });
    await expect(tiled.tune({ whiten: true })).rejects.toThrow(/has tiles.*without --tiles/);
    expect((await tiled.tuning()).transform).toBeNull();
    await col.close();
    await tiled.close();
    await db.close();
  });
});
