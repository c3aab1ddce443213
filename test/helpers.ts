import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED = path.resolve(ROOT, '..', 'shared');
export const SAMPLES = path.join(ROOT, 'samples', 'flowers');
export const QUERIES = path.join(ROOT, 'samples', 'queries');
export const COLOR_CLIP = path.join(SHARED, 'models', 'color-clip');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

/** Tests that need ../shared fail loudly when it is missing (never skipped silently). */
export function requireShared(p: string): string {
  if (!fs.existsSync(p)) throw new Error(`test data missing: ${p} (../shared must be beside the project)`);
  return p;
}

export function tmpDir(prefix = 'lookalike-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Class of a sample image = its parent folder. */
export function classOf(p: string | null): string {
  return p ? path.basename(path.dirname(p)) : '';
}

/** Deterministic PRNG for reproducible random data. */
export { seededRandom as rng } from '../src/util/random.js';
import { seededRandom as rng } from '../src/util/random.js';

export function randomUnitVectors(n: number, d: number, seed: number): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const v = new Float32Array(d);
    let s = 0;
    for (let i = 0; i < d; i++) {
      v[i] = r() * 2 - 1;
      s += v[i]! * v[i]!;
    }
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < d; i++) v[i]! *= inv;
    return v;
  });
}

/** A new, empty database on the test PostgreSQL server (started by test/setup/postgres.ts); fails loudly without one. */
export async function freshPostgresDb(serverUrl: string, prefix = 'lookalike_test'): Promise<string> {
  if (serverUrl.startsWith('error:')) throw new Error(serverUrl.slice(7));
  const { default: pg } = await import('pg');
  const name = `${prefix}_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return serverUrl.replace(/\/[^/]*$/, `/${name}`);
}

/** Rows in an embedded store's items table, read through a separate read-only connection (0 while it does not exist). */
export async function countStoredItems(dbDir: string): Promise<number> {
  const { default: Database } = await import('better-sqlite3');
  try {
    const db = new Database(path.join(dbDir, 'lookalike.sqlite'), { readonly: true, fileMustExist: true, timeout: 5000 });
    try {
      return (db.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

/** A temporary folder of links to the first `n` images of ../shared/datasets/cifar10-test (class folders in order). */
export function cifarSubset(n: number): string {
  const data = requireShared(path.join(SHARED, 'datasets', 'cifar10-test', 'test'));
  const folder = path.join(tmpDir(), 'images');
  fs.mkdirSync(folder);
  const all = fs.readdirSync(data).flatMap((c) => fs.readdirSync(path.join(data, c)).map((f) => path.join(data, c, f)));
  all.slice(0, n).forEach((f, i) => fs.symlinkSync(f, path.join(folder, `${String(i).padStart(5, '0')}.jpg`)));
  return folder;
}
