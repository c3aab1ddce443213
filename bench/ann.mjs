#!/usr/bin/env node
// npm run bench:ann [-- --only exact|hnsw --sizes 100000,1000000 --dim 512 --queries-ann 1000 --sets bigann,fashion --json]
// npm run bench:ann -- --filters   (filtered HNSW at 50/10/1/0.1% selectivity: see bench/ann-filters.mjs)
//
// 1. Exact search at memory speed: lookalike's FlatIndex (WebAssembly SIMD kernel) on synthetic clustered float32
//    vectors, next to a native memory-bandwidth baseline measured in the same run (TypedArray.prototype.set copying
//    the same bytes: memcpy) and a plain JavaScript dot-product loop. Also batched (four queries per pass) search,
//    the scan split over all cores (worker threads, src/ann/scan-pool.ts) next to usearch's native multi-threaded
//    `exactSearch` on the same vectors, and float16 / int8 rows next to float32 (one thread and all cores).
// 2. HNSW: lookalike's HnswIndex (usearch) and hnswlib-node (the peer) with the same M / efConstruction / ef on
//    real vector sets — ../shared/datasets/bigann10k (128-d SIFT, ground truth included) and Fashion-MNIST 784-d
//    (Debian package dataset-fashion-mnist; ground truth = exact search) — one query at a time, one thread:
//    recall@10, queries/s, build time, index size, and lookalike/hnswlib QPS ratios at matched recall.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { FlatIndex, int8Scales } from '../dist/ann/flat.js';
import { HnswIndex } from '../dist/ann/hnsw.js';
import { DerivedFiles } from '../dist/ann/files.js';
import { IvfIndex } from '../dist/ann/ivf.js';
import { RandomProjection } from '../dist/ann/projection.js';
import { TopK } from '../dist/ann/kernels.js';
import { configureSearchThreads, scanPoolStats } from '../dist/ann/scan-pool.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    dim: { type: 'string', default: '512' },
    queries: { type: 'string', default: '20' },
    batch: { type: 'string', default: '64' },
    only: { type: 'string', default: '' },
    'queries-ann': { type: 'string', default: '1000' },
    sets: { type: 'string', default: 'bigann,fashion' }, // HNSW sets: bigann (bigann10k), fashion (Fashion-MNIST, L2 and cosine)
    m: { type: 'string', default: '16' },
    'ef-construction': { type: 'string', default: '200' },
    efs: { type: 'string', default: '10,20,40,80,160' },
    json: { type: 'boolean', default: false },
    filters: { type: 'boolean', default: false },
    quantized: { type: 'boolean', default: true },
    'filter-size': { type: 'string' },
    'filter-dim': { type: 'string' },
    'filter-queries': { type: 'string' },
  },
});
if (values.filters) {
  await import('./ann-filters.mjs'); // filtered HNSW: its own measurement (see that file)
  process.exit(0);
}
const d = Number(values.dim);
const log = values.json ? () => {} : (...a) => console.error(...a);

let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
function clustered(n, d, clusters = 64) {
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: d }, () => rand() * 2 - 1));
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = centres[i % clusters];
    let s = 0;
    for (let j = 0; j < d; j++) {
      const x = c[j] + (rand() - 0.5) * 0.6;
      out[i * d + j] = x;
      s += x * x;
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < d; j++) out[i * d + j] *= inv;
  }
  return out;
}

function time(fn, reps) {
  fn(); // warm
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) fn();
  return (performance.now() - t0) / reps;
}

function jsDot(q, data, n, d, out) {
  for (let r = 0, o = 0; r < n; r++) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = 0; i < d; i += 4, o += 4) {
      s0 += q[i] * data[o]; s1 += q[i + 1] * data[o + 1]; s2 += q[i + 2] * data[o + 2]; s3 += q[i + 3] * data[o + 3];
    }
    out[r] = s0 + s1 + s2 + s3;
  }
}

