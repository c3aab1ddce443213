/**
 * Image facts at ingest (issue 15.1): EXIF/XMP date taken with and without a zone, camera and exposure, GPS,
 * orientation, title/description/keywords, read into top-level metadata keys; broken EXIF indexed with a warning;
 * user metadata wins on a key collision; `facts: false` turns it off. Every image is generated here with sharp.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { dateOf, factsFromBlocks, readFacts } from '../../src/image/facts.js';
import { withFacts } from '../../src/ingest/pipeline.js';
import { openDatabase } from '../../src/lookalike.js';
import { buildServer } from '../../src/server/app.js';
import { multipart } from '../server/fixtures.js';
import { tmpDir } from '../helpers.js';

type Exif = Record<string, Record<string, string>>;

const XMP = (title: string, description: string, keywords: string[], created?: string) =>
  `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
  `<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">` +
  `<dc:title><rdf:Alt><rdf:li xml:lang="x-default">${title}</rdf:li></rdf:Alt></dc:title>` +
  `<dc:description><rdf:Alt><rdf:li xml:lang="x-default">${description}</rdf:li></rdf:Alt></dc:description>` +
  `<dc:subject><rdf:Bag>${keywords.map((k) => `<rdf:li>${k}</rdf:li>`).join('')}</rdf:Bag></dc:subject>` +
  (created ? `<photoshop:DateCreated>${created}</photoshop:DateCreated>` : '') +
  `</rdf:Description></rdf:RDF></x:xmpmeta>`;

/** A 40×20 JPEG (or another format) with this EXIF (and XMP, orientation). */
async function image(exif: Exif, o: { colour?: string; orientation?: number; xmp?: string; format?: 'jpeg' | 'png' | 'webp' } = {}): Promise<Buffer> {
  let s = sharp({ create: { width: 40, height: 20, channels: 3, background: o.colour ?? '#c04020' } });
  if (o.orientation) s = s.withMetadata({ orientation: o.orientation });
  s = s.withExifMerge(exif);
  if (o.xmp) s = s.withXmp(o.xmp);
  return s.toFormat(o.format ?? 'jpeg').toBuffer();
}

const CAMERA: Exif = {
  IFD0: { Make: 'Canon', Model: 'Canon EOS 5D Mark IV' },
  IFD2: {
    DateTimeOriginal: '2019:05:01 10:00:00',
    OffsetTimeOriginal: '+02:00',
    ExposureTime: '1/250',
    FNumber: '28/10',
    ISOSpeedRatings: '200',
    FocalLength: '50/1',
    LensModel: 'EF50mm f/1.8 STM',
  },
  IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2964/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 0/1', GPSAltitude: '35/1' },
};

/** The same JPEG with its EXIF block damaged: the first IFD says it has 65535 entries. */
function breakExif(jpeg: Buffer): Buffer {
  const b = Buffer.from(jpeg);
  const at = b.indexOf(Buffer.from('Exif\0\0', 'latin1'));
  expect(at).toBeGreaterThan(0);
  const tiff = at + 6;
  const le = b.toString('latin1', tiff, tiff + 2) === 'II';
  const ifd0 = le ? b.readUInt32LE(tiff + 4) : b.readUInt32BE(tiff + 4);
  if (le) b.writeUInt16LE(0xffff, tiff + ifd0);
  else b.writeUInt16BE(0xffff, tiff + ifd0);
  return b;
}

