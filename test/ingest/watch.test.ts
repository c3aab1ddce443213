/**
 * Issue 15.3: folders that stay in sync — create, modify, rename, move between folders, delete, a burst of 500 files,
 * a folder unmounted and back, catch-up after downtime — each reflected within a bounded time and counted exactly,
 * on both stores.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fileId } from '../../src/ingest/folder.js';
import type { FolderWatcher, SyncReport } from '../../src/ingest/watch.js';
import { openDatabase, type Collection, type LookalikeDatabase } from '../../src/lookalike.js';
import { freshPostgresDb, tmpDir } from '../helpers.js';

let colour = 0;
/** A small PNG of its own colour (distinct content, distinct hash). */
async function image(file: string): Promise<void> {
  colour++;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const c = { r: (colour * 37) % 256, g: (colour * 91) % 256, b: (colour * 53 + Math.floor(colour / 256)) % 256 };
  await sharp({ create: { width: 24, height: 24 + (colour % 7), channels: 3, background: c } }).png().toFile(file);
}

const BACKENDS: [string, () => Promise<string>][] = [
  ['embedded', async () => tmpDir()],
  ['postgres', () => freshPostgresDb(inject('pgUrl'))],
];

for (const [backend, location] of BACKENDS) {
  describe(`watch: ${backend}`, () => {
    let db: LookalikeDatabase;
    let col: Collection;
    let watcher: FolderWatcher;
    const root = path.join(tmpDir('lookalike-watch-'), 'photos');
    const reports: SyncReport[] = [];
    const paths = async () => (await col.files()).map((f) => path.relative(root, f.path)).sort();
    const TIMEOUT = { timeout: 20_000, interval: 100 };

    beforeAll(async () => {
      for (const f of ['a.png', 'b.png', 'sub/c.png']) await image(path.join(root, f));
      db = await openDatabase(await location(), { threads: 1 });
      col = await db.collection('w', { model: 'color-histogram' });
      watcher = col.watch(root, { debounceMs: 200, pollMs: 300, folderLabelKey: 'folder', onSync: (r) => reports.push(r) });
      await watcher.ready;
    }, 60_000);
    afterAll(async () => {
      await watcher?.close();
      await col?.close();
      await db?.close();
    });

    it('catches up at start', async () => {
      expect(await paths()).toEqual(['a.png', 'b.png', 'sub/c.png']);
      expect(reports[0]).toMatchObject({ added: 3 });
    });

    it('create, modify, delete', async () => {
      await image(path.join(root, 'd.png'));
      await expect.poll(paths, TIMEOUT).toEqual(['a.png', 'b.png', 'd.png', 'sub/c.png']);
      const before = (await col.files()).find((f) => f.path.endsWith('b.png'))!;
      await image(path.join(root, 'b.png')); // new content
      await expect.poll(async () => (await col.files()).find((f) => f.path.endsWith('b.png'))!.contentHash, TIMEOUT).not.toBe(before.contentHash);
      expect((await col.files()).find((f) => f.path.endsWith('b.png'))!.id).toBe(before.id);
      fs.rmSync(path.join(root, 'a.png'));
      await expect.poll(paths, TIMEOUT).toEqual(['b.png', 'd.png', 'sub/c.png']);
    });

    it('rename and move between folders keep the record (vector and metadata carried over, no re-embedding)', async () => {
      const d = (await col.files()).find((f) => f.path.endsWith('d.png'))!;
      const c = (await col.files()).find((f) => f.path.endsWith('c.png'))!;
      const vd = await col.vector(d.id);
      const moves = () => reports.reduce((n, r) => n + r.moved, 0);
      const movedBefore = moves();
      fs.renameSync(path.join(root, 'd.png'), path.join(root, 'renamed.png'));
      fs.mkdirSync(path.join(root, 'other'));
      fs.renameSync(path.join(root, 'sub', 'c.png'), path.join(root, 'other', 'c.png'));
      await expect.poll(paths, TIMEOUT).toEqual(['b.png', 'other/c.png', 'renamed.png']);
      const after = await col.files();
      const d2 = after.find((f) => f.path.endsWith('renamed.png'))!;
      const c2 = after.find((f) => f.path.endsWith('other/c.png'))!;
      expect(d2.id).toBe(fileId(path.join(root, 'renamed.png'))); // file ids follow paths
      expect(Array.from((await col.vector(d2.id))!)).toEqual(Array.from(vd!));
      expect(await col.get(d.id)).toBeUndefined();
      expect(moves() - movedBefore).toBe(2);
      expect((await col.get(c2.id))!.metadata).toMatchObject({ folder: 'other' }); // the folder label follows the move
      // a new file at an old path is a new record: the moved one stays
      await image(path.join(root, 'd.png'));
      await expect.poll(paths, TIMEOUT).toEqual(['b.png', 'd.png', 'other/c.png', 'renamed.png']);
      expect(Array.from((await col.vector(d2.id))!)).toEqual(Array.from(vd!));
      fs.rmSync(path.join(root, 'd.png'));
      await expect.poll(paths, TIMEOUT).toEqual(['b.png', 'other/c.png', 'renamed.png']);
    });

    it('a burst of 500 files is indexed exactly once each, in a few batches', async () => {
      const syncsBefore = reports.length;
      const burst = path.join(root, 'import');
      fs.mkdirSync(burst);
      for (let i = 0; i < 500; i++) await image(path.join(burst, `img-${String(i).padStart(3, '0')}.png`));
      await expect.poll(async () => (await col.count()), { timeout: 60_000, interval: 200 }).toBe(503);
      await watcher.idle();
      expect(await col.count()).toBe(503);
      expect(new Set((await col.files()).map((f) => f.path)).size).toBe(503);
      expect(reports.length - syncsBefore).toBeLessThanOrEqual(20);
    }, 90_000);

    it('a folder that disappears (unmounted) keeps its records, and is synced again when it is back', async () => {
      const away = `${root}.away`;
      fs.renameSync(root, away);
      await new Promise((r) => setTimeout(r, 1500)); // several polls and any events
      await watcher.idle();
      expect(await col.count()).toBe(503);
      await image(path.join(away, 'while-away.png'));
      fs.rmSync(path.join(away, 'b.png'));
      fs.renameSync(away, root);
      await expect.poll(paths, TIMEOUT).toContain('while-away.png');
      await expect.poll(async () => (await paths()).includes('b.png'), TIMEOUT).toBe(false);
      expect(await col.count()).toBe(503);
    }, 60_000);

    it('catches up after downtime (changes made while not watching)', async () => {
      await watcher.close();
      const r0 = (await col.files()).find((f) => f.path.endsWith('renamed.png'))!;
      fs.renameSync(path.join(root, 'renamed.png'), path.join(root, 'other', 'renamed-again.png'));
      fs.rmSync(path.join(root, 'import', 'img-000.png'));
      await image(path.join(root, 'late.png'));
      watcher = col.watch(root, { debounceMs: 200, pollMs: 300, onSync: (r) => reports.push(r) });
      await watcher.ready;
      expect(reports.at(-1)).toMatchObject({ added: 1, moved: 1, removed: 1, folderMissing: false });
      const files = await col.files();
      const again = files.find((f) => f.path.endsWith('renamed-again.png'))!;
      expect(again.contentHash).toBe(r0.contentHash);
      expect(await col.get(r0.id)).toBeUndefined();
      expect(await col.count()).toBe(503);
    });
  });
}
