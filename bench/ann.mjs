#!/usr/bin/env node
// npm run bench:ann [-- --sizes 100000,1000000 --dim 512 --json]
//
// Exact search at memory speed: lookalike's FlatIndex (WebAssembly SIMD kernel) on synthetic clustered float32
// vectors, next to a native memory-bandwidth baseline measured in the same run (TypedArray.prototype.set copying
// the same bytes: memcpy) and a plain JavaScript dot-product loop. Also batched (four queries per pass) search.
import { parseArgs } from 'node:util';
import { FlatIndex } from '../dist/index/flat.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    dim: { type: 'string', default: '512' },
    queries: { type: 'string', default: '20' },
    batch: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
  },
});
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
for (const n of values.sizes.split(',').map(Number)) {
  log(`generating ${n} x ${d} clustered vectors…`);
  const data = clustered(n, d);
  const index = new FlatIndex(d, n);
  for (let i = 0; i < n; i++) index.upsert(i, data.subarray(i * d, (i + 1) * d));
  const bytes = n * index.stride * 4;
  const queries = Array.from({ length: Number(values.queries) }, (_, i) => data.slice(((i * 7919) % n) * d, ((i * 7919) % n) * d + d));
  let qi = 0;
  const single = time(() => index.search(queries[qi++ % queries.length], 10), queries.length);
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
  };
  r.ratioToMemcpy = +(r.singleQueryGBps / r.memcpyGBps).toFixed(2);
  r.ratioToPlainJs = +(r.singleQueryGBps / r.plainJsGBps).toFixed(2);
  r.batchSpeedup = +(single / batch).toFixed(2);
  results.push(r);
  log(
    `${n} x ${d}: one query ${r.singleQueryMs} ms = ${r.singleQueryGBps} GB/s | memcpy ${r.memcpyGBps} GB/s | plain JS loop ${r.plainJsGBps} GB/s` +
      ` | ratio to memcpy ${r.ratioToMemcpy}, to JS ${r.ratioToPlainJs} | batched ${r.batchedPerQueryMs} ms/query (${r.batchSpeedup}x)`,
  );
}
if (values.json) console.log(JSON.stringify({ exact: results }));
else {
  console.log('exact search (FlatIndex, WebAssembly SIMD), one thread');
  console.log('vectors    dim   ms/query   GB/s   memcpy GB/s   plain-JS GB/s   ÷memcpy   ÷JS   batched ms/query   batch speedup');
  for (const r of results) {
    console.log(
      `${String(r.vectors).padEnd(9)}  ${String(r.dim).padEnd(4)}  ${String(r.singleQueryMs).padStart(8)}  ${String(r.singleQueryGBps).padStart(5)}  ${String(r.memcpyGBps).padStart(11)}  ${String(r.plainJsGBps).padStart(14)}  ${String(r.ratioToMemcpy).padStart(7)}  ${String(r.ratioToPlainJs).padStart(4)}  ${String(r.batchedPerQueryMs).padStart(16)}  ${String(r.batchSpeedup).padStart(13)}`,
    );
  }
}
