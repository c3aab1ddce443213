#!/usr/bin/env node
// npm run bench:region [-- --composites 1000 --queries 300 --tiles 3x3@0.5 --model mobilenet-v1 --seed 7 --json]
//
// Region search, measured: composites are generated from ../shared/datasets/oxford-flowers17 (nothing committed) —
// each places one "target" flower photo at 1/4–1/3 of its area among 3–8 other flowers and colour patches — and are
// indexed twice: one global vector per image, and with tiles. Each query (the target's original photo, and a crop of
// the composite around it) should find its composite: recall@1/@10 with and without tiles, side by side, with the
// index memory and the query time of both.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { openDatabase, walkImages } from '../dist/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    composites: { type: 'string', default: '1000' },
    queries: { type: 'string', default: '300' },
    tiles: { type: 'string', default: '3x3@0.5' },
    model: { type: 'string', default: 'mobilenet-v1' },
    seed: { type: 'string', default: '7' },
    size: { type: 'string', default: '448' },
    json: { type: 'boolean', default: false },
  },
});
const log = values.json ? () => {} : (...a) => console.error(...a);
const N = Number(values.composites);
const Q = Math.min(N, Number(values.queries));
const S = Number(values.size);

let state = Number(values.seed) >>> 0 || 1;
const rand = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

const photos = (await walkImages(path.join(root, '..', 'shared', 'datasets', 'oxford-flowers17'))).map((f) => f.path).sort();
// targets are never used as distractors: a query's photo is in exactly one composite
const shuffled = [...photos].sort(() => rand() - 0.5);
const targets = shuffled.slice(0, Math.min(Q, Math.floor(photos.length / 2)));
const pool = shuffled.slice(targets.length);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-region-'));
const dir = path.join(work, 'composites');
fs.mkdirSync(dir);

log(`bench:region — ${N} composites (${S}×${S}) from ${photos.length} oxford-flowers17 photos, ${targets.length} queries, tiles ${values.tiles}, ${values.model}`);
const truth = []; // per query: composite file, target box (pixels)
const t0 = performance.now();
for (let c = 0; c < N; c++) {
  const layers = [];
  const others = 3 + Math.floor(rand() * 6);
  for (let o = 0; o < others; o++) {
    const side = Math.round(S * (0.2 + rand() * 0.25));
    const left = Math.floor(rand() * (S - side));
    const top = Math.floor(rand() * (S - side));
    const input =
      rand() < 0.75
        ? await sharp(pick(pool)).rotate().resize(side, side, { fit: 'cover' }).toBuffer()
        : await sharp({ create: { width: side, height: side, channels: 3, background: { r: Math.floor(rand() * 256), g: Math.floor(rand() * 256), b: Math.floor(rand() * 256) } } }).png().toBuffer();
    layers.push({ input, left, top });
  }
  const target = c < targets.length ? targets[c] : pick(pool);
  const side = Math.round(S * Math.sqrt(0.25 + rand() * (1 / 3 - 0.25)));
  const box = { x: Math.floor(rand() * (S - side)), y: Math.floor(rand() * (S - side)), w: side, h: side };
  layers.push({ input: await sharp(target).rotate().resize(side, side, { fit: 'cover' }).toBuffer(), left: box.x, top: box.y });
  const file = path.join(dir, `c${String(c).padStart(5, '0')}.jpg`);
  const bg = { r: 90 + Math.floor(rand() * 80), g: 90 + Math.floor(rand() * 80), b: 90 + Math.floor(rand() * 80) };
  await sharp({ create: { width: S, height: S, channels: 3, background: bg } }).composite(layers).jpeg({ quality: 90 }).toFile(file);
  if (c < targets.length) truth.push({ file, target, box });
}
log(`  composites generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const db = await openDatabase(path.join(work, 'db'), {});
const rows = [];
for (const [name, tiles] of [
  ['global only', undefined],
  [`tiles ${values.tiles}`, values.tiles.split(',')],
]) {
  const col = await db.createCollection(tiles ? 'tiled' : 'plain', { model: values.model, ...(tiles ? { tiles } : {}) });
  const ti = performance.now();
  const report = await col.indexFolder(dir);
  const indexSeconds = (performance.now() - ti) / 1000;
  const info = await col.info();
  const score = async (mk) => {
    let r1 = 0;
    let r10 = 0;
    let ms = 0;
    for (const q of truth) {
      const t = performance.now();
      const hits = await col.search(mk(q), { k: 10, includeMetadata: false });
      ms += performance.now() - t;
      const rank = hits.findIndex((h) => h.path === q.file);
      if (rank === 0) r1++;
      if (rank >= 0) r10++;
    }
    return { recallAt1: r1 / truth.length, recallAt10: r10 / truth.length, msPerQuery: ms / truth.length };
  };
  const photo = await score((q) => ({ image: q.target }));
  const crop = await score((q) => ({ image: q.file, crop: q.box }));
  rows.push({ name, vectorsPerImage: info.vectorsPerImage, indexBytes: info.bytesPerImage * info.count, indexSeconds, failed: report.failed, photo, crop });
  log(`  ${name}: indexed ${info.count} in ${indexSeconds.toFixed(1)} s; photo R@10 ${photo.recallAt10.toFixed(3)}, crop R@10 ${crop.recallAt10.toFixed(3)}`);
  await col.close();
}
await db.close();
fs.rmSync(work, { recursive: true, force: true });

if (values.json) {
  console.log(JSON.stringify({ composites: N, queries: truth.length, model: values.model, rows }, null, 2));
} else {
  const f = (x) => x.toFixed(3);
  const [a, b] = rows;
  console.log(`\nregion search: ${truth.length} queries against ${N} composites (target at 1/4–1/3 of the area), ${values.model}, exact search\n`);
  console.log('| index | vectors/image | index MB | photo R@1 | photo R@10 | crop R@1 | crop R@10 | ms/query (photo) | index s |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.vectorsPerImage} | ${(r.indexBytes / 2 ** 20).toFixed(1)} | ${f(r.photo.recallAt1)} | ${f(r.photo.recallAt10)} | ${f(r.crop.recallAt1)} | ${f(r.crop.recallAt10)} | ${r.photo.msPerQuery.toFixed(2)} | ${r.indexSeconds.toFixed(0)} |`,
    );
  }
  console.log(
    `\ntiles vs global: photo R@10 ${b.photo.recallAt10 - a.photo.recallAt10 >= 0 ? '+' : ''}${f(b.photo.recallAt10 - a.photo.recallAt10)}, ` +
      `crop R@10 ${b.crop.recallAt10 - a.crop.recallAt10 >= 0 ? '+' : ''}${f(b.crop.recallAt10 - a.crop.recallAt10)}, ` +
      `${(b.indexBytes / a.indexBytes).toFixed(1)}× index memory, ${(b.photo.msPerQuery / a.photo.msPerQuery).toFixed(1)}× query time`,
  );
}
