/**
 * The collection map on the PostgreSQL store (the embedded store: map.test.ts): the store's generation, a map that is
 * deterministic for a seed, the same as the embedded store's for the same vectors, cached, and recomputed after a write.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type Collection, type LookalikeDatabase } from '../../src/lookalike.js';
import { clearMemoryCache } from '../../src/map/cache.js';
import { freshPostgresDb, SAMPLES, tmpDir } from '../helpers.js';
import { layoutOf } from './fixtures.js';

let pg: LookalikeDatabase;
let embedded: LookalikeDatabase;
let onPg: Collection;
let onDisk: Collection;

beforeAll(async () => {
  const cacheDir = tmpDir('lookalike-map-cache-');
  pg = await openDatabase(await freshPostgresDb(inject('pgUrl')), { threads: 1, cacheDir });
  embedded = await openDatabase(tmpDir(), { threads: 1, cacheDir });
  onPg = await pg.collection('flowers', { model: 'color-histogram' });
  onDisk = await embedded.collection('flowers', { model: 'color-histogram' });
  await onPg.indexFolder(SAMPLES);
  await onDisk.indexFolder(SAMPLES);
}, 180_000);

afterAll(async () => {
  await pg?.close();
  await embedded?.close();
});

describe('map on PostgreSQL', () => {
  it('is deterministic for a seed, and the embedded store gives the same map for the same vectors', async () => {
    const a = await onPg.map({ seed: 5, refresh: true });
    const b = await onPg.map({ seed: 5, refresh: true });
    expect(a.items).toBe(96);
    expect(layoutOf(b)).toEqual(layoutOf(a));
    // both stores scan in insertion order; the same files were indexed in the same order
    const disk = await onDisk.map({ seed: 5, refresh: true });
    expect(layoutOf(disk)).toEqual(layoutOf(a));
  });

  it('is cached per store generation and recomputed after a write', async () => {
    const first = await onPg.map({ seed: 6 });
    expect(first.cached).toBe(false);
    expect((await onPg.map({ seed: 6 })).cached).toBe(true);
    clearMemoryCache();
    expect((await onPg.map({ seed: 6 })).cached).toBe(true); // from the file
    await onPg.delete([first.points[3]!.id]);
    const after = await onPg.map({ seed: 6 });
    expect(after.cached).toBe(false);
    expect(after.generation).toBeGreaterThan(first.generation);
    expect(after.items).toBe(95);
  });
});
