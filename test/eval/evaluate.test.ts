import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateRetrieval, evaluateTextRetrieval, type RetrievalEvalResult } from '../../src/eval/evaluate.js';
import { formatTable, renderReport } from '../../src/eval/compare.js';
import { openDatabase } from '../../src/lookalike.js';
import sharp from 'sharp';
import { COLOR_CLIP, requireShared, SAMPLES, SHARED, tmpDir } from '../helpers.js';

/** Copy the first `n` sample images of each class into `dir/<rename(class)>/`. */
function copyClasses(dir: string, classes: readonly string[], n: number, rename: (c: string) => string = (c) => c): void {
  for (const c of classes) {
    fs.mkdirSync(path.join(dir, rename(c)), { recursive: true });
    for (const f of fs.readdirSync(path.join(SAMPLES, c)).sort().slice(0, n)) fs.copyFileSync(path.join(SAMPLES, c, f), path.join(dir, rename(c), f));
  }
}

const figures = (r: RetrievalEvalResult) => ({ precisionAt: r.precisionAt, mapAt10: r.mapAt10, map: r.map, tieAware: r.tieAware });

describe('evaluateRetrieval', () => {
  it('leave-one-out on the sample flowers, reproducible run to run', async () => {
    const a = await evaluateRetrieval({ dir: SAMPLES, model: 'color-histogram', config: { threads: 1 } });
    const b = await evaluateRetrieval({ dir: SAMPLES, model: 'color-histogram', config: { threads: 1 } });
    expect(a.images).toBe(96);
    expect(a.queries).toBe(96);
    for (const k of ['1', '5', '10'] as const) expect(a.precisionAt[k]).toBe(b.precisionAt[k]);
    expect(a.map).toBe(b.map);
    expect(a.precisionAt['1']).toBeGreaterThan(1 / 12); // better than chance
    expect(a.mapAt10).toBeGreaterThan(0);
    expect(a.mapAt10).toBeLessThanOrEqual(1);
  });

  it('mobilenet-v1 clearly beats raw pixels on the sample flowers', async () => {
    const cnn = await evaluateRetrieval({ dir: SAMPLES, model: 'mobilenet-v1', config: { threads: 1 } });
    const px = await evaluateRetrieval({ dir: SAMPLES, model: 'pixels', config: { threads: 1 } });
    expect(cnn.precisionAt['1']).toBeCloseTo(0.927, 2);
    expect(cnn.map).toBeGreaterThan(px.map + 0.2);
  });

  it('calibrated scores: each model gets its own score scale; a hit’s confidence is the share of all pairs below it', async () => {
    const cnn = await evaluateRetrieval({ dir: SAMPLES, model: 'mobilenet-v1', samples: 3, sampleK: 5, config: { threads: 1 } });
    const px = await evaluateRetrieval({ dir: SAMPLES, model: 'pixels', samples: 3, sampleK: 5, config: { threads: 1 } });
    for (const r of [cnn, px]) {
      const s = r.scoreScale;
      expect(s.pairs).toBe(96 * 95); // every ranking is shorter than 200 ranks: every ordered pair is taken
      expect(s.random.p50).toBeLessThanOrEqual(s.random.p90);
      expect(s.random.p90).toBeLessThanOrEqual(s.random.p99);
      expect(s.random.p99).toBeLessThanOrEqual(s.random.p999);
      expect(s.bestMatchMedian).toBeGreaterThan(s.random.p90);
      const hits = r.samples.flatMap((q) => q.hits);
      expect(hits.length).toBe(15);
      for (const h of hits) expect(h.confidence).toBeGreaterThanOrEqual(0), expect(h.confidence).toBeLessThanOrEqual(1);
      const byScore = [...hits].sort((a, b) => a.score - b.score);
      for (let i = 1; i < byScore.length; i++) expect(byScore[i]!.confidence).toBeGreaterThanOrEqual(byScore[i - 1]!.confidence);
    }
    // the raw scales differ between models, so a raw score says nothing without the model…
    expect(Math.abs(cnn.scoreScale.random.p50 - px.scoreScale.random.p50)).toBeGreaterThan(0.05);
    // …and the confidence is what it says: the share of all pairs (computed here from every pair) scoring lower
    const db = await openDatabase(tmpDir(), { threads: 1 });
    try {
      const col = await db.createCollection('px', { model: 'pixels' });
      await col.indexFolder(SAMPLES);
      const all: number[] = [];
      for (const f of await col.files()) for (const h of await col.search({ id: f.id }, { k: 95, includeMetadata: false })) all.push(h.score);
      expect(all).toHaveLength(96 * 95);
      for (const h of px.samples.flatMap((q) => q.hits)) {
        const below = all.filter((x) => x < h.score).length / all.length;
        expect(Math.abs(h.confidence - below)).toBeLessThan(0.005);
      }
    } finally {
      await db.close();
    }
    const html = await renderReport([cnn, px], 'scales');
    expect(html).toContain('not comparable across models');
    expect(html).toMatch(/<td>pixels<\/td><td>\d\.\d{3}<\/td>/);
    expect(formatTable([cnn, px])).toMatch(/pixels: half of all pairs score below \d\.\d{3}, 99 % below/);
  });

  it('labels from a CSV; distractors are in the gallery but never queries or relevant', async () => {
    const dir = tmpDir();
    const rows = ['file,kind'];
    for (const cls of ['daisy', 'bluebell']) {
      for (const f of fs.readdirSync(path.join(SAMPLES, cls)).slice(0, 4)) {
        fs.copyFileSync(path.join(SAMPLES, cls, f), path.join(dir, `${cls}-${f}`));
        rows.push(`${cls}-${f},${cls}`);
      }
    }
    fs.mkdirSync(path.join(dir, 'noise'));
    for (const f of fs.readdirSync(path.join(SAMPLES, 'daisy')).slice(4, 7)) fs.copyFileSync(path.join(SAMPLES, 'daisy', f), path.join(dir, 'noise', f));
    const csv = path.join(tmpDir(), 'labels.csv');
    fs.writeFileSync(csv, rows.join('\n'));
    const r = await evaluateRetrieval({
      dir,
      model: 'mobilenet-v1',
      labels: { csv, labelColumn: 'kind', pathColumn: 'file' },
      distractors: 'noise',
      samples: 2,
      config: { threads: 1 },
    });
    expect(r.images).toBe(11);
    expect(r.queries).toBe(8);
    expect(r.distractors).toBe(3);
    expect(r.unlabelled).toBe(0);
    expect(r.samples.map((s) => s.label).sort()).toEqual(['bluebell', 'daisy']);
    for (const s of r.samples) for (const h of s.hits) if (h.path.includes(`${path.sep}noise${path.sep}`)) expect(h.relevant).toBe(false);
    await expect(
      evaluateRetrieval({ dir, model: 'pixels', labels: { csv, labelColumn: 'nope', pathColumn: 'file' } }),
    ).rejects.toThrow(/no column "nope".*file, kind/);
  });
});

