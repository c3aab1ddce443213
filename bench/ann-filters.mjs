// npm run bench:ann -- --filters [--filter-size 100000] [--filter-dim 128] [--filter-queries 200] [--json]
//
// Filtered search with an HNSW index, measured: a 100k collection in the embedded store (synthetic clustered
// vectors; metadata `bucket` = i mod 1000, independent of the vectors) queried with range filters selecting 50%, 10%,
// 1% and 0.1% of it. lookalike's default (adaptive oversampling through the HNSW graph, exact scan of the matching
// rows when the filter is selective) next to the exact filtered scan (SQL filter + scan of every matching vector),
// both in the same run: recall@10 against the exact result, and milliseconds per query.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../dist/index.js';

const { values } = parseArgs({
  strict: false,
  options: {
    'filter-size': { type: 'string', default: '100000' },
    'filter-dim': { type: 'string', default: '128' },
    'filter-queries': { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
  },
});
const n = Number(values['filter-size']);
const d = Number(values['filter-dim']);
const nq = Number(values['filter-queries']);
const log = values.json ? () => {} : (...a) => console.error(...a);

let seed = 99;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const centres = Array.from({ length: 64 }, () => Float32Array.from({ length: d }, () => rand() * 2 - 1));
function vector(i) {
  const c = centres[i % 64];
  const v = new Float32Array(d);
  let s = 0;
  for (let j = 0; j < d; j++) {
    v[j] = c[j] + (rand() - 0.5) * 0.8;
    s += v[j] * v[j];
  }
  for (let j = 0; j < d; j++) v[j] /= Math.sqrt(s);
  return v;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-filters-'));
const store = await openStore(dir);
const col = await store.createCollection({
  name: 'f',
  embedder: { id: 'synthetic', kind: 'synthetic', model: 'synthetic', revision: '0', dimension: d, modalities: ['image'], preprocessing: {} },
  dimension: d,
  metric: 'cosine',
  vectorType: 'float32',
  index: { type: 'hnsw', m: 16, efConstruction: 100, ef: 64 },
});
log(`bench:ann --filters — ${n} vectors × ${d}, HNSW M16 efConstruction 100 ef 64, ${nq} queries per selectivity, ${os.availableParallelism()} cores`);
let t = performance.now();
for (let i = 0; i < n; i += 5000) {
  await col.upsert(Array.from({ length: Math.min(5000, n - i) }, (_, j) => ({ id: `v${i + j}`, vector: vector(i + j), metadata: { bucket: (i + j) % 1000 } })));
}
log(`  stored in ${((performance.now() - t) / 1000).toFixed(1)} s`);
t = performance.now();
await col.search(vector(0), { k: 1 }); // builds the graph
log(`  HNSW built in ${((performance.now() - t) / 1000).toFixed(1)} s`);

const queries = Array.from({ length: nq }, (_, i) => vector(n + i));
const cases = [
  ['50%', { bucket: { lt: 500 } }],
  ['10%', { bucket: { lt: 100 } }],
  ['1%', { bucket: { lt: 10 } }],
  ['0.1%', { bucket: 7 }],
];
const rows = [];
for (const [name, where] of cases) {
  const truth = [];
  let exactMs = 0;
  for (const q of queries) {
    const t0 = performance.now();
    truth.push(new Set((await col.search(q, { k: 10, where, exact: true, includeMetadata: false })).map((h) => h.id)));
    exactMs += performance.now() - t0;
  }
  let ms = 0;
  let found = 0;
  let wanted = 0;
  for (const [i, q] of queries.entries()) {
    const t0 = performance.now();
    const hits = await col.search(q, { k: 10, where, includeMetadata: false });
    ms += performance.now() - t0;
    found += hits.filter((h) => truth[i].has(h.id)).length;
    wanted += truth[i].size;
  }
  const row = { selectivity: name, recallAt10: found / wanted, msPerQuery: ms / nq, exactMsPerQuery: exactMs / nq };
  rows.push(row);
  log(`  ${name}: recall@10 ${row.recallAt10.toFixed(3)}, ${row.msPerQuery.toFixed(2)} ms/query vs exact filtered ${row.exactMsPerQuery.toFixed(2)} ms`);
}
await store.close();
fs.rmSync(dir, { recursive: true, force: true });
if (values.json) console.log(JSON.stringify({ size: n, dimension: d, queries: nq, rows }, null, 2));
else {
  console.log(`\nfiltered search, ${n} × ${d}-d, HNSW (embedded store), ${nq} queries per row\n`);
  console.log('| selectivity | recall@10 | ms/query (HNSW, adaptive) | ms/query (exact filtered scan) | speed-up |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.selectivity} | ${r.recallAt10.toFixed(3)} | ${r.msPerQuery.toFixed(2)} | ${r.exactMsPerQuery.toFixed(2)} | ${(r.exactMsPerQuery / r.msPerQuery).toFixed(1)}× |`);
  }
}
