#!/usr/bin/env node
// npm run bench:http [-- --scenario all|id|upload] [--batching both|on|off] [--rounds 1] [--connections 16] [--duration 10] [--json]
//
// Load test of the HTTP API on loopback: builds (once, cached in .bench/) a collection of ≥ 10,000 images
// (../shared/datasets/cifar10-test with mobilenet-v1), starts `buildServer` on 127.0.0.1 and runs autocannon with
// 16 concurrent clients. Scenarios (default: both):
//
// - id:     "more like this" searches by random ids (no embedding).
// - upload: multipart searches, each uploading one cifar10 photo (decoded and embedded by the server), with query
//           batching on (concurrent uploads share inference calls, see src/embed/batcher.ts; the default with CUDA) and off
//           (`batchQueries: false`: one inference call per request), side by side. Next to them, the model-only
//           ceiling measured in the same run (inference on pre-decoded tensors, `batchSize` images per call,
//           `concurrency` calls at once, as bench:ingest's model-only), and upload req/s ÷ model-only images/s
//           (goal ≥ 0.8 with batching). With `--rounds N` each round measures model-only, then both upload runs
//           (their order alternating), and every figure is the median over rounds (ratios: of the per-round ratio),
//           which steadies the numbers on a machine shared with other work.
//
// Prints requests/s and latency percentiles per scenario; `--json`: one JSON object.
//
// `--db DIR --collection NAME`: searches by id only, on an existing collection (e.g. the 1M-vector HNSW collection
// `npm run bench:scale -- --keep` leaves behind), with the server in a process of its own (as deployed: the load
// generator does not share its event loop).
import autocannon from 'autocannon';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../dist/index.js';
import { buildServer } from '../dist/server/app.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    folder: { type: 'string', default: path.join(root, '..', 'shared', 'datasets', 'cifar10-test') },
    model: { type: 'string', default: 'mobilenet-v1' },
    scenario: { type: 'string', default: 'all' },
    batching: { type: 'string', default: 'both' },
    connections: { type: 'string', default: '16' },
    duration: { type: 'string', default: '10' },
    k: { type: 'string', default: '10' },
    uploads: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    db: { type: 'string' },
    collection: { type: 'string' },
  },
});
if (!['all', 'id', 'upload'].includes(values.scenario)) throw new Error(`--scenario must be all, id or upload (got ${values.scenario})`);
if (!['both', 'on', 'off'].includes(values.batching)) throw new Error(`--batching must be both, on or off (got ${values.batching})`);
const connections = Number(values.connections);
const duration = Number(values.duration);
const k = Number(values.k);
const log = values.json ? () => {} : (...a) => console.error(...a);

if (values.db) {
  await existingCollection(values.db, values.collection ?? 'scale');
  process.exit(0);
}

