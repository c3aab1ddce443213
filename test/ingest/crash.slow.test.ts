/**
 * SLOW (end-to-end): a real `lookalike index` process is killed with SIGKILL in the middle of an ingest.
 * The store must open, hold no duplicates, and the next run must complete it.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/store/embedded/store.js';
import { CLI, countStoredItems, requireShared, SHARED, tmpDir } from '../helpers.js';

const run = promisify(execFile);
const DATA = path.join(SHARED, 'datasets', 'oxford-flowers17');

describe('crash safety (slow)', () => {
  it('SIGKILL mid-ingest loses nothing committed; the re-run completes without duplicates', async () => {
    requireShared(DATA);
    const db = path.join(tmpDir(), 'db');
    const args = [CLI, 'index', DATA, '--db', db, '--collection', 'flowers', '--model', 'mobilenet-v1', '--json', '--batch-size', '16'];
    const child = spawn(process.execPath, args, { stdio: 'ignore', env: { ...process.env, LOOKALIKE_THREADS: '1' } });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 60_000;
    while ((await countStoredItems(db)) < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const before = await countStoredItems(db);
    expect(before).toBeGreaterThanOrEqual(100);
    expect(before).toBeLessThan(960);
    const check = new Database(path.join(db, DB_FILE), { readonly: true });
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    const dupes = check.prepare('SELECT count(*) - count(DISTINCT path) AS d FROM items').get() as { d: number };
    expect(dupes.d).toBe(0);
    check.close();

    const { stdout } = await run(process.execPath, args, { env: { ...process.env, LOOKALIKE_THREADS: '2' } }).catch(
      (e: { stdout: string }) => e,
    );
    const report = JSON.parse(stdout) as { added: number; unchanged: number; failed: number };
    expect(report.added + report.unchanged).toBe(960);
    expect(report.unchanged).toBe(before);
    expect(report.failed).toBe(0);
    expect(await countStoredItems(db)).toBe(960);
  }, 180_000);
});

describe('two index processes on one store at once (slow)', () => {
  it('are serialised safely by SQLite: both finish, every image once', async () => {
    requireShared(DATA);
    const db = path.join(tmpDir(), 'db');
    const folder = path.join(DATA, 'train');
    // create the collection first, so both processes find it
    await run(process.execPath, [CLI, 'index', path.join(folder, 'daisy'), '--db', db, '-c', 'f', '--model', 'color-histogram', '--json']);
    const args = [CLI, 'index', folder, '--db', db, '-c', 'f', '--json'];
    const [a, b] = await Promise.all([run(process.execPath, args), run(process.execPath, args)]);
    const ra = JSON.parse(a.stdout) as { added: number; updated: number; failed: number };
    const rb = JSON.parse(b.stdout) as { added: number; updated: number; failed: number };
    expect(ra.failed + rb.failed).toBe(0);
    const check = new Database(path.join(db, DB_FILE), { readonly: true });
    const r = check.prepare('SELECT count(*) AS n, count(DISTINCT path) AS p FROM items').get() as { n: number; p: number };
    check.close();
    expect(r).toEqual({ n: 720, p: 720 });
  }, 120_000);
});
