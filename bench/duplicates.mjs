#!/usr/bin/env node
// npm run bench:duplicates [-- --n 100000 --dim 256 --index hnsw|flat --json]
// npm run bench:duplicates -- --images [--originals 100 --others 3000 --keep --json]
//
// 1. Scale (default): a synthetic collection of --n unit vectors in clusters of varying density, with planted
//    near-duplicate groups (2–5 noisy copies of an original), in the embedded store with an HNSW index. Reports the
//    time to group them (findDuplicates, the default rule), peak memory, and pair precision/recall against the
//    planted truth. Goal: 100,000 items grouped in under 60 s on 2 cores.
// 2. Quality (--images): edited copies (src/duplicates/bench.ts: resize 50 %, JPEG q30, crop 80 %, horizontal flip,
//    greyscale, rotate 5°, brightness/contrast ±20 %, watermark text, 10 % border) of --originals COCO photos from
//    ../shared/datasets/coco-mini, mixed among the other COCO photos and the fashion-products images (cleaned of their
//    own identical copies), written to a temporary folder. Per-edit recall and pair precision/recall/F1 of: phash
//    Hamming ≤ 10 (imagededup's default), colour-histogram cosine and mobilenet-v1 cosine (each at its best-F1
//    threshold: an oracle, generous to them), and lookalike's rule on mobilenet-v1 without and with --verify.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDatabase, openStore } from '../dist/index.js';
import { EDITS, distinctImages, groupsOfTruth, pairKey, pairsOfGroups, recallPerEdit, scorePairs, writeBenchmarkSet } from '../dist/duplicates/bench.js';
import { findDuplicates } from '../dist/duplicates/find.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    images: { type: 'boolean', default: false },
    n: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '256' },
    index: { type: 'string', default: 'hnsw' },
    ef: { type: 'string' },
    originals: { type: 'string', default: '100' },
    others: { type: 'string', default: '3000' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const log = values.json ? () => {} : (...a) => console.error(...a);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-dup-'));
const mib = (b) => Math.round(b / 2 ** 20);

/** Peak RSS while `fn` runs (sampled every 100 ms). */
async function peakRss(fn) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  try {
    const value = await fn();
    return { value, peak: Math.max(peak, process.memoryUsage().rss) };
  } finally {
    clearInterval(timer);
  }
}

