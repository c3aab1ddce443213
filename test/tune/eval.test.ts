/**
 * Tuning in `eval`: the train/test split depends only on the images' content and the seed, and a head learnt on the
 * training half never sees a test label — scrambling every test label leaves the learnt transform bit-identical
 * (while the figures, judged on the test labels, change). Data: the sample flowers with color-histogram.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateRetrieval } from '../../src/eval/evaluate.js';
import { walkImages } from '../../src/ingest/walk.js';
import { checkEvalTune, splitItems, splitPosition } from '../../src/tune/eval.js';
import { SAMPLES, tmpDir } from '../helpers.js';

describe('train/test split', () => {
  const items = new Map(Array.from({ length: 1000 }, (_, i) => [`id${i}`, createHash('sha256').update(String(i)).digest('hex')]));

  it('is disjoint, covers every item, takes about the asked share, and is the same every time', () => {
    const { train, test } = splitItems(items, 0.3, 1);
    expect(train.size + test.size).toBe(1000);
    expect([...train].some((id) => test.has(id))).toBe(false);
    expect(train.size).toBeGreaterThan(250);
    expect(train.size).toBeLessThan(350);
    expect(splitItems(items, 0.3, 1)).toEqual({ train, test });
  });

  it('depends on the content and the seed only: not on ids, order or labels', () => {
    const reversed = new Map([...items].reverse().map(([id, key]) => [`other-${id}`, key]));
    const a = splitItems(items, 0.5, 7);
    const b = splitItems(reversed, 0.5, 7);
    expect([...b.train].map((id) => id.slice('other-'.length)).sort()).toEqual([...a.train].sort());
    expect(splitItems(items, 0.5, 8).train).not.toEqual(a.train);
    expect(splitPosition('abc', 1)).toBe(splitPosition('abc', 1));
  });

  it('options are checked before anything is embedded', () => {
    expect(() => checkEvalTune({ lda: true })).toThrow(/needs a train\/test split.*--train-split 0.5/);
    expect(() => checkEvalTune({ trainSplit: 1 })).toThrow(/between 0 and 1/);
    expect(() => checkEvalTune({ trainSplit: 0.5, lda: true, whiten: true })).toThrow(/either whiten or a labelled head/);
  });
});

describe('eval with a labelled head', () => {
  it('never uses a test label: scrambling them all leaves the learnt head identical', async () => {
    const files = (await walkImages(SAMPLES)).map((f) => f.path).sort();
    const key = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    const isTest = (f: string) => splitPosition(key(f), 1) >= 0.5;
    const label = (f: string) => path.basename(path.dirname(f));
    const classes = [...new Set(files.map(label))].sort();
    const csv = (scramble: boolean) => {
      const file = path.join(tmpDir('lookalike-labels-'), 'labels.csv');
      const rows = files.map((f, i) => {
        const l = scramble && isTest(f) ? classes[(i * 7) % classes.length]! : label(f);
        return `${path.relative(SAMPLES, f)},${l}`;
      });
      fs.writeFileSync(file, ['path,label', ...rows].join('\n'));
      return { csv: file, labelColumn: 'label', pathColumn: 'path' };
    };
    const run = (scramble: boolean) =>
      evaluateRetrieval({ dir: SAMPLES, model: 'color-histogram', labels: csv(scramble), trainSplit: 0.5, seed: 1, lda: { power: 1 }, config: { threads: 1 } });

    const honest = await run(false);
    const scrambled = await run(true);
    expect(honest.split).toEqual(scrambled.split);
    expect(honest.split!.train + honest.split!.test).toBe(96);
    expect(honest.split!.test).toBe(files.filter(isTest).length);
    expect(honest.queries).toBe(honest.split!.test); // only test images query
    expect(honest.images).toBe(honest.split!.test); // ... and only they are in the gallery
    expect(honest.tuning!.transform).toMatchObject({ kind: 'lda', learnedFrom: honest.split!.train, outputDimension: classes.length - 1 });
    expect(scrambled.tuning!.transform!.fingerprint).toBe(honest.tuning!.transform!.fingerprint);
    expect(scrambled.precisionAt['10']).not.toBe(honest.precisionAt['10']); // the test labels do judge the results
  }, 120_000);

  it('whitening and re-ranking run through the same evaluation', async () => {
    const base = await evaluateRetrieval({ dir: SAMPLES, model: 'color-histogram', config: { threads: 1 } });
    const tuned = await evaluateRetrieval({ dir: SAMPLES, model: 'color-histogram', whiten: { power: 1 }, rerank: 'aqe', config: { threads: 1 } });
    expect(tuned.tuning!.transform).toMatchObject({ kind: 'whiten', learnedFrom: 96, outputDimension: 128 });
    expect(tuned.queries).toBe(base.queries);
    expect(tuned.precisionAt['10']).not.toBe(base.precisionAt['10']);
    expect(base.tuning).toBeUndefined();
    expect(base.split).toBeUndefined();
  }, 120_000);
});
