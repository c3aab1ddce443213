/**
 * Pooling of CNN feature maps (issue 17): GeM and max next to average. The bundled mobilenet-v1 ends in global
 * average pooling; its feature map is exposed in memory (onnx-graph.ts) — the file on disk, and so the revision of
 * every collection built with it, is unchanged.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { addGraphOutput, exposeFeatureMap, readGraph } from '../../src/embed/onnx-graph.js';
import { GEM_P, poolOutput } from '../../src/embed/onnx-image.js';
import { loadEmbedder } from '../../src/embed/registry.js';
import { openDatabase } from '../../src/lookalike.js';
import { ROOT, SAMPLES, tmpDir } from '../helpers.js';

const MODEL = path.join(ROOT, 'models', 'mobilenet-v1-imagenet', 'onnx', 'model.onnx');
const sample = (cls: string, i = 0) => path.join(SAMPLES, cls, fs.readdirSync(path.join(SAMPLES, cls)).sort()[i]!);
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('poolOutput on a hand-made feature map', () => {
  // N = 1, C = 2, H = W = 2: channel 0 = [1, 2, 3, 4], channel 1 = [0, 0, 0, 8]
  const map = Float32Array.from([1, 2, 3, 4, 0, 0, 0, 8]);
  const norm = (a: number, b: number) => [a / Math.hypot(a, b), b / Math.hypot(a, b)];
  it('average, max and GeM (p = 3), L2-normalised', () => {
    const close = (v: Float32Array, want: number[]) => want.forEach((w, i) => expect(v[i]).toBeCloseTo(w, 6));
    close(poolOutput(map, [1, 2, 2, 2], 'mean')[0]!, norm(2.5, 2));
    close(poolOutput(map, [1, 2, 2, 2], 'cls')[0]!, norm(2.5, 2)); // token poolings mean average on maps
    close(poolOutput(map, [1, 2, 2, 2], 'max')[0]!, norm(4, 8));
    expect(GEM_P).toBe(3);
    const gem0 = ((1 + 8 + 27 + 64) / 4) ** (1 / 3); // 2.924
    const gem1 = ((3 * 1e-18 + 512) / 4) ** (1 / 3); // zeros clamp at 1e-6: 5.04
    close(poolOutput(map, [1, 2, 2, 2], 'gem')[0]!, norm(gem0, gem1));
  });
});

describe('the feature map of an ONNX graph, edited in memory', () => {
  it('mobilenet-v1: the map before GlobalAveragePool becomes an output; its average is the embedding', async () => {
    const bytes = new Uint8Array(fs.readFileSync(MODEL));
    const before = createHash('sha256').update(bytes).digest('hex');
    const g = readGraph(bytes);
    expect(g.outputs).toEqual(['embedding']);
    expect(g.nodes.at(-2)).toMatchObject({ op: 'GlobalAveragePool', inputs: ['conv_dw_13_relu_out'] });
    const edited = exposeFeatureMap(bytes)!;
    expect(edited.output).toBe('conv_dw_13_relu_out');
    expect(readGraph(edited.model).outputs).toEqual(['embedding', 'conv_dw_13_relu_out']);
    expect(createHash('sha256').update(fs.readFileSync(MODEL)).digest('hex')).toBe(before); // the file is untouched

    const session = await ort.InferenceSession.create(edited.model);
    try {
      const x = new ort.Tensor('float32', Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.37)), [1, 3, 224, 224]);
      const out = await session.run({ pixel_values: x }, ['embedding', edited.output]);
      const map = out[edited.output]!;
      expect(map.dims).toEqual([1, 1024, 7, 7]);
      const avg = poolOutput(map.data as Float32Array, map.dims, 'mean')[0]!;
      const emb = poolOutput(out['embedding']!.data as Float32Array, out['embedding']!.dims, 'mean')[0]!;
      expect(dot(avg, emb)).toBeCloseTo(1, 6);
    } finally {
      await session.release();
    }
  });

  it('a graph without GlobalAveragePool has no map to expose; outputs can still be added', () => {
    // ModelProto { graph (7) { node (1) { input "x", output "y", op_type "Identity" }, output (12) { name "y" } } }
    const enc = (no: number, b: number[]) => [no * 8 + 2, b.length, ...b];
    const str = (s: string) => [...Buffer.from(s)];
    const node = enc(1, [...enc(1, str('x')), ...enc(2, str('y')), ...enc(4, str('Identity'))]);
    const model = Uint8Array.from(enc(7, [...node, ...enc(12, enc(1, str('y')))]));
    expect(readGraph(model)).toEqual({ nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }], outputs: ['y'] });
    expect(exposeFeatureMap(model)).toBeUndefined();
    expect(readGraph(addGraphOutput(model, 'x')).outputs).toEqual(['y', 'x']);
  });
});

describe('mobilenet-v1 with GeM and max pooling', () => {
  it('are other embedders (own id, same revision), give unit vectors unlike average pooling', async () => {
    const avg = await loadEmbedder('mobilenet-v1', { threads: 1 });
    const gem = await loadEmbedder('mobilenet-v1', { threads: 1 }, { pooling: 'gem' });
    const max = await loadEmbedder('mobilenet-v1', { threads: 1 }, { pooling: 'max' });
    try {
      expect(gem.spec).toMatchObject({ id: 'mobilenet-v1+gem', dimension: 1024, revision: avg.spec.revision, preprocessing: { pooling: 'gem' } });
      expect(max.spec.id).toBe('mobilenet-v1+max');
      const img = fs.readFileSync(sample('daisy'));
      const [a] = await avg.embedImages([img]);
      const [g] = await gem.embedImages([img]);
      const [m] = await max.embedImages([img]);
      for (const v of [g!, m!]) {
        expect(dot(v, v)).toBeCloseTo(1, 5);
        expect(dot(v, a!)).toBeLessThan(0.99); // a different descriptor…
        expect(dot(v, a!)).toBeGreaterThan(0.5); // …of the same image
      }
    } finally {
      await Promise.all([avg.dispose(), gem.dispose(), max.dispose()]);
    }
  });

  it('a collection remembers its pooling: reopened, it embeds queries the same way', async () => {
    const dir = tmpDir();
    let db = await openDatabase(dir, { threads: 1 });
    const col = await db.createCollection('gem', { model: 'mobilenet-v1', pooling: 'gem' });
    await col.indexFolder(path.join(SAMPLES, 'daisy'));
    await col.indexFolder(path.join(SAMPLES, 'sunflower'));
    const before = await col.search({ image: sample('daisy', 1) }, { k: 5 });
    await db.close();
    db = await openDatabase(dir, { threads: 1 });
    try {
      const again = await db.openCollection('gem');
      expect((await again.info()).embedder).toBe('mobilenet-v1+gem');
      const after = await again.search({ image: sample('daisy', 1) }, { k: 5 });
      expect(after.map((h) => [h.id, h.score.toFixed(5)])).toEqual(before.map((h) => [h.id, h.score.toFixed(5)]));
      expect(after[0]!.score).toBeCloseTo(1, 5); // the indexed daisy itself
    } finally {
      await db.close();
    }
  });
});
