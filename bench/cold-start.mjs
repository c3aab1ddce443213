#!/usr/bin/env node
// npm run bench:cold [-- --runs 10 --n 100000 --flat --snapshot --compare .bench/cold/baseline/dist --bundle --json]
//
// Cold start of the CLI (issue 18.5): the time from process start to the printed result of `lookalike search`, on
// the demo collection (the README's: 96 flower photos, mobilenet-v1) and on a 100k × 1024 mobilenet-v1 collection in
// the embedded store, each a new process (the OS file cache is warm, the process is cold). Per case, over --runs
// runs: median and p90 of the wall time (spawn to exit) and of the CLI's own breakdown (`search --timings --json`):
// Node.js start (to the end of its bootstrap), module load, store open, model load (ONNX session), search; plus the
// floor — bare `node -e 0` — and `lookalike --version`.
//
// The 100k collection is not embedded image by image: clustered random unit vectors (seeded) are written as an
// embeddings folder (img_emb/img_emb_0.npy) with the collection spec of a real mobilenet-v1 collection (the demo
// collection, exported), and read with `lookalike import` — so `--image` queries run the real model against it.
// It is HNSW-indexed (`reindex --index hnsw`), as a collection of that size should be; `--flat` also measures an
// exact (flat) copy. Everything is built once into .bench/cold/ (delete it, or --rebuild, to start over).
//
// Before/after in one run: `--snapshot` copies dist/ to .bench/cold/baseline/dist (do it before a change), and
// `--compare DIR` runs DIR/cli/main.js alongside dist/cli/main.js, interleaved run by run so both see the same noise.
// `--bundle` adds an experiment: dist/ bundled by esbuild (commander and zod inlined), to size the ESM loader's share.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { normalise, seededRandom } from './random.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(ROOT, '.bench', 'cold');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    n: { type: 'string', default: '100000' },
    flat: { type: 'boolean', default: false },
    snapshot: { type: 'boolean', default: false },
    compare: { type: 'string' },
    bundle: { type: 'boolean', default: false },
    rebuild: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Math.max(1, Number(values.runs));
const N = Number(values.n);
const D = 1024;
const log = (...a) => console.error(...a);
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
if (!fs.existsSync(CLI)) {
  log('dist/ is missing: build first (npm run build).');
  process.exit(1);
}
fs.mkdirSync(WORK, { recursive: true });

if (values.snapshot) {
  const base = path.join(WORK, 'baseline');
  fs.rmSync(base, { recursive: true, force: true });
  fs.mkdirSync(base, { recursive: true });
  fs.cpSync(path.join(ROOT, 'dist'), path.join(base, 'dist'), { recursive: true });
  // the library finds its bundled models beside dist/ (config.ts: PACKAGE_MODELS_DIR); packages resolve upwards
  fs.symlinkSync(path.relative(base, path.join(ROOT, 'models')), path.join(base, 'models'));
  log(`dist/ copied to ${path.relative(ROOT, base)}/dist — compare with: npm run bench:cold -- --compare ${path.relative(ROOT, base)}/dist`);
}

/**
 * An experiment, not how lookalike ships: dist/ bundled by esbuild (a devDependency's dependency) with commander and
 * zod inlined and every other package external — how much of the module time is the ESM loader's per-file cost.
 */
function bundle() {
  const out = path.join(WORK, 'bundle', 'dist');
  fs.rmSync(path.join(WORK, 'bundle'), { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const external = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)].filter((d) => d !== 'zod' && d !== 'commander');
  run(
    [
      path.join(ROOT, 'node_modules', '.bin', 'esbuild'),
      path.join(ROOT, 'dist', 'cli', 'main.js'),
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--splitting',
      `--outdir=${path.join(out, 'cli')}`,
      ...external.map((d) => `--external:${d}`),
      '--log-level=warning',
      "--banner:js=import { createRequire as __lookalikeRequire } from 'node:module'; const require = __lookalikeRequire(import.meta.url);",
    ],
    'esbuild',
  );
  // every chunk lands in dist/cli/, so the bundled models are looked for in dist/models (config.ts: ../models)
  fs.symlinkSync(path.relative(out, path.join(ROOT, 'models')), path.join(out, 'models'));
  return path.join(out, 'cli', 'main.js');
}

const VARIANTS = [...(values.compare ? [{ name: 'before', cli: path.join(path.resolve(values.compare), 'cli', 'main.js') }] : []), { name: values.compare ? 'after' : 'dist', cli: CLI }];
if (values.bundle) VARIANTS.push({ name: 'bundled (experiment)', cli: bundle() });
for (const v of VARIANTS) if (!fs.existsSync(v.cli)) throw new Error(`${v.cli} does not exist`);

