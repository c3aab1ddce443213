#!/usr/bin/env node
/**
 * bench:map — how long a collection map takes: synthetic vectors (planted Gaussian blobs on the unit sphere) in an
 * embedded store, mapped by `collection.map()` at each size: wall and CPU time (on a shared machine the CPU time is
 * the steadier figure), when each phase started, peak memory, cluster purity against the planted blobs, and the
 * cached second call.
 *
 *   npm run build && npm run bench:map                       # 10,000 and 100,000 vectors of 128 dimensions
 *   npm run bench:map -- --sizes 10000,50000 --dim 512
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase, openStore } from '../dist/index.js';
import { seededRandom as rng } from '../dist/util/random.js';

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '10000,100000' }, dim: { type: 'string', default: '128' }, blobs: { type: 'string', default: '20' } },
});
const sizes = values.sizes.split(',').map(Number);
const d = Number(values.dim);
const blobs = Number(values.blobs);
const log = (s) => process.stdout.write(`${s}\n`);

log(`bench:map — ${d}-d vectors in ${blobs} blobs, ${os.availableParallelism()} cores, Node ${process.version}`);
for (const n of sizes) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-map-'));
  const rand = rng(n);
  const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  const centres = Array.from({ length: blobs }, () => Float32Array.from({ length: d }, gauss));
  const label = [];
  const items = [];
  for (let i = 0; i < n; i++) {
    const b = Math.floor(rand() * blobs);
    const v = Float32Array.from(centres[b], (c) => c + 0.9 * gauss());
    const norm = Math.hypot(...v);
    for (let j = 0; j < d; j++) v[j] /= norm;
    label.push(b);
    items.push({ id: `v${i}`, vector: v });
  }
  const embedder = { id: 'synthetic', kind: 'synthetic', model: 'synthetic', revision: '1', dimension: d, modalities: ['image'], preprocessing: {} };
  const store = await openStore(path.join(work, 'db'));
  const col = await store.createCollection({ name: 'synthetic', embedder, dimension: d, metric: 'cosine', vectorType: 'float32', index: { type: 'flat' } });
  for (let i = 0; i < items.length; i += 5000) await col.upsert(items.slice(i, i + 5000));
  await store.close();

  const db = await openDatabase(path.join(work, 'db'), { cacheDir: path.join(work, 'cache') });
  const c = await db.openCollection('synthetic');
  const phases = [];
  let last = null;
  let peak = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const m = await c.map({
    clusters: blobs,
    onProgress: (p) => {
      peak = Math.max(peak, process.memoryUsage().rss);
      if (p.phase !== last) {
        phases.push(`${p.phase} ${((performance.now() - t0) / 1000).toFixed(1)}`);
        last = p.phase;
      }
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const byCluster = new Map();
  m.points.forEach((p) => {
    const counts = byCluster.get(p.cluster) ?? new Map();
    const l = label[Number(p.id.slice(1))];
    counts.set(l, (counts.get(l) ?? 0) + 1);
    byCluster.set(p.cluster, counts);
  });
  const purity = [...byCluster.values()].reduce((s, counts) => s + Math.max(...counts.values()), 0) / m.points.length;
  const t1 = performance.now();
  const again = await c.map({ clusters: blobs });
  log(
    `  ${n.toLocaleString('en')} vectors: ${m.method.toUpperCase()} ${seconds.toFixed(1)} s wall, ${cpuSeconds.toFixed(1)} s CPU (phases start at s: ${phases.join(', ')}), ` +
      `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB, purity ${purity.toFixed(3)} over ${blobs} blobs, cached call ${(performance.now() - t1).toFixed(0)} ms (${again.cached ? 'cached' : 'NOT cached'})`,
  );
  await db.close();
  fs.rmSync(work, { recursive: true, force: true });
}
