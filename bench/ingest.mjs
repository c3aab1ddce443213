#!/usr/bin/env node
// npm run bench:ingest [-- <folder>] [--limit N] [--rounds R] [--model mobilenet-v1] [--json]
//
// End-to-end ingest throughput (read + decode + embed + store) next to the model-only ceiling (inference on
// pre-decoded tensors, same images, same run) and decode-only throughput, with their ratios.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadEmbedder, openDatabase, resolveConfig, walkImages } from '../dist/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    limit: { type: 'string', default: '2000' },
    model: { type: 'string', default: 'mobilenet-v1' },
    json: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
  },
});
const folder = path.resolve(positionals[0] ?? path.join(root, '..', 'shared', 'datasets', 'cifar10-test'));
const limit = Number(values.limit);
const log = values.json ? () => {} : (...a) => console.error(...a);

const all = await walkImages(folder);
if (all.length === 0) throw new Error(`no images under ${folder}`);
// An even spread over the folder (classes are in separate sub-folders), the same files for all three measurements.
const step = Math.max(1, Math.floor(all.length / limit));
const files = all.filter((_, i) => i % step === 0).slice(0, limit);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-'));
const subset = path.join(work, 'images');
fs.mkdirSync(subset);
files.forEach((f, i) => fs.symlinkSync(f.path, path.join(subset, `${String(i).padStart(6, '0')}${path.extname(f.path)}`)));
const bytes = files.map((f) => fs.readFileSync(f.path));

const config = resolveConfig();
log(`bench:ingest — ${files.length} images from ${folder}, model ${values.model}, ${os.availableParallelism()} cores,`);
log(`  threads=${config.threads} batch=${config.batchSize} decodeConcurrency=${config.decodeConcurrency} UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}`);
const embedder = await loadEmbedder(values.model, config);

/** Decode + preprocess every image (from memory), as many at once as ingest does; results are dropped. */
async function decodeOnly() {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < bytes.length) await embedder.prepareImage(bytes[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(config.decodeConcurrency, 4) }, worker));
  return bytes.length / ((performance.now() - t0) / 1000);
}

/**
 * Inference only, driven like ingest drives it (`embedder.concurrency` batches in flight): each group of batches
 * is decoded first (not timed), then only `embedPrepared` is timed.
 */
async function modelOnly() {
  const par = embedder.concurrency ?? 1;
  const prep = (from, to) => Promise.all(bytes.slice(from, to).map((b) => embedder.prepareImage(b)));
  await embedder.embedPrepared(await prep(0, config.batchSize)); // warm-up
  let ms = 0;
  for (let i = 0; i < bytes.length; i += config.batchSize * par) {
    const batches = [];
    for (let j = 0; j < par; j++) batches.push(await prep(i + j * config.batchSize, Math.min(bytes.length, i + (j + 1) * config.batchSize)));
    const t0 = performance.now();
    await Promise.all(batches.filter((b) => b.length > 0).map((b) => embedder.embedPrepared(b)));
    ms += performance.now() - t0;
  }
  return bytes.length / (ms / 1000);
}

async function endToEnd() {
  const dbDir = fs.mkdtempSync(path.join(work, 'db-'));
  const db = await openDatabase(dbDir, config);
  const col = await db.collection('bench', { model: values.model });
  const t0 = performance.now();
  const report = await col.indexFolder(subset);
  const secs = (performance.now() - t0) / 1000;
  await col.close();
  await db.close();
  if (report.failed > 0) throw new Error(`${report.failed} images failed: ${report.failures[0]?.error}`);
  return report.added / secs;
}

/** Run `fn`, returning its result and the process's CPU use over it (in cores). */
async function withCpu(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return { value, cores: (c.user + c.system) / 1000 / (performance.now() - t0) };
}
const results = [];
for (let r = 0; r < Number(values.rounds); r++) {
  const d = await withCpu(decodeOnly);
  const m = await modelOnly();
  const e = await withCpu(endToEnd);
  results.push({ decode: d.value, model: m, e2e: e.value });
  log(
    `  round ${r + 1}: decode-only ${d.value.toFixed(1)} img/s (${d.cores.toFixed(2)} cores busy), model-only ${m.toFixed(1)} img/s, ` +
      `end-to-end ${e.value.toFixed(1)} img/s (${e.cores.toFixed(2)} cores busy)`,
  );
}
await embedder.dispose();
fs.rmSync(work, { recursive: true, force: true });

const best = (k) => Math.max(...results.map((x) => x[k]));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
// The ratio is taken within each round (measured side by side), then the median over rounds.
const ratio = median(results.map((x) => x.e2e / x.model));
const out = {
  images: files.length,
  folder,
  model: values.model,
  cores: os.availableParallelism(),
  decodeOnlyImagesPerSecond: +best('decode').toFixed(1),
  modelOnlyImagesPerSecond: +best('model').toFixed(1),
  endToEndImagesPerSecond: +best('e2e').toFixed(1),
  ratioEndToEndToModelOnly: +ratio.toFixed(3),
  rounds: results.map((x) => ({ decodeOnly: +x.decode.toFixed(1), modelOnly: +x.model.toFixed(1), endToEnd: +x.e2e.toFixed(1) })),
  // If decode and inference shared the cores perfectly, e2e = 1 / (1/decode + 1/model).
  serialBoundImagesPerSecond: +(1 / (1 / best('decode') + 1 / best('model'))).toFixed(1),
};
if (values.json) console.log(JSON.stringify(out));
else {
  console.log(`decode-only   ${out.decodeOnlyImagesPerSecond} images/s`);
  console.log(`model-only    ${out.modelOnlyImagesPerSecond} images/s   (ceiling: inference on pre-decoded tensors)`);
  console.log(`end-to-end    ${out.endToEndImagesPerSecond} images/s   (read + decode + embed + store)`);
  console.log(`ratio         ${out.ratioEndToEndToModelOnly}   end-to-end / model-only (median over rounds of the per-round ratio)`);
  console.log(`(no-overlap bound 1/(1/decode+1/model) = ${out.serialBoundImagesPerSecond} images/s)`);
}
