import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BovwOrbEmbedder } from '../../src/embed/bovw-orb.js';
import { kMajority, hamming, WORDS } from '../../src/embed/kmajority.js';
import { loadEmbedder } from '../../src/embed/registry.js';
import { openDatabase } from '../../src/lookalike.js';
import { rng, SAMPLES, tmpDir } from '../helpers.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

function subset(classes: string[]): string {
  const dir = tmpDir();
  for (const c of classes) {
    fs.mkdirSync(path.join(dir, c));
    for (const f of fs.readdirSync(path.join(SAMPLES, c))) fs.copyFileSync(path.join(SAMPLES, c, f), path.join(dir, c, f));
  }
  return dir;
}

describe('k-majority clustering of binary descriptors', () => {
  it('recovers well-separated binary clusters, deterministically', () => {
    const r = rng(5);
    const centres = Array.from({ length: 4 }, () => Uint32Array.from({ length: WORDS }, () => (r() * 2 ** 32) >>> 0));
    const n = 400;
    const data = new Uint32Array(n * WORDS);
    for (let i = 0; i < n; i++) {
      const c = centres[i % 4]!;
      for (let w = 0; w < WORDS; w++) data[i * WORDS + w] = (c[w]! ^ (r() < 0.1 ? 1 << Math.floor(r() * 32) : 0)) >>> 0; // ≤ 1 flipped bit per word
    }
    const a = kMajority(data, n, 4, { seed: 1 });
    const b = kMajority(data, n, 4, { seed: 1 });
    expect(Array.from(a)).toEqual(Array.from(b));
    for (const c of centres) {
      const best = Math.min(...[0, 1, 2, 3].map((j) => hamming(c, 0, a, j * WORDS)));
      expect(best).toBe(0); // the majority of noisy copies is the centre itself
    }
  });
});

describe('bovw-orb', () => {
  it('must be trained first, and says how', async () => {
    const e = await loadEmbedder('bovw-orb');
    expect(e.trained).toBe(false);
    await expect(e.embedImages([fs.readFileSync(path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!))])).rejects.toThrow(
      /learns its visual vocabulary/,
    );
  });

  it('learns a deterministic vocabulary from the collection, stores it, and re-creates the same embedder from the spec', async () => {
    const dir = subset(['daisy', 'sunflower', 'bluebell']);
    const db = await openDatabase(tmpDir(), { threads: 1 });
    const col = await db.collection('orb', { model: 'bovw-orb:64', trainingFolder: dir });
    expect(col.spec.dimension).toBe(64);
    const report = await col.indexFolder(dir);
    expect(report).toMatchObject({ added: 24, failed: 0 });

    // the same training data gives the same vocabulary
    const again = await db.createCollection('orb2', { model: 'bovw-orb:64', trainingFolder: dir });
    expect(again.spec.embedder.revision).toBe(col.spec.embedder.revision);
    await again.close();

    // a fresh embedder from the stored spec embeds an image exactly as it was indexed
    const restored = new BovwOrbEmbedder('64', { maxPixels: 1e8 }, col.spec.embedder);
    const file = path.join(dir, 'daisy', fs.readdirSync(path.join(dir, 'daisy'))[0]!);
    const [v] = await restored.embedImages([fs.readFileSync(file)]);
    const hits = await col.search({ image: file }, { k: 1 });
    expect(hits[0]!.path).toBe(file);
    expect(hits[0]!.score).toBeCloseTo(1, 5);
    expect(dot(v!, v!)).toBeCloseTo(1, 5);
    await col.close();
    await db.close();
  });
});