const results = [];
const cores = os.availableParallelism();
const usearchExact = createRequire(import.meta.url)('usearch');
/** Mean ms of `fn` with the scan on `threads` threads; with more than one, first until the workers take parts. */
async function timeThreads(threads, fn, reps) {
  configureSearchThreads(threads);
  if (threads > 1) {
    const before = scanPoolStats().workerParts;
    for (let i = 0; i < 200 && scanPoolStats().workerParts === before; i++) {
      fn();
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const ms = time(fn, reps);
  configureSearchThreads(1);
  return ms;
}
configureSearchThreads(1); // "one thread" rows; timeThreads switches to all cores where measured
for (const n of values.only === 'hnsw' ? [] : values.sizes.split(',').map(Number)) {
  log(`generating ${n} x ${d} clustered vectors…`);
  const data = clustered(n, d);
  configureSearchThreads(cores);
  const index = new FlatIndex(d, n);
  configureSearchThreads(1);
  for (let i = 0; i < n; i++) index.upsert(i, data.subarray(i * d, (i + 1) * d));
  const bytes = n * index.stride * 4;
  const queries = Array.from({ length: Number(values.queries) }, (_, i) => data.slice(((i * 7919) % n) * d, ((i * 7919) % n) * d + d));
  let qi = 0;
  // built with all cores configured, so its rows live in shared memory; measured first on one thread, then on all
  const single = time(() => index.search(queries[qi++ % queries.length], 10), queries.length);
  const allCores = await timeThreads(cores, () => index.search(queries[qi++ % queries.length], 10), queries.length);
  const native = time(() => usearchExact.exactSearch(data, queries[qi++ % queries.length], d, 10, usearchExact.MetricKind.IP, cores), Math.min(10, queries.length));
  const copyDst = new Float32Array(n * d);
  const memcpy = time(() => copyDst.set(data), 5);
  const scores = new Float32Array(n);
  const js = time(() => jsDot(queries[0], data, n, d, scores), 3);
  const batchQs = Array.from({ length: Number(values.batch) }, (_, i) => queries[i % queries.length]);
  const batch = time(() => index.searchBatch(batchQs, 10), 2) / batchQs.length;
  const r = {
    vectors: n,
    dim: d,
    bytes,
    singleQueryMs: +single.toFixed(2),
    singleQueryGBps: +(bytes / single / 1e6).toFixed(2),
    memcpyGBps: +((n * d * 4) / memcpy / 1e6).toFixed(2),
    plainJsGBps: +((n * d * 4) / js / 1e6).toFixed(2),
    batchedPerQueryMs: +batch.toFixed(3),
    threads: cores,
    allCoresMs: +allCores.toFixed(2),
    allCoresGBps: +(bytes / allCores / 1e6).toFixed(2),
    threadSpeedup: +(single / allCores).toFixed(2),
    usearchExactMs: +native.toFixed(2),
    ratioToUsearchExact: +(native / allCores).toFixed(2),
  };
  // compact vectors: recall@10 against float32 exact, with and without re-scoring 40 candidates in float32
  if (n <= 200_000) {
    const rows = (function* () {
      for (let i = 0; i < n; i++) yield data.subarray(i * d, (i + 1) * d);
    })();
    const scales = int8Scales(rows, d);
    const nq = Math.min(100, queries.length * 5);
    const qs = Array.from({ length: nq }, (_, i) => data.slice(((i * 104729) % n) * d, ((i * 104729) % n) * d + d).map((x, j) => x + ((i + j) % 7 === 0 ? 0.01 : 0)));
    const truth = qs.map((q) => index.search(q, 10).map((h) => h.key));
    const rescore = (q, hits) =>
      hits
        .map((h) => {
          let s = 0;
          for (let j = 0; j < d; j++) s += q[j] * data[h.key * d + j];
          return { key: h.key, score: s };
        })
        .sort((a, b) => b.score - a.score)
        .slice(0, 10);
    const recall = (res) => res.reduce((acc, hits, i) => acc + hits.filter((h) => truth[i].includes(h.key)).length / 10, 0) / res.length;
    r.compact = {};
    for (const encoding of ['float16', 'int8']) {
      const ix = new FlatIndex(d, n, 'ip', { encoding, ...(encoding === 'int8' ? { int8Scales: scales } : {}) });
      for (let i = 0; i < n; i++) ix.upsert(i, data.subarray(i * d, (i + 1) * d));
      let t0 = performance.now();
      const raw = qs.map((q) => ix.search(q, 10));
      const rawMs = (performance.now() - t0) / nq;
      t0 = performance.now();
      const res = qs.map((q) => rescore(q, ix.search(q, 40)));
      const reMs = (performance.now() - t0) / nq;
      r.compact[encoding] = {
        bytesPerVector: ix.bytesPerVector,
        recallAt10: +recall(raw).toFixed(4),
        recallAt10Rescored: +recall(res).toFixed(4),
        msPerQuery: +rawMs.toFixed(2),
        msPerQueryRescored: +reMs.toFixed(2),
      };
    }
    r.compact.float32 = { bytesPerVector: index.bytesPerVector, recallAt10: 1, msPerQuery: +single.toFixed(2) };
    log(`  compact vectors (${nq} queries): ${JSON.stringify(r.compact)}`);

    // random projection to d/4 dimensions (scan), 40 candidates re-scored in float32
    const proj = new RandomProjection(d, d / 4, 1);
    const pix = new FlatIndex(d / 4, n);
    for (let i = 0; i < n; i++) pix.upsert(i, proj.apply(data.subarray(i * d, (i + 1) * d)));
    let t0 = performance.now();
    const pres = qs.map((q) => rescore(q, pix.search(proj.apply(q), 40)));
    r.projection = { dims: d / 4, bytesPerVector: pix.bytesPerVector, recallAt10Rescored: +recall(pres).toFixed(4), msPerQuery: +((performance.now() - t0) / nq).toFixed(2) };

    // IVF: nlist = √n lists, several nprobe
    const nlist = Math.round(Math.sqrt(n));
    t0 = performance.now();
    const sample = Array.from({ length: Math.min(n, 20_000) }, (_, i) => data.slice(((i * 7) % n) * d, ((i * 7) % n) * d + d));
    const ivf = IvfIndex.create(d, { nlist, nprobe: 8 }, sample);
    for (let i = 0; i < n; i++) ivf.upsert(i, data.subarray(i * d, (i + 1) * d));
    const build = (performance.now() - t0) / 1000;
    r.ivf = { nlist, buildSeconds: +build.toFixed(1), settings: [] };
    for (const nprobe of [4, 8, 16, 32]) {
      t0 = performance.now();
      const res = qs.map((q) => ivf.search(q, 10, nprobe));
      r.ivf.settings.push({ nprobe, recallAt10: +recall(res).toFixed(4), msPerQuery: +((performance.now() - t0) / nq).toFixed(2) });
    }
    log(`  projection: ${JSON.stringify(r.projection)}; ivf: ${JSON.stringify(r.ivf)}`);
  }
  else {
    // large: the compact scans' speed only (no recall), each type next to float32 in this run
    const scales = int8Scales(
      (function* () {
        for (let i = 0; i < n; i++) yield data.subarray(i * d, (i + 1) * d);
      })(),
      d,
    );
    r.compact = { float32: { bytesPerVector: index.bytesPerVector, msPerQuery: +single.toFixed(2) } };
    r.compact.float32.msPerQueryAllCores = r.allCoresMs;
    for (const encoding of ['float16', 'int8']) {
      configureSearchThreads(cores);
      const ix = new FlatIndex(d, n, 'ip', { encoding, ...(encoding === 'int8' ? { int8Scales: scales } : {}) });
      configureSearchThreads(1);
      for (let i = 0; i < n; i++) ix.upsert(i, data.subarray(i * d, (i + 1) * d));
      const ms = time(() => ix.search(queries[qi++ % queries.length], 10), Number(values.queries));
      const msAll = await timeThreads(cores, () => ix.search(queries[qi++ % queries.length], 10), Number(values.queries));
      r.compact[encoding] = {
        bytesPerVector: ix.bytesPerVector,
        msPerQuery: +ms.toFixed(2),
        speedupOverFloat32: +(single / ms).toFixed(2),
        msPerQueryAllCores: +msAll.toFixed(2),
        speedupOverFloat32AllCores: +(allCores / msAll).toFixed(2),
      };
    }
    log(`  compact vectors: ${JSON.stringify(r.compact)}`);
  }
  r.ratioToMemcpy = +(r.singleQueryGBps / r.memcpyGBps).toFixed(2);
  r.ratioToPlainJs = +(r.singleQueryGBps / r.plainJsGBps).toFixed(2);
  r.batchSpeedup = +(single / batch).toFixed(2);
  results.push(r);
  log(
    `${n} x ${d}: one query ${r.singleQueryMs} ms = ${r.singleQueryGBps} GB/s | memcpy ${r.memcpyGBps} GB/s | plain JS loop ${r.plainJsGBps} GB/s` +
      ` | ratio to memcpy ${r.ratioToMemcpy}, to JS ${r.ratioToPlainJs} | batched ${r.batchedPerQueryMs} ms/query (${r.batchSpeedup}x)` +
      ` | ${cores} threads ${r.allCoresMs} ms (${r.threadSpeedup}x), usearch exactSearch ${r.usearchExactMs} ms (ours ${r.ratioToUsearchExact}x as fast)`,
  );
}

// ---------------------------------------------------------------- HNSW vs hnswlib-node
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function readVecs(file, type) {
  const buf = fs.readFileSync(file);
  const dim = buf.readInt32LE(0);
  const rowBytes = 4 + dim * (type === 'b' ? 1 : 4);
  const n = buf.length / rowBytes;
  const out = type === 'b' ? new Float32Array(n * dim) : new Int32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) out[i * dim + j] = type === 'b' ? buf[i * rowBytes + 4 + j] : buf.readInt32LE(i * rowBytes + 4 + j * 4);
  }
  return { n, dim, data: out };
}

