#!/usr/bin/env node
// npm run bench:ingest [-- <folder>] [--limit N] [--photos N] [--rounds R] [--model mobilenet-v1] [--json]
//
// End-to-end ingest throughput (read + decode + embed + store, `indexFolder` into a fresh embedded store) next to
// decode-only and model-only throughput (inference on pre-decoded tensors), same images, same run, with the
// no-overlap bound 1/(1/decode + 1/model) and the perfect-overlap ceiling min(decode, model).
//
// Scenarios (both by default; a <folder> argument replaces both with that folder unless --photos is given):
//   cifar   — `--limit` (2000) tiny JPEGs spread over ../shared/datasets/cifar10-test (or <folder>)
//   photos  — `--photos` (120) generated 12-megapixel JPEGs (4000x3000 or 3000x4000, quality 90, ≈ 3 MB like a phone
//             photo): real photos from ../shared/datasets (coco-mini, then oxford-flowers17) upscaled with film grain,
//             every second one stored turned and tagged with EXIF orientation 6, 8 or 3 (the autorotate path).
//             Cached under .bench/photos/. `--photos 0` skips them.
// For the photos the decode of the previous release (JPEGs pre-shrunk to cover twice the model input: DCT scaling
// 1/4 for 12 MP) is measured beside the current one (down to once the input when that buys a larger DCT scaling: 1/8).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadEmbedder, openDatabase, resolveConfig, walkImages } from '../dist/index.js';
import { decodeImage } from '../dist/image/decode.js';
import { normalisationTables, resizeToChw } from '../dist/image/resample.js';
import { resizeGeometry } from '../dist/embed/onnx-image.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.join(root, '..', 'shared', 'datasets');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    limit: { type: 'string', default: '2000' },
    photos: { type: 'string' },
    model: { type: 'string', default: 'mobilenet-v1' },
    json: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
  },
});
const log = values.json ? () => {} : (...a) => console.error(...a);
const rounds = Number(values.rounds);
const photoCount = Number(values.photos ?? (positionals[0] ? 0 : 120));

// ---------------------------------------------------------------------------------------------------------------
// Generated 12 MP photos

const PHOTO = { long: 4000, short: 3000, quality: 90, grain: 8 };
const PHOTO_DIR = path.join(root, '.bench', 'photos', `v1-${PHOTO.long}x${PHOTO.short}-q${PHOTO.quality}-g${PHOTO.grain}`);
/** EXIF orientation of photo i and the rotation that, stored, makes it upright once the orientation is applied. */
const ORIENTATIONS = [
  { orientation: 1, angle: 0 },
  { orientation: 6, angle: 270 }, // shown rotated 90° clockwise: stored turned 90° counter-clockwise
  { orientation: 1, angle: 0 },
  { orientation: 8, angle: 90 },
  { orientation: 1, angle: 0 },
  { orientation: 3, angle: 180 },
];

async function photoSources() {
  const list = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(dir, f)) : []);
  const coco = [...list(path.join(shared, 'coco-mini', 'val2017')), ...list(path.join(shared, 'coco-mini', 'train2017'))];
  const flowers = (await walkImages(path.join(shared, 'oxford-flowers17'))).map((f) => f.path);
  return [...coco, ...flowers];
}

