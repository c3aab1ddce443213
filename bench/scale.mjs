#!/usr/bin/env node
// npm run bench:scale [-- --n 1000000 --dims 512 --stores embedded,postgres --types float32,float16,int8
//                        --queries 100 --efs 40,80,160 --hnsw-stores embedded,postgres --hnsw-type float32 --keep --json]
//
// One million vectors on this machine (issue 16.2). For each dimension: N clustered synthetic unit vectors
// (seeded) are written as a clip-retrieval embeddings folder (img_emb/img_emb_0.npy) and imported through the
// public path (`lookalike import`), into the embedded store and into PostgreSQL + pgvector (a private server this
// script starts on 127.0.0.1, tuned for index builds: maintenance_work_mem, parallel maintenance workers). Then, per
// store and vector type: import rate, disk bytes per vector, exact query latency p50/p99 and recall@10, HNSW
// (M 16, efConstruction 200) build time, latency p50/p99 and recall@10 at ef 40/80/160, the time from process
// start to the first printed answer of `lookalike search --id` (a new process each time; the OS file cache is
// warm, the process is cold), and the RSS of a process that opened the collection and answered one query.
// Ground truth: exact float32 search over the generated vectors (lookalike's FlatIndex) for queries that are
// noisy copies of stored vectors (so they are not in the collection).
// Everything is measured in this one run; nothing is compared with figures from elsewhere.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { FlatIndex } from '../dist/ann/flat.js';
import { openDatabase } from '../dist/lookalike.js';
import { normalise, seededRandom } from './random.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000000' },
    dims: { type: 'string', default: '512' },
    stores: { type: 'string', default: 'embedded,postgres' },
    types: { type: 'string', default: 'float32,float16,int8' },
    'hnsw-stores': { type: 'string', default: 'embedded,postgres' },
    'hnsw-type': { type: 'string', default: 'float32' },
    // reuse --work's stores as a --keep run left them (same --n/--dims/seed): only the HNSW latency, cold start, RSS
    'measure-only': { type: 'boolean', default: false },
    warm: { type: 'string', default: '2000' }, // searches a process runs before the "warm" latency is measured // the HNSW collection's vector type (float16 / int8: a quantised graph, re-scored)
    queries: { type: 'string', default: '100' },
    'exact-queries': { type: 'string', default: '20' },
    efs: { type: 'string', default: '40,80,160' },
    m: { type: 'string', default: '16' },
    'ef-construction': { type: 'string', default: '200' },
    work: { type: 'string' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const DIMS = values.dims.split(',').map(Number);
const STORES = values.stores.split(',').filter(Boolean);
const TYPES = values.types.split(',').filter(Boolean);
const HNSW_STORES = new Set(values['hnsw-stores'].split(',').filter(Boolean));
const Q = Number(values.queries);
const QX = Number(values['exact-queries']);
const EFS = values.efs.split(',').map(Number);
const M = Number(values.m);
const EFC = Number(values['ef-construction']);
const log = (...a) => console.error(...a);
const work = values.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-scale-'));
fs.mkdirSync(work, { recursive: true });
const results = [];
const ms = (t0) => performance.now() - t0;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

// ───────────────────────────── data

const { rand, gauss } = seededRandom(20261130);
/** N unit vectors around 1,000 random centres (spread like real embeddings: close within a cluster, not identical). */
function generate(n, d) {
  const clusters = 1000;
  const centres = Array.from({ length: clusters }, () => normalise(Float32Array.from({ length: d }, gauss)));
  const out = new Float32Array(n * d);
  const sigma = 0.9 / Math.sqrt(d);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(rand() * clusters)];
    const v = out.subarray(i * d, (i + 1) * d);
    for (let j = 0; j < d; j++) v[j] = c[j] + sigma * gauss();
    normalise(v);
  }
  return out;
}
function writeNpy(file, data, n, d) {
  const header0 = `{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, ${d}), }`;
  const pad = 64 - ((10 + header0.length + 1) % 64);
  const header = header0 + ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93]).copy(pre, 0);
  pre.write('NUMPY', 1, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, pre);
  fs.writeSync(fd, Buffer.from(header, 'latin1'));
  const CH = 1 << 16;
  for (let i = 0; i < n; i += CH) {
    const part = data.subarray(i * d, Math.min(n, i + CH) * d);
    fs.writeSync(fd, Buffer.from(part.buffer, part.byteOffset, part.byteLength));
  }
  fs.closeSync(fd);
}

