import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEmbedder } from '../../src/embed/registry.js';
import type { Embedder } from '../../src/embed/types.js';
import { COLOR_CLIP, requireShared, SAMPLES } from '../helpers.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const argmax = (v: Float32Array) => v.indexOf(Math.max(...v));
// color-clip dims: red orange yellow green blue purple pink white black gray brown
const RED = 0;
const YELLOW = 2;
const BLUE = 4;

describe('CLIP embedder with the color-clip fixture (transformers.js path)', () => {
  let clip: Embedder;
  beforeAll(async () => {
    clip = await loadEmbedder(requireShared(COLOR_CLIP), { threads: 1 });
  });
  afterAll(() => clip.dispose());

  it('embeds text and images into one 11-d space', async () => {
    expect(clip.spec.dimension).toBe(11);
    expect([...clip.spec.modalities].sort()).toEqual(['image', 'text']);
    expect(clip.spec.kind).toBe('clip');
    expect(clip.spec.id).toBe('clip:color-clip');
  });

  it('tokenizes with the real CLIP tokenizer: colour words land on their colour', async () => {
    const [red, yellowTulip, cat] = await clip.embedTexts!(['red', 'a RED and Yellow tulip', 'a photo of a cat']);
    expect(argmax(red!)).toBe(RED);
    expect(red![RED]).toBeCloseTo(1, 4);
    expect(yellowTulip![RED]).toBeCloseTo(yellowTulip![YELLOW]!, 5);
    expect(cat![RED]).toBeCloseTo(cat![BLUE]!, 6); // no colour word: uniform
  });

  it('runs the vision tower through the CLIP processor', async () => {
    const blue = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 40, g: 80, b: 200 } } })
      .jpeg()
      .toBuffer();
    const [v] = await clip.embedImages([blue]);
    expect(argmax(v!)).toBe(BLUE);
    expect(v![BLUE]).toBeGreaterThan(0.98);
  });

  it('ranks a sunflower above a bluebell for "a yellow flower"', async () => {
    const file = (cls: string) => {
      const dir = path.join(SAMPLES, cls);
      return fs.readFileSync(path.join(dir, fs.readdirSync(dir).sort()[0]!));
    };
    const [t] = await clip.embedTexts!(['a yellow flower']);
    const [sun, blue] = await clip.embedImages([file('buttercup'), file('bluebell')]);
    expect(dot(t!, sun!)).toBeGreaterThan(dot(t!, blue!));
  });
});
