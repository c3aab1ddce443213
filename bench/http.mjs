#!/usr/bin/env node
// npm run bench:http [-- --images N] [--connections 16] [--duration 10] [--json]
//
// Load test of the HTTP API on loopback: builds (once, cached in .bench/) a collection of ≥ 10,000 images
// (../shared/datasets/cifar10-test with mobilenet-v1), starts `buildServer` on 127.0.0.1, and runs autocannon with
// 16 concurrent clients doing "more like this" searches by random ids. Prints requests/s and latency percentiles.
import autocannon from 'autocannon';
import fs from 'node:fs';
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
    connections: { type: 'string', default: '16' },
    duration: { type: 'string', default: '10' },
    k: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const log = values.json ? () => {} : (...a) => console.error(...a);
const dbDir = path.join(root, '.bench', 'http-db');
const db = await openDatabase(dbDir);
const col = await db.collection('bench', { model: values.model });
log(`bench:http — indexing ${values.folder} into ${dbDir} (skipped when already done)…`);
const report = await col.indexFolder(values.folder);
const count = await col.count();
if (count < 10_000) log(`warning: only ${count} images (the target is ≥ 10,000)`);
log(`collection: ${count} images (${report.added} added now), ${col.spec.dimension}-d ${col.spec.embedder.id}`);
const ids = (await col.files()).map((f) => f.id);

const app = await buildServer({ db, defaultCollection: 'bench' });
const address = await app.listen({ host: '127.0.0.1', port: 0 });
// warm the collection's index (first search builds it)
await fetch(`${address}/v1/collections/bench/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: ids[0], k: 10 }) });

let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const result = await autocannon({
  url: `${address}/v1/collections/bench/search`,
  connections: Number(values.connections),
  duration: Number(values.duration),
  requests: [
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ id: ids[Math.floor(rand() * ids.length)], k: Number(values.k) }) }),
    },
  ],
});
await app.close();
await col.close();
await db.close();

const out = {
  images: count,
  dimension: col.spec.dimension,
  connections: Number(values.connections),
  durationSeconds: Number(values.duration),
  requests: result.requests.total,
  requestsPerSecond: +result.requests.average.toFixed(1),
  latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
  errors: result.errors,
  non2xx: result.non2xx,
};
if (values.json) console.log(JSON.stringify(out));
else {
  console.log(`${out.connections} clients, ${out.durationSeconds} s, search by id (k=${values.k}) over ${count} x ${out.dimension}-d`);
  console.log(`requests/s   ${out.requestsPerSecond}`);
  console.log(`latency ms   p50 ${out.latencyMs.p50}   p90 ${out.latencyMs.p90}   p99 ${out.latencyMs.p99}   max ${out.latencyMs.max}`);
  console.log(`errors       ${out.errors}   non-2xx ${out.non2xx}`);
}
