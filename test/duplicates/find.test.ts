/**
 * Near-duplicate grouping on hand-made vectors, the same on both stores (embedded and PostgreSQL + pgvector): chains
 * do not merge unrelated images, ties are broken the same way every time, the threshold is inclusive, the keeper rule,
 * paging, the "is it already in here?" check, and option errors naming their field.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkDuplicate } from '../../src/duplicates/check.js';
import { findDuplicates } from '../../src/duplicates/find.js';
import type { DuplicatesResult } from '../../src/duplicates/types.js';
import type { Embedder, EmbedderSpec } from '../../src/embed/types.js';
import { openStore } from '../../src/store/registry.js';
import type { ItemInput, StoreCollection, VectorStore } from '../../src/store/types.js';
import { freshPostgresDb, rng, tmpDir } from '../helpers.js';

const D = 64;
const embedder: EmbedderSpec = { id: 'test', kind: 'test', model: 'test', revision: '0', dimension: D, modalities: ['image'], preprocessing: {} };
const base = { embedder, dimension: D, metric: 'cosine' as const, vectorType: 'float32' as const };
const noEmbedder = async (): Promise<Embedder> => {
  throw new Error('no embedder in these tests');
};

/** A unit vector from its coordinates on the first axes (the rest 0). */
function vec(...xs: number[]): Float32Array {
  const v = new Float32Array(D);
  xs.forEach((x, i) => (v[i] = x));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** Background items: random unit vectors on axes 8… (orthogonal to the hand-made ones, which live on axes 0–7). */
function background(n: number, seed: number): ItemInput[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const v = new Float32Array(D);
    for (let j = 8; j < D; j++) v[j] = r() * 2 - 1;
    const norm = Math.hypot(...v);
    return { id: `bg${String(i).padStart(3, '0')}`, vector: v.map((x) => x / norm) };
  });
}

/**
 * A chain: a·b = 0.96, b·c = 0.96, a·c ≈ 0.84 (c is as far from a as two steps). Twins t1, t2 (identical vectors:
 * a tie) and a pair p1/p2 at exactly 0.9 (threshold edges). The keeper group k1…k4 differs by pixels, size, mtime, id.
 */
function handMade(): ItemInput[] {
  const t = Math.acos(0.96);
  return [
    { id: 'a', vector: vec(1, 0, 0) },
    { id: 'b', vector: vec(Math.cos(t), Math.sin(t), 0) },
    { id: 'c', vector: vec(Math.cos(2 * t), Math.sin(2 * t), 0) },
    { id: 't1', vector: vec(0, 0, 1, 0) },
    { id: 't2', vector: vec(0, 0, 1, 0) },
    { id: 't3', vector: vec(0, 0, 0.99, 0.141) },
    { id: 'p1', vector: vec(0, 0, 0, 0, 1, 0) },
    { id: 'p2', vector: vec(0, 0, 0, 0, 0.9, Math.sqrt(1 - 0.81)) },
    { id: 'k1', width: 100, height: 100, size: 500, mtimeMs: 10, vector: vec(0, 0, 0, 0, 0, 0, 1, 0.01) },
    { id: 'k2', width: 200, height: 100, size: 100, mtimeMs: 50, vector: vec(0, 0, 0, 0, 0, 0, 1, 0.02) },
    { id: 'k3', width: 100, height: 200, size: 300, mtimeMs: 40, vector: vec(0, 0, 0, 0, 0, 0, 1, 0.03) },
    { id: 'k4', width: 100, height: 200, size: 300, mtimeMs: 30, vector: vec(0, 0, 0, 0, 0, 0, 1, 0.04) },
  ];
}

const ids = (r: DuplicatesResult) => r.groups.map((g) => [g.keeper.id, ...g.duplicates.map((d) => d.id)]);
const withAll = (r: DuplicatesResult, ...members: string[]) => ids(r).find((g) => members.every((m) => g.includes(m)));

const BACKENDS: [string, () => Promise<string>][] = [
  ['embedded', async () => tmpDir()],
  ['postgres', () => freshPostgresDb(inject('pgUrl'))],
];
const answers = new Map<string, unknown>();

