/** Issue 13: compositional queries on the command line (repeatable terms with weights, rclip-style +/-, collapse, crop). */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseTermWords, splitWeight } from '../../src/cli/commands/search.js';
import { fileId } from '../../src/ingest/folder.js';
import { SAMPLES, tmpDir } from '../helpers.js';
import { cli, requireBuiltCli } from './run.js';

describe('term syntax', () => {
  it('splits a trailing :weight, and only a number', () => {
    expect(splitWeight('red:0.5', '--text')).toEqual({ value: 'red', weight: 0.5 });
    expect(splitWeight('a photo: red', '--text')).toEqual({ value: 'a photo: red' });
    expect(splitWeight('x:-2', '--id')).toEqual({ value: 'x', weight: -2 });
    expect(splitWeight('C:\\photos\\a.jpg', '--image')).toEqual({ value: 'C:\\photos\\a.jpg' });
    expect(() => splitWeight('red:0', '--text')).toThrow(/must not be 0/);
  });
  it('reads rclip-style words: files are images, id: prefixes ids, the rest texts; + and - choose the side', () => {
    const file = path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!);
    expect(parseTermWords([file, '+', 'in red:0.5', '-', 'id:abc', '-', 'blurry:2'])).toEqual([
      { image: file },
      { text: 'in red', weight: 0.5 },
      { id: 'abc', weight: -1 },
      { text: 'blurry', weight: -2 },
    ]);
  });
});

describe('lookalike search with several terms', () => {
  const db = path.join(tmpDir(), 'db');
  const copies = tmpDir('lookalike-copies-');
  const daisies = fs.readdirSync(path.join(SAMPLES, 'daisy')).sort().map((f) => path.join(SAMPLES, 'daisy', f));
  const pansies = fs.readdirSync(path.join(SAMPLES, 'pansy')).sort().map((f) => path.join(SAMPLES, 'pansy', f));
  const base = ['--db', db, '--collection', 'c', '--json'];
  const results = async (args: string[]) => {
    const r = await cli(['search', ...base, ...args]);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { results: { id: string; path: string; score: number; folded?: { id: string }[] }[] }).results;
  };

  beforeAll(async () => {
    requireBuiltCli();
    fs.copyFileSync(daisies[0]!, path.join(copies, 'copy.jpg'));
    for (const dir of [SAMPLES, copies]) {
      const r = await cli(['index', dir, '--db', db, '--collection', 'c', '--model', 'color-histogram', '--json']);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);

  it('positives and negatives by id, weights, both strategies; the given ids never come back', async () => {
    for (const strategy of ['average', 'best-score']) {
      const hits = await results(['--id', fileId(daisies[1]!), '--id', `${fileId(daisies[2]!)}:0.5`, '--unlike-id', fileId(pansies[0]!), '--strategy', strategy, '-k', '5']);
      expect(hits).toHaveLength(5);
      const ids = hits.map((h) => h.id);
      for (const f of [daisies[1]!, daisies[2]!, pansies[0]!]) expect(ids).not.toContain(fileId(f));
    }
  });

  it('rclip-style terms equal the flag form', async () => {
    const flags = await results(['--image', daisies[3]!, '--unlike-id', fileId(pansies[1]!), '-k', '6']);
    const words = await results(['-k', '6', '--', daisies[3]!, '-', `id:${fileId(pansies[1]!)}`]);
    expect(words.map((h) => h.id)).toEqual(flags.map((h) => h.id));
  });

  it('--collapse folds the copy into the original (and says so in the table)', async () => {
    const plain = await results(['--image', daisies[0]!, '-k', '3']);
    expect(plain.slice(0, 2).map((h) => h.score)).toEqual([expect.closeTo(1, 4), expect.closeTo(1, 4)]);
    const collapsed = await results(['--image', daisies[0]!, '-k', '3', '--collapse', '0.999']);
    expect(collapsed[0]!.folded).toHaveLength(1);
    expect(collapsed[1]!.score).toBeLessThan(0.999);
    const table = await cli(['search', '--db', db, '--collection', 'c', '--image', daisies[0]!, '-k', '2', '--collapse', '0.999']);
    expect(table.stdout).toMatch(/\(\+1 near-duplicate\)/);
  });

  it('--crop searches with a region of the image; usage errors exit 2', async () => {
    const whole = await results(['--image', daisies[4]!, '--crop', '0,0,1,1', '-k', '1']);
    expect(whole[0]!.id).toBe(fileId(daisies[4]!));
    for (const args of [
      ['--image', daisies[4]!, '--image', daisies[5]!, '--crop', '0,0,1,1'],
      ['--image', daisies[4]!, '--crop', '1,2,3'],
      ['--image', daisies[4]!, '--strategy', 'max'],
      [],
    ]) {
      const r = await cli(['search', ...base, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
    }
    const past = await cli(['search', ...base, '--image', daisies[4]!, '--crop', '0,0,9000,10']);
    expect(past.code).toBe(2); // INVALID_ARGUMENT is a usage error
    expect(JSON.parse(past.stderr || past.stdout)).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/reaches past/) } });
    // a query image that fails while the model is still loading is the command's error, not an unhandled rejection
    const missing = await cli(['search', ...base, '--image', daisies[4]!, '--unlike-image', '/no/such/image.jpg']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr || missing.stdout)).toMatchObject({ error: { code: 'FILE_NOT_FOUND' } });
  });
});
