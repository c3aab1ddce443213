import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/image/decode.js';
import { isLookalikeError } from '../../src/errors.js';

const LIMIT = { maxPixels: 50_000_000 };

async function solid(w: number, h: number, rgb: [number, number, number]) {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
}

async function decodeError(input: Uint8Array, opts = LIMIT) {
  try {
    await decodeImage(input, opts);
  } catch (e) {
    if (isLookalikeError(e)) return e;
    throw e;
  }
  throw new Error('expected decoding to fail');
}

describe('decodeImage', () => {
  it('decodes JPEG into 8-bit RGB', async () => {
    const jpg = await (await solid(40, 30, [200, 30, 35])).jpeg().toBuffer();
    const img = await decodeImage(jpg, LIMIT);
    expect([img.width, img.height, img.channels, img.data.length]).toEqual([40, 30, 3, 40 * 30 * 3]);
    expect(Math.abs(img.data[0]! - 200)).toBeLessThan(6);
  });

  it('converts CMYK, greyscale and 16-bit inputs to 8-bit sRGB', async () => {
    const cmyk = await (await solid(16, 16, [40, 80, 200])).toColourspace('cmyk').jpeg().toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const a = await decodeImage(cmyk, LIMIT);
    expect(a.channels).toBe(3);
    expect(a.data[2]!).toBeGreaterThan(a.data[0]!); // still blue

    const grey = await (await solid(16, 16, [128, 128, 128])).greyscale().png().toBuffer();
    const g = await decodeImage(grey, LIMIT);
    expect([g.data[0], g.data[1], g.data[2]]).toEqual([128, 128, 128]);

    const png16 = await (await solid(16, 16, [255, 255, 0])).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const y = await decodeImage(png16, LIMIT);
    expect([y.data[0], y.data[1], y.data[2]]).toEqual([255, 255, 0]);
  });

  it('flattens transparency onto white', async () => {
    const transparent = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    const img = await decodeImage(transparent, LIMIT);
    expect([img.data[0], img.data[1], img.data[2]]).toEqual([255, 255, 255]);
  });

  it('applies EXIF orientation', async () => {
    // A 30x10 image tagged "rotate 90° clockwise" (orientation 6) is 10x30 when shown.
    const tagged = await (await solid(30, 10, [0, 255, 0])).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const img = await decodeImage(tagged, LIMIT);
    expect([img.width, img.height]).toEqual([10, 30]);
  });

  it('resizes while decoding (fill, cover, outside)', async () => {
    const jpg = await (await solid(300, 200, [10, 20, 30])).jpeg().toBuffer();
    const fill = await decodeImage(jpg, { ...LIMIT, resize: { width: 224, height: 224, fit: 'fill', kernel: 'linear' } });
    expect([fill.width, fill.height]).toEqual([224, 224]);
    const outside = await decodeImage(jpg, { ...LIMIT, resize: { width: 100, height: 100, fit: 'outside', kernel: 'cubic' } });
    expect([outside.width, outside.height]).toEqual([150, 100]);
  });

  it('reports empty, truncated and non-image input with a reason', async () => {
    expect((await decodeError(new Uint8Array(0))).message).toMatch(/empty file/);
    expect((await decodeError(Buffer.from('<html><body>not an image</body></html>'))).message).toMatch(/not an image/);
    const jpg = await (await solid(64, 64, [1, 2, 3])).jpeg().toBuffer();
    const truncated = await decodeError(jpg.subarray(0, jpg.length >> 1));
    expect(truncated.code).toBe('IMAGE_DECODE_FAILED');
  });

  it('refuses images over the pixel limit before decoding them (decompression bomb)', async () => {
    const big = await (await solid(3000, 3000, [255, 255, 255])).png({ compressionLevel: 9 }).toBuffer();
    expect(big.length).toBeLessThan(100_000);
    const e = await decodeError(big, { maxPixels: 1_000_000 });
    expect(e.code).toBe('IMAGE_TOO_LARGE');
  });

  it('takes the first frame of an animation', async () => {
    const frame = (background: string) => sharp({ create: { width: 8, height: 8, channels: 3, background } }).png().toBuffer();
    const gif = await sharp([await frame('#ff0000'), await frame('#0000ff')], { join: { animated: true } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const img = await decodeImage(gif, LIMIT);
    expect([img.width, img.height]).toEqual([8, 8]);
    expect([img.data[0], img.data[1], img.data[2]]).toEqual([255, 0, 0]);
  });
});