describe('evaluation defects (10.17–10.20: these silently produced wrong numbers)', () => {
  it('10.17 distractors outside the evaluated folder (absolute or ../ path) are indexed, never ignored', async () => {
    const parent = tmpDir();
    const dir = path.join(parent, 'labelled');
    copyClasses(dir, ['daisy', 'bluebell'], 3);
    copyClasses(parent, ['sunflower'], 3, () => 'noise');
    const opts = { dir, model: 'color-histogram', samples: 2, sampleK: 8, config: { threads: 1 } };
    for (const distractors of [path.join(parent, 'noise'), '../noise']) {
      const r = await evaluateRetrieval({ ...opts, distractors });
      expect(r.images).toBe(9);
      expect(r.queries).toBe(6);
      expect(r.distractors).toBe(3);
      const noiseHits = r.samples.flatMap((s) => s.hits).filter((h) => h.path.startsWith(path.join(parent, 'noise') + path.sep));
      expect(noiseHits.length).toBeGreaterThan(0); // in the gallery …
      for (const h of noiseHits) expect(h).toMatchObject({ relevant: false, label: undefined }); // … never relevant
    }
    await expect(evaluateRetrieval({ ...opts, distractors: path.join(parent, 'nope') })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await expect(evaluateRetrieval({ ...opts, distractors: parent })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('10.18 a labels CSV whose paths do not match is refused when file names repeat; images without a row are counted', async () => {
    const dir = tmpDir();
    // Caltech-101 layout: the same file names (image_0001.jpg …) in every class folder
    copyClasses(dir, ['daisy', 'bluebell', 'iris'], 3);
    for (const c of ['daisy', 'bluebell', 'iris']) {
      for (const [i, f] of fs.readdirSync(path.join(dir, c)).sort().entries()) {
        fs.renameSync(path.join(dir, c, f), path.join(dir, c, `image_000${i + 1}.jpg`));
      }
    }
    const csv = path.join(tmpDir(), 'labels.csv');
    const rows = (prefix: string, classes: string[]) =>
      ['path,label', ...classes.flatMap((c) => [1, 2, 3].map((i) => `${prefix}${c}/image_000${i}.jpg,${c}`))].join('\n');
    fs.writeFileSync(csv, rows('101_ObjectCategories/', ['daisy', 'bluebell', 'iris']));
    const labels = { csv, labelColumn: 'label', pathColumn: 'path' };
    await expect(evaluateRetrieval({ dir, model: 'color-histogram', labels })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/image_0001\.jpg \(3 images, 3 rows\).*relative to/),
    });
    // paths relative to the folder (with ./ and \ separators) match; images without a row are reported
    fs.writeFileSync(csv, rows('./', ['daisy']) + '\n' + rows('', ['bluebell']).split('\n').slice(1).map((l) => l.replace('/', '\\')).join('\n'));
    const r = await evaluateRetrieval({ dir, model: 'color-histogram', labels, config: { threads: 1 } });
    expect(r).toMatchObject({ images: 9, queries: 6, unlabelled: 3, failed: 0 });
  });

  it('10.19 renaming class folders (same images) gives identical figures: ties are broken by content, not names', async () => {
    const classes = ['bluebell', 'buttercup', 'daisy', 'iris', 'pansy'];
    const a = tmpDir();
    const b = tmpDir();
    copyClasses(a, classes, 5);
    // reversed alphabetical order of the folders, so that path order is reversed too
    copyClasses(b, classes, 5, (c) => `${String.fromCharCode(122 - classes.indexOf(c))}-${c.toUpperCase()}`);
    const ra = await evaluateRetrieval({ dir: a, model: 'phash', config: { threads: 1 } });
    const rb = await evaluateRetrieval({ dir: b, model: 'phash', config: { threads: 1 } });
    expect(ra.tieAware.queriesTiedAtCutoff['10']).toBeGreaterThan(0); // phash has few distinct scores: ties are common
    expect(figures(rb)).toEqual(figures(ra));
  });

  it('10.20 an all-zero embedding (bovw-orb on a blank image) is reported as failed with a reason, never matched', async () => {
    const dir = tmpDir();
    copyClasses(dir, ['daisy', 'sunflower'], 4);
    fs.mkdirSync(path.join(dir, 'blank'));
    const blank = path.join(dir, 'blank', 'blank.png');
    await sharp({ create: { width: 160, height: 160, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toFile(blank);
    const r = await evaluateRetrieval({ dir, model: 'bovw-orb', samples: 2, sampleK: 7, config: { threads: 1 } });
    expect(r.failed).toBe(1);
    expect(r.failures).toEqual([{ path: blank, error: expect.stringMatching(/empty embedding/) }]);
    expect(r.images).toBe(8);
    expect(r.queries).toBe(8);
    for (const s of r.samples) for (const h of s.hits) expect(h.path).not.toBe(blank);
  });
});

describe('evaluateTextRetrieval', () => {
  it('runs COCO captions through a CLIP-family model (color-clip fixture)', async () => {
    const coco = requireShared(path.join(SHARED, 'datasets', 'coco-mini'));
    const r = await evaluateTextRetrieval({
      dir: path.join(coco, 'val2017'),
      captions: path.join(coco, 'annotations', 'captions_val2017.json'),
      model: requireShared(COLOR_CLIP),
      config: { threads: 1 },
    });
    // 159 images in the gallery; captions (5 each) exist for 79 of them, the other 80 are distractors
    expect(r.images).toBe(159);
    expect(r.queries).toBe(395);
    expect(r.recallAt['1']).toBeLessThanOrEqual(r.recallAt['5']);
    expect(r.recallAt['5']).toBeLessThanOrEqual(r.recallAt['10']);
    // colour words carry some signal even in a fixture: better than chance (10/159)
    expect(r.recallAt['10']).toBeGreaterThan(10 / 159);
  });

  it('refuses image-only models', async () => {
    const coco = path.join(SHARED, 'datasets', 'coco-mini');
    await expect(
      evaluateTextRetrieval({ dir: path.join(coco, 'val2017'), captions: path.join(coco, 'annotations', 'captions_val2017.json'), model: 'pixels' }),
    ).rejects.toMatchObject({ code: 'TEXT_NOT_SUPPORTED' });
  });
});
