import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePreprocessing, resizeGeometry } from '../../src/embed/onnx-image.js';
import { normalisationTables, resizeToChw } from '../../src/image/resample.js';
import { loadEmbedder } from '../../src/embed/registry.js';
import type { Embedder } from '../../src/embed/types.js';
import { decodeImage } from '../../src/image/decode.js';
import { ROOT, SAMPLES } from '../helpers.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const sample = (cls: string, i = 0) => {
  const dir = path.join(SAMPLES, cls);
  return fs.readFileSync(path.join(dir, fs.readdirSync(dir).sort()[i]!));
};

describe('preprocessing from preprocessor_config.json', () => {
  it('mobilenet-v1: resize to 224x224 (bilinear), x/127.5 - 1', async () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, 'models/mobilenet-v1-imagenet/preprocessor_config.json'), 'utf8'));
    const pre = parsePreprocessing(cfg, 'preprocessor_config.json');
    expect(pre.resize).toEqual({ width: 224, height: 224, fit: 'fill' });
    expect(pre.kernel).toBe('linear');
    const img = { data: new Uint8Array([0, 127, 255, 255, 0, 51]), width: 2, height: 1, channels: 3 as const };
    const luts = normalisationTables(pre.rescale, pre.mean, pre.std);
    const t = resizeToChw(img, 2, 1, 'bilinear', luts);
    // CHW: R plane [0, 255], G plane [127, 0], B plane [255, 51]
    const want = [0, 255, 127, 0, 255, 51].map((x) => x / 127.5 - 1);
    t.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
  });

  it('CLIP-style: shortest edge + centre crop becomes one cover resize', () => {
    const pre = parsePreprocessing(
      { size: { shortest_edge: 224 }, do_center_crop: true, crop_size: { height: 224, width: 224 }, resample: 3, image_mean: [0.48, 0.45, 0.4], image_std: [0.26, 0.26, 0.27] },
      'x.json',
    );
    expect(pre.resize).toEqual({ width: 224, height: 224, fit: 'cover' });
    expect(pre.crop).toBeNull();
    expect(pre.kernel).toBe('cubic');
  });

  it('ConvNeXt-style: shortest edge 256 then crop 224 keeps the crop', async () => {
    const pre = parsePreprocessing({ size: { shortest_edge: 256 }, do_center_crop: true, crop_size: 224 }, 'x.json');
    expect(pre.resize.fit).toBe('outside');
    const img = await decodeImage(await sharp({ create: { width: 400, height: 300, channels: 3, background: '#808080' } }).png().toBuffer(), {
      maxPixels: 1e8,
      resize: { ...pre.resize, kernel: pre.kernel },
    });
    expect([img.width, img.height]).toEqual([341, 256]);
    const g = resizeGeometry(img.width, img.height, pre);
    expect(g).toEqual({ width: 341, height: 256, crop: { width: 224, height: 224 } });
    const luts = normalisationTables(pre.rescale, pre.mean, pre.std);
    expect(resizeToChw(img, g.width, g.height, 'bilinear', luts, g.crop).length).toBe(3 * 224 * 224);
  });

  it('names the file and field of an invalid config', () => {
    expect(() => parsePreprocessing({ image_mean: 'x' }, '/m/preprocessor_config.json')).toThrow(/preprocessor_config.json.*image_mean/);
  });
});

describe('mobilenet-v1 (real ImageNet weights)', () => {
  let m: Embedder;
  beforeAll(async () => {
    m = await loadEmbedder('mobilenet-v1', { threads: 1 });
  });
  afterAll(() => m.dispose());

  it('is 1024-d, image-only, with a spec that records how it was built', () => {
    expect(m.spec.dimension).toBe(1024);
    expect([...m.spec.modalities]).toEqual(['image']);
    expect(m.spec).toMatchObject({ id: 'mobilenet-v1', kind: 'onnx-image', model: 'mobilenet-v1', dimension: 1024 });
    expect(m.spec.revision).toMatch(/^[0-9a-f]{16}$/);
  });

  it('gives L2-normalised vectors; batched equals one at a time', async () => {
    const imgs = [sample('daisy'), sample('sunflower'), sample('bluebell')];
    const batched = await m.embedImages(imgs);
    for (const [i, img] of imgs.entries()) {
      const [single] = await m.embedImages([img]);
      expect(dot(single!, single!)).toBeCloseTo(1, 5);
      expect(dot(single!, batched[i]!)).toBeCloseTo(1, 5);
    }
  });

  it('puts two daisies closer together than a daisy and a bluebell', async () => {
    const [d1, d2, b] = await m.embedImages([sample('daisy', 0), sample('daisy', 1), sample('bluebell', 0)]);
    expect(dot(d1!, d2!)).toBeGreaterThan(dot(d1!, b!));
  });
});