/** Film grain (triangular noise, std ≈ sigma) so the JPEG has a real photo's entropy, not an upscale's smoothness. */
function addGrain(data, sigma, seed) {
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const v = data[i] + (((s & 0xff) + ((s >>> 8) & 0xff) - 255) * sigma) / 104;
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

/** Photo i: its path (generated on first use) and its EXIF orientation. */
async function photos(n) {
  fs.mkdirSync(PHOTO_DIR, { recursive: true });
  const sources = await photoSources();
  if (sources.length === 0) throw new Error(`no source photos under ${shared}`);
  const out = [];
  let made = 0;
  for (let i = 0; i < n; i++) {
    const { orientation, angle } = ORIENTATIONS[i % ORIENTATIONS.length];
    const file = path.join(PHOTO_DIR, `photo-${String(i).padStart(4, '0')}-o${orientation}.jpg`);
    if (!fs.existsSync(file)) {
      if (made === 0) log(`  generating 12 MP photos into ${path.relative(root, PHOTO_DIR)} (once; ≈ 1 s each)…`);
      const src = sources[i % sources.length];
      const meta = await sharp(src).metadata();
      const portrait = (meta.height ?? 0) > (meta.width ?? 0);
      const [w, h] = portrait ? [PHOTO.short, PHOTO.long] : [PHOTO.long, PHOTO.short];
      const { data, info } = await sharp(src).rotate().resize(w, h, { fit: 'cover', kernel: 'lanczos3' }).raw().toBuffer({ resolveWithObject: true });
      addGrain(data, PHOTO.grain, i + 1);
      let img = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
      if (angle !== 0) img = img.rotate(angle);
      img = img.jpeg({ quality: PHOTO.quality });
      if (orientation !== 1) img = img.withMetadata({ orientation });
      fs.writeFileSync(`${file}.tmp`, await img.toBuffer());
      fs.renameSync(`${file}.tmp`, file);
      made++;
    }
    out.push({ path: file, orientation });
  }
  if (made > 0) log(`  generated ${made} photos`);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Measurements

const config = resolveConfig();
log(`bench:ingest — model ${values.model}, ${os.availableParallelism()} cores, node ${process.version}, sharp/libvips ${sharp.versions.vips}`);
log(
  `  threads=${config.threads} inferenceWorkers=${config.inferenceWorkers} batch=${config.batchSize} ` +
    `decodeConcurrency=${config.decodeConcurrency} UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}`,
);
const embedder = await loadEmbedder(values.model, config);

/**
 * The previous release's preparation of an `onnx-image` model's input (JPEGs pre-shrunk to cover twice the model
 * input, whatever DCT scaling that allows), for a side-by-side decode figure; undefined for other embedders.
 */
function previousPrepare() {
  const pre = embedder.spec.preprocessing;
  if (embedder.spec.kind !== 'onnx-image' || !pre?.resize) return undefined;
  const luts = normalisationTables(pre.rescale, pre.mean, pre.std);
  const k = pre.kernel;
  const filter = k === 'nearest' ? 'nearest' : k === 'cubic' || k === 'mitchell' ? 'bicubic' : k === 'lanczos3' ? 'lanczos' : 'bilinear';
  return async (bytes) => {
    const img = await decodeImage(bytes, { maxPixels: config.maxPixels, shrinkToCover: { width: 2 * pre.resize.width, height: 2 * pre.resize.height } });
    const { width, height, crop } = resizeGeometry(img.width, img.height, pre);
    return { data: resizeToChw(img, width, height, filter, luts, crop), dims: [1, 3, crop?.height ?? height, crop?.width ?? width] };
  };
}

/** Run `fn`, returning its result and the process's CPU use over it (in cores). */
async function withCpu(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return { value, cores: (c.user + c.system) / 1000 / (performance.now() - t0) };
}

/** Decode + preprocess every image (from memory), as many at once as ingest does; results are dropped. */
async function decodeOnly(bytes, prepare) {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < bytes.length) await prepare(bytes[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(config.decodeConcurrency, 4) }, worker));
  return bytes.length / ((performance.now() - t0) / 1000);
}

/**
 * Inference only, driven like ingest drives it (`embedder.concurrency` batches in flight): each group of batches
 * is decoded first (not timed), then only `embedPrepared` is timed.
 */
async function modelOnly(bytes) {
  const par = embedder.concurrency ?? 1;
  const prep = (from, to) => Promise.all(bytes.slice(from, to).map((b) => embedder.prepareImage(b)));
  await embedder.embedPrepared(await prep(0, config.batchSize)); // warm-up
  let ms = 0;
  let cpu = 0;
  for (let i = 0; i < bytes.length; i += config.batchSize * par) {
    const batches = [];
    for (let j = 0; j < par; j++) batches.push(await prep(i + j * config.batchSize, Math.min(bytes.length, i + (j + 1) * config.batchSize)));
    const t0 = performance.now();
    // inference runs in worker threads: their CPU time is in process.cpuUsage() too
    const c0 = process.cpuUsage();
    await Promise.all(batches.filter((b) => b.length > 0).map((b) => embedder.embedPrepared(b)));
    const c = process.cpuUsage(c0);
    ms += performance.now() - t0;
    cpu += (c.user + c.system) / 1000;
  }
  return { value: bytes.length / (ms / 1000), cores: cpu / ms };
}