for (const [name, location] of BACKENDS) {
  describe(`findDuplicates on hand-made vectors: ${name}`, () => {
    let store: VectorStore;
    let c: StoreCollection;

    beforeAll(async () => {
      store = await openStore(await location());
      c = await store.createCollection({ ...base, name: 'dups', index: { type: 'flat' } });
      await c.upsert([...background(60, 7), ...handMade()]);
    }, 60_000);
    afterAll(async () => {
      await store?.close();
    });

    it('a chain a–b–c does not merge a and c (complete linkage); a looser link threshold does', async () => {
      const strict = await findDuplicates(c, { threshold: 0.95, margin: 0 });
      expect(withAll(strict, 'a', 'b', 'c')).toBeUndefined();
      expect(withAll(strict, 'a', 'b') ?? withAll(strict, 'b', 'c')).toHaveLength(2);
      const loose = await findDuplicates(c, { threshold: 0.95, margin: 0, linkThreshold: 0.8 });
      expect(withAll(loose, 'a', 'b', 'c')).toHaveLength(3);
    });

    it('ties (identical vectors) give one group, the same every time and on every store', async () => {
      const r1 = await findDuplicates(c, { threshold: 0.95, margin: 0 });
      const r2 = await findDuplicates(c, { threshold: 0.95, margin: 0 });
      expect(ids(r1)).toEqual(ids(r2));
      expect(withAll(r1, 't1', 't2', 't3')).toHaveLength(3);
      const twins = r1.groups.find((g) => g.keeper.id === 't1')!;
      expect(twins.duplicates.map((d) => [d.id, Number(d.score.toFixed(4))])).toEqual([
        ['t2', 1],
        ['t3', 0.99],
      ]);
      const key = JSON.stringify(ids(r1));
      if (answers.has('ties')) expect(key).toBe(answers.get('ties'));
      else answers.set('ties', key);
    });

    it('the threshold is inclusive: a pair at 0.9 groups at 0.9 − ε, not at 0.9 + ε', async () => {
      expect(withAll(await findDuplicates(c, { threshold: 0.9 - 1e-5, margin: 0 }), 'p1', 'p2')).toHaveLength(2);
      expect(withAll(await findDuplicates(c, { threshold: 0.9 + 1e-5, margin: 0 }), 'p1', 'p2')).toBeUndefined();
    });

    it('the keeper: most pixels, then the largest file, then the oldest; the others best score first', async () => {
      const r = await findDuplicates(c, { threshold: 0.99, margin: 0 });
      const g = r.groups.find((x) => [x.keeper.id, ...x.duplicates.map((d) => d.id)].includes('k1'))!;
      // k2, k3, k4 have 20,000 pixels; k3 and k4 the larger file; k4 is older
      expect(g.keeper).toMatchObject({ id: 'k4', width: 100, height: 200, size: 300, mtimeMs: 30, score: 1, verified: null });
      expect(g.duplicates.map((d) => d.id)).toEqual(['k3', 'k2', 'k1']);
      expect(g.duplicates.every((d, i, all) => i === 0 || all[i - 1]!.score >= d.score)).toBe(true);
    });

    it('unrelated background items are never grouped, and the default rule (auto threshold, margin 0.5) keeps the copies', async () => {
      const r = await findDuplicates(c, {});
      expect(r.auto).toBe(true);
      expect(ids(r).flat().filter((id) => id.startsWith('bg'))).toEqual([]);
      expect(withAll(r, 't1', 't2')).toBeDefined();
      expect(withAll(r, 'k1', 'k2', 'k3', 'k4')).toHaveLength(4);
      expect(r).toMatchObject({ collection: 'dups', items: 72, k: 10, margin: 0.5, verified: false, offset: 0 });
      expect(r.totalDuplicates).toBe(r.groups.reduce((s, g) => s + g.duplicates.length, 0));
    });

    it('pages: offset and limit over the same ordering (largest groups first)', async () => {
      const all = await findDuplicates(c, { threshold: 0.95, margin: 0 });
      expect(all.groups.map((g) => g.duplicates.length)).toEqual([...all.groups.map((g) => g.duplicates.length)].sort((x, y) => y - x));
      const page = await findDuplicates(c, { threshold: 0.95, margin: 0, offset: 1, limit: 1 });
      expect(page.totalGroups).toBe(all.totalGroups);
      expect(ids(page)).toEqual(ids(all).slice(1, 2));
    });

    it('checks a stored item: its copies are found, a background item has none', async () => {
      const r = await checkDuplicate(c, noEmbedder, { id: 'k1' }, { threshold: 0.99, margin: 0 });
      expect(r.duplicate).toBe(true);
      expect(r.matches.map((m) => m.id).sort()).toEqual(['k2', 'k3', 'k4']);
      expect(r.matches[0]!.score).toBeGreaterThanOrEqual(r.matches.at(-1)!.score);
      const none = await checkDuplicate(c, noEmbedder, { id: 'bg001' }, {});
      expect(none).toMatchObject({ duplicate: false, matches: [] });
      await expect(checkDuplicate(c, noEmbedder, { id: 'nope' }, {})).rejects.toMatchObject({ code: 'ITEM_NOT_FOUND' });
    });

    it('refuses bad options with INVALID_ARGUMENT naming the field', async () => {
      for (const [opts, field] of [
        [{ threshold: 2 }, 'threshold'],
        [{ threshold: Number.NaN }, 'threshold'],
        [{ k: 0 }, 'k'],
        [{ k: 101 }, 'k'],
        [{ margin: 1.5 }, 'margin'],
        [{ limit: 0 }, 'limit'],
        [{ offset: -1 }, 'offset'],
        [{ maxGroupSize: 1 }, 'maxGroupSize'],
      ] as const) {
        await expect(findDuplicates(c, opts)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field } });
      }
      await expect(findDuplicates(c, { threshold: 2 })).rejects.toThrow(/threshold must be a number from -1 to 1 \(got 2\)/);
    });
  });
}