function readIdx(file) {
  const buf = gunzipSync(fs.readFileSync(file));
  const n = buf.readInt32BE(4);
  const dim = buf.readInt32BE(8) * buf.readInt32BE(12);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n * dim; i++) data[i] = buf[16 + i];
  return { n, dim, data };
}

/** Exact L2 top-k (ground truth) with the SIMD kernel: ‖x‖² − 2 q·x ranks like ‖q − x‖². */
function exactL2(base, queries, nq, k) {
  const { n, dim, data } = base;
  const flat = new FlatIndex(dim, n);
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const row = data.subarray(i * dim, (i + 1) * dim);
    flat.upsert(i, row);
    let s = 0;
    for (let j = 0; j < dim; j++) s += row[j] * row[j];
    norms[i] = s;
  }
  const keys = flat.keysSnapshot();
  const gt = [];
  for (let q = 0; q < nq; q++) {
    const scores = flat.scoreAll(queries.data.subarray(q * dim, (q + 1) * dim));
    const top = new TopK(k);
    for (let s = 0; s < scores.length; s++) top.push(2 * scores[s] - norms[keys[s]], keys[s]);
    gt.push(top.sorted().map((h) => h.id));
  }
  return gt;
}

function recallAt10(results, gt) {
  let r = 0;
  for (let q = 0; q < results.length; q++) {
    const truth = new Set(gt[q].slice(0, 10));
    r += results[q].filter((id) => truth.has(id)).length / 10;
  }
  return r / results.length;
}

