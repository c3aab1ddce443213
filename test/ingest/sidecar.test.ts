/**
 * Sidecar metadata at ingest (issue 15.1): CSV / JSON Lines rows attached to the images they name (relative path,
 * unique file name or stem, item id), typed columns (detected or declared), unmatched rows and images reported,
 * unchanged images brought up to date without re-embedding; the fashion-products catalogue through the library.
 */
import { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { metadataFileFrom, queueOptionsFrom, registerIndex, type IndexCliOpts } from '../../src/cli/commands/index.js';
import { fileId } from '../../src/ingest/folder.js';
import { detectType, matchMetadata, readMetadataFile, type MetadataTable } from '../../src/ingest/sidecar.js';
import { openDatabase } from '../../src/lookalike.js';
import { requireShared, SHARED, tmpDir } from '../helpers.js';

const FASHION = path.join(SHARED, 'datasets', 'fashion-products');

function write(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

/** A folder of small JPEGs: a/x.jpg, a/y.jpg, b/x.jpg (a duplicate name), b/z.png. */
async function folder(): Promise<string> {
  const dir = path.join(tmpDir(), 'imgs');
  const colours = ['#c00000', '#00c000', '#0000c0', '#c0c000'];
  const files = ['a/x.jpg', 'a/y.jpg', 'b/x.jpg', 'b/z.png'];
  for (const [i, f] of files.entries()) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    const s = sharp({ create: { width: 16 + i, height: 16, channels: 3, background: colours[i]! } });
    fs.writeFileSync(path.join(dir, f), await (f.endsWith('.png') ? s.png() : s.jpeg()).toBuffer());
  }
  return dir;
}

const images = (dir: string, rels: string[]) => rels.map((r) => ({ path: path.join(dir, r), id: fileId(path.join(dir, r)) }));

describe('reading a metadata file', () => {
  it('detects numbers, booleans and ISO dates per column; empty cells are left out; leading zeros stay text', async () => {
    const dir = tmpDir();
    const csv = write(dir, 'm.csv', 'file,price,year,sale,released,sku,note\nx.jpg,9.5,2012,true,2019-05-01,007,hello\ny.jpg,10,2013,FALSE,2020-01-02T10:00:00+02:00,010,\n');
    const t = await readMetadataFile({ path: csv });
    expect(t.keyColumn).toBe('file');
    expect(t.columns).toEqual({ price: 'number', year: 'number', sale: 'boolean', released: 'date', sku: 'string', note: 'string' });
    expect(t.rows).toEqual([
      { line: 2, key: 'x.jpg', values: { price: 9.5, year: 2012, sale: true, released: '2019-05-01T00:00:00.000Z', sku: '007', note: 'hello' } },
      { line: 3, key: 'y.jpg', values: { price: 10, year: 2013, sale: false, released: '2020-01-02T08:00:00.000Z', sku: '010' } },
    ]);
    // a column is a number only if every non-empty value is
    expect(detectType(['1', '2', 'n/a'])).toBe('string');
    expect(detectType(['1', '', '2'].filter(Boolean))).toBe('number');
    expect(detectType(['2019-05-01', '2019-02-30'])).toBe('string');
  });

  it('--column-type overrides detection; a cell that does not fit names the file, line, column and what was expected', async () => {
    const dir = tmpDir();
    const csv = write(dir, 'm.csv', 'id,price,sku,when\n1,3,007,2019-01-01\n2,4.5,12,2019-01-02\n');
    const t = await readMetadataFile({ path: csv, keyColumn: 'id', columnTypes: { sku: 'number', price: 'string', when: 'date' } });
    expect(t.rows[0]!.values).toEqual({ price: '3', sku: 7, when: '2019-01-01T00:00:00.000Z' });
    const bad = write(dir, 'bad.csv', 'id,price\n1,3\n2,cheap\n');
    await expect(readMetadataFile({ path: bad, columnTypes: { price: 'number' } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/bad\.csv line 3, column "price": "cheap" is not a number/),
    });
    await expect(readMetadataFile({ path: csv, columnTypes: { cost: 'number' } })).rejects.toThrow(/has no column "cost" \(--column-type cost=number\); its columns: id, price, sku, when/);
    await expect(readMetadataFile({ path: csv, keyColumn: 'name' })).rejects.toThrow(/has no column "name" \(--key-column\)/);
    await expect(readMetadataFile({ path: write(dir, 'k.csv', 'a,b\n1,2\n') })).rejects.toThrow(/which column names the images\? Give --key-column/);
    await expect(readMetadataFile({ path: write(dir, 'd.csv', 'id,a,a\n1,2,3\n') })).rejects.toThrow(/column "a" appears twice/);
    await expect(readMetadataFile({ path: write(dir, 'n.csv', 'id,a.b\n1,2\n') })).rejects.toThrow(/column name "a\.b" cannot be a metadata key/);
    await expect(readMetadataFile({ path: path.join(dir, 'missing.csv') })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('JSON Lines: values keep their JSON types, declared types convert strings, nulls are left out', async () => {
    const dir = tmpDir();
    const file = write(dir, 'm.jsonl', '{"path":"a/x.jpg","price":9.5,"tags":["a"],"day":"2019-05-01","gone":null}\n\n{"path":"a/y.jpg","price":"12","sale":true}\n');
    const t = await readMetadataFile({ path: file, columnTypes: { day: 'date' } });
    expect(t.rows).toEqual([
      { line: 1, key: 'a/x.jpg', values: { price: 9.5, tags: ['a'], day: '2019-05-01T00:00:00.000Z' } },
      { line: 3, key: 'a/y.jpg', values: { price: '12', sale: true } },
    ]);
    await expect(readMetadataFile({ path: write(dir, 'bad.jsonl', '{"path":"x"}\n[1]\n') })).rejects.toThrow(/bad\.jsonl line 2: expected a JSON object/);
    await expect(readMetadataFile({ path: file, columnTypes: { sale: 'number' } })).rejects.toThrow(/m\.jsonl line 3, field "sale": "true" is not a number \(declared number\)/);
    expect((await readMetadataFile({ path: file, columnTypes: { price: 'string' } })).rows[0]!.values.price).toBe('9.5');
  });
});

describe('matching rows to images', () => {
  const table = (rows: [string, Record<string, unknown>][], key = 'path'): MetadataTable => ({
    file: '/nowhere/m.csv',
    keyColumn: key,
    columns: {},
    rows: rows.map(([k, values], i) => ({ line: i + 2, key: k, values })),
  });

  it('by relative path (any spelling), unique file name or stem, item id; ambiguous names and unknown keys are reported', () => {
    const dir = '/photos';
    const imgs = images(dir, ['a/x.jpg', 'a/y.jpg', 'b/x.jpg', 'b/z.png', 'c/w.jpg']);
    const m = matchMetadata(
      table([
        ['./a\\x.jpg', { n: 1 }],
        ['y.jpg', { n: 2 }],
        ['z', { n: 3 }],
        [imgs[4]!.id, { n: 4 }],
        ['x.jpg', { n: 5 }],
        ['nope.jpg', { n: 6 }],
        ['', { n: 7 }],
      ]),
      dir,
      imgs,
    );
    expect([...m.byPath]).toEqual([
      ['/photos/a/x.jpg', { n: 1 }],
      ['/photos/a/y.jpg', { n: 2 }],
      ['/photos/b/z.png', { n: 3 }],
      ['/photos/c/w.jpg', { n: 4 }],
    ]);
    expect(m.report).toMatchObject({ rows: 7, matched: 4, matchedBy: { path: 1, name: 1, stem: 1, id: 1 } });
    expect(m.report.unmatchedRows).toEqual({
      count: 3,
      examples: [
        { line: 6, key: 'x.jpg', reason: '2 images have this file name (e.g. a/x.jpg, b/x.jpg): give the path' },
        { line: 7, key: 'nope.jpg', reason: 'no image has this path, file name, stem or id' },
        { line: 8, key: '', reason: 'empty path' },
      ],
    });
    expect(m.report.unmatchedImages).toEqual({ count: 1, examples: ['/photos/b/x.jpg'] });
  });

  it('two rows naming one image, or no row matching any image, are errors naming the lines / examples', () => {
    const imgs = images('/p', ['1525.jpg', '1565.jpg']);
    expect(() => matchMetadata(table([['1525', {}], ['1525.jpg', {}]], 'id'), '/p', imgs)).toThrow(/lines 2 and 3 both name the image 1525\.jpg/);
    expect(() => matchMetadata(table([['Backpacks', {}]], 'articleType'), '/p', imgs)).toThrow(/No image under \/p matches a row .* "Backpacks".* "1525\.jpg"/);
  });
});

describe('indexFolder with a metadata file', () => {
  it('attaches rows (winning over facts and the label), reports what matched, and updates unchanged images without re-embedding', async () => {
    const dir = await folder();
    const meta = path.join(path.dirname(dir), 'meta.csv');
    fs.writeFileSync(meta, 'path,format,price,label\na/x.jpg,scan,10,mine\na/y.jpg,,12.5,\nb/x.jpg,,7,\nmissing.jpg,,1,\n');
    const db = await openDatabase(tmpDir(), { threads: 1 });
    const col = await db.collection('c', { model: 'color-histogram' });
    const r = await col.indexFolder(dir, { folderLabelKey: 'label', metadataFile: { path: meta } });
    expect(r).toMatchObject({ added: 4, failed: 0, warnings: [] });
    expect(r.metadataFile).toMatchObject({
      keyColumn: 'path',
      columns: { format: 'string', price: 'number', label: 'string' },
      rows: 4,
      matched: 3,
      updated: 0,
      unmatchedRows: { count: 1, examples: [{ line: 5, key: 'missing.jpg' }] },
      unmatchedImages: { count: 1, examples: [path.join(dir, 'b', 'z.png')] },
    });
    const get = async (rel: string) => (await col.get(fileId(path.join(dir, rel))))!;
    expect((await get('a/x.jpg')).metadata).toEqual({ format: 'scan', price: 10, label: 'mine' });
    expect((await get('a/y.jpg')).metadata).toEqual({ format: 'jpeg', price: 12.5, label: 'a' });
    expect((await get('b/z.png')).metadata).toEqual({ format: 'png', label: 'b' });

    // the catalogue changes, the images do not: their records get the new values, their vectors stay
    const before = await col.vector(fileId(path.join(dir, 'a/y.jpg')));
    fs.writeFileSync(meta, 'path,price,sale\na/x.jpg,10,\na/y.jpg,13,true\n');
    const again = await col.indexFolder(dir, { metadataFile: { path: meta } });
    expect(again).toMatchObject({ added: 0, updated: 0, unchanged: 4, metadataFile: { matched: 2, updated: 1 } });
    expect((await get('a/y.jpg')).metadata).toEqual({ format: 'jpeg', price: 13, sale: true, label: 'a' });
    expect(await col.vector(fileId(path.join(dir, 'a/y.jpg')))).toEqual(before);
    // nothing changed: nothing written
    expect((await col.indexFolder(dir, { metadataFile: { path: meta } })).metadataFile).toMatchObject({ matched: 2, updated: 0 });
    await col.close();
    await db.close();
  });

  it('the fashion-products catalogue attaches by the id column (file stems); year is a number, empty cells left out', async () => {
    const csv = requireShared(path.join(FASHION, 'styles_subset.csv'));
    // 120 of the catalogue's images (the whole folder goes through the CLI in sidecar.slow.test.ts)
    const dir = path.join(tmpDir(), 'images');
    fs.mkdirSync(dir);
    const names = fs.readdirSync(path.join(FASHION, 'images')).sort().slice(0, 120);
    for (const n of names) fs.symlinkSync(path.join(FASHION, 'images', n), path.join(dir, n));
    const db = await openDatabase(tmpDir(), { threads: 1 });
    const col = await db.collection('fashion', { model: 'color-histogram' });
    const r = await col.indexFolder(dir, { metadataFile: { path: csv, keyColumn: 'id' } });
    expect(r.failed).toBe(0);
    expect(r.metadataFile).toMatchObject({ rows: 2350, matched: 120, matchedBy: { stem: 120 }, unmatchedImages: { count: 0 }, unmatchedRows: { count: 2230 } });
    expect(r.metadataFile!.columns).toMatchObject({ gender: 'string', year: 'number', productDisplayName: 'string', image: 'string' });
    const rows = new Map(fs.readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((l) => [l.split(',')[0]!, l]));
    for (const n of names.slice(0, 20)) {
      const item = (await col.get(fileId(path.join(dir, n))))!;
      const id = path.basename(n, '.jpg');
      expect(item.metadata, n).toMatchObject({ gender: expect.any(String), articleType: expect.any(String), year: expect.any(Number), format: 'jpeg' });
      expect(rows.get(id)).toContain(String(item.metadata.productDisplayName));
      expect(item.metadata.id).toBeUndefined(); // the key column names the image; it is not copied
    }
    await col.close();
    await db.close();
  });
});

describe('CLI flags', () => {
  async function parse(args: string[]): Promise<IndexCliOpts> {
    const program = new Command().exitOverride().configureOutput({ outputError: () => {} });
    registerIndex(program);
    let captured: IndexCliOpts | undefined;
    program.commands[0]!.action((_dir: string, o: IndexCliOpts) => {
      captured = o;
    });
    await program.parseAsync(['node', 'lookalike', 'index', ...args]);
    return captured!;
  }

  it('--metadata-csv, --key-column, --column-type (repeatable) and --no-facts reach the library, and --queue', async () => {
    const o = await parse(['d', '--metadata-csv', 'm.csv', '--key-column', 'id', '--column-type', 'price=number,sku=string', '--column-type', 'day=date', '--no-facts', '--queue', 'redis://q']);
    expect(metadataFileFrom(o)).toEqual({ path: 'm.csv', format: 'csv', keyColumn: 'id', columnTypes: { price: 'number', sku: 'string', day: 'date' } });
    expect(queueOptionsFrom('d', o)).toMatchObject({ metadataFile: { path: 'm.csv', keyColumn: 'id' }, facts: false });
    expect(metadataFileFrom(await parse(['d', '--metadata-jsonl', 'm.jsonl']))).toEqual({ path: 'm.jsonl', format: 'jsonl' });
    expect((await parse(['d'])).facts).toBe(true);
  });

  it('bad combinations are usage errors naming the flag', async () => {
    await expect(parse(['d', '--column-type', 'price=money'])).rejects.toThrow(/must be one of string, number, boolean, date/);
    await expect(parse(['d', '--column-type', 'price'])).rejects.toThrow(/expected column=type/);
    await expect(parse(['d', '--metadata-csv', 'a.csv', '--metadata-jsonl', 'b.jsonl'])).rejects.toThrow(/cannot be used with/);
    expect(() => metadataFileFrom({ keyColumn: 'id' } as IndexCliOpts)).toThrow(/--key-column needs --metadata-csv or --metadata-jsonl/);
  });
});
