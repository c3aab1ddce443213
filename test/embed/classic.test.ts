import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { BaseEmbedder } from '../../src/embed/base.js';
import { loadEmbedder, loadEmbedderForSpec, listModels } from '../../src/embed/registry.js';
import type { EmbedderSpec, ImageInput, PreparedImage } from '../../src/embed/types.js';
import { isLookalikeError } from '../../src/errors.js';
import { PhashEmbedder } from '../../src/embed/phash.js';
import { SAMPLES } from '../helpers.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const solid = (r: number, g: number, b: number) =>
  sharp({ create: { width: 64, height: 48, channels: 3, background: { r, g, b } } }).png().toBuffer();
const sample = (cls: string, i = 0) => {
  const dir = path.join(SAMPLES, cls);
  return fs.readFileSync(path.join(dir, fs.readdirSync(dir).sort()[i]!));
};
const hamming = (a: Float32Array, b: Float32Array) => a.reduce((n, x, i) => n + (Math.sign(x) !== Math.sign(b[i]!) ? 1 : 0), 0);

describe('color-histogram', () => {
  it('is a Hellinger-normalised 8x4x4 HSV histogram', async () => {
    const e = await loadEmbedder('color-histogram');
    expect(e.spec.dimension).toBe(128);
    const [red] = await e.embedImages([await solid(220, 10, 10)]);
    expect(dot(red!, red!)).toBeCloseTo(1, 5);
    expect(red!.filter((x) => x > 0)).toHaveLength(1); // one colour, one bin
  });

  it('ranks by colour: red is closer to dark red than to blue', async () => {
    const e = await loadEmbedder('color-histogram:16x4x4');
    expect(e.spec.dimension).toBe(256);
    expect(e.spec.model).toBe('color-histogram:16x4x4');
    const [red, darkRed, blue] = await e.embedImages([await solid(230, 20, 20), await solid(200, 30, 25), await solid(20, 40, 220)]);
    expect(dot(red!, darkRed!)).toBeGreaterThan(dot(red!, blue!));
  });

  it('rejects malformed bin parameters clearly', async () => {
    await expect(loadEmbedder('color-histogram:8x4')).rejects.toThrow(/3 integers joined by "x"/);
  });
});

describe('pixels', () => {
  it('is 16x16 RGB, mean-centred, unit length; an image matches itself, not its mirror', async () => {
    const e = await loadEmbedder('pixels');
    expect(e.spec.dimension).toBe(768);
    const img = sample('daisy');
    const mirrored = await sharp(img).flop().jpeg().toBuffer();
    const [a, b, c] = await e.embedImages([img, img, mirrored]);
    expect(dot(a!, b!)).toBeCloseTo(1, 6);
    expect(Math.abs(a!.reduce((s, x) => s + x, 0))).toBeLessThan(1e-4);
    expect(dot(a!, c!)).toBeLessThan(0.99);
  });
});

describe('phash', () => {
  it('64 bits; near-duplicates are within a few bits, different photos far apart', async () => {
    const e = await loadEmbedder('phash');
    expect(e.spec.dimension).toBe(64);
    const img = sample('sunflower');
    const smaller = await sharp(img).resize(150, 150).jpeg({ quality: 60 }).toBuffer();
    const [a, b, other] = await e.embedImages([img, smaller, sample('bluebell')]);
    expect(dot(a!, a!)).toBeCloseTo(1, 6);
    expect(hamming(a!, b!)).toBeLessThanOrEqual(6);
    expect(hamming(a!, other!)).toBeGreaterThan(16);
    // cosine order is Hamming order
    expect(dot(a!, b!)).toBeCloseTo(1 - (2 * hamming(a!, b!)) / 64, 6);
  });

  it('puts the hex hash into the item metadata', async () => {
    const e = await loadEmbedder('phash');
    const [v] = await e.embedImages([sample('daisy')]);
    const meta = e.vectorMetadata!(v!);
    expect(meta.phash).toMatch(/^[0-9a-f]{16}$/);
    expect(PhashEmbedder.hex(v!)).toBe(meta.phash);
  });
});

describe('registry', () => {
  it('lists every built-in method, once, with its family', () => {
    const models = listModels();
    const names = models.map((m) => m.name);
    for (const n of ['mobilenet-v1', 'clip-vit-base-patch32', 'color-histogram', 'pixels', 'phash', 'bovw-orb']) expect(names).toContain(n);
    expect(new Set(names).size).toBe(names.length);
    expect(models.find((m) => m.name === 'mobilenet-v1')?.kind).toBe('onnx-image');
    expect(models.find((m) => m.name === 'clip-vit-base-patch32')?.kind).toBe('clip');
    expect(models.filter((m) => m.parameter).map((m) => m.name).sort()).toEqual(['bovw-orb', 'color-histogram', 'pixels']);
    for (const m of models) expect(m.description.length).toBeGreaterThan(10);
  });

  it('embedders expose what they are through spec only (no id/dimension/modalities of their own)', async () => {
    for (const name of ['color-histogram', 'pixels:8', 'phash', 'bovw-orb']) {
      const e = await loadEmbedder(name);
      for (const key of ['id', 'dimension', 'modalities']) expect(key in e, `${name}.${key}`).toBe(false);
      expect(e.spec.modalities).toEqual(['image']);
      expect(e.concurrency).toBe(1);
    }
  });

  it('re-creates a pixel method from its stored spec, and refuses a kind it does not know', async () => {
    const e = await loadEmbedder('color-histogram:4x2x2');
    const again = await loadEmbedderForSpec(e.spec);
    expect(again.spec).toEqual(e.spec);
    const [a] = await e.embedImages([await solid(10, 200, 30)]);
    const [b] = await again.embedImages([await solid(10, 200, 30)]);
    expect(Array.from(b!)).toEqual(Array.from(a!));
    const err = await loadEmbedderForSpec({ ...e.spec, kind: 'from-the-future' }).catch((x: unknown) => x);
    expect(isLookalikeError(err, 'UNKNOWN_MODEL')).toBe(true);
    expect((err as Error).message).toContain('from-the-future');
  });
});

describe('BaseEmbedder', () => {
  class Counting extends BaseEmbedder {
    readonly spec: EmbedderSpec = { id: 't', kind: 't', model: 't', revision: 'v1', dimension: 1, modalities: ['image'], preprocessing: {} };
    protected override readonly maxBatch = 2;
    readonly batches: number[][] = [];
    inFlight = 0;
    maxInFlight = 0;
    override get concurrency(): number {
      return 2;
    }
    async prepareImage(input: ImageInput): Promise<PreparedImage> {
      return { data: Float32Array.of((input as Buffer)[0]!), dims: [1, 1] };
    }
    async embedPrepared(batch: readonly PreparedImage[]): Promise<Float32Array[]> {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      this.batches.push(batch.map((p) => p.data[0]!));
      await new Promise((r) => setTimeout(r, 20));
      this.inFlight--;
      return batch.map((p) => p.data);
    }
  }

  it('derives embedImages: model-sized batches, up to `concurrency` in flight, results in input order', async () => {
    const e = new Counting();
    const out = await e.embedImages([1, 2, 3, 4, 5].map((n) => Buffer.of(n)));
    expect(out.map((v) => v[0])).toEqual([1, 2, 3, 4, 5]);
    expect(e.batches.map((b) => b.length).sort()).toEqual([1, 2, 2]);
    expect(e.maxInFlight).toBe(2);
    expect(await e.embedImages([])).toEqual([]);
  });
});