describe('readFacts', () => {
  it('reads date taken with its zone, camera, lens, exposure, GPS as decimal degrees and altitude', async () => {
    const r = await readFacts(await image(CAMERA), 'jpeg');
    expect(r.warnings).toEqual([]);
    expect(r.facts).toEqual({
      format: 'jpeg',
      taken: '2019-05-01T08:00:00.000Z',
      takenOffset: '+02:00',
      cameraMake: 'Canon',
      cameraModel: 'Canon EOS 5D Mark IV',
      lens: 'EF50mm f/1.8 STM',
      focalLength: 50,
      exposureTime: 0.004,
      fNumber: 2.8,
      iso: 200,
      lat: 48.8582333,
      lon: 2.35,
      alt: 35,
      orientation: 1,
    });
  });

  it('a date without a zone is taken as UTC with takenOffset null; southern/western GPS is negative', async () => {
    const r = await readFacts(
      await image({
        IFD2: { DateTimeOriginal: '2021:12:31 23:59:58' },
        IFD3: { GPSLatitudeRef: 'S', GPSLatitude: '33/1 52/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '70/1 30/1 0/1' },
      }),
      'jpeg',
    );
    expect(r.facts).toMatchObject({ taken: '2021-12-31T23:59:58.000Z', takenOffset: null, lat: -33.8666667, lon: -70.5 });
  });

  it('reads title, description and keywords from XMP, and its date when EXIF has none', async () => {
    const r = await readFacts(await image({ IFD0: { Make: 'Nikon' } }, { xmp: XMP('Eiffel at dawn', 'The tower, from the Trocadéro', ['paris', 'tower'], '2020-06-01T07:30:00-04:00') }), 'jpeg');
    expect(r.facts).toMatchObject({
      cameraMake: 'Nikon',
      title: 'Eiffel at dawn',
      description: 'The tower, from the Trocadéro',
      keywords: ['paris', 'tower'],
      taken: '2020-06-01T11:30:00.000Z',
      takenOffset: '-04:00',
    });
  });

  it('reads EXIF from PNG and WebP too; GIF has none, only its format', async () => {
    for (const format of ['png', 'webp'] as const) {
      const r = await readFacts(await image({ IFD0: { Model: 'X100V' }, IFD2: { DateTimeOriginal: '2018:01:02 03:04:05' } }, { format }), format);
      expect(r.facts, format).toMatchObject({ format, cameraModel: 'X100V', taken: '2018-01-02T03:04:05.000Z' });
    }
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).gif().toBuffer();
    expect(await readFacts(gif, 'gif')).toEqual({ facts: { format: 'gif' }, warnings: [] });
  });

  it('broken EXIF is a warning, never an error: what else can be read is kept', async () => {
    const r = await readFacts(breakExif(await image(CAMERA, { xmp: XMP('still here', 'd', ['k']) })), 'jpeg');
    expect(r.warnings.length).toBeGreaterThan(0);
    expect(r.warnings[0]).toMatch(/unreadable metadata/);
    expect(r.facts).toMatchObject({ format: 'jpeg', title: 'still here' });
  });

  it('dates: EXIF, ISO, IPTC and partial XMP forms; placeholders and impossible dates are none', () => {
    expect(dateOf('2019:05:01 10:00:00', '+05:30')).toEqual({ taken: '2019-05-01T04:30:00.000Z', takenOffset: '+05:30' });
    expect(dateOf('2019-05-01T10:00:00.250Z')).toEqual({ taken: '2019-05-01T10:00:00.250Z', takenOffset: '+00:00' });
    expect(dateOf('2019:05:01 10:00:00', undefined, '5')).toEqual({ taken: '2019-05-01T10:00:00.500Z', takenOffset: null });
    expect(dateOf('2019-05')).toEqual({ taken: '2019-05-01T00:00:00.000Z', takenOffset: null });
    for (const bad of ['0000:00:00 00:00:00', '2019-02-30', '2019:13:01 00:00:00', 'yesterday', '']) expect(dateOf(bad), bad).toBeUndefined();
    // IPTC date + time with zone, title, caption, keywords (sharp cannot write IPTC: the parsed blocks are given)
    const f = factsFromBlocks({ iptc: { DateCreated: '20190501', TimeCreated: '100000+0200', ObjectName: 'T', Caption: 'C', Keywords: ['a', 'b', 'a'] } });
    expect(f).toEqual({ taken: '2019-05-01T08:00:00.000Z', takenOffset: '+02:00', title: 'T', description: 'C', keywords: ['a', 'b'] });
    const warnings: string[] = [];
    expect(factsFromBlocks({ exif: { DateTimeOriginal: 'garbage' }, gps: { latitude: 100, longitude: 0 } }, warnings)).toEqual({});
    expect(warnings).toEqual(['unreadable date taken: "garbage"', 'GPS position out of range (100, 0)']);
  });

  it('user metadata wins on a collision; facts that would break the size limit are left out with a warning', () => {
    expect(withFacts({ format: 'jpeg', title: 'from the file' }, { title: 'mine' })).toEqual({ metadata: { format: 'jpeg', title: 'mine' }, warnings: [] });
    const big = { note: 'x'.repeat(15_500) };
    const r = withFacts({ format: 'jpeg', description: 'y'.repeat(1000) }, big);
    expect(r.metadata).toEqual({ format: 'jpeg', ...big });
    expect(r.warnings[0]).toMatch(/left out/);
  });
});

