/**
 * Adding images given as bytes (HTTP uploads, streams) through the library: re-add semantics, kept originals
 * deleted with their item and collection, writes bound to the collection instance they started on.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/lookalike.js';
import { SAMPLES, tmpDir } from '../helpers.js';

const daisies = fs.readdirSync(path.join(SAMPLES, 'daisy')).map((f) => fs.readFileSync(path.join(SAMPLES, 'daisy', f)));

describe('Collection.addImages', () => {
  it('re-adding an image replaces its metadata by default; merge and skip do what they say (10.8)', async () => {
    const db = await openDatabase(tmpDir(), { threads: 1 });
    const col = await db.collection('c', { model: 'color-histogram' });
    const first = await col.addImages([{ bytes: daisies[0]!, filename: 'a.jpg', metadata: { species: 'daisy', source: 'x' } }]);
    expect(first).toMatchObject({ added: [{ status: 'added' }], updated: 0, skipped: [], failures: [] });
    const id = first.added[0]!.id;
    const replaced = await col.addImages([{ bytes: daisies[0]!, filename: 'b.jpg', metadata: { species: 'bellis' } }]);
    expect(replaced).toMatchObject({ added: [{ id, status: 'updated' }], updated: 1 });
    // the image's facts (the sample JPEGs state only their format) under the metadata given
    expect((await col.get(id))!.metadata).toEqual({ format: 'jpeg', species: 'bellis', filename: 'b.jpg' });
    await col.addImages([{ bytes: daisies[0]!, metadata: { colour: 'white' } }], { onConflict: 'merge' });
    expect((await col.get(id))!.metadata).toEqual({ format: 'jpeg', species: 'bellis', filename: 'b.jpg', colour: 'white' });
    const skipped = await col.addImages([{ bytes: daisies[0]!, metadata: { species: 'zzz' } }], { onConflict: 'skip' });
    expect(skipped).toMatchObject({ added: [], skipped: [{ index: 0, id }] });
    expect((await col.get(id))!.metadata.species).toBe('bellis');
    expect(await col.count()).toBe(1);
    await col.close();
    await db.close();
  });

  it('keeps originals under the store, fills width/height, and deletes them with the item and the collection (10.8)', async () => {
    const dir = tmpDir();
    const db = await openDatabase(dir, { threads: 1 });
    const col = await db.collection('c', { model: 'color-histogram' });
    const wide = await sharp(daisies[1]!).resize(120, 60, { fit: 'fill' }).jpeg().toBuffer();
    const r = await col.addImages(
      [{ bytes: daisies[0]! }, { bytes: wide, filename: 'wide.jpg' }, { bytes: Buffer.from('not an image'), filename: 'notes.txt' }],
      { keepOriginals: true },
    );
    expect(r.added).toHaveLength(2);
    expect(r.failures).toEqual([{ index: 2, filename: 'notes.txt', error: expect.stringMatching(/not an image.*accepted formats: JPEG, PNG/) }]);
    const paths = r.added.map((a) => a.path!);
    for (const p of paths) {
      expect(p.startsWith(path.join(dir, 'uploads') + path.sep)).toBe(true);
      expect(fs.existsSync(p)).toBe(true);
    }
    expect(await col.get(r.added[1]!.id)).toMatchObject({ width: 120, height: 60 });
    expect(await col.delete([r.added[0]!.id])).toBe(1);
    expect(fs.existsSync(paths[0]!)).toBe(false);
    expect(fs.existsSync(paths[1]!)).toBe(true);
    await col.close();
    expect(await db.dropCollection('c')).toBe(true);
    expect(fs.existsSync(paths[1]!)).toBe(false);
    expect(fs.existsSync(path.dirname(paths[1]!))).toBe(false);
    await db.close();
  });

  it('an upload in flight while its collection is dropped and re-created fails with COLLECTION_CHANGED; nothing lands in the new one (10.1)', async () => {
    const dir = tmpDir();
    const db = await openDatabase(dir, { threads: 1, batchSize: 2 });
    const old = await db.collection('race3', { model: 'phash' });
    const images = [...daisies, ...daisies.map((d) => sharp(d).flop().jpeg().toBuffer())];
    const bytes = await Promise.all(images);
    const inFlight = old.addImages(bytes.map((b) => ({ bytes: b })), { keepOriginals: true });
    await db.dropCollection('race3');
    const fresh = await db.collection('race3', { model: 'color-histogram' });
    await expect(inFlight).rejects.toMatchObject({ code: 'COLLECTION_CHANGED' });
    expect(await fresh.count()).toBe(0);
    // and none of the originals it kept are left on disk
    const uploads = path.join(dir, 'uploads');
    expect(fs.existsSync(uploads) ? fs.readdirSync(uploads).flatMap((d) => fs.readdirSync(path.join(uploads, d))) : []).toEqual([]);
    expect(fresh.spec.dimension).toBe(128);
    await old.close();
    await fresh.close();
    await db.close();
  });
});
