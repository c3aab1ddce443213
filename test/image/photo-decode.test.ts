/**
 * Real 12-megapixel photos (issue 18): EXIF-rotated JPEGs decode upright, and the JPEG shrink-on-load path (DCT
 * scaling by 1/8 for a 224 x 224 model) gives the same embedding as decoding every pixel. The photo is a real COCO
 * photo upscaled to 4000 x 3000 with film grain (the entropy of a camera's JPEG), as bench:ingest --photos makes them.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedder } from '../../src/embed/types.js';
import { loadEmbedder } from '../../src/embed/registry.js';
import { decodeImage, jpegShrinkOnLoad, preShrinkTarget } from '../../src/image/decode.js';
import { readImageFile, contentHashOf } from '../../src/image/read.js';
import { normalisationTables, resizeToChw } from '../../src/image/resample.js';
import { requireShared, SHARED, tmpDir } from '../helpers.js';

const PHOTO = path.join(SHARED, 'datasets', 'coco-mini', 'val2017', '000000000139.jpg');
const LIMIT = { maxPixels: 100_000_000 };
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

/** A 4000 x 3000 photo with grain, as raw upright pixels. */
async function uprightPixels(): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(requireShared(PHOTO)).resize(4000, 3000, { fit: 'cover' }).raw().toBuffer({ resolveWithObject: true });
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const v = data[i]! + (((s & 0xff) + ((s >>> 8) & 0xff) - 255) * 8) / 104;
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { data, width: info.width, height: info.height };
}

/** EXIF orientation → the rotation that, stored, shows the photo upright once the orientation is applied. */
const TURNS: Record<number, number> = { 6: 270, 8: 90, 3: 180 };