// ───────────────────────────── PostgreSQL (a private server)

const PGBIN = '/usr/lib/postgresql/15/bin';
const asPg = (cmd, args) => (process.getuid?.() === 0 ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' }) : execFileSync(cmd, args, { stdio: 'pipe' }));
async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
async function startPostgres() {
  if (!fs.existsSync(path.join(PGBIN, 'initdb'))) throw new Error('PostgreSQL 15 + pgvector are not installed: run bash scripts/setup-system.sh');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-scale-pg-'));
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dir]);
  const port = await freePort();
  asPg(path.join(PGBIN, 'initdb'), ['-D', dir, '-U', 'lookalike', '--auth=trust', '-E', 'UTF8']);
  const mem = Math.floor(os.totalmem() / 2 ** 30);
  const opts = [
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
    `-c shared_buffers=${Math.max(1, Math.floor(mem / 4))}GB -c maintenance_work_mem=${Math.max(1, Math.floor(mem / 3))}GB`,
    `-c max_parallel_maintenance_workers=${Math.max(1, os.availableParallelism() - 1)} -c max_wal_size=8GB -c max_parallel_workers_per_gather=${os.availableParallelism()}`,
  ].join(' ');
  asPg(path.join(PGBIN, 'pg_ctl'), ['-D', dir, '-w', '-l', path.join(dir, 'server.log'), '-o', opts, 'start']);
  return {
    url: `postgres://lookalike@127.0.0.1:${port}/postgres`,
    stop: () => {
      asPg(path.join(PGBIN, 'pg_ctl'), ['-D', dir, '-w', '-m', 'fast', 'stop']);
      if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
async function pgBytes(url, collection) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const t = await c.query(`SELECT cid FROM lookalike_collections WHERE name = $1`, [collection]);
    const cid = t.rows[0].cid;
    const r = await c.query(`SELECT pg_total_relation_size('lookalike_items_${cid}') AS total, pg_indexes_size('lookalike_items_${cid}') AS idx`);
    return { total: Number(r.rows[0].total), indexes: Number(r.rows[0].idx) };
  } finally {
    await c.end();
  }
}

// ───────────────────────────── measuring