async function endToEnd(folder, work) {
  const dbDir = fs.mkdtempSync(path.join(work, 'db-'));
  const db = await openDatabase(dbDir, config);
  const col = await db.collection('bench', { model: values.model });
  const t0 = performance.now();
  const report = await col.indexFolder(folder);
  const secs = (performance.now() - t0) / 1000;
  await col.close();
  await db.close();
  fs.rmSync(dbDir, { recursive: true, force: true });
  if (report.failed > 0) throw new Error(`${report.failed} images failed: ${report.failures[0]?.error}`);
  return report.added / secs;
}

const fmt = (x) => x.toFixed(1);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** One scenario: `files` (paths) measured `rounds` times; returns its report. */
async function scenario(name, source, files, { previous } = {}) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-'));
  const subset = path.join(work, 'images');
  fs.mkdirSync(subset);
  files.forEach((f, i) => fs.symlinkSync(f, path.join(subset, `${String(i).padStart(6, '0')}${path.extname(f)}`)));
  const bytes = files.map((f) => fs.readFileSync(f));
  const mb = bytes.reduce((s, b) => s + b.length, 0) / bytes.length / 1e6;
  const meta = await sharp(bytes[0]).metadata();
  log(`\n[${name}] ${files.length} images from ${source} (first ${meta.width}x${meta.height}, ${mb.toFixed(2)} MB on average)`);
  const prev = previous ? previousPrepare() : undefined;
  // warm-up (first sharp pipelines, JIT) outside the timings
  for (const b of bytes.slice(0, 4)) await Promise.all([embedder.prepareImage(b), prev?.(b)]);
  const results = [];
  for (let r = 0; r < rounds; r++) {
    // the two decodes alternate which goes first (other work on the machine drifts)
    const current = () => withCpu(() => decodeOnly(bytes, (b) => embedder.prepareImage(b)));
    const previous = () => (prev ? withCpu(() => decodeOnly(bytes, prev)) : undefined);
    const p0 = r % 2 === 1 ? await previous() : undefined;
    const d = await current();
    const p = r % 2 === 1 ? p0 : await previous();
    const m = await modelOnly(bytes);
    const e = await withCpu(() => endToEnd(subset, work));
    const x = { decode: d.value, decodeCores: d.cores, model: m.value, modelCores: m.cores, e2e: e.value, e2eCores: e.cores };
    if (p) Object.assign(x, { decodePrevious: p.value, decodePreviousCores: p.cores });
    results.push(x);
    log(
      `  round ${r + 1}: decode-only ${fmt(d.value)} img/s (${d.cores.toFixed(2)} cores, ${fmt((1000 * d.cores) / d.value)} CPU-ms/img)` +
        (p ? `, previous decode ${fmt(p.value)} img/s (${p.cores.toFixed(2)} cores, ${fmt((1000 * p.cores) / p.value)} CPU-ms/img)` : '') +
        `, model-only ${fmt(m.value)} img/s (${m.cores.toFixed(2)} cores, ${fmt((1000 * m.cores) / m.value)} CPU-ms/img)` +
        `, end-to-end ${fmt(e.value)} img/s (${e.cores.toFixed(2)} cores, ${fmt((1000 * e.cores) / e.value)} CPU-ms/img)`,
    );
  }
  fs.rmSync(work, { recursive: true, force: true });

  const best = (k) => Math.max(...results.map((x) => x[k]));
  const bound = (d, m) => 1 / (1 / d + 1 / m);
  // Ratios are taken within each round (measured side by side), then the median over rounds.
  const out = {
    name,
    images: files.length,
    folder: source,
    megabytesPerImage: +mb.toFixed(2),
    model: values.model,
    cores: os.availableParallelism(),
    decodeOnlyImagesPerSecond: +fmt(best('decode')),
    modelOnlyImagesPerSecond: +fmt(best('model')),
    endToEndImagesPerSecond: +fmt(best('e2e')),
    // If decode and inference share the cores without overlapping, e2e = 1 / (1/decode + 1/model).
    noOverlapBoundImagesPerSecond: +fmt(bound(best('decode'), best('model'))),
    // If they overlapped perfectly (each on cores of its own), e2e = min(decode, model).
    perfectOverlapCeilingImagesPerSecond: +fmt(Math.min(best('decode'), best('model'))),
    ratioEndToEndToBound: +median(results.map((x) => x.e2e / bound(x.decode, x.model))).toFixed(3),
    ratioEndToEndToCeiling: +median(results.map((x) => x.e2e / Math.min(x.decode, x.model))).toFixed(3),
    ratioEndToEndToModelOnly: +median(results.map((x) => x.e2e / x.model)).toFixed(3),
    rounds: results.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, +v.toFixed(k.endsWith('Cores') ? 2 : 1)]))),
  };
  // CPU time per image (all threads of the process): steadier than images/s when other work shares the machine.
  const cpuMs = (rate, cores) => median(results.map((x) => (1000 * x[cores]) / x[rate]));
  out.cpuMsPerImage = { decode: +fmt(cpuMs('decode', 'decodeCores')), model: +fmt(cpuMs('model', 'modelCores')), endToEnd: +fmt(cpuMs('e2e', 'e2eCores')) };
  if (prev) out.cpuMsPerImage.decodePrevious = +fmt(cpuMs('decodePrevious', 'decodePreviousCores'));
  if (prev) {
    out.previousDecodeOnlyImagesPerSecond = +fmt(best('decodePrevious'));
    out.previousNoOverlapBoundImagesPerSecond = +fmt(bound(best('decodePrevious'), best('model')));
    out.ratioDecodeToPrevious = +median(results.map((x) => x.decode / x.decodePrevious)).toFixed(3);
  }
  return out;
}

