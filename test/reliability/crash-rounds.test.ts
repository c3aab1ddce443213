/**
 * RELIABILITY (npm run test:reliability): an ingest of ≥ 5,000 images is killed with SIGKILL at random moments,
 * several rounds, then completed. The store must open, hold every image exactly once, with vectors equal to a clean
 * run's, and its HNSW index must agree with exact search. Then SIGKILL during `reindex` and during deletes.
 */
import Database from 'better-sqlite3';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/store/embedded/store.js';
import { cifarSubset, CLI, countStoredItems, rng, ROOT, tmpDir } from '../helpers.js';

const run = promisify(execFile);
const N = Number(process.env.RELIABILITY_IMAGES ?? 5000);
const ROUNDS = Number(process.env.RELIABILITY_ROUNDS ?? 4);
const MODEL = process.env.RELIABILITY_MODEL ?? 'color-histogram';

/**
 * Start a CLI command and SIGKILL it once `progressed()` says it has written something (polled every 5 ms), plus
 * `extraMs`; resolves when it is gone, with whether the kill landed while it was still running.
 */
async function killOnProgress(args: string[], progressed: () => Promise<boolean>, extraMs: number): Promise<boolean> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore', env: { ...process.env, LOOKALIKE_THREADS: '1' } });
  let exited = false;
  const gone = new Promise<void>((r) => child.on('exit', () => ((exited = true), r())));
  const deadline = Date.now() + 120_000;
  while (!exited && Date.now() < deadline && !(await progressed())) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, extraMs));
  const landed = !exited;
  child.kill('SIGKILL');
  await gone;
  return landed;
}

function vectorsByPath(db: string): Map<string, Buffer> {
  const d = new Database(path.join(db, DB_FILE), { readonly: true });
  const m = new Map<string, Buffer>();
  for (const r of d.prepare('SELECT path, vector FROM items').iterate() as IterableIterator<{ path: string; vector: Buffer }>) m.set(r.path, r.vector);
  d.close();
  return m;
}

describe(`crash rounds: ${N} images, ${ROUNDS} SIGKILLs (${MODEL})`, () => {
  it('SIGKILL during ingest, reindex and deletes never corrupts or duplicates, and re-runs complete', async () => {
    const folder = cifarSubset(N);
    const db = path.join(tmpDir(), 'db');
    const index = ['index', folder, '--db', db, '-c', 'c', '--model', MODEL, '--index', 'hnsw', '--json'];
    const r = rng(2026);
    const seen: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const before = await countStoredItems(db);
      // killed once this round has committed at least one batch, at a random moment after that
      const landed = await killOnProgress(index, async () => (await countStoredItems(db)) > before, Math.floor(r() * 300));
      const n = await countStoredItems(db);
      expect(landed).toBe(true);
      expect(n).toBeGreaterThan(before); // this round wrote something…
      expect(n).toBeLessThan(N); // …and was killed mid-work
      seen.push(n);
      const check = new Database(path.join(db, DB_FILE), { readonly: true });
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
      expect((check.prepare('SELECT count(*) - count(DISTINCT path) AS d FROM items').get() as { d: number }).d).toBe(0);
      check.close();
    }
    console.log(`rows after each SIGKILL: ${seen.join(', ')} of ${N}`);
    const { stdout } = await run(process.execPath, [CLI, ...index], { maxBuffer: 64 << 20 });
    const final = JSON.parse(stdout) as { added: number; unchanged: number; failed: number };
    expect(final.failed).toBe(0);
    expect(final.added + final.unchanged).toBe(N);
    expect(await countStoredItems(db)).toBe(N);

    // vectors equal a clean run's
    const clean = path.join(tmpDir(), 'clean');
    await run(process.execPath, [CLI, 'index', folder, '--db', clean, '-c', 'c', '--model', MODEL, '--json'], { maxBuffer: 64 << 20 });
    const a = vectorsByPath(db);
    const b = vectorsByPath(clean);
    expect(a.size).toBe(N);
    for (const [p, v] of b) expect(Buffer.compare(a.get(p)!, v)).toBe(0);

    // the ANN index agrees with exact search
    const check1 = JSON.parse((await run(process.execPath, [CLI, 'index-check', '--db', db, '-c', 'c', '--sample', '200', '--json'])).stdout) as { recallAtK: number };
    expect(check1.recallAtK).toBeGreaterThanOrEqual(0.95);

    // SIGKILL during reindex (once the new spec is committed, while the graph is being built): the store still
    // opens, the spec is one of the two, the index is consistent after
    const specOf = () => {
      const d = new Database(path.join(db, DB_FILE), { readonly: true });
      try {
        return d.prepare(`SELECT spec FROM collections WHERE name = 'c'`).pluck().get() as string;
      } finally {
        d.close();
      }
    };
    const specBefore = specOf();
    const landedReindex = await killOnProgress(
      ['reindex', '--db', db, '-c', 'c', '--index', 'hnsw', '--hnsw-m', '24', '--ef-construction', '100'],
      async () => specOf() !== specBefore,
      0,
    );
    expect(landedReindex).toBe(true);
    const check2 = JSON.parse((await run(process.execPath, [CLI, 'index-check', '--db', db, '-c', 'c', '--sample', '200', '--json'])).stdout) as { recallAtK: number };
    expect(check2.recallAtK).toBeGreaterThanOrEqual(0.95);
    expect(await countStoredItems(db)).toBe(N);

    // SIGKILL during deletes (a child deleting 500 items in batches of 50): whole batches or nothing
    const script = path.join(tmpDir(), 'delete.mjs');
    fs.writeFileSync(
      script,
      `import { openDatabase } from ${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))};
       const db = await openDatabase(${JSON.stringify(db)});
       const c = await db.openCollection('c');
       const ids = (await c.files()).map((f) => f.id).sort().slice(0, 500);
       for (let i = 0; i < ids.length; i += 50) { await c.delete(ids.slice(i, i + 50)); await new Promise((r) => setTimeout(r, 20)); }
       await db.close();`,
    );
    const child = spawn(process.execPath, [script], { stdio: 'ignore' });
    const gone = new Promise<void>((res) => child.on('exit', () => res()));
    const deadline = Date.now() + 60_000;
    while ((await countStoredItems(db)) === N && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    expect(await countStoredItems(db)).toBeLessThan(N); // the deleting child got going before it was killed
    child.kill('SIGKILL');
    await gone;
    const left = await countStoredItems(db);
    expect((N - left) % 50).toBe(0);
    const check3 = JSON.parse((await run(process.execPath, [CLI, 'index-check', '--db', db, '-c', 'c', '--sample', '100', '--json'])).stdout) as { recallAtK: number };
    expect(check3.recallAtK).toBeGreaterThanOrEqual(0.95);
    const again = JSON.parse((await run(process.execPath, [CLI, ...index], { maxBuffer: 64 << 20 })).stdout) as { added: number };
    expect(again.added).toBe(N - left);
    expect(await countStoredItems(db)).toBe(N);
  }, 600_000);
});
