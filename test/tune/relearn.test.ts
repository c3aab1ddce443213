/**
 * Automatic re-learning (issue 17): unsupervised tuning (whitening, calibration) is re-learnt with the same settings
 * once the collection has grown past `relearnGrowth` × the items it was learnt on — and only then; the result is
 * the tuning an explicit `tune` with those settings gives. Labels (LDA) are never re-learnt behind the user's back.
 * Both stores; data: the sample flowers (12 classes × 8) with color-histogram.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type Collection, type LookalikeDatabase } from '../../src/lookalike.js';
import { walkImages } from '../../src/ingest/walk.js';
import { freshPostgresDb, SAMPLES, tmpDir } from '../helpers.js';

const BACKENDS: [string, () => Promise<string>][] = [
  ['embedded', async () => tmpDir()],
  ['postgres', () => freshPostgresDb(inject('pgUrl'))],
];

for (const [backend, location] of BACKENDS) {
  describe(`automatic re-learning: ${backend}`, () => {
    let db: LookalikeDatabase;
    let col: Collection;
    // the sample images in three folders of 48, 24 and 24 (every class in each)
    const [a, b, c] = [tmpDir('lookalike-relearn-a-'), tmpDir('lookalike-relearn-b-'), tmpDir('lookalike-relearn-c-')];

    beforeAll(async () => {
      const files = (await walkImages(SAMPLES)).map((f) => f.path).sort();
      for (const [i, f] of files.entries()) {
        const r = i % 8; // 4 of each class first, then 2 (→ 72 = 1.5 × 48), then 2
        const dir = path.join(r < 4 ? a! : r < 6 ? b! : c!, path.basename(path.dirname(f)));
        fs.mkdirSync(dir, { recursive: true });
        fs.copyFileSync(f, path.join(dir, path.basename(f)));
      }
      db = await openDatabase(await location(), { threads: 1 });
      col = await db.createCollection('flowers', { model: 'color-histogram' });
      await col.indexFolder(a!);
    }, 120_000);
    afterAll(async () => {
      await col?.close();
      await db?.close();
    });

    it('re-learns whitening and calibration, with the same settings, once the collection has grown 1.5×', async () => {
      const first = await col.tune({ whiten: { dims: 16, shrinkage: 10, power: 1 }, calibrate: { pairs: 1000, seed: 3 }, relearnGrowth: 1.5 });
      expect(first.relearn).toEqual({ growth: 1.5, learnedAtItems: 48, nextAt: 72 });
      expect(first.transform).toMatchObject({ learnedFrom: 48, outputDimension: 16, power: 1, params: { shrinkage: 10, exponent: 0.5 } });

      const grown = await col.indexFolder(b!); // 72 items: the re-learn point
      expect(grown.added).toBe(24);
      expect(grown.retuned).toBe(true);
      const now = await col.tuning();
      expect(now.transform).toMatchObject({ learnedFrom: 72, outputDimension: 16, power: 1, params: { shrinkage: 10, exponent: 0.5 } });
      expect(now.transform!.fingerprint).not.toBe(first.transform!.fingerprint);
      expect(now.calibration).toMatchObject({ pairs: 1000, learnedFrom: 72 });
      expect(now.relearn).toEqual({ growth: 1.5, learnedAtItems: 72, nextAt: 108 });
      expect(now.transformedItems).toBe(72);

      // exactly what tuning by hand with the same settings learns
      const byHand = await col.tune({ whiten: { dims: 16, shrinkage: 10, power: 1 }, calibrate: { pairs: 1000, seed: 3 }, relearnGrowth: 1.5 });
      expect(byHand.transform!.fingerprint).toBe(now.transform!.fingerprint);
      expect(byHand.calibration).toEqual(now.calibration);
    });

    it('below the re-learn point nothing is re-learnt; a sync or re-index that adds nothing never re-learns', async () => {
      const before = await col.tuning();
      const r = await col.indexFolder(c!); // 96 < 108
      expect(r.added).toBe(24);
      expect(r.retuned).toBeUndefined();
      const after = await col.tuning();
      expect(after.learnedAt).toBe(before.learnedAt);
      expect(after.transformedItems).toBe(96); // new items still go through the transform
      expect((await col.indexFolder(c!)).retuned).toBeUndefined();
    });

    it('relearnGrowth false turns it off; labels (LDA) are never re-learnt automatically', async () => {
      const off = await col.tune({ calibrate: true, relearnGrowth: false });
      expect(off.relearn).toBeNull();
      const lda = await col.tune({ labelsFromFolders: a! });
      expect(lda.transform?.kind).toBe('lda');
      expect(lda.relearn).toBeNull();
      await expect(col.tune({ labelsFromFolders: a!, relearnGrowth: 2 })).rejects.toThrow(/relearnGrowth applies to whitening and calibration/);
      await expect(col.tune({ whiten: true, relearnGrowth: 1 })).rejects.toThrow(/relearnGrowth must be a number from 1\.1 to 100/);
    });
  });
}