describe('facts at ingest (folders, uploads, HTTP)', () => {
  it('a folder: facts as top-level keys, displayed size after orientation 6, broken EXIF indexed with a warning, label wins', async () => {
    const dir = path.join(tmpDir(), 'photos');
    fs.mkdirSync(path.join(dir, 'paris'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'paris', 'camera.jpg'), await image(CAMERA));
    fs.writeFileSync(path.join(dir, 'paris', 'turned.jpg'), await image({ IFD2: { DateTimeOriginal: '2019:05:01 08:00:00' } }, { orientation: 6, colour: '#2040c0' }));
    fs.writeFileSync(path.join(dir, 'paris', 'broken.jpg'), breakExif(await image(CAMERA, { colour: '#20c040' })));
    fs.writeFileSync(path.join(dir, 'paris', 'titled.jpg'), await image({}, { xmp: XMP('a title', 'd', ['k']), colour: '#808000' }));
    const db = await openDatabase(tmpDir(), { threads: 1 });
    const col = await db.collection('c', { model: 'color-histogram' });
    const r = await col.indexFolder(dir, { folderLabelKey: 'title' });
    expect(r).toMatchObject({ added: 4, failed: 0 });
    expect(r.warnings).toEqual([{ path: path.join(dir, 'paris', 'broken.jpg'), warning: expect.stringMatching(/unreadable metadata/) }]);
    const byName = new Map((await col.files()).map((f) => [path.basename(f.path), f.id]));
    const camera = (await col.get(byName.get('camera.jpg')!))!;
    expect(camera.metadata).toMatchObject({ format: 'jpeg', taken: '2019-05-01T08:00:00.000Z', takenOffset: '+02:00', lat: 48.8582333, lon: 2.35, iso: 200 });
    expect(camera).toMatchObject({ width: 40, height: 20 });
    const turned = (await col.get(byName.get('turned.jpg')!))!;
    expect(turned).toMatchObject({ width: 20, height: 40, metadata: { orientation: 6, taken: '2019-05-01T08:00:00.000Z', takenOffset: null } });
    expect((await col.get(byName.get('broken.jpg')!))!.metadata).toMatchObject({ format: 'jpeg' });
    expect((await col.get(byName.get('titled.jpg')!))!.metadata.title).toBe('paris'); // the label key wins over the XMP title
    // searching works on all of them, the broken one included
    expect(await col.search({ id: byName.get('broken.jpg')! }, { k: 3 })).toHaveLength(3);

    // facts: false — nothing but what was given
    const plain = await db.collection('plain', { model: 'color-histogram' });
    await plain.indexFolder(dir, { facts: false, metadata: { source: 'camera roll' } });
    for (const f of await plain.files()) expect((await plain.get(f.id))!.metadata).toEqual({ source: 'camera roll' });
    await col.close();
    await plain.close();
    await db.close();
  });

  it('uploads: facts under the typed metadata given (numbers and booleans stay typed), warnings by index', async () => {
    const db = await openDatabase(tmpDir(), { threads: 1 });
    const col = await db.collection('c', { model: 'color-histogram' });
    const r = await col.addImages([
      { bytes: await image(CAMERA), filename: 'a.jpg', metadata: { price: 12.5, inStock: true, tags: ['x'], iso: 'overridden' } },
      { bytes: breakExif(await image(CAMERA, { colour: '#000080' })), filename: 'b.jpg' },
    ]);
    expect(r.failures).toEqual([]);
    expect(r.warnings).toEqual([{ index: 1, filename: 'b.jpg', warning: expect.stringMatching(/unreadable metadata/) }]);
    const a = (await col.get(r.added[0]!.id))!;
    expect(a.metadata).toMatchObject({ price: 12.5, inStock: true, tags: ['x'], iso: 'overridden', filename: 'a.jpg', taken: '2019-05-01T08:00:00.000Z', cameraMake: 'Canon' });
    await col.close();
    await db.close();
  });

  it('HTTP: multipart metadata keeps its JSON types, facts are added, the item returns them typed', async () => {
    const db = await openDatabase(tmpDir(), { threads: 1 });
    await db.collection('c', { model: 'color-histogram' });
    const app = await buildServer({ db, defaultCollection: 'c' });
    try {
      const mp = await multipart({ image: { name: 'p.jpg', bytes: await image(CAMERA) }, metadata: JSON.stringify({ year: 2012, onSale: false, price: 9.99 }) });
      const res = await app.inject({ method: 'POST', url: '/v1/collections/c/items', ...mp });
      expect(res.statusCode).toBe(200);
      const body = res.json() as { added: { id: string }[]; warnings: unknown[] };
      expect(body.warnings).toEqual([]);
      const item = (await app.inject(`/v1/collections/c/items/${body.added[0]!.id}`)).json() as { metadata: Record<string, unknown> };
      expect(item.metadata).toMatchObject({ year: 2012, onSale: false, price: 9.99, format: 'jpeg', lat: 48.8582333, taken: '2019-05-01T08:00:00.000Z' });
    } finally {
      await app.close();
      await db.close();
    }
  });
});
