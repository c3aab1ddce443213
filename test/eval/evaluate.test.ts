import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateRetrieval, evaluateTextRetrieval } from '../../src/eval/evaluate.js';
import { COLOR_CLIP, requireShared, SAMPLES, SHARED, tmpDir } from '../helpers.js';

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
    expect(r.samples.map((s) => s.label).sort()).toEqual(['bluebell', 'daisy']);
    for (const s of r.samples) for (const h of s.hits) if (h.path.includes(`${path.sep}noise${path.sep}`)) expect(h.relevant).toBe(false);
    await expect(
      evaluateRetrieval({ dir, model: 'pixels', labels: { csv, labelColumn: 'nope', pathColumn: 'file' } }),
    ).rejects.toThrow(/no column "nope".*file, kind/);
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
