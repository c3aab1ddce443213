/** A small real collection with planted copies, shared by the CLI and HTTP tests of near-duplicates. */
import fs from 'node:fs';
import path from 'node:path';
import { applyEdit, type EditName } from '../../src/duplicates/bench.js';
import { openDatabase } from '../../src/lookalike.js';
import { SAMPLES, tmpDir } from '../helpers.js';

export interface DuplicateFixture {
  readonly db: string;
  readonly images: string;
  /** Planted groups: the original's file name first, then its copies'. */
  readonly groups: readonly (readonly string[])[];
  /** An edited copy of an original that is not in the collection (for checks). */
  readonly outsider: Buffer;
  /** A photo of the collection's kind that has no copy in it. */
  readonly stranger: Buffer;
}

const sample = (cls: string, i: number) => {
  const dir = path.join(SAMPLES, cls);
  return path.join(dir, fs.readdirSync(dir).sort()[i]!);
};

/** 3 originals with 3 copies each, among 8 other flower photos; indexed with mobilenet-v1 (flat index). */
export async function duplicateFixture(): Promise<DuplicateFixture> {
  const root = tmpDir('lookalike-dups-');
  const images = path.join(root, 'images');
  fs.mkdirSync(images);
  const groups: string[][] = [];
  const plan: [string, number, EditName[]][] = [
    ['daisy', 0, ['resize50', 'hflip', 'border']],
    ['sunflower', 1, ['jpeg30', 'crop80', 'text']],
    ['iris', 2, ['grey', 'rotate5', 'brighter']],
  ];
  for (const [cls, i, edits] of plan) {
    const src = sample(cls, i);
    const name = `${cls}-${i}.jpg`;
    fs.copyFileSync(src, path.join(images, name));
    const group = [name];
    for (const e of edits) {
      const copy = `${cls}-${i}-${e}.jpg`;
      fs.writeFileSync(path.join(images, copy), await applyEdit(src, e));
      group.push(copy);
    }
    groups.push(group);
  }
  for (const cls of ['bluebell', 'buttercup', 'colts-foot', 'dandelion', 'fritillary', 'pansy', 'tigerlily', 'windflower']) {
    fs.copyFileSync(sample(cls, 3), path.join(images, `${cls}-3.jpg`));
  }
  const db = path.join(root, 'db');
  const d = await openDatabase(db, { threads: 1 });
  try {
    const c = await d.createCollection('photos', { model: 'mobilenet-v1' });
    await c.indexFolder(images);
  } finally {
    await d.close();
  }
  return {
    db,
    images,
    groups,
    outsider: await applyEdit(sample('daisy', 0), 'darker'),
    stranger: fs.readFileSync(sample('lily-valley', 0)),
  };
}
