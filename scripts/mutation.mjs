#!/usr/bin/env node
/**
 * `npm run test:mutation`: do the tests notice when the code is wrong? Applies deliberate breakages (mutants) to
 * the sources one at a time, runs the tests that cover that layer, and expects them to fail ("killed"). A mutant
 * the tests survive is a gap in the tests. Prints a score per layer (src/store, src/ingest, src/ann, src/eval).
 *
 *   npm run test:mutation                 # all mutants (≈ 10 minutes on 2 cores; needs PostgreSQL like npm test)
 *   npm run test:mutation -- --only ann   # one layer
 *   npm run test:mutation -- --json
 *
 * Every mutant is a plain text replacement that must match exactly once (so the list cannot rot silently), and
 * the file is always restored, even on Ctrl-C.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const json = args.includes('--json');

/** Tests run for each layer's mutants. */
const TESTS = {
  store: ['test/store/embedded.test.ts', 'test/store/contract.test.ts', 'test/ingest/uploads.test.ts'],
  ingest: ['test/ingest/ingest.test.ts', 'test/ingest/bad-input.test.ts', 'test/ingest/uploads.test.ts', 'test/ingest/walk.test.ts', 'test/image/decode.test.ts'],
  ann: ['test/ann/flat.test.ts', 'test/ann/hnsw.test.ts', 'test/ann/quantized.test.ts', 'test/store/embedded.test.ts'],
  eval: ['test/eval/metrics.test.ts', 'test/eval/labels.test.ts', 'test/eval/evaluate.test.ts'],
};

/** [layer, file, what it breaks, find, replace, tests (default: the layer's)] */
const MUTANTS = [
  // store
  ['store', 'src/store/embedded/collection.ts', 'writes no longer check their collection instance', 'if (this.stmts.alive.get(this.cid) === undefined) {', 'if (false) {'],
  ['store', 'src/store/embedded/collection.ts', 're-scoring sorts worst first', 'return out.sort((a, b) => b.score - a.score || a.key - b.key);', 'return out.sort((a, b) => a.score - b.score || a.key - b.key);'],
  ['store', 'src/store/embedded/collection.ts', 'filters no longer guard against unparsable stored JSON', "CASE WHEN json_valid(metadata) THEN ${clauses.join(' AND ')} ELSE 0 END", "${clauses.join(' AND ')}"],
  ['store', 'src/store/spec.ts', 'vectors of another dimension are accepted', 'if (v.length !== dimension) {', 'if (false) {'],
  ['store', 'src/store/embedded/schema.ts', 'impossible schema versions are accepted', 'if (!Number.isInteger(v) || v < 1) {', 'if (false) {'],
  ['store', 'src/store/embedded/schema.ts', "another program's database is taken over", 'if (foreign.length > 0) throw', 'if (false) throw'],
  ['store', 'src/store/embedded/vectors.ts', "another connection's writes are never seen", 'if (this.flat && dataVersion === this.version) return;', 'if (this.flat) return;'],
  ['store', 'src/store/embedded/store.ts', "a dropped collection's index files stay", "new DerivedFiles(this.indexDir, String(cid)).removeAll();", ''],
  ['store', 'src/store/postgres/retry.ts', 'transient PostgreSQL errors are not retried', 'if (!isTransient(e)) throw e;', 'throw e;', ['test/store/postgres-faults.slow.test.ts']],
  ['store', 'src/store/embedded/store.ts', 'broken collection definitions break the listing', 'broken.push({ name: r.name, error: reasonOf(e) });', 'throw e;'],
  // ingest
  ['ingest', 'src/ingest/folder.ts', 'a changed mtime alone is not noticed', 's.size === f.size && s.mtimeMs === f.mtimeMs', 's.size === f.size'],
  ['ingest', 'src/ingest/pipeline.ts', 'unchanged content is re-embedded', 'src.previous.contentHash === f.contentHash', 'false'],
  ['ingest', 'src/ingest/pipeline.ts', 'empty embeddings are stored', 'if (isEmpty(vector)) {', 'if (false) {'],
  ['ingest', 'src/ingest/folder.ts', 'prune deletes files that still exist', '!seen.has(s.path)).map((s) => s.id)', 'true).map((s) => s.id)'],
  ['ingest', 'src/ingest/uploads.ts', 'onConflict merge replaces', 'previous && onConflict === \'merge\' ? { ...previous.metadata, ...metadata } : metadata', 'metadata'],
  ['ingest', 'src/ingest/upload-storage.ts', 'kept uploads are never deleted', 'await Promise.all(mine.filter((p) => !used.has(p)).map((p) => fs.rm(p, { force: true })));', ''],
  ['ingest', 'src/ingest/walk.ts', 'hidden files are indexed', "if (name.startsWith('.')) continue;", ''],
  ['ingest', 'src/ingest/walk.ts', 'non-UTF-8 names are skipped silently', 'opts.onProblem?.(p, `the name is not valid UTF-8', 'void (p, `the name is not valid UTF-8'],
  ['ingest', 'src/ingest/pipeline.ts', 'failed images are dropped from the report', '    else fail(p.i, p.error);', '    else done++;'],
  ['ingest', 'src/image/decode.ts', 'EXIF orientation is ignored', '      .rotate()\n', ''],
  // ann
  ['ann', 'src/ann/kernels.ts', 'ties are broken by push order', 'return s1 < s2 || (s1 === s2 && id1 > id2);', 'return s1 < s2;'],
  ['ann', 'src/ann/flat.ts', 'a delete forgets where the moved row went', 'this.slotOf.set(movedKey, slot);', ''],
  ['ann', 'src/ann/hnsw.ts', 'excluded keys come back from HNSW', 'if (params.exclude?.has(key)) continue;', ''],
  ['ann', 'src/ann/hnsw.ts', 'a saved graph of another generation is used', '(m) => m.generation === generation && m.dimension === dimension', '(m) => m.dimension === dimension'],
  ['ann', 'src/ann/ivf.ts', 'IVF ignores nprobe', 'Math.min(params.nprobe ?? this.params.nprobe, this.centroids.length)', '1'],
  ['ann', 'src/ann/ivf.ts', 'IVF assignments of another generation are used', "files.readMeta<{ generation: number }>(LISTS, (m) => m.generation === generation)", "files.readMeta<{ generation: number }>(LISTS, () => true)"],
  ['ann', 'src/ann/files.ts', 'any sidecar is taken as current', 'return accept(meta) && fs.existsSync(this.path(name)) ? meta : undefined;', 'return fs.existsSync(this.path(name)) ? meta : undefined;'],
  ['ann', 'src/store/embedded/vectors.ts', 'a saved graph missing vectors is used', 'if (loaded && loaded.size === flat.size) {', 'if (loaded) {'],
  ['ann', 'src/ann/flat.ts', 'int8 values are truncated, not rounded', 'Math.round(v[i]! / sc[i]!)', 'Math.trunc(v[i]! / sc[i]!)'],
  ['ann', 'src/ann/flat.ts', 'L2 scores forget the row norm', 'const s = 2 * v[base + slot]! - this.norms[slot]! - qn;', 'const s = 2 * v[base + slot]! - qn;'],
  // eval
  ['eval', 'src/eval/metrics.ts', 'P@k divides by the results returned', 'return hits / k;', 'return hits / Math.max(1, Math.min(k, relevant.length));'],
  ['eval', 'src/eval/metrics.ts', 'AP divides by the relevant found', '      sum += hits / (i + 1);\n    }\n  }\n  return sum / denominator;', '      sum += hits / (i + 1);\n    }\n  }\n  return hits === 0 ? 0 : sum / hits;'],
  ['eval', 'src/eval/metrics.ts', 'AP@k ignores the cut-off in the denominator', 'const denominator = cutoff === undefined ? totalRelevant : Math.min(cutoff, totalRelevant);\n  if (denominator === 0) return 0;\n  let hits', 'const denominator = totalRelevant;\n  if (denominator === 0) return 0;\n  let hits'],
  ['eval', 'src/eval/metrics.ts', 'expected AP ignores tied pairs', 'const q = g.size > 1 ? (g.relevant * (g.relevant - 1)) / (g.size * (g.size - 1)) : 0;', 'const q = 0;'],
  ['eval', 'src/eval/ties.ts', 'ties fall back to path order', 'keyed.sort((a, b) => a.r - b.r || cmp(a.k.text, b.k.text) || cmp(tieBreakPath(a.h), tieBreakPath(b.h)));', 'keyed.sort((a, b) => cmp(tieBreakPath(a.h), tieBreakPath(b.h)));'],
  ['eval', 'src/eval/metrics.ts', 'tie groups ignore the tolerance', 'while (end < scores.length && top - scores[end]! <= tolerance) end++;', 'while (end < scores.length && top === scores[end]!) end++;'],
  ['eval', 'src/eval/labels.ts', 'ambiguous bare names are accepted', 'if (ambiguous.size > 0) {', 'if (false) {'],
];