/** Search by random ids on an existing collection, the server (buildServer) in a child process. */
async function existingCollection(location, name) {
  const { spawn } = await import('node:child_process');
  const server = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { openDatabase } from ${JSON.stringify(path.join(root, 'dist', 'index.js'))};
       import { buildServer } from ${JSON.stringify(path.join(root, 'dist', 'server', 'app.js'))};
       const db = await openDatabase(${JSON.stringify(location)}, {}, { create: false });
       const col = await db.openCollection(${JSON.stringify(name)});
       // items with files by their ids; a vectors-only collection (bench:scale's import) has ids row-0 … row-(n−1)
       let ids = (await col.files()).map((f) => f.id);
       if (ids.length === 0) ids = Array.from({ length: await col.count() }, (_, i) => 'row-' + i);
       const app = await buildServer({ db, rateLimit: false, maxConcurrentPerClient: 256 });
       const address = await app.listen({ host: '127.0.0.1', port: 0 });
       const sample = Array.from({ length: 10000 }, (_, i) => ids[Math.floor((i * ids.length) / 10000)]);
       console.log(JSON.stringify({ address, count: ids.length, dimension: col.spec.dimension, index: col.spec.index, vectorType: col.spec.vectorType, ids: sample }));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const first = await new Promise((resolve, reject) => {
    let buf = '';
    server.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]));
    });
    server.on('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
  const { address, ids } = first;
  const check = await fetch(`${address}/v1/collections/${encodeURIComponent(name)}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: ids[0], k }) });
  if (check.status !== 200) throw new Error(`search by id ${ids[0]} answered ${check.status}: ${await check.text()}`);
  const url = `${address}/v1/collections/${encodeURIComponent(name)}/search`;
  const body = (id) => JSON.stringify({ id, k });
  for (const id of ids.slice(0, 200)) await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(id) }); // warm
  let i = 0;
  const result = await searchByIds(url, () => ids[(i++ * 7919) % ids.length]);
  server.kill();
  const out = { vectors: first.count, dimension: first.dimension, index: first.index, vectorType: first.vectorType, connections, durationSeconds: duration, ...result };
  if (values.json) console.log(JSON.stringify(out));
  else {
    console.log(`${connections} clients, ${duration} s, search by id (k=${k}) over ${out.vectors} x ${out.dimension}-d (${JSON.stringify(out.index)}, ${out.vectorType}), server in its own process`);
    console.log(`requests/s   ${out.requestsPerSecond}`);
    console.log(`latency ms   p50 ${out.latencyMs.p50}   p90 ${out.latencyMs.p90}   p99 ${out.latencyMs.p99}   max ${out.latencyMs.max}`);
    console.log(`errors       ${out.errors}   non-2xx ${out.non2xx}`);
  }
}

const dbDir = path.join(root, '.bench', 'http-db');
const db = await openDatabase(dbDir);
const col = await db.collection('bench', { model: values.model });
log(`bench:http — indexing ${values.folder} into ${dbDir} (skipped when already done)…`);
const report = await col.indexFolder(values.folder);
const count = await col.count();
if (count < 10_000) log(`warning: only ${count} images (the target is ≥ 10,000)`);
log(`collection: ${count} images (${report.added} added now), ${col.spec.dimension}-d ${col.spec.embedder.id}`);
const files = await col.files();

let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
function summary(result) {
  return {
    requests: result.requests.total,
    requestsPerSecond: +result.requests.average.toFixed(1),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

/** `connections` clients searching by id (`pick()` chooses each) for `duration` s: the run's summary. */
async function searchByIds(url, pick) {
  const result = await autocannon({
    url,
    connections,
    duration,
    requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: JSON.stringify({ id: pick(), k }) }) }],
  });
  return summary(result);
}

/** Run `fn(address)` against a fresh server built with `opts`; the server is closed afterwards. */
async function withServer(opts, fn) {
  const app = await buildServer({ db, defaultCollection: 'bench', ...opts });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    return await fn(address);
  } finally {
    await app.close();
  }
}

async function idScenario() {
  const ids = files.map((f) => f.id);
  return withServer({}, async (address) => {
    const url = `${address}/v1/collections/bench/search`;
    // warm the collection's index (first search builds it)
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: ids[0], k }) });
    return searchByIds(url, () => ids[Math.floor(rand() * ids.length)]);
  });
}

// The upload pool: photos spread over the whole folder (every class), each as a ready multipart body.
const poolSize = Math.min(Number(values.uploads), files.length);
const pool = Array.from({ length: poolSize }, (_, i) => files[Math.floor((i * files.length) / poolSize)].path);
const poolBytes = pool.map((p) => fs.readFileSync(p));

async function multipartBody(bytes, name) {
  const fd = new FormData();
  fd.append('image', new Blob([bytes]), name);
  fd.append('k', String(k));
  const req = new Request('http://localhost/', { method: 'POST', body: fd });
  return { body: Buffer.from(await req.arrayBuffer()), contentType: req.headers.get('content-type') };
}
const bodies = await Promise.all(poolBytes.map((b, i) => multipartBody(b, path.basename(pool[i]))));

async function uploadScenario(batchQueries) {
  // every client comes from 127.0.0.1: the per-client limits would measure themselves, not the server
  const opts = { batchQueries, rateLimit: false, maxConcurrentPerClient: Math.max(8, connections) };
  return withServer(opts, async (address) => {
    const url = `${address}/v1/collections/bench/search`;
    const send = (b) => fetch(url, { method: 'POST', headers: { 'content-type': b.contentType }, body: b.body });
    // warm-up: loads the server's model and index
    for (let round = 0; round < 2; round++) {
      for (const r of await Promise.all(bodies.slice(round * connections, (round + 1) * connections).map(send))) {
        if (r.status !== 200) throw new Error(`warm-up upload answered ${r.status}: ${await r.text()}`);
      }
    }
    let next = 0;
    const result = await autocannon({
      url,
      connections,
      duration,
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const b = bodies[next++ % bodies.length];
            return { ...req, headers: { ...req.headers, 'content-type': b.contentType }, body: b.body };
          },
        },
      ],
    });
    return summary(result);
  });
}

/** Model-only ceiling: inference on pre-decoded tensors, `batchSize` per call, `concurrency` calls at once, ≥ 2 s. */
async function modelOnly() {
  const embedder = await col.embedder();
  const par = Math.max(1, embedder.concurrency ?? 1);
  const size = db.config.batchSize;
  const prepared = await Promise.all(poolBytes.map((b) => embedder.prepareImage(b)));
  await embedder.embedPrepared(prepared.slice(0, size)); // warm-up
  let ms = 0;
  let images = 0;
  while (ms < 2000) {
    for (let i = 0; i < prepared.length; i += size * par) {
      const batches = [];
      for (let j = 0; j < par; j++) batches.push(prepared.slice(i + j * size, Math.min(prepared.length, i + (j + 1) * size)));
      const t0 = performance.now();
      await Promise.all(batches.filter((b) => b.length > 0).map((b) => embedder.embedPrepared(b)));
      ms += performance.now() - t0;
    }
    images += prepared.length;
  }
  return { imagesPerSecond: +(images / (ms / 1000)).toFixed(1), concurrency: par, batchSize: size };
}

const out = {
  images: count,
  dimension: col.spec.dimension,
  model: col.spec.embedder.id,
  cores: os.availableParallelism(),
  connections,
  durationSeconds: duration,
};
if (values.scenario !== 'upload') {
  log('scenario id: search by random ids…');
  out.id = await idScenario();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
/** Field by field median of several `summary` objects (requests: the total). */
const medianSummary = (list) => ({
  requests: list.reduce((n, s) => n + s.requests, 0),
  requestsPerSecond: median(list.map((s) => s.requestsPerSecond)),
  latencyMs: Object.fromEntries(Object.keys(list[0].latencyMs).map((key) => [key, median(list.map((s) => s.latencyMs[key]))])),
  errors: list.reduce((n, s) => n + s.errors, 0),
  non2xx: list.reduce((n, s) => n + s.non2xx, 0),
});
if (values.scenario !== 'id') {
  const rounds = [];
  const runs = { on: values.batching !== 'off', off: values.batching !== 'on' };
  for (let r = 0; r < Math.max(1, Number(values.rounds)); r++) {
    log(`round ${r + 1}: model-only ceiling over ${poolSize} pre-decoded upload images…`);
    const round = { modelOnly: await modelOnly() };
    for (const on of r % 2 === 0 ? [true, false] : [false, true]) {
      if (!runs[on ? 'on' : 'off']) continue;
      log(`round ${r + 1}: scenario upload, batching ${on ? 'on' : 'off'}…`);
      round[on ? 'upload' : 'uploadUnbatched'] = await uploadScenario(on);
    }
    rounds.push(round);
    log(`round ${r + 1}: model-only ${round.modelOnly.imagesPerSecond} img/s, upload on ${round.upload?.requestsPerSecond ?? '-'} req/s, off ${round.uploadUnbatched?.requestsPerSecond ?? '-'} req/s`);
  }
  const m = rounds[0].modelOnly;
  out.modelOnly = { imagesPerSecond: median(rounds.map((x) => x.modelOnly.imagesPerSecond)), concurrency: m.concurrency, batchSize: m.batchSize };
  if (runs.on) out.upload = medianSummary(rounds.map((x) => x.upload));
  if (runs.off) out.uploadUnbatched = medianSummary(rounds.map((x) => x.uploadUnbatched));
  const ratio = (key) => (runs[key === 'upload' ? 'on' : 'off'] ? +median(rounds.map((x) => x[key].requestsPerSecond / x.modelOnly.imagesPerSecond)).toFixed(3) : undefined);
  out.ratioUploadToModelOnly = ratio('upload');
  out.ratioUnbatchedToModelOnly = ratio('uploadUnbatched');
  out.rounds = rounds.map((x) => ({
    modelOnly: x.modelOnly.imagesPerSecond,
    ...(x.upload ? { upload: x.upload.requestsPerSecond } : {}),
    ...(x.uploadUnbatched ? { uploadUnbatched: x.uploadUnbatched.requestsPerSecond } : {}),
  }));
}
await col.close();
await db.close();

if (values.json) console.log(JSON.stringify(out));
else {
  const line = (name, s) => {
    console.log(`${name.padEnd(24)} ${String(s.requestsPerSecond).padStart(8)} req/s   latency ms p50 ${s.latencyMs.p50}  p90 ${s.latencyMs.p90}  p99 ${s.latencyMs.p99}  max ${s.latencyMs.max}   errors ${s.errors}  non-2xx ${s.non2xx}`);
  };
  console.log(`${connections} clients, ${duration} s each, over ${count} x ${out.dimension}-d (${out.model}), ${out.cores} cores`);
  if (out.id) line(`search by id (k=${k})`, out.id);
  if (out.upload) line('upload, batching on', out.upload);
  if (out.uploadUnbatched) line('upload, batching off', out.uploadUnbatched);
  if (out.modelOnly) {
    const m = out.modelOnly;
    console.log(`${'model-only ceiling'.padEnd(24)} ${String(m.imagesPerSecond).padStart(8)} img/s   (pre-decoded tensors, ${m.batchSize} per call, ${m.concurrency} at once)`);
    if (out.ratioUploadToModelOnly !== undefined) console.log(`ratio upload / model-only, batching on    ${out.ratioUploadToModelOnly}   (goal ≥ 0.8)`);
    if (out.ratioUnbatchedToModelOnly !== undefined) console.log(`ratio upload / model-only, batching off   ${out.ratioUnbatchedToModelOnly}`);
    if (out.rounds.length > 1) console.log(`(medians over ${out.rounds.length} rounds: ${JSON.stringify(out.rounds)})`);
  }
}