const reports = [];
if (positionals[0] || Number(values.limit) > 0) {
  const folder = path.resolve(positionals[0] ?? path.join(shared, 'cifar10-test'));
  const all = await walkImages(folder);
  if (all.length === 0) throw new Error(`no images under ${folder}`);
  const limit = Number(values.limit);
  // An even spread over the folder (classes are in separate sub-folders), the same files for all measurements.
  const step = Math.max(1, Math.floor(all.length / limit));
  const files = all.filter((_, i) => i % step === 0).slice(0, limit).map((f) => f.path);
  reports.push(await scenario(positionals[0] ? 'folder' : 'cifar', folder, files));
}
if (photoCount > 0) {
  const list = await photos(photoCount);
  const turned = list.filter((p) => p.orientation !== 1).length;
  reports.push(
    await scenario('photos', `${path.relative(root, PHOTO_DIR)} (${turned} of ${list.length} EXIF-rotated)`, list.map((p) => p.path), {
      previous: true,
    }),
  );
}
await embedder.dispose();

if (values.json) {
  // The first scenario's figures stay at the top level (the shape of earlier versions of this bench).
  const { name: _n, rounds: _r, ...first } = reports[0] ?? {};
  console.log(JSON.stringify({ ...first, scenarios: reports }));
} else {
  for (const o of reports) {
    console.log(`\n${o.name}: ${o.images} images, ${o.megabytesPerImage} MB each on average (best of ${rounds} rounds; ratios: median of per-round ratios)`);
    console.log(`  end-to-end        ${o.endToEndImagesPerSecond} images/s   (indexFolder into a fresh embedded store: read + decode + embed + store)`);
    console.log(`  decode-only       ${o.decodeOnlyImagesPerSecond} images/s   (read from memory, decode + preprocess)`);
    if (o.previousDecodeOnlyImagesPerSecond !== undefined) {
      console.log(`  decode, previous  ${o.previousDecodeOnlyImagesPerSecond} images/s   (pre-shrink to 2x the input; current / previous = ${o.ratioDecodeToPrevious})`);
    }
    console.log(`  model-only        ${o.modelOnlyImagesPerSecond} images/s   (inference on pre-decoded tensors)`);
    console.log(`  no-overlap bound  ${o.noOverlapBoundImagesPerSecond} images/s   1/(1/decode+1/model)` +
      (o.previousNoOverlapBoundImagesPerSecond !== undefined ? `; with the previous decode ${o.previousNoOverlapBoundImagesPerSecond}` : ''));
    console.log(`  overlap ceiling   ${o.perfectOverlapCeilingImagesPerSecond} images/s   min(decode, model)`);
    console.log(`  end-to-end / bound = ${o.ratioEndToEndToBound}, / ceiling = ${o.ratioEndToEndToCeiling}, / model-only = ${o.ratioEndToEndToModelOnly}`);
    const c = o.cpuMsPerImage;
    console.log(
      `  CPU-ms per image: decode ${c.decode}` + (c.decodePrevious !== undefined ? ` (previous ${c.decodePrevious})` : '') +
        ` + model ${c.model} = ${+(c.decode + c.model).toFixed(1)}; end-to-end ${c.endToEnd} (median over rounds)`,
    );
  }
}