function run(args, what, opts = {}) {
  const t0 = performance.now();
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20, cwd: ROOT, ...opts });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${what}: ${args.join(' ')} failed (${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
  return { wallMs, stdout: r.stdout, stderr: r.stderr };
}
const lookalike = (args, what, cli = CLI) => run([process.execPath, cli, ...args], what);

// ───────────────────────────── data

const DEMO_DB = path.join(WORK, 'demo-db');
const SAMPLES = path.join(ROOT, 'samples', 'flowers');
const QUERY_IMAGE = path.join(ROOT, 'samples', 'queries', 'daisy-image_0804.jpg');
const BIG_DB = path.join(WORK, `db-${N}`);

if (values.rebuild) {
  fs.rmSync(DEMO_DB, { recursive: true, force: true });
  fs.rmSync(BIG_DB, { recursive: true, force: true });
}

/** The README's demo collection (scripts/demo.mjs, step 1): the sample flowers, mobilenet-v1. */
function demoCollection() {
  if (!fs.existsSync(path.join(DEMO_DB, '.built'))) {
    fs.rmSync(DEMO_DB, { recursive: true, force: true });
    log('demo collection: indexing samples/flowers with mobilenet-v1…');
    lookalike(['index', SAMPLES, '--db', DEMO_DB, '--collection', 'flowers', '--model', 'mobilenet-v1', '--label-key', 'species', '--json', '--no-progress'], 'demo index');
    fs.writeFileSync(path.join(DEMO_DB, '.built'), '');
  }
  const ids = JSON.parse(lookalike(['search', '--db', DEMO_DB, '-c', 'flowers', '--image', QUERY_IMAGE, '-k', '20', '--json'], 'demo ids').stdout).results.map((r) => r.id);
  return { db: DEMO_DB, collection: 'flowers', ids };
}

const { rand, gauss } = seededRandom(20261130);
/** `n` × `d` float32 unit vectors around 1,000 random centres, as a .npy file (written in chunks). */
function writeClusteredNpy(file, n, d) {
  const clusters = 1000;
  const centres = Array.from({ length: clusters }, () => normalise(Float32Array.from({ length: d }, gauss)));
  const sigma = 0.9 / Math.sqrt(d);
  const header0 = `{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, ${d}), }`;
  const header = header0 + ' '.repeat((64 - ((10 + header0.length + 1) % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre[0] = 0x93;
  pre.write('NUMPY', 1, 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(header.length, 8);
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, pre);
  fs.writeSync(fd, Buffer.from(header, 'latin1'));
  const CH = 4096;
  const chunk = new Float32Array(CH * d);
  for (let i = 0; i < n; i += CH) {
    const rows = Math.min(CH, n - i);
    for (let r = 0; r < rows; r++) {
      const c = centres[Math.floor(rand() * clusters)];
      const v = chunk.subarray(r * d, (r + 1) * d);
      for (let j = 0; j < d; j++) v[j] = c[j] + sigma * gauss();
      normalise(v);
    }
    fs.writeSync(fd, Buffer.from(chunk.buffer, 0, rows * d * 4));
  }
  fs.closeSync(fd);
}

/** `n` synthetic vectors with the demo collection's (real mobilenet-v1) spec: `big` (HNSW) and, with --flat, `big-flat`. */
function bigCollections(demo) {
  const built = path.join(BIG_DB, '.built');
  const want = values.flat ? ['big', 'big-flat'] : ['big'];
  const have = fs.existsSync(built) ? fs.readFileSync(built, 'utf8').split('\n').filter(Boolean) : [];
  if (want.every((c) => have.includes(c))) return { db: BIG_DB, collections: want };
  const emb = path.join(WORK, `emb-${N}`);
  if (!fs.existsSync(path.join(emb, 'lookalike-spec.json'))) {
    fs.rmSync(emb, { recursive: true, force: true });
    // the spec of a real mobilenet-v1 collection: import checks (and keeps) the embedder, so --image uses the model
    const exported = path.join(WORK, 'demo-export');
    fs.rmSync(exported, { recursive: true, force: true });
    lookalike(['export', '--db', demo.db, '-c', demo.collection, '--format', 'npy', '-o', exported, '--json', '--no-progress'], 'demo export');
    const spec = JSON.parse(fs.readFileSync(path.join(exported, 'lookalike-spec.json'), 'utf8'));
    if (spec.embedder.id !== 'mobilenet-v1' || spec.dimension !== D) throw new Error(`unexpected demo spec: ${spec.embedder.id}, ${spec.dimension}`);
    fs.mkdirSync(path.join(emb, 'img_emb'), { recursive: true });
    log(`writing ${N} × ${D} clustered unit vectors…`);
    writeClusteredNpy(path.join(emb, 'img_emb', 'img_emb_0.npy'), N, D);
    // no metadata parquet: items get ids row-0 … row-(n-1) and no path
    fs.writeFileSync(path.join(emb, 'lookalike-spec.json'), `${JSON.stringify({ ...spec, index: { type: 'flat' } }, null, 2)}\n`);
  }
  for (const c of want.filter((x) => !have.includes(x))) {
    log(`importing ${N} vectors into ${c}…`);
    const imp = lookalike(['import', emb, '--db', BIG_DB, '-c', c, '--json', '--no-progress'], 'import');
    log(`  ${(imp.wallMs / 1000).toFixed(1)} s`);
    if (c === 'big') {
      log('building its HNSW index (M 16, efConstruction 200)…');
      const r = lookalike(['reindex', '--db', BIG_DB, '-c', c, '--index', 'hnsw', '--json'], 'reindex');
      log(`  ${(r.wallMs / 1000).toFixed(1)} s`);
    }
    have.push(c);
    fs.writeFileSync(built, `${have.join('\n')}\n`);
  }
  return { db: BIG_DB, collections: want };
}

// ───────────────────────────── measuring

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
};
const PARTS = ['processAndModulesMs', 'nodeStartMs', 'modulesMs', 'storeOpenMs', 'modelLoadMs', 'searchMs', 'totalMs'];

/** One case: `args(i)` for run i, every variant each run (interleaved). */
function measure(name, args, { timings = false } = {}) {
  const rows = VARIANTS.map((v) => ({ case: name, variant: v.name, wall: [], parts: Object.fromEntries(PARTS.map((p) => [p, []])) }));
  for (let i = 0; i < RUNS; i++) {
    for (const [k, v] of VARIANTS.entries()) {
      const a = args(i, v.cli);
      const r = run(a, name);
      rows[k].wall.push(r.wallMs);
      if (timings) {
        const t = JSON.parse(r.stdout).timings;
        // older builds report Node.js start and modules as one figure (processAndModulesMs)
        const parts = { nodeStartMs: t.nodeStartMs ?? NaN, modulesMs: t.modulesMs ?? NaN, ...t };
        for (const p of PARTS) rows[k].parts[p].push(parts[p]);
      }
    }
  }
  return rows.map((r) => {
    const stat = (xs) => (xs.length && xs.every((x) => Number.isFinite(x)) ? { median: pct(xs, 0.5), p90: pct(xs, 0.9) } : null);
    const out = { case: r.case, variant: r.variant, runs: RUNS, wallMs: stat(r.wall) };
    if (timings) for (const p of PARTS) out[p] = stat(r.parts[p]);
    log(`  ${r.case} [${r.variant}]: wall median ${out.wallMs.median.toFixed(0)} ms, p90 ${out.wallMs.p90.toFixed(0)} ms`);
    return out;
  });
}

const demo = demoCollection();
const big = bigCollections(demo);
log(`measuring, ${RUNS} runs per case${values.compare ? ', before and after interleaved' : ''}…`);
const node = process.execPath;
const search = (db, c, q) => (i, cli) => [node, cli, 'search', '--db', db, '-c', c, ...q(i), '-k', '10', '--timings', '--json'];
const byId = (ids) => (i) => ['--id', ids[i % ids.length]];
const byImage = () => ['--image', QUERY_IMAGE];
const bigIds = Array.from({ length: 50 }, (_, i) => `row-${(i * 7919) % N}`);
const results = [
  ...measure('node -e 0', () => [node, '-e', '0']).filter((r, i, all) => i === all.length - 1).map((r) => ({ ...r, variant: '-' })),
  ...measure('lookalike --version', (i, cli) => [node, cli, '--version']),
  ...measure('demo (96): search --id', search(demo.db, demo.collection, byId(demo.ids)), { timings: true }),
  ...measure('demo (96): search --image', search(demo.db, demo.collection, byImage), { timings: true }),
  ...big.collections.flatMap((c) => {
    const label = `${N / 1000}k ${c === 'big' ? 'HNSW' : 'flat'}`;
    return [
      ...measure(`${label}: search --id`, search(big.db, c, byId(bigIds)), { timings: true }),
      ...measure(`${label}: search --image`, search(big.db, c, byImage), { timings: true }),
    ];
  }),
];

if (values.json) console.log(JSON.stringify({ node: process.version, runs: RUNS, n: N, dimension: D, results }, null, 2));
{
  // the table: on stdout, or on stderr beside --json's object
  const print = values.json ? log : console.log;
  const f = (s) => (s ? `${s.median.toFixed(0)} / ${s.p90.toFixed(0)}` : '–');
  print(`\nCold start, ${RUNS} runs each, median / p90 ms (Node ${process.version}; wall = spawn to exit; the rest from --timings)\n`);
  print('| case | variant | wall | Node.js start + modules | Node.js start | modules | store open | model load | search | to result |');
  print('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    print(`| ${r.case} | ${r.variant} | ${f(r.wallMs)} | ${f(r.processAndModulesMs)} | ${f(r.nodeStartMs)} | ${f(r.modulesMs)} | ${f(r.storeOpenMs)} | ${f(r.modelLoadMs)} | ${f(r.searchMs)} | ${f(r.totalMs)} |`);
  }
}