function cli(args, what) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wall = ms(t0);
  if (r.status !== 0) throw new Error(`${what}: lookalike ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return { wall, stdout: r.stdout };
}
function duBytes(dir) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? duBytes(p) : fs.statSync(p).size;
  }
  return total;
}
/**
 * Time from process start to the first answer: `lookalike search --id` in a new process, 3 runs; the median wall
 * time of the whole process (spawn to exit), and the breakdown the CLI reports (--timings) of the median run.
 */
function coldStart(db, collection) {
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const r = cli(['search', '--db', db, '-c', collection, '--id', `row-${(i * 7919) % N}`, '-k', '10', '--json', '--timings'], 'cold start');
    runs.push({ wall: r.wall, timings: JSON.parse(r.stdout).timings });
  }
  runs.sort((a, b) => a.wall - b.wall);
  return { wallMs: runs[1].wall, ...runs[1].timings };
}
/** RSS of a new process that opened the collection and answered one query by vector. */
function rssAfterOpen(db, collection, q) {
  const script = `
    import { openDatabase } from ${JSON.stringify(path.join(ROOT, 'dist', 'lookalike.js'))};
    const db = await openDatabase(${JSON.stringify(db)}, { threads: 1 });
    const col = await db.openCollection(${JSON.stringify(collection)});
    const before = process.memoryUsage().rss;
    await col.search({ vector: Float32Array.from(${JSON.stringify(Array.from(q))}) }, { k: 10 });
    console.log(JSON.stringify({ rssOpen: before, rss: process.memoryUsage().rss }));
    await db.close();`;
  const file = path.join(work, 'rss.mjs');
  fs.writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`rss: ${r.stderr.slice(-1000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}
/**
 * p50/p99 and recall@10 of `queries` in a process that just opened the collection — or, with `warm`, after that many
 * searches with other (random) vectors: a long-running server's state, its memory-mapped graph paged in.
 */
async function latency(db, collection, queries, gt, opts, warm = 0) {
  const d = await openDatabase(db, { threads: os.availableParallelism() });
  try {
    const col = await d.openCollection(collection);
    await col.search({ vector: queries[0] }, { k: 10, ...opts, includeMetadata: false }); // opens, loads
    const dim = queries[0].length;
    for (let i = 0; i < warm; i++) {
      await col.search({ vector: normalise(Float32Array.from({ length: dim }, gauss)) }, { k: 10, ...opts, includeMetadata: false });
    }
    const times = [];
    let hit = 0;
    for (const [i, q] of queries.entries()) {
      const t0 = performance.now();
      const hits = await col.search({ vector: q }, { k: 10, ...opts, includeMetadata: false });
      times.push(ms(t0));
      const want = new Set(gt[i]);
      hit += hits.filter((h) => want.has(h.id)).length;
    }
    return { p50: pct(times, 0.5), p99: pct(times, 0.99), recall10: hit / (10 * queries.length) };
  } finally {
    await d.close();
  }
}

// ───────────────────────────── run

for (const d of DIMS) {
  log(`[${d}-d] generating ${N.toLocaleString()} vectors…`);
  let t0 = performance.now();
  const data = generate(N, d);
  const embDir = path.join(work, `emb-${d}`);
  fs.mkdirSync(path.join(embDir, 'img_emb'), { recursive: true });
  writeNpy(path.join(embDir, 'img_emb', 'img_emb_0.npy'), data, N, d);
  log(`  ${(ms(t0) / 1000).toFixed(1)} s; ground truth for ${Q} queries…`);
  const queries = Array.from({ length: Q }, () => {
    const i = Math.floor(rand() * N);
    return normalise(Float32Array.from(data.subarray(i * d, (i + 1) * d), (x) => x + (0.3 / Math.sqrt(d)) * gauss()));
  });
  const flat = new FlatIndex(d, N, 'ip');
  for (let i = 0; i < N; i++) flat.upsert(i, data.subarray(i * d, (i + 1) * d));
  const gt = queries.map((q) => flat.search(q, 10).map((h) => `row-${h.key}`));

  for (const store of STORES) {
    let server;
    let db;
    if (store === 'postgres') {
      server = await startPostgres();
      db = server.url;
    } else db = path.join(work, `db-${d}`);
    const collection = 'scale';
    const row = { store, dimension: d, vectors: N };
    try {
      if (!values['measure-only']) {
      log(`  ${store}: import…`);
      const imp = cli(['import', embDir, '--db', db, '-c', collection, '--json', '--no-progress'], 'import');
      row.importSeconds = imp.wall / 1000;
      row.importPerSecond = N / (imp.wall / 1000);
      if (store === 'postgres') {
        const b = await pgBytes(db, collection);
        row.diskBytesPerVector = b.total / N;
      } else row.diskBytesPerVector = duBytes(db) / N;
      log(`    ${row.importPerSecond.toFixed(0)} vectors/s, ${row.diskBytesPerVector.toFixed(0)} bytes/vector on disk`);

      row.exact = {};
      for (const type of TYPES) {
        if (store === 'postgres' && type === 'int8') {
          row.exact[type] = { skipped: 'pgvector has no int8 vector type' };
          continue;
        }
        const re = cli(['reindex', '--db', db, '-c', collection, '--index', 'flat', '--vector-type', type, '--json'], 'reindex flat');
        const lat = await latency(db, collection, queries.slice(0, QX), gt, {});
        row.exact[type] = { reindexSeconds: re.wall / 1000, ...lat };
        log(`    exact ${type}: p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms, recall@10 ${lat.recall10.toFixed(3)}`);
      }
      row.coldStartExact = coldStart(db, collection);
      row.coldStartExactMs = row.coldStartExact.wallMs;
      log(`    cold start, search --id (exact): ${JSON.stringify(row.coldStartExact)}`);
      }

      if (HNSW_STORES.has(store)) {
        const type = values['hnsw-type'];
        const h = { vectorType: type, ef: {}, efWarm: {} };
        if (!values['measure-only']) {
          log(`  ${store}: HNSW build (M ${M}, efConstruction ${EFC})…`);
          const re = cli(
            ['reindex', '--db', db, '-c', collection, '--index', 'hnsw', '--hnsw-m', String(M), '--ef-construction', String(EFC), '--ef', '40', '--vector-type', type, '--json'],
            'reindex hnsw',
          );
          h.buildSeconds = re.wall / 1000;
        }
        if (store === 'postgres') h.indexBytesPerVector = (await pgBytes(db, collection)).indexes / N;
        else {
          const idx = path.join(db, 'indexes');
          h.indexBytesPerVector = fs.existsSync(idx) ? duBytes(idx) / N : null;
        }
        log(`    built in ${h.buildSeconds?.toFixed(0) ?? '(earlier run)'} s, ${h.indexBytesPerVector?.toFixed(0)} index bytes/vector`);
        h.coldStart = coldStart(db, collection);
        h.coldStartMs = h.coldStart.wallMs;
        log(`    cold start, search --id (HNSW): ${JSON.stringify(h.coldStart)}`);
        const rss = rssAfterOpen(db, collection, queries[0]);
        h.rssAfterOpenMB = rss.rssOpen / 2 ** 20;
        h.rssAfterQueryMB = rss.rss / 2 ** 20;
        log(`    RSS after open ${h.rssAfterOpenMB.toFixed(0)} MB, after one query ${h.rssAfterQueryMB.toFixed(0)} MB (vectors: ${((N * d * 4) / 2 ** 20).toFixed(0)} MB)`);
        for (const ef of EFS) {
          const lat = await latency(db, collection, queries, gt, { ef });
          h.ef[ef] = lat;
          log(`    ef ${ef}: p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms, recall@10 ${lat.recall10.toFixed(3)} (fresh process)`);
          const warm = await latency(db, collection, queries, gt, { ef }, Number(values.warm));
          h.efWarm[ef] = warm;
          log(`    ef ${ef}: p50 ${warm.p50.toFixed(2)} ms, p99 ${warm.p99.toFixed(2)} ms, recall@10 ${warm.recall10.toFixed(3)} (after ${values.warm} searches)`);
        }
        row.hnsw = h;
      }
    } finally {
      server?.stop();
    }
    results.push(row);
  }
}
if (!values.keep && !values.work) fs.rmSync(work, { recursive: true, force: true });

const out = { machine: { cpus: os.availableParallelism(), memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version }, n: N, results };
if (values.json) console.log(JSON.stringify(out, null, 2));
else {
  console.log(`\n${N.toLocaleString()} vectors, ${os.availableParallelism()} cores`);
  console.log('| store | d | import vec/s | disk B/vec | exact f32 p50/p99 ms | exact f16 p50/p99 | exact i8 p50/p99 | cold start exact ms | HNSW type | HNSW build s | HNSW B/vec | cold start HNSW ms | RSS open MB | ' + EFS.map((e) => `ef ${e} p50/p99 ms fresh, warm; R@10`).join(' | ') + ' |');
  for (const r of results) {
    const ex = (t) => (r.exact?.[t]?.p50 !== undefined ? `${r.exact[t].p50.toFixed(1)} / ${r.exact[t].p99.toFixed(1)}` : '—');
    const h = r.hnsw;
    console.log(
      `| ${r.store} | ${r.dimension} | ${r.importPerSecond?.toFixed(0) ?? "—"} | ${r.diskBytesPerVector?.toFixed(0) ?? "—"} | ${ex('float32')} | ${ex('float16')} | ${ex('int8')} | ${r.coldStartExactMs?.toFixed(0) ?? "—"} | ` +
        (h
          ? `${h.vectorType} | ${h.buildSeconds?.toFixed(0) ?? '—'} | ${h.indexBytesPerVector?.toFixed(0)} | ${h.coldStartMs.toFixed(0)} | ${h.rssAfterOpenMB.toFixed(0)} | ` +
            EFS.map((e) => `${h.ef[e].p50.toFixed(2)} / ${h.ef[e].p99.toFixed(2)}, ${h.efWarm[e].p50.toFixed(2)} / ${h.efWarm[e].p99.toFixed(2)}; ${h.ef[e].recall10.toFixed(3)}`).join(' | ')
          : '— | — | — | — | — | ' + EFS.map(() => '—').join(' | ')) +
        ' |',
    );
  }
}
