/**
 * Issue 16.1: export (Parquet, .npy in clip-retrieval's layout, JSON Lines), import (ours and clip-retrieval's),
 * copy between stores — files checked with independent readers (the .npy header byte by byte, the Parquet footer
 * with hyparquet; numpy too when this machine has it), round trips equal by count and checksum, on both stores.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fileId } from '../../src/ingest/folder.js';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { openStore } from '../../src/store/registry.js';
import type { VectorStore } from '../../src/store/types.js';
import { checksum, copyCollection, exportCollection, importInto, openImportSource, SPEC_KEY } from '../../src/transfer/transfer.js';
import { freshPostgresDb, SAMPLES, tmpDir } from '../helpers.js';
import { cli, requireBuiltCli } from '../cli/run.js';

const hasNumpy = (() => {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('export, import, copy', () => {
  let dir: string;
  let source: VectorStore;
  let db: LookalikeDatabase;
  let pg: string;
  const out = tmpDir('lookalike-export-');

  beforeAll(async () => {
    dir = path.join(tmpDir(), 'db');
    db = await openDatabase(dir, { threads: 1 });
    const col = await db.collection('flowers', { model: 'color-histogram' });
    await col.indexFolder(SAMPLES, { folderLabelKey: 'species' });
    await col.close();
    await db.close();
    source = await openStore(dir, { create: false });
    pg = await freshPostgresDb(inject('pgUrl'));
  }, 60_000);
  afterAll(async () => {
    await source?.close();
  });

  it('parquet: schema, spec in the footer, rows equal to the store', async () => {
    const file = path.join(out, 'flowers.parquet');
    const r = await exportCollection(await source.getCollection('flowers'), 'parquet', file);
    expect(r).toMatchObject({ items: 96, dimension: 128 });
    const bytes = fs.readFileSync(file);
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    expect(bytes.subarray(-4).toString()).toBe('PAR1');
    const buffer = await asyncBufferFromFile(file);
    const meta = await parquetMetadataAsync(buffer);
    expect(Number(meta.num_rows)).toBe(96);
    const schema = parquetSchema(meta);
    const names = schema.children.map((c) => c.element.name);
    expect(names).toEqual(['id', 'path', 'metadata', 'content_hash', 'size', 'mtime_ms', 'width', 'height', 'vector']);
    const vector = schema.children.find((c) => c.element.name === 'vector')!;
    expect(vector.element.converted_type).toBe('LIST');
    expect(vector.children[0]!.element.repetition_type).toBe('REPEATED');
    expect(vector.children[0]!.children[0]!.element.type).toBe('FLOAT');
    const spec = JSON.parse(meta.key_value_metadata!.find((k) => k.key === SPEC_KEY)!.value!);
    expect(spec).toMatchObject({ name: 'flowers', dimension: 128, embedder: { id: expect.stringContaining('color-histogram') } });
    const rows = await parquetReadObjects({ file: buffer, rowStart: 0, rowEnd: 3 });
    const col = await source.getCollection('flowers');
    for (const row of rows) {
      const stored = (await col.getVector(row.id as string))!;
      expect(Array.from(row.vector as number[])).toEqual(Array.from(stored));
      expect(JSON.parse(row.metadata as string)).toEqual((await col.get(row.id as string))!.metadata);
    }
  });

  it('npy: header byte by byte, data as float32 C order (and numpy agrees when present)', async () => {
    const folder = path.join(out, 'npy');
    const r = await exportCollection(await source.getCollection('flowers'), 'npy', folder);
    const npy = path.join(folder, 'img_emb', 'img_emb_0.npy');
    expect(r.files).toContain(npy);
    const b = fs.readFileSync(npy);
    expect([...b.subarray(0, 6)]).toEqual([0x93, ...Buffer.from('NUMPY')]);
    expect([b[6], b[7]]).toEqual([1, 0]);
    const hlen = b.readUInt16LE(8);
    expect((10 + hlen) % 64).toBe(0);
    const header = b.subarray(10, 10 + hlen).toString('latin1');
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(96, 128\), \} *\n$/);
    expect(b.length).toBe(10 + hlen + 96 * 128 * 4);
    const meta = await parquetReadObjects({ file: await asyncBufferFromFile(path.join(folder, 'metadata', 'metadata_0.parquet')) });
    const col = await source.getCollection('flowers');
    const v5 = (await col.getVector(meta[5]!.id as string))!;
    for (let j = 0; j < 128; j++) expect(b.readFloatLE(10 + hlen + (5 * 128 + j) * 4)).toBe(v5[j]);
    if (hasNumpy) {
      const printed = execFileSync('python3', ['-c', `import numpy as np; a = np.load(${JSON.stringify(npy)}); print(a.shape, a.dtype, repr(float(a[5, 7])))`]).toString();
      expect(printed.trim()).toBe(`(96, 128) float32 ${String(v5[7])}`); // both print the shortest round-trip decimal
    }
  });

  for (const [name, location] of [
    ['embedded', () => path.join(tmpDir(), 'imported')],
    ['postgres', () => pg],
  ] as const) {
    it(`import each format into ${name}: same count and checksum, same search results`, async () => {
      const target = await openStore(location(), { create: true });
      try {
        const want = await checksum(await source.getCollection('flowers'));
        for (const [format, file] of [
          ['parquet', path.join(out, 'flowers.parquet')],
          ['npy', path.join(out, 'npy')],
          ['jsonl', path.join(out, 'flowers.jsonl')],
        ] as const) {
          if (format === 'jsonl') await exportCollection(await source.getCollection('flowers'), 'jsonl', file);
          const r = await importInto(target, `from-${format}`, await openImportSource(file));
          expect(r).toMatchObject({ created: true, items: 96, vectorsOnly: false });
          const got = await target.getCollection(`from-${format}`);
          expect(await checksum(got)).toEqual(want);
          expect(got.spec.embedder).toEqual((await source.getCollection('flowers')).spec.embedder);
          const q = (await source.getCollection('flowers')).getVector(fileId(path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!)));
          const v = (await q)!;
          const a = await (await source.getCollection('flowers')).search(v, { k: 5 });
          const b = await got.search(v, { k: 5 });
          expect(b.map((h) => [h.id, h.path, h.metadata])).toEqual(a.map((h) => [h.id, h.path, h.metadata]));
          // again: idempotent (nothing duplicated)
          await importInto(target, `from-${format}`, await openImportSource(file));
          expect(await got.count()).toBe(96);
        }
      } finally {
        await target.close();
      }
    });
  }

  it("imports clip-retrieval's layout (float16 .npy + parquet metadata) as a vectors-only collection", async () => {
    const folder = path.join(out, 'clip-retrieval');
    fs.mkdirSync(path.join(folder, 'img_emb'), { recursive: true });
    fs.mkdirSync(path.join(folder, 'metadata'), { recursive: true });
    // 3 × 4 float16 matrix written by hand: rows (1,0,0,0), (0,1,0,0), (0.5,0.5,0.5,0.5)
    const halves = [0x3c00, 0, 0, 0, 0, 0x3c00, 0, 0, 0x3800, 0x3800, 0x3800, 0x3800];
    const dict = "{'descr': '<f2', 'fortran_order': False, 'shape': (3, 4), }";
    const hlen = 128 - 10;
    const head = Buffer.alloc(128, 0x20);
    Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0]).copy(head);
    head.writeUInt16LE(hlen, 8);
    head.write(dict, 10, 'latin1');
    head[127] = 0x0a;
    const data = Buffer.alloc(halves.length * 2);
    halves.forEach((h, i) => data.writeUInt16LE(h, i * 2));
    fs.writeFileSync(path.join(folder, 'img_emb', 'img_emb_0.npy'), Buffer.concat([head, data]));
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    fs.writeFileSync(
      path.join(folder, 'metadata', 'metadata_0.parquet'),
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: 'image_path', data: ['/photos/a.jpg', '/photos/b.jpg', '/photos/c.jpg'], type: 'STRING' },
            { name: 'caption', data: ['a red door', 'a blue sky', 'grey'], type: 'STRING' },
          ],
        }),
      ),
    );
    const target = await openStore(path.join(tmpDir(), 'cr'), { create: true });
    try {
      const r = await importInto(target, 'laion', await openImportSource(folder));
      expect(r).toMatchObject({ items: 3, vectorsOnly: true, created: true });
      const c = await target.getCollection('laion');
      expect(c.spec.embedder).toMatchObject({ kind: 'vectors-only', dimension: 4 });
      const hits = await c.search(Float32Array.from([0, 1, 0, 0]), { k: 3 });
      expect(hits[0]).toMatchObject({ path: '/photos/b.jpg', metadata: { caption: 'a blue sky', image_path: '/photos/b.jpg' } });
      expect(hits[0]!.score).toBeCloseTo(1, 5);
      expect(hits[1]!.score).toBeCloseTo(0.5, 3); // (0.5,…) normalised
    } finally {
      await target.close();
    }
    // through the library: searching it by image is a clear error
    const lib = await openDatabase(path.join(tmpDir(), 'lib'));
    const s = await openStore(lib.location, { create: true });
    await importInto(s, 'laion', await openImportSource(folder));
    await s.close();
    const col = await lib.openCollection('laion');
    await expect(col.search({ image: path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!) })).rejects.toThrow(/imported without their model.*by id or by vector/);
    const any = (await col.search({ vector: [0, 0, 1, 0] }, { k: 1 }))[0]!;
    expect((await col.search({ id: any.id }, { k: 2 })).map((h) => h.id)).not.toContain(any.id);
    await col.close();
    await lib.close();
  });

  it('copy embedded → PostgreSQL → embedded: verified equal; a resumed copy skips what is there', async () => {
    const pgStore = await openStore(pg);
    const back = await openStore(path.join(tmpDir(), 'back'), { create: true });
    try {
      // a crash half-way: the first half is already in the target
      const half = await pgStore.createCollection({ ...(await source.getCollection('flowers')).spec, name: 'copied' });
      let n = 0;
      for await (const batch of (await source.getCollection('flowers')).scanItems(48)) {
        if (n++ === 0) await half.upsert(batch);
      }
      const r = await copyCollection(source, pgStore, 'flowers', { as: 'copied' });
      expect(r).toMatchObject({ created: false, copied: 48, skipped: 48, equal: true });
      const r2 = await copyCollection(pgStore, back, 'copied', { as: 'flowers' });
      expect(r2).toMatchObject({ created: true, copied: 96, equal: true });
      expect(r2.target).toEqual((await checksum(await source.getCollection('flowers'))));
    } finally {
      await pgStore.close();
      await back.close();
    }
  });

  it('CLI: export / import / copy speak JSON; bad input is a clear error', async () => {
    requireBuiltCli();
    const file = path.join(out, 'cli.parquet');
    const e = await cli(['export', '--db', dir, '-c', 'flowers', '--format', 'parquet', '-o', file, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ format: 'parquet', items: 96, files: [file] });
    const target = path.join(tmpDir(), 'cli-db');
    const i = await cli(['import', file, '--db', target, '-c', 'again', '--json']);
    expect(i.code, i.stderr).toBe(0);
    expect(JSON.parse(i.stdout)).toMatchObject({ collection: 'again', items: 96, created: true });
    const c = await cli(['copy', '--from', target, '--to', path.join(tmpDir(), 'cli-copy'), '-c', 'again', '--json']);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ copied: 96, equal: true });
    const bad = await cli(['import', path.join(out, 'nope.csv'), '--db', target, '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: 'FILE_NOT_FOUND' } });
    const f = await cli(['export', '--db', dir, '-c', 'flowers', '--format', 'csv', '-o', file]);
    expect(f.code).toBe(2);
  });
});