function table(rows, cols) {
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (r) => '| ' + cols.map((c, i) => String(r[c]).padEnd(w[i])).join(' | ') + ' |';
  return [line(Object.fromEntries(cols.map((c) => [c, c]))), '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

// ── 1. scale ──────────────────────────────────────────────────────────────────────────────────────────────────

let seed = 20240601;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
function unit(v) {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return v;
}
/** `base` plus isotropic noise of norm about `sigma`, normalised. */
function noisy(base, sigma) {
  const d = base.length;
  const out = new Float32Array(d);
  const s = sigma / Math.sqrt(d);
  for (let i = 0; i < d; i++) out[i] = base[i] + s * gauss();
  return unit(out);
}

async function scale() {
  const n = Number(values.n);
  const d = Number(values.dim);
  // clusters of varying density: unrelated items score 0.8–0.99 against the others of their cluster (CNN features
  // crowd like that in dense regions); planted copies score 0.98–0.999 against their original, so in the densest
  // clusters some copies are no closer than unrelated neighbours
  const clusters = Array.from({ length: Math.max(1, Math.round(n / 200)) }, () => ({ c: unit(Float32Array.from({ length: d }, gauss)), spread: 0.1 + 0.4 * rand() }));
  const items = [];
  const truth = [];
  let g = 0;
  while (items.length < n) {
    const cl = clusters[Math.floor(rand() * clusters.length)];
    const original = noisy(cl.c, cl.spread);
    const id = `i${items.length}`;
    items.push({ id, vector: original });
    if (rand() < 0.08 && items.length < n - 5) {
      const copies = 1 + Math.floor(rand() * 4);
      const group = [id];
      for (let c = 0; c < copies; c++) {
        const cid = `i${items.length}`;
        items.push({ id: cid, vector: noisy(original, 0.05 + 0.15 * rand()) });
        group.push(cid);
      }
      truth.push(group);
      g++;
    }
  }
  // shuffle so that copies are not inserted next to their originals
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  const embedder = { id: 'synthetic', kind: 'synthetic', model: 'synthetic', revision: '1', dimension: d, modalities: ['image'], preprocessing: {} };
  const index = values.index === 'hnsw' ? { type: 'hnsw', m: 16, efConstruction: 100, ef: 64 } : { type: values.index };
  const store = await openStore(path.join(work, 'db'));
  const col = await store.createCollection({ name: 'synthetic', embedder, dimension: d, metric: 'cosine', vectorType: 'float32', index });
  log(`bench:duplicates — ${n} vectors of ${d} dimensions, ${truth.length} planted groups (${truth.reduce((s, x) => s + x.length, 0)} items), index ${JSON.stringify(index)}, ${os.availableParallelism()} cores`);
  let t = performance.now();
  for (let i = 0; i < items.length; i += 5000) await col.upsert(items.slice(i, i + 5000));
  const insertS = (performance.now() - t) / 1000;
  t = performance.now();
  await col.search(items[0].vector, { k: 1 }); // builds the index
  const indexS = (performance.now() - t) / 1000;
  log(`  insert ${insertS.toFixed(1)} s, index build ${indexS.toFixed(1)} s`);
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  t = performance.now();
  const { value: r, peak } = await peakRss(() =>
    findDuplicates(col, { ...(values.ef ? { ef: Number(values.ef) } : {}), onProgress: (p) => p.done === p.total && log(`  ${p.phase} done (${((performance.now() - t) / 1000).toFixed(1)} s)`) }),
  );
  const groupS = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const key = (a, b) => (a < b ? `${a}\n${b}` : `${b}\n${a}`);
  const truePairs = new Set();
  for (const grp of truth) for (let i = 0; i < grp.length; i++) for (let j = i + 1; j < grp.length; j++) truePairs.add(key(grp[i], grp[j]));
  const predicted = pairsOfGroups(r.groups.map((x) => [x.keeper.id, ...x.duplicates.map((m) => m.id)]));
  let correct = 0;
  for (const p of predicted) if (truePairs.has(p)) correct++;
  const precision = predicted.size ? correct / predicted.size : 1;
  const recall = correct / truePairs.size;
  await store.close();
  const out = {
    items: n,
    dimension: d,
    index,
    plantedGroups: truth.length,
    insertS: +insertS.toFixed(1),
    indexBuildS: +indexS.toFixed(1),
    groupS: +groupS.toFixed(1),
    cpuS: +((cpu.user + cpu.system) / 1e6).toFixed(1),
    rssBeforeMiB: mib(rssBefore),
    peakRssMiB: mib(peak),
    threshold: +r.threshold.toFixed(4),
    groups: r.totalGroups,
    candidatePairs: r.stats.candidatePairs,
    precision: +precision.toFixed(4),
    recall: +recall.toFixed(4),
    f1: +((2 * precision * recall) / (precision + recall)).toFixed(4),
  };
  if (values.json) console.log(JSON.stringify(out));
  else {
    console.log(table([out], ['items', 'groupS', 'cpuS', 'peakRssMiB', 'threshold', 'groups', 'precision', 'recall', 'f1']));
    console.log(`(insert ${out.insertS} s and index build ${out.indexBuildS} s not included; RSS before grouping ${out.rssBeforeMiB} MiB)`);
  }
}

// ── 2. quality on images ──────────────────────────────────────────────────────────────────────────────────────

const list = (dir) =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? list(path.join(dir, e.name)) : /\.(jpe?g|png)$/iu.test(e.name) ? [path.join(dir, e.name)] : []))
    .sort();

/** Pairs with their scores from each item's nearest neighbours (exact search), for the threshold baselines. */
async function scoredPairs(col, paths, k = 30) {
  const out = new Map();
  for await (const batch of col.scanVectors(500)) {
    for (const { id, vector } of batch) {
      for (const h of await col.search(vector, { k, excludeIds: [id], includeMetadata: false, exact: true })) {
        const p = pairKey(paths.get(id), paths.get(h.id));
        out.set(p, Math.max(out.get(p) ?? -2, h.score));
      }
    }
  }
  return out;
}

/** The threshold with the best F1 over these scored pairs (an oracle), and the pairs it keeps. */
function bestThreshold(scored, truth) {
  const group = new Map(truth.map((t) => [t.path, t.group]));
  const truePairs = pairsOfGroups(groupsOfTruth(truth)).size;
  const sorted = [...scored].sort((a, b) => b[1] - a[1]);
  let tp = 0;
  let best = { f1: -1, i: 0 };
  sorted.forEach(([p], i) => {
    const [a, b] = p.split('\n');
    if (group.get(a) !== null && group.get(a) === group.get(b)) tp++;
    const prec = tp / (i + 1);
    const rec = tp / truePairs;
    const f1 = prec + rec ? (2 * prec * rec) / (prec + rec) : 0;
    if (f1 > best.f1) best = { f1, i };
  });
  return { threshold: sorted[best.i]?.[1] ?? 1, pairs: new Set(sorted.slice(0, best.i + 1).map(([p]) => p)) };
}