describe('12-megapixel JPEG photos', () => {
  let upright: Buffer;
  const turned = new Map<number, Buffer>();
  let embedder: Embedder;

  beforeAll(async () => {
    const px = await uprightPixels();
    const raw = { raw: { width: px.width, height: px.height, channels: 3 as const } };
    upright = await sharp(px.data, raw).jpeg({ quality: 90 }).toBuffer();
    for (const [o, angle] of Object.entries(TURNS)) {
      turned.set(Number(o), await sharp(px.data, raw).rotate(angle).jpeg({ quality: 90 }).withMetadata({ orientation: Number(o) }).toBuffer());
    }
    embedder = await loadEmbedder('mobilenet-v1', { threads: 1, inferenceWorkers: 1, batchSize: 8 });
  });
  afterAll(async () => embedder?.dispose());

  it('are real 12 MP camera-sized files, the turned ones stored turned and tagged', async () => {
    expect(upright.length).toBeGreaterThan(2_000_000);
    const m6 = await sharp(turned.get(6)!).metadata();
    expect([m6.width, m6.height, m6.orientation]).toEqual([3000, 4000, 6]);
  });

  it('EXIF orientation 6, 8 and 3: decoded to the same upright pixels', async () => {
    const small = (b: Buffer) => decodeImage(b, { ...LIMIT, resize: { width: 80, height: 60, fit: 'fill', kernel: 'linear' } });
    const want = await small(upright);
    for (const [o, jpg] of turned) {
      const got = await small(jpg);
      expect([o, got.width, got.height]).toEqual([o, 80, 60]);
      let diff = 0;
      for (let i = 0; i < want.data.length; i++) diff += Math.abs(want.data[i]! - got.data[i]!);
      expect(diff / want.data.length, `orientation ${o}`).toBeLessThan(3); // turned the wrong way: ≈ 40
    }
  });

  it('EXIF orientation 6, 8 and 3: the same embedding as the upright photo (cosine > 0.99)', async () => {
    const [want] = await embedder.embedPrepared([await embedder.prepareImage(upright)]);
    for (const [o, jpg] of turned) {
      const [got] = await embedder.embedPrepared([await embedder.prepareImage(jpg)]);
      expect(dot(want!, got!), `orientation ${o}`).toBeGreaterThan(0.99);
    }
  });

  it('are shrunk on load by 1/8 (not 1/4) for a 224 x 224 model, in their shown orientation', async () => {
    const shrink = { width: 448, height: 448, minimum: { width: 224, height: 224 } };
    const a = await decodeImage(upright, { ...LIMIT, shrinkToCover: shrink });
    expect([a.width, a.height]).toEqual([444, 333]); // 4000x3000 / 9: sharp's request for a 1/8 shrink-on-load
    for (const [o, jpg] of turned) {
      // stored 3000x4000 (6, 8) or upside down (3), shown 4000x3000: 1/8 all the same (stored size taken: 592x444)
      const b = await decodeImage(jpg, { ...LIMIT, shrinkToCover: shrink });
      expect([o, b.width, b.height]).toEqual([o, 444, 333]);
    }
    // without `minimum`: covers 448 x 448, as before (1/4 on load)
    const c = await decodeImage(upright, { ...LIMIT, shrinkToCover: { width: 448, height: 448 } });
    expect([c.width, c.height]).toEqual([597, 448]);
  });

  it('shrink-on-load gives the embedding of a full decode (every pixel, then the exact resample)', async () => {
    const luts = normalisationTables(1 / 255, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]); // mobilenet-v1's preprocessing
    for (const jpg of [upright, turned.get(8)!]) {
      const full = await decodeImage(jpg, LIMIT);
      expect(full.width * full.height).toBe(12_000_000);
      const exact = { data: resizeToChw(full, 224, 224, 'bilinear', luts, null), dims: [1, 3, 224, 224] };
      const [want, got] = await embedder.embedPrepared([exact, await embedder.prepareImage(jpg)]);
      expect(dot(want!, got!)).toBeGreaterThan(0.999);
    }
  });

  it('are read whole in one read, bytes and hash as on disk', async () => {
    const dir = tmpDir();
    try {
      const file = path.join(dir, 'photo.jpg');
      fs.writeFileSync(file, upright);
      const f = await readImageFile(file, 256 * 1024 * 1024);
      expect(f.size).toBe(upright.length);
      expect(Buffer.compare(f.bytes, upright)).toBe(0);
      expect(f.contentHash).toBe(contentHashOf(upright));
      fs.writeFileSync(path.join(dir, 'empty.jpg'), '');
      expect((await readImageFile(path.join(dir, 'empty.jpg'), 1024)).bytes.length).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('preShrinkTarget (what sharp is asked for, so its JPEG shrink-on-load factor is the largest that covers)', () => {
  const cover = { width: 448, height: 448 };
  const minimum = { width: 224, height: 224 };
  it("sharp's factor for a shrink ratio: 8, 4, 2 need a ratio ≥ 9, 5, 3", () => {
    expect([2.9, 3, 4.9, 5, 8.99, 9, 13.4].map(jpegShrinkOnLoad)).toEqual([1, 2, 2, 4, 4, 8, 8]);
  });
  it('12 MP (4000x3000, 4032x3024, portrait): 1/8 instead of 1/4, still covering the minimum', () => {
    expect(preShrinkTarget({ width: 4000, height: 3000 }, cover, minimum)).toEqual({ width: 444, height: 333 });
    expect(preShrinkTarget({ width: 4032, height: 3024 }, cover, minimum)).toEqual({ width: 448, height: 336 });
    expect(preShrinkTarget({ width: 3000, height: 4000 }, cover, minimum)).toEqual({ width: 333, height: 444 });
  });
  it('3 MP: 1/4 instead of 1/2; small photos and no minimum: the cover, unchanged', () => {
    expect(preShrinkTarget({ width: 2000, height: 1500 }, cover, minimum)).toEqual({ width: 400, height: 300 });
    expect(preShrinkTarget({ width: 640, height: 480 }, cover, minimum)).toBe(cover);
    expect(preShrinkTarget({ width: 32, height: 32 }, cover, minimum)).toBe(cover);
    expect(preShrinkTarget({ width: 4000, height: 3000 }, cover, undefined)).toBe(cover);
  });
});