const layers = only ? [only] : Object.keys(TESTS);
const selected = MUTANTS.filter(([layer]) => layers.includes(layer));
const results = [];
let current;
const restore = () => {
  if (current) fs.writeFileSync(current.file, current.original);
  current = undefined;
};
process.on('SIGINT', () => {
  restore();
  process.exit(130);
});

for (const [layer, rel, what, find, replace, tests] of selected) {
  const file = path.join(ROOT, rel);
  const original = fs.readFileSync(file, 'utf8');
  const count = original.split(find).length - 1;
  if (count !== 1) {
    results.push({ layer, file: rel, what, status: 'stale', detail: `the text to break occurs ${count} times` });
    continue;
  }
  current = { file, original };
  fs.writeFileSync(file, original.replace(find, replace));
  const t0 = Date.now();
  // the CLI tests run the built dist/; these tests import the sources, so no build is needed per mutant
  const r = spawnSync('npx', ['vitest', 'run', '--bail', '1', ...(tests ?? TESTS[layer])], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, LOOKALIKE_THREADS: '1' } });
  restore();
  const status = r.status === 0 ? 'survived' : 'killed';
  results.push({ layer, file: rel, what, status, seconds: Math.round((Date.now() - t0) / 1000) });
  if (!json) process.stderr.write(`${status === 'killed' ? 'killed  ' : 'SURVIVED'}  ${layer.padEnd(6)} ${what}\n`);
}

const score = {};
for (const layer of layers) {
  const mine = results.filter((r) => r.layer === layer && r.status !== 'stale');
  const killed = mine.filter((r) => r.status === 'killed').length;
  score[`src/${layer}`] = { mutants: mine.length, killed, score: mine.length ? killed / mine.length : null };
}
const stale = results.filter((r) => r.status === 'stale');
if (json) console.log(JSON.stringify({ score, results }, null, 2));
else {
  console.log('\nlayer          mutants  killed  score');
  for (const [layer, s] of Object.entries(score)) console.log(`${layer.padEnd(14)} ${String(s.mutants).padStart(7)} ${String(s.killed).padStart(7)}  ${s.score === null ? '-' : s.score.toFixed(2)}`);
  for (const s of stale) console.log(`stale mutant (fix the list): ${s.file}: ${s.what} — ${s.detail}`);
  for (const s of results.filter((r) => r.status === 'survived')) console.log(`survived: ${s.file}: ${s.what}`);
}
process.exitCode = stale.length > 0 ? 1 : 0;
