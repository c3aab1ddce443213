/**
 * A corpus of awkward and broken files, generated here (nothing large is committed): every file either indexes
 * correctly or is reported with a precise reason, and the batch always completes.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/lookalike.js';
import { SAMPLES, tmpDir } from '../helpers.js';

/** A valid PNG declaring width x height white pixels whose zlib stream compresses them to a few kilobytes. */
function pngBomb(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  // the first rows only (filter byte 0 + white pixels): enough for a decoder to start, tiny on disk
  const rows = Buffer.alloc((1 + width * 3) * 16, 0xff);
  for (let r = 0; r < 16; r++) rows[r * (1 + width * 3)] = 0;
  const idat = zlib.deflateSync(rows, { level: 9 });
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** A landscape (224x112) copy of a photo: EXIF orientation then changes what is shown. */
const wide = (photo: Buffer) => sharp(photo).resize(224, 112, { fit: 'fill' }).jpeg().toBuffer();

async function corpus(dir: string): Promise<{ good: string[]; bad: Record<string, RegExp> }> {
  const photo = fs.readFileSync(path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!));
  const w = (name: string, data: Buffer | string) => fs.writeFileSync(path.join(dir, name), data);
  const rgb = (width: number, height: number, background: string) => sharp({ create: { width, height, channels: 3, background } });
  const good: string[] = [];
  const ok = async (name: string, data: Buffer | Promise<Buffer>) => {
    w(name, await data);
    good.push(name);
  };
  await ok('cmyk.jpg', sharp(photo).toColourspace('cmyk').jpeg().toBuffer());
  await ok('sixteen-bit.png', sharp(photo).toColourspace('rgb16').png().toBuffer());
  await ok('grey.png', sharp(photo).greyscale().png().toBuffer());
  await ok('palette-alpha.png', sharp(photo).ensureAlpha(0.5).png({ palette: true }).toBuffer());
  const frame = (bg: string) => rgb(32, 32, bg).png().toBuffer();
  await ok('animated.gif', sharp([await frame('#f00'), await frame('#00f')], { join: { animated: true } }).gif().toBuffer());
  await ok('animated.webp', sharp([await frame('#0f0'), await frame('#ff0')], { join: { animated: true } }).webp().toBuffer());
  await ok('exif-rotated.jpg', sharp(await wide(photo)).jpeg().withMetadata({ orientation: 6 }).toBuffer());
  await ok('one-pixel.png', rgb(1, 1, '#123456').png().toBuffer());
  await ok('name with spaces.jpg', Promise.resolve(photo));
  await ok('ünïcødé-花.jpg', Promise.resolve(photo));
  await ok('new\nline.jpg', Promise.resolve(photo));
  await ok('UPPER.JPEG', Promise.resolve(photo));
  await ok('tiff.tif', sharp(photo).tiff().toBuffer());
  await ok('avif.avif', sharp(photo).resize(64).avif().toBuffer());
  const bad: Record<string, RegExp> = {
    'zero.jpg': /empty file/,
    'random.jpg': /not an image/,
    'page.jpg': /not an image/,
    'truncated.jpg': /cannot decode/,
    'truncated.png': /cannot decode/,
    'bomb.png': /pixel/,
    'dangling.jpg': /broken symbolic link/,
  };
  w('zero.jpg', '');
  w('random.jpg', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
  w('page.jpg', '<!doctype html><html><body>404</body></html>');
  w('truncated.jpg', photo.subarray(0, photo.length >> 1));
  const png = await sharp(photo).png().toBuffer();
  w('truncated.png', png.subarray(0, png.length >> 1));
  w('bomb.png', pngBomb(20000, 20000));
  // a symlink loop and a dangling link must not hang or break the walk
  fs.mkdirSync(path.join(dir, 'loop'));
  fs.symlinkSync('..', path.join(dir, 'loop', 'up'));
  fs.symlinkSync('/nonexistent/file.jpg', path.join(dir, 'dangling.jpg'));
  return { good, bad };
}

describe('bad and awkward input (generated corpus)', () => {
  it('indexes every readable image, reports every broken one precisely, and completes', async () => {
    const dir = tmpDir();
    const { good, bad } = await corpus(dir);
    expect(fs.statSync(path.join(dir, 'bomb.png')).size).toBeLessThan(2_000_000);
    const db = await openDatabase(tmpDir(), { threads: 1, maxPixels: 100_000_000 });
    const col = await db.collection('c', { model: 'mobilenet-v1' });
    const rss0 = process.memoryUsage().rss;
    const r = await col.indexFolder(dir);
    // the 20000x20000 bomb is refused from its header: memory stays bounded (decoding it would take 1.2 GB). The
    // kernel's peak RSS of this process (maxRSS, KiB) sees every spike, however short.
    expect(process.resourceUsage().maxRSS * 1024 - rss0).toBeLessThan(300 * 2 ** 20);
    const reasons = Object.fromEntries(r.failures.map((f) => [path.basename(f.path), f.error]));
    for (const [name, re] of Object.entries(bad)) expect([name, reasons[name]]).toEqual([name, expect.stringMatching(re)]);
    // every good file is indexed exactly once: the symlink loop is walked once, the dangling link reported
    const paths = (await col.files()).map((f) => f.path);
    expect(paths.some((p) => p.includes(`${path.sep}loop${path.sep}`))).toBe(false);
    expect(paths.map((p) => path.basename(p)).sort()).toEqual([...good].sort());
    expect(r.added).toBe(good.length);
    // the EXIF-rotated copy was embedded as displayed: its vector equals that of the pixels rotated by hand, and
    // differs from the unrotated picture's
    const photo = fs.readFileSync(path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!));
    const embedder = await col.embedder();
    const landscape = await wide(photo);
    const [byHand, upright] = await embedder.embedImages([await sharp(landscape).rotate(90).jpeg().toBuffer(), landscape]);
    const id = (await col.files()).find((f) => f.path.endsWith('exif-rotated.jpg'))!.id;
    const stored = (await col.vector(id))!;
    const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    // (mobilenet-v1 scores every pair of photos high: measured 0.9999 for the rotated copy vs 0.993 for the upright one)
    expect(cos(stored, byHand!)).toBeGreaterThan(0.998);
    expect(cos(stored, upright!)).toBeLessThan(cos(stored, byHand!) - 0.003);
    expect(await col.get(id)).toMatchObject({ width: 112, height: 224 }); // as displayed
    expect(r.failed).toBe(Object.keys(bad).length);
    await col.close();
    await db.close();
  }, 120_000);
});