async function images() {
  const D = path.join(root, '..', 'shared', 'datasets');
  for (const need of ['coco-mini', 'fashion-products']) if (!fs.existsSync(path.join(D, need))) throw new Error(`missing ${path.join(D, need)} (../shared)`);
  const coco = list(path.join(D, 'coco-mini'));
  const nOrig = Math.min(Number(values.originals), coco.length);
  const step = Math.floor(coco.length / nOrig);
  const originals = coco.filter((_, i) => i % step === 0).slice(0, nOrig);
  const chosen = new Set(originals);
  const pool = [...coco.filter((p) => !chosen.has(p)), ...list(path.join(D, 'fashion-products', 'images'))];
  const distinct = await distinctImages(pool);
  const others = distinct.slice(0, Number(values.others));
  const dir = path.join(work, 'images');
  let t = performance.now();
  const truth = await writeBenchmarkSet(dir, originals, others);
  log(`bench:duplicates --images — ${originals.length} originals × ${EDITS.length} edits among ${others.length} other images (${pool.length - distinct.length} identical copies left out of the pool) in ${dir} (${((performance.now() - t) / 1000).toFixed(0)} s)`);
  const db = await openDatabase(path.join(work, 'db'));
  const cols = {};
  for (const model of ['phash', 'color-histogram', 'mobilenet-v1']) {
    t = performance.now();
    const c = await db.createCollection(model.replace(/[^a-z0-9]/gu, '_'), { model });
    await c.indexFolder(dir);
    cols[model] = c;
    log(`  indexed with ${model} in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  await db.close();
  const store = await openStore(path.join(work, 'db'));
  const paths = new Map();
  const raw = {};
  for (const model of Object.keys(cols)) {
    raw[model] = await store.getCollection(model.replace(/[^a-z0-9]/gu, '_'));
    for await (const batch of raw[model].scanVectors(1000)) for (const { id } of batch) if (!paths.has(id)) paths.set(id, (await raw[model].get(id)).path);
  }
  const rows = [];
  const add = (method, pairs, extra = {}) => {
    const s = scorePairs(pairs, truth);
    const planted = new Set(truth.filter((x) => x.group !== null).map((x) => x.path));
    const sp = scorePairs(new Set([...pairs].filter((p) => p.split('\n').some((x) => planted.has(x)))), truth);
    const per = recallPerEdit(pairs, truth);
    rows.push({ method, ...Object.fromEntries(EDITS.map((e) => [e, per[e].toFixed(2)])), P: s.precision.toFixed(3), R: s.recall.toFixed(3), F1: s.f1.toFixed(3), 'P planted': sp.precision.toFixed(3), ...extra });
    log(`  ${method}: P ${s.precision.toFixed(3)} R ${s.recall.toFixed(3)} F1 ${s.f1.toFixed(3)}`);
  };
  // phash, Hamming ≤ 10 over all pairs (imagededup's PHash default max_distance_threshold)
  const hashes = [];
  for await (const batch of raw.phash.scanVectors(1000)) for (const { id, vector } of batch) hashes.push({ p: paths.get(id), bits: vector.map((x) => (x > 0 ? 1 : 0)) });
  const ph = new Set();
  for (let i = 0; i < hashes.length; i++) {
    for (let j = i + 1; j < hashes.length; j++) {
      let h = 0;
      const a = hashes[i].bits;
      const b = hashes[j].bits;
      for (let x = 0; x < 64 && h <= 10; x++) h += a[x] ^ b[x];
      if (h <= 10) ph.add(pairKey(hashes[i].p, hashes[j].p));
    }
  }
  add('phash Hamming ≤ 10', ph, { threshold: 'h ≤ 10' });
  for (const model of ['color-histogram', 'mobilenet-v1']) {
    const best = bestThreshold(await scoredPairs(raw[model], paths), truth);
    add(`${model} cosine (best-F1 threshold)`, best.pairs, { threshold: best.threshold.toFixed(4) });
  }
  for (const verify of [false, true]) {
    t = performance.now();
    const r = await findDuplicates(raw['mobilenet-v1'], { verify });
    const s = (performance.now() - t) / 1000;
    const pairs = pairsOfGroups(r.groups.map((g) => [g.keeper, ...g.duplicates].map((m) => m.path)));
    add(`lookalike mobilenet-v1${verify ? ' --verify' : ''}`, pairs, { threshold: `${r.threshold.toFixed(4)}${r.auto ? ' auto' : ''}`, seconds: s.toFixed(0) });
  }
  await store.close();
  if (values.json) console.log(JSON.stringify({ originals: originals.length, edits: EDITS, others: others.length, images: truth.length, rows }));
  else {
    console.log(`${originals.length} originals × ${EDITS.length} edits + ${others.length} other images = ${truth.length} images; recall per edit = share of copies grouped with their original`);
    console.log(table(rows.map((r) => ({ seconds: '', ...r })), ['method', ...EDITS, 'P', 'R', 'F1', 'P planted', 'threshold', 'seconds']));
  }
}

try {
  await (values.images ? images() : scale());
} finally {
  if (!values.keep) fs.rmSync(work, { recursive: true, force: true });
  else log(`kept ${work}`);
}
