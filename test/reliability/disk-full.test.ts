/**
 * RELIABILITY: the disk fills up during an ingest (a 1.4 MB tmpfs — room for the empty store with its 32 KiB pages and a few batches; needs root to mount, as in CI): a clear
 * STORAGE_FULL error, no corruption, everything committed before is kept, and the run completes once there is room.
 */
import Database from 'better-sqlite3';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/store/embedded/store.js';
import { CLI, SAMPLES, tmpDir } from '../helpers.js';

const run = promisify(execFile);

describe('disk full', () => {
  it('reports STORAGE_FULL, keeps what was committed, and resumes when space is back', async () => {
    if (process.getuid?.() !== 0) throw new Error('this scenario mounts a small tmpfs: run it as root (CI does)');
    const mnt = tmpDir('lookalike-tinyfs-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1400k', 'tmpfs', mnt]);
    try {
      const db = path.join(mnt, 'db');
      const args = [CLI, 'index', SAMPLES, '--db', db, '-c', 'f', '--model', 'mobilenet-v1', '--json'];
      const err = (await run(process.execPath, args).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(err.code).toBe(1);
      expect(err.stderr).toMatch(/disk holding the store is full/);
      expect(err.stderr).toContain('STORAGE_FULL');
      expect(err.stderr).not.toMatch(/\n\s+at /);
      const check = new Database(path.join(db, DB_FILE), { readonly: true });
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
      const kept = (check.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n;
      check.close();
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(96);
      // room again: remount bigger (tmpfs keeps its files) and the same command completes
      execFileSync('mount', ['-o', 'remount,size=64m', mnt]);
      const { stdout } = await run(process.execPath, args);
      expect(JSON.parse(stdout)).toMatchObject({ added: 96 - kept, unchanged: kept, failed: 0 });
    } finally {
      execFileSync('umount', [mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  }, 120_000);
});