function fileSize(fn) {
  const f = path.join(os.tmpdir(), `lookalike-ann-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    fn(f);
    return fs.statSync(f).size;
  } finally {
    fs.rmSync(f, { force: true });
  }
}

/** Bytes of an HnswIndex saved the way the store saves it. */
function graphSize(index) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-ann-'));
  try {
    const files = new DerivedFiles(dir, 'g');
    index.save(files, 0);
    return fs.statSync(files.path('hnsw.usearch')).size;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The best q/s among a curve's settings that reach at least this recall (undefined when none does). */
function bestQpsAtRecall(curve, recall) {
  const ok = curve.filter((p) => p.recall >= recall - 1e-9);
  return ok.length ? Math.max(...ok.map((p) => p.qps)) : undefined;
}

const annResults = [];
if (values.only !== 'exact') {
  const { HierarchicalNSW } = createRequire(import.meta.url)('hnswlib-node');
  const M = Number(values.m);
  const efC = Number(values['ef-construction']);
  const efs = values.efs.split(',').map(Number);
  const sets = [];
  const bigann = path.join(root, '..', 'shared', 'datasets', 'bigann10k');
  const wanted = values.sets.split(',');
  if (!wanted.includes('bigann')) log('bigann10k: not asked for (--sets)');
  else if (fs.existsSync(bigann)) {
    const base = readVecs(path.join(bigann, 'bigann10k_base.bvecs'), 'b');
    const queries = readVecs(path.join(bigann, 'bigann10k_query.bvecs'), 'b');
    const gtv = readVecs(path.join(bigann, 'bigann10k_groundtruth.ivecs'), 'i');
    const gt = Array.from({ length: queries.n }, (_, q) => Array.from(gtv.data.subarray(q * gtv.dim, q * gtv.dim + 10)));
    sets.push({ name: 'bigann10k (SIFT 128-d, L2)', metric: 'l2', base, queries, nq: queries.n, gt });
  } else log(`skipping bigann10k: ${bigann} not found`);
  const fm = '/usr/share/datasets/fashion-mnist';
  if (!wanted.includes('fashion')) log('Fashion-MNIST: not asked for (--sets)');
  else if (fs.existsSync(path.join(fm, 'train-images-idx3-ubyte.gz'))) {
    log('loading Fashion-MNIST…');
    const base = readIdx(path.join(fm, 'train-images-idx3-ubyte.gz'));
    const queries = readIdx(path.join(fm, 't10k-images-idx3-ubyte.gz'));
    const nq = Math.min(queries.n, Number(values['queries-ann']));
    log(`computing exact ground truth for ${nq} queries…`);
    sets.push({ name: 'fashion-mnist (784-d, L2)', metric: 'l2', base, queries, nq, gt: exactL2(base, queries, nq, 10) });
    // the same set as a lookalike collection holds it: L2-normalised, cosine (an int8 graph needs values in −1…1)
    const unit = (set) => {
      const data = set.data.slice();
      for (let i = 0; i < set.n; i++) {
        let t = 0;
        for (let j = i * set.dim; j < (i + 1) * set.dim; j++) t += data[j] * data[j];
        const inv = t > 0 ? 1 / Math.sqrt(t) : 0;
        for (let j = i * set.dim; j < (i + 1) * set.dim; j++) data[j] *= inv;
      }
      return { ...set, data };
    };
    const ubase = unit(base);
    const uqueries = unit(queries);
    const flat = new FlatIndex(ubase.dim, ubase.n);
    for (let i = 0; i < ubase.n; i++) flat.upsert(i, ubase.data.subarray(i * ubase.dim, (i + 1) * ubase.dim));
    const gt = Array.from({ length: nq }, (_, q) => flat.search(uqueries.data.subarray(q * ubase.dim, (q + 1) * ubase.dim), 10).map((h) => h.key));
    sets.push({ name: 'fashion-mnist (784-d, normalised, cosine)', metric: 'cos', base: ubase, queries: uqueries, nq, gt });
  } else log(`skipping Fashion-MNIST: install the Debian package dataset-fashion-mnist`);

  for (const set of sets) {
    const { base, queries, nq, gt, metric } = set;
    const { n, dim } = base;
    const qs = Array.from({ length: nq }, (_, q) => queries.data.slice(q * dim, (q + 1) * dim));
    // lookalike's graph in float32, and quantised (float16, int8): as searched with `rescore: false`, and with the
    // top 40 candidates re-scored exactly from float32 — what a float16 / int8 HNSW collection does by default
    const variants = [
      { name: 'f32', quantization: 'f32', rescore: false },
      { name: 'f16', quantization: 'f16', rescore: false },
      { name: 'f16+rescore', quantization: 'f16', rescore: true },
      { name: 'i8', quantization: 'i8', rescore: false },
      { name: 'i8+rescore', quantization: 'i8', rescore: true },
    ].filter((v) => values.quantized || v.quantization === 'f32');
    // a rescored variant searches the graph it shares with its plain variant (built once)
    const keys = Array.from({ length: n }, (_, i) => i);
    /** Distance to re-score by (smaller is better): squared L2, or 1 − cosine for normalised vectors. */
    const dist = (q, i) => {
      let t = 0;
      const b = base.data;
      if (metric === 'cos') {
        for (let j = 0, o = i * dim; j < dim; j++) t += q[j] * b[o + j];
        return 1 - t;
      }
      for (let j = 0, o = i * dim; j < dim; j++) {
        const x = q[j] - b[o + j];
        t += x * x;
      }
      return t;
    };
    const built = [];
    const graphs = new Map();
    for (const v of variants) {
      let g = graphs.get(v.quantization);
      if (!g) {
        log(`${set.name}: building lookalike HNSW ${v.quantization} (M=${M}, efConstruction=${efC}, 1 thread)…`);
        const t0 = performance.now();
        const index = HnswIndex.create(dim, { m: M, efConstruction: efC, ef: 10 }, metric, v.quantization);
        index.addBatch(keys, base.data, 1);
        const seconds = (performance.now() - t0) / 1000;
        g = { index, seconds, size: graphSize(index) };
        graphs.set(v.quantization, g);
        log(`  built in ${seconds.toFixed(1)} s`);
      }
      built.push({ ...v, ...g });
    }
    log('  building hnswlib-node…');
    let t0 = performance.now();
    const peer = new HierarchicalNSW(metric === 'cos' ? 'cosine' : 'l2', dim);
    peer.initIndex(n, M, efC, 100);
    for (let i = 0; i < n; i++) peer.addPoint(Array.from(base.data.subarray(i * dim, (i + 1) * dim)), i);
    const peerBuild = (performance.now() - t0) / 1000;
    const peerSize = fileSize((f) => peer.writeIndexSync(f));
    log(`  built in ${peerBuild.toFixed(1)} s`);
    const curves = built.map(() => []);
    const peerCurve = [];
    for (const ef of efs) {
      for (const [b, v] of built.entries()) {
        const res = [];
        t0 = performance.now();
        for (const q of qs) {
          if (!v.rescore) res.push(v.index.search(q, 10, { ef }).map((h) => h.key));
          else {
            const cand = v.index.search(q, 40, { ef: Math.max(ef, 40) });
            res.push(cand.map((h) => [h.key, dist(q, h.key)]).sort((a, c) => a[1] - c[1]).slice(0, 10).map((x) => x[0]));
          }
        }
        curves[b].push({ ef, recall: recallAt10(res, gt), qps: nq / ((performance.now() - t0) / 1000) });
      }
      peer.setEf(ef);
      const res = [];
      t0 = performance.now();
      for (const q of qs) res.push(peer.searchKnn(Array.from(q), 10).neighbors);
      peerCurve.push({ ef, recall: recallAt10(res, gt), qps: nq / ((performance.now() - t0) / 1000) });
    }
    const oursBuild = built[0].seconds;
    const oursSize = built[0].size;
    const oursCurve = curves[0];
    const rows = oursCurve.map((o, i) => {
      const p = peerCurve[i];
      const matched = bestQpsAtRecall(peerCurve, o.recall);
      const oursBest = bestQpsAtRecall(oursCurve, o.recall);
      return {
        ef: o.ef,
        lookalike: { recallAt10: +o.recall.toFixed(4), qps: +o.qps.toFixed(0) },
        hnswlib: { recallAt10: +p.recall.toFixed(4), qps: +p.qps.toFixed(0) },
        qpsRatioSameEf: +(o.qps / p.qps).toFixed(2),
        qpsRatioMatchedRecall: matched === undefined ? null : +(oursBest / matched).toFixed(2),
      };
    });
    /** Per variant: build ratio, bytes per vector, and the q/s ratio to hnswlib at matched recall 0.95 and 0.99. */
    const quantized = built.map((v, b) => {
      const at = (r) => {
        const ours = bestQpsAtRecall(curves[b], r);
        const theirs = bestQpsAtRecall(peerCurve, r);
        return ours === undefined || theirs === undefined ? null : +(ours / theirs).toFixed(2);
      };
      return {
        variant: v.name,
        buildSeconds: +v.seconds.toFixed(2),
        buildRatio: +(v.seconds / peerBuild).toFixed(2),
        bytesPerVector: Math.round(v.size / n),
        curve: curves[b].map((c) => ({ ef: c.ef, recallAt10: +c.recall.toFixed(4), qps: +c.qps.toFixed(0) })),
        qpsRatioAtRecall095: at(0.95),
        qpsRatioAtRecall099: at(0.99),
      };
    });
    annResults.push({
      dataset: set.name,
      vectors: n,
      dim,
      queries: nq,
      m: M,
      efConstruction: efC,
      build: { lookalikeSeconds: +oursBuild.toFixed(2), hnswlibSeconds: +peerBuild.toFixed(2), ratio: +(oursBuild / peerBuild).toFixed(2) },
      indexBytes: { lookalike: oursSize, hnswlib: peerSize, lookalikePerVector: Math.round(oursSize / n), hnswlibPerVector: Math.round(peerSize / n) },
      rows,
      quantized,
    });
  }
}

if (values.json) console.log(JSON.stringify({ exact: results, hnsw: annResults }));
else {
  if (results.length) {
  console.log('exact search (FlatIndex, WebAssembly SIMD), one thread');
  console.log('vectors    dim   ms/query   GB/s   memcpy GB/s   plain-JS GB/s   ÷memcpy   ÷JS   batched ms/query   batch speedup');
  for (const r of results) {
    console.log(
      `${String(r.vectors).padEnd(9)}  ${String(r.dim).padEnd(4)}  ${String(r.singleQueryMs).padStart(8)}  ${String(r.singleQueryGBps).padStart(5)}  ${String(r.memcpyGBps).padStart(11)}  ${String(r.plainJsGBps).padStart(14)}  ${String(r.ratioToMemcpy).padStart(7)}  ${String(r.ratioToPlainJs).padStart(4)}  ${String(r.batchedPerQueryMs).padStart(16)}  ${String(r.batchSpeedup).padStart(13)}`,
    );
  }
  console.log(`\nexact search on all ${cores} cores (worker threads sharing the rows) next to usearch's native exactSearch (${cores} threads), float32, one query`);
  console.log('vectors    dim   one thread ms   all cores ms   GB/s    speedup   usearch exactSearch ms   usearch ÷ ours (≥ 1: ours faster)');
  for (const r of results) {
    console.log(
      `${String(r.vectors).padEnd(9)}  ${String(r.dim).padEnd(4)}  ${String(r.singleQueryMs).padStart(13)}  ${String(r.allCoresMs).padStart(12)}  ${String(r.allCoresGBps).padStart(6)}  ${String(r.threadSpeedup).padStart(7)}  ${String(r.usearchExactMs).padStart(22)}  ${String(r.ratioToUsearchExact).padStart(10)}`,
    );
  }
  }
  for (const r of results.filter((x) => x.compact)) {
    console.log(`\ncompact vectors, ${r.vectors} x ${r.dim} (recall@10 against float32 exact search; re-scored = 40 candidates re-scored in float32)`);
    console.log('type      bytes/vector   recall@10   ms/query   recall@10 re-scored   ms/query re-scored   × faster than float32   all cores ms   × faster (all cores)');
    for (const [t, c] of Object.entries(r.compact)) {
      console.log(`${t.padEnd(8)}  ${String(c.bytesPerVector).padStart(12)}  ${String(c.recallAt10 ?? '—').padStart(10)}  ${String(c.msPerQuery).padStart(9)}  ${String(c.recallAt10Rescored ?? '—').padStart(20)}  ${String(c.msPerQueryRescored ?? '—').padStart(19)}  ${String(c.speedupOverFloat32 ?? "—").padStart(21)}  ${String(c.msPerQueryAllCores ?? '—').padStart(12)}  ${String(c.speedupOverFloat32AllCores ?? '—').padStart(20)}`);
    }
  }
  for (const r of results.filter((x) => x.ivf)) {
    console.log(`\nrandom projection ${r.dim} → ${r.projection.dims} dims (${r.projection.bytesPerVector} B/vector), 40 candidates re-scored: recall@10 ${r.projection.recallAt10Rescored}, ${r.projection.msPerQuery} ms/query`);
    console.log(`IVF over ${r.vectors} x ${r.dim}, nlist ${r.ivf.nlist} (built in ${r.ivf.buildSeconds} s): ` +
      r.ivf.settings.map((x) => `nprobe ${x.nprobe} → recall@10 ${x.recallAt10} at ${x.msPerQuery} ms/query`).join('; ') + ` (exact: ${r.singleQueryMs} ms/query)`);
  }
  for (const a of annResults) {
    console.log(`\nHNSW on ${a.dataset}: ${a.vectors} vectors, ${a.queries} queries, M=${a.m}, efConstruction=${a.efConstruction}, one thread`);
    console.log(`build: lookalike ${a.build.lookalikeSeconds} s, hnswlib-node ${a.build.hnswlibSeconds} s (ratio ${a.build.ratio}); index size: lookalike ${a.indexBytes.lookalikePerVector} B/vector, hnswlib ${a.indexBytes.hnswlibPerVector} B/vector`);
    console.log('ef     lookalike recall@10   q/s     hnswlib recall@10   q/s     q/s ratio (same ef)   q/s ratio (matched recall)');
    console.log('(matched recall r = the lookalike recall of the row: fastest lookalike setting with recall ≥ r ÷ fastest hnswlib setting with recall ≥ r)');
    for (const r of a.rows) {
      console.log(
        `${String(r.ef).padEnd(5)}  ${String(r.lookalike.recallAt10).padStart(17)}  ${String(r.lookalike.qps).padStart(6)}  ${String(r.hnswlib.recallAt10).padStart(17)}  ${String(r.hnswlib.qps).padStart(6)}  ${String(r.qpsRatioSameEf).padStart(20)}  ${String(r.qpsRatioMatchedRecall ?? 'n/a').padStart(26)}`,
      );
    }
    console.log('graph vectors      build s  ÷hnswlib  B/vector  q/s ÷hnswlib at recall 0.95  at 0.99   curve (ef: recall@10 q/s)');
    for (const v of a.quantized) {
      console.log(
        `${v.variant.padEnd(17)}  ${String(v.buildSeconds).padStart(7)}  ${String(v.buildRatio).padStart(8)}  ${String(v.bytesPerVector).padStart(8)}  ${String(v.qpsRatioAtRecall095 ?? 'n/a').padStart(26)}  ${String(v.qpsRatioAtRecall099 ?? 'n/a').padStart(7)}   ` +
          v.curve.map((c) => `${c.ef}: ${c.recallAt10} ${c.qps}`).join(', '),
      );
    }
  }
}
