/**
 * Compositional queries, collapse and region (crop) search through the library, on both stores: the sample flowers
 * (12 classes × 8) embedded with mobilenet-v1, plus exact copies of a few of them (for collapse).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type Collection, type LookalikeDatabase } from '../../src/lookalike.js';
import { fileId } from '../../src/ingest/folder.js';
import { walkImages } from '../../src/ingest/walk.js';
import { dot } from '../../src/search/compose.js';
import { classOf, freshPostgresDb, SAMPLES, tmpDir } from '../helpers.js';

const BACKENDS: [string, () => Promise<string>][] = [
  ['embedded', async () => tmpDir()],
  ['postgres', () => freshPostgresDb(inject('pgUrl'))],
];

for (const [backend, location] of BACKENDS) {
  describe(`compositional search: ${backend}`, () => {
    let db: LookalikeDatabase;
    let col: Collection;
    let files: string[];
    const byClass = new Map<string, string[]>();
    const copies = tmpDir('lookalike-copies-');
    const idOf = (p: string) => fileId(p);

    beforeAll(async () => {
      db = await openDatabase(await location(), { threads: 1 });
      col = await db.collection('flowers', { model: 'mobilenet-v1' });
      await col.indexFolder(SAMPLES);
      files = (await walkImages(SAMPLES)).map((f) => f.path).sort();
      for (const f of files) byClass.set(classOf(f), [...(byClass.get(classOf(f)) ?? []), f]);
      for (const f of files.slice(0, 3)) fs.copyFileSync(f, path.join(copies, `copy-${path.basename(f)}`));
      await col.indexFolder(copies);
    }, 120_000);
    afterAll(async () => {
      await col?.close();
      await db?.close();
    });

    it('a one-term composite ranks like the plain query', async () => {
      const q = files[10]!;
      const plain = await col.search({ id: idOf(q) }, { k: 8 });
      const comp = await col.search({ positive: [{ id: idOf(q) }] }, { k: 8 });
      expect(comp.map((h) => h.id)).toEqual(plain.map((h) => h.id));
      comp.forEach((h, i) => expect(h.score).toBeCloseTo(plain[i]!.score, 5));
    });

    it('average: two positives of one class bring that class, and neither query item', async () => {
      const [a, b] = byClass.get('daisy')!;
      const hits = await col.search({ positive: [{ id: idOf(a!) }, { id: idOf(b!) }] }, { k: 5 });
      expect(hits.map((h) => h.id)).not.toContain(idOf(a!));
      expect(hits.map((h) => h.id)).not.toContain(idOf(b!));
      expect(hits.filter((h) => classOf(h.path) === 'daisy').length).toBeGreaterThanOrEqual(4);
      // the score is the cosine to the renormalised mean of the two unit vectors
      const [va, vb, vh] = [await col.vector(idOf(a!)), await col.vector(idOf(b!)), await col.vector(hits[0]!.id)];
      const mean = va!.map((x, i) => x + vb![i]!);
      const n = Math.sqrt(dot(mean, mean));
      expect(hits[0]!.score).toBeCloseTo(dot(mean, vh!) / n, 4);
    });

    it('best-score equals a brute-force ranking by max similarity to the positives', async () => {
      const a = byClass.get('iris')![0]!;
      const b = byClass.get('sunflower')![0]!;
      const hits = await col.search({ positive: [{ id: idOf(a) }, { id: idOf(b) }], strategy: 'best-score' }, { k: 10 });
      const va = (await col.vector(idOf(a)))!;
      const vb = (await col.vector(idOf(b)))!;
      const all = await Promise.all((await col.files()).filter((f) => f.id !== idOf(a) && f.id !== idOf(b)).map(async (f) => {
        const v = (await col.vector(f.id))!;
        return { id: f.id, s: Math.max(dot(v, va), dot(v, vb)) };
      }));
      all.sort((x, y) => y.s - x.s || (x.id < y.id ? -1 : 1));
      expect(hits.map((h) => h.score)).toEqual(all.slice(0, 10).map((x) => expect.closeTo(x.s, 5)));
      expect(hits.map((h) => h.id)).toEqual(all.slice(0, 10).map((x) => x.id));
    });

    it('negatives push their neighbourhood down (both strategies)', async () => {
      const pos = byClass.get('pansy')![0]!;
      const plain = await col.search({ id: idOf(pos) }, { k: 12 });
      const foreign = plain.find((h) => h.path!.startsWith(SAMPLES) && classOf(h.path) !== 'pansy')!; // a wrong hit the user marks 👎
      expect(foreign).toBeDefined();
      const foreignClass = classOf(foreign.path);
      for (const strategy of ['average', 'best-score'] as const) {
        const hits = await col.search({ positive: [{ id: idOf(pos) }], negative: [{ id: foreign.id }], strategy }, { k: 12 });
        expect(hits.map((h) => h.id)).not.toContain(foreign.id);
        const before = plain.filter((h) => classOf(h.path) === foreignClass).length;
        const after = hits.filter((h) => classOf(h.path) === foreignClass).length;
        expect(after, `${strategy}: ${foreignClass} hits`).toBeLessThan(before);
        if (strategy === 'best-score') {
          // every hit closer to the negative than to the positive ranks below every hit that is not
          const vp = (await col.vector(idOf(pos)))!;
          const vn = (await col.vector(foreign.id))!;
          const penalised = await Promise.all(hits.map(async (h) => {
            const v = (await col.vector(h.id))!;
            return dot(v, vn) >= dot(v, vp);
          }));
          const firstPenalised = penalised.indexOf(true);
          if (firstPenalised >= 0) expect(penalised.slice(firstPenalised).every(Boolean)).toBe(true);
        }
      }
      // a negative weight in the positive list is the same as a negative term
      const viaWeight = await col.search({ positive: [{ id: idOf(pos) }, { id: foreign.id, weight: -1 }] }, { k: 12 });
      const viaList = await col.search({ positive: [{ id: idOf(pos) }], negative: [{ id: foreign.id }] }, { k: 12 });
      expect(viaWeight.map((h) => h.id)).toEqual(viaList.map((h) => h.id));
    });

    it('collapse folds exact copies into the better-ranked one and pages by shown hits', async () => {
      const original = files[0]!;
      const q = byClass.get(classOf(original))!.find((f) => f !== original)!;
      const plain = await col.search({ id: idOf(q) }, { k: 20 });
      const ids = plain.map((h) => h.id);
      expect(ids).toContain(idOf(original));
      expect(ids).toContain(idOf(path.join(copies, `copy-${path.basename(original)}`)));
      const collapsed = await col.search({ id: idOf(q) }, { k: 20, collapse: 0.999 });
      const shown = collapsed.map((h) => h.id);
      const group = collapsed.find((h) => h.id === idOf(original) || h.id === idOf(path.join(copies, `copy-${path.basename(original)}`)))!;
      expect(group.folded).toHaveLength(1);
      expect(shown).not.toContain(group.folded![0]!.id);
      expect(collapsed).toHaveLength(20);
      // paging over collapsed results: page 2 continues page 1 with no repeats
      const page2 = await col.search({ id: idOf(q) }, { k: 20, offset: 20, collapse: 0.999 });
      expect(page2.map((h) => h.id).filter((id) => shown.includes(id))).toEqual([]);
      const all = await col.search({ id: idOf(q) }, { k: 40, collapse: 0.999 });
      expect([...collapsed, ...page2].map((h) => h.id)).toEqual(all.map((h) => h.id));
    });

    it('crop: the whole image as a crop finds itself; a region is a different query; out-of-bounds is refused', async () => {
      const f = files[20]!;
      const whole = await col.search({ image: f, crop: { x: 0, y: 0, w: 1, h: 1 } }, { k: 1 });
      expect(whole[0]!.id).toBe(idOf(f));
      expect(whole[0]!.score).toBeGreaterThan(0.99);
      const half = await col.search({ image: f, crop: { x: 0, y: 0, w: 0.5, h: 0.5 } }, { k: 1 });
      expect(half[0]!.score).toBeLessThan(whole[0]!.score);
      const byId = await col.search({ id: idOf(f), crop: { x: 0, y: 0, w: 0.5, h: 0.5 } }, { k: 1 });
      expect(byId[0]!.id).not.toBe(idOf(f)); // an id query never returns its own item
      await expect(col.search({ image: f, crop: { x: 0, y: 0, w: 5000, h: 10 } }, { k: 1 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/crop 0,0,5000,10 reaches past .*\(\d+×\d+ pixels\)/),
      });
    });

    it('every index type (and int8 storage): candidates from the index, best-score re-scored exactly', async () => {
      const a = byClass.get('daisy')![1]!;
      const b = byClass.get('iris')![1]!;
      const q = { positive: [{ id: idOf(a) }, { id: idOf(b) }], negative: [{ id: idOf(byClass.get('pansy')![1]!) }] };
      const want = {
        average: (await col.search(q, { k: 8 })).map((h) => h.id),
        best: (await col.search({ ...q, strategy: 'best-score' as const }, { k: 8 })).map((h) => h.id),
      };
      const indexes = backend === 'postgres'
        ? ([[{ type: 'hnsw', m: 16, efConstruction: 200, ef: 100 }]] as const)
        : ([[{ type: 'hnsw', m: 16, efConstruction: 200, ef: 100 }], [{ type: 'ivf', nlist: 4, nprobe: 4 }], [{ type: 'flat' }, 'int8']] as const);
      for (const [index, vt] of indexes) {
        await col.setIndex(index, vt);
        const best = await col.search({ ...q, strategy: 'best-score' }, { k: 8 });
        expect(best.map((h) => h.id), `${index.type} ${vt ?? ''}`).toEqual(want.best);
        const avg = (await col.search(q, { k: 8 })).map((h) => h.id);
        expect(avg.filter((id) => want.average.includes(id)).length, `${index.type} ${vt ?? ''}`).toBeGreaterThanOrEqual(7);
      }
      await col.setIndex({ type: 'flat' }, 'float32');
    });

    it('sort: the hits above minScore ordered by path (or a metadata key), paged', async () => {
      const q = { id: idOf(files[30]!) };
      const above = await col.search(q, { k: 200, minScore: 0.5 });
      const sorted = await col.search(q, { k: 200, minScore: 0.5, sort: '-path' });
      expect(sorted.map((h) => h.id).sort()).toEqual(above.map((h) => h.id).sort());
      const paths = sorted.map((h) => h.path!);
      expect(paths).toEqual([...paths].sort().reverse());
      const page2 = await col.search(q, { k: 5, offset: 5, minScore: 0.5, sort: '-path' });
      expect(page2.map((h) => h.id)).toEqual(sorted.slice(5, 10).map((h) => h.id));
      await expect(col.search(q, { k: 5, sort: 'path' })).rejects.toThrow(/sort needs minScore/);
      await expect(col.search(q, { k: 5, minScore: 0, sort: 'a.b' })).rejects.toThrow(/sort must be a metadata key/);
    });

    it('bad compositional queries are clear errors', async () => {
      const id = idOf(files[0]!);
      const bad = async (q: unknown, opts = {}) => col.search(q as never, opts).then(() => 'ok', (e: { code: string; message: string }) => `${e.code}: ${e.message}`);
      expect(await bad({ positive: [] })).toMatch(/INVALID_ARGUMENT: A query needs at least one positive term/);
      expect(await bad({ positive: [{ id, weight: -1 }] })).toMatch(/INVALID_ARGUMENT: A query needs at least one positive term/);
      expect(await bad({ positive: Array.from({ length: 33 }, () => ({ id })) })).toMatch(/at most 32 terms/);
      expect(await bad({ positive: [{ id, weight: Number.NaN }] })).toMatch(/positive\[0\]\.weight must be a non-zero number/);
      expect(await bad({ positive: [{ id, text: 'x' }] })).toMatch(/positive\[0\]: give exactly one of/);
      expect(await bad({ positive: [{ id }], strategy: 'max' })).toMatch(/strategy must be one of average, best-score/);
      expect(await bad({ positive: [{ text: 'red' }] })).toMatch(/TEXT_NOT_SUPPORTED/);
      expect(await bad({ positive: [{ id: 'nope' }] })).toMatch(/ITEM_NOT_FOUND/);
      expect(await bad({ id }, { collapse: 2 })).toMatch(/collapse must be a cosine similarity/);
      expect(await bad({ positive: [{ vector: [1, 2] }] })).toMatch(/DIMENSION_MISMATCH: positive\[0\]\.vector has 2 dimensions/);
    });
  });
}
