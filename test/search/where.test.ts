/**
 * Issue 15.2: the filter language — validation, CLI expressions, and both stores' SQL agreeing with the in-memory
 * reference (`matchesWhere`) on varied metadata (numbers, numeric strings, dates, booleans, nulls, arrays, missing keys,
 * places).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { EmbedderSpec } from '../../src/embed/types.js';
import { validateWhere } from '../../src/schema.js';
import { matchesWhere, parseWhereExpression, whereFromExpressions, type Where } from '../../src/search/where.js';
import { openStore } from '../../src/store/registry.js';
import type { StoreCollection, VectorStore } from '../../src/store/types.js';
import { freshPostgresDb, randomUnitVectors, rng, tmpDir } from '../helpers.js';

describe('--where expressions', () => {
  it('parse every form', () => {
    expect(parseWhereExpression('articleType=Watches')).toEqual({ key: 'articleType', ops: { eq: 'Watches' } });
    expect(parseWhereExpression('year>=2012')).toEqual({ key: 'year', ops: { gte: 2012 } });
    expect(parseWhereExpression('year < 2020')).toEqual({ key: 'year', ops: { lt: 2020 } });
    expect(parseWhereExpression('season!=Summer')).toEqual({ key: 'season', ops: { ne: 'Summer' } });
    expect(parseWhereExpression('taken:2019-01-01..2019-12-31')).toEqual({ key: 'taken', ops: { gte: '2019-01-01', lte: '2019-12-31T23:59:59.999Z' } });
    expect(parseWhereExpression('price:..20')).toEqual({ key: 'price', ops: { lte: 20 } });
    expect(parseWhereExpression('season in Summer,Fall')).toEqual({ key: 'season', ops: { in: ['Summer', 'Fall'] } });
    expect(parseWhereExpression('season not in Summer, Fall')).toEqual({ key: 'season', ops: { nin: ['Summer', 'Fall'] } });
    expect(parseWhereExpression('lens exists')).toEqual({ key: 'lens', ops: { exists: true } });
    expect(parseWhereExpression('lens missing')).toEqual({ key: 'lens', ops: { exists: false } });
    expect(parseWhereExpression('near=48.85,2.35,10km')).toEqual({ near: { lat: 48.85, lon: 2.35, km: 10 } });
    expect(parseWhereExpression('near=48.85,2.35,500m')).toEqual({ near: { lat: 48.85, lon: 2.35, km: 0.5 } });
    expect(() => parseWhereExpression('year')).toThrow(/--where "year": not a filter\. Forms:/);
    expect(() => parseWhereExpression('year:..')).toThrow(/at least one bound/);
  });
  it('combine conditions on one key; a lone equality stays a plain value', () => {
    expect(whereFromExpressions(['year>=2012', 'year<2016', 'articleType=Watches'])).toEqual({ year: { gte: 2012, lt: 2016 }, articleType: 'Watches' });
  });
});

describe('validation', () => {
  const bad = (w: unknown) => {
    try {
      validateWhere(w);
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  };
  it('names the key and what was expected', () => {
    expect(bad({ year: { between: [1, 2] } })).toMatch(/unknown operator "between" on "year"/);
    expect(bad({ year: {} })).toMatch(/has no operator/);
    expect(bad({ year: { gt: true } })).toMatch(/gt on "year" takes a finite number .* or a string/);
    expect(bad({ year: { in: [] } })).toMatch(/in on "year" takes a list of 1 to 256/);
    expect(bad({ year: { exists: 'yes' } })).toMatch(/exists on "year" takes true or false/);
    expect(bad({ year: [1, 2] })).toMatch(/must be a string, a finite number, a boolean, null, or an object of operators/);
    expect(bad({ 'a.b': 1 })).toMatch(/path characters/);
    expect(bad({ $near: { lat: 91, lon: 0, km: 1 } })).toMatch(/\$near\.lat must be a latitude/);
    expect(bad({ $near: { lat: 1, lon: 0, km: 0 } })).toMatch(/\$near\.km must be a distance/);
    expect(bad({ $other: 1 })).toMatch(/path characters/);
    expect(bad({ year: { gte: 2012, lte: '2019' } })).toBe('ok');
  });
});

const D = 8;
const embedder: EmbedderSpec = { id: 'test', kind: 'test', model: 'test', revision: '0', dimension: D, modalities: ['image'], preprocessing: {} };
const N = 400;
const VECS = randomUnitVectors(N, D, 3);
const random = rng(11);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const METADATA: Record<string, unknown>[] = VECS.map((_, i) => {
  const m: Record<string, unknown> = {};
  if (i % 7 !== 0) m.year = pick([2010, 2012, 2015, 2018, 2020, 2020.5]);
  if (i % 11 === 0) m.year = pick(['2012', '2020', 'unknown']); // strings that look like numbers, and one that does not
  if (i % 3 !== 0) m.taken = new Date(Date.UTC(2017, 0, 1) + Math.floor(random() * 4 * 365) * 86_400_000).toISOString();
  m.season = pick(['Summer', 'Fall', 'Winter', null, 'summer']);
  if (i % 5 === 0) m.sale = pick([true, false, 'true']);
  if (i % 13 === 0) m.tags = ['a', 'b'];
  if (i % 4 !== 0) {
    m.lat = 48.85 + (random() - 0.5) * 2;
    m.lon = 2.35 + (random() - 0.5) * 2;
  }
  if (i % 17 === 0) m.lat = 'north'; // not a number: never near anything
  return m;
});

const FILTERS: Where[] = [
  { year: 2020 },
  { year: '2020' },
  { year: { gte: 2015 } },
  { year: { gt: 2012, lt: 2020 } },
  { year: { gte: '2015' } }, // string bound: compares only string values
  { year: { ne: 2020 } },
  { year: { in: [2010, '2012', 'unknown'] } },
  { year: { nin: [2010, 2012] } },
  { year: { exists: false } },
  { season: null },
  { season: { exists: true } },
  { season: { in: ['Summer', null] } },
  { sale: true },
  { sale: { ne: true } },
  { tags: 'a' },
  { tags: { exists: true } },
  { taken: { gte: '2018-01-01', lte: '2018-12-31T23:59:59.999Z' } },
  { taken: { lt: '2017-06-01' }, season: 'Summer' },
  { $near: { lat: 48.85, lon: 2.35, km: 30 } },
  { $near: { lat: 48.85, lon: 2.35, km: 50 }, year: { gte: 2015 } },
  { missing: { exists: false }, year: { lte: 2018 } },
];

const BACKENDS: [string, () => Promise<string>][] = [
  ['embedded', async () => tmpDir()],
  ['postgres', () => freshPostgresDb(inject('pgUrl'))],
];

for (const [name, location] of BACKENDS) {
  describe(`filters on ${name} agree with the reference`, () => {
    let store: VectorStore;
    let c: StoreCollection;
    beforeAll(async () => {
      store = await openStore(await location());
      c = await store.createCollection({ name: 'w', embedder, dimension: D, metric: 'cosine', vectorType: 'float32' });
      await c.upsert(VECS.map((vector, i) => ({ id: `i${i}`, vector, metadata: METADATA[i]! })));
    });
    afterAll(async () => {
      await store?.close();
    });
    for (const where of FILTERS) {
      it(JSON.stringify(where), async () => {
        const want = METADATA.flatMap((m, i) => (matchesWhere(m, validateWhere(where)) ? [`i${i}`] : [])).sort();
        const got = (await c.search(VECS[0]!, { k: N, where, exact: true, includeMetadata: false })).map((h) => h.id).sort();
        expect(got).toEqual(want);
      });
    }
    it('filters are not trivially empty or full (but an equality never matches an array)', () => {
      const sizes = new Map(FILTERS.map((w) => [JSON.stringify(w), METADATA.filter((m) => matchesWhere(m, w)).length]));
      expect(sizes.get('{"tags":"a"}')).toBe(0);
      sizes.delete('{"tags":"a"}');
      for (const [w, n] of sizes) expect(n > 0 && n < N, `${w}: ${n}`).toBe(true);
    });
  });
}

for (const [name, location] of BACKENDS) {
  describe(`filtered HNSW on ${name}`, () => {
    it('recall@10 ≥ 0.95 against the exact filtered result at 50%, 10%, 1% and 0.1% selectivity', async () => {
      const store = await openStore(await location());
      try {
        const n = 4000;
        const vecs = randomUnitVectors(n, 16, 21);
        const c = await store.createCollection({
          name: 'h',
          embedder: { ...embedder, dimension: 16 },
          dimension: 16,
          metric: 'cosine',
          vectorType: 'float32',
          index: { type: 'hnsw', m: 16, efConstruction: 100, ef: 40 },
        });
        for (let i = 0; i < n; i += 1000) {
          await c.upsert(vecs.slice(i, i + 1000).map((vector, j) => ({ id: `v${i + j}`, vector, metadata: { bucket: (i + j) % 1000 } })));
        }
        const queries = randomUnitVectors(30, 16, 22);
        for (const [share, where] of [
          ['50%', { bucket: { lt: 500 } }],
          ['10%', { bucket: { lt: 100 } }],
          ['1%', { bucket: { lt: 10 } }],
          ['0.1%', { bucket: 7 }],
        ] as const) {
          let found = 0;
          let wanted = 0;
          for (const q of queries) {
            const truth = new Set((await c.search(q, { k: 10, where, exact: true, includeMetadata: false })).map((h) => h.id));
            const got = await c.search(q, { k: 10, where });
            for (const h of got) expect(matchesWhere(h.metadata, where), `${h.id} ${JSON.stringify(h.metadata)}`).toBe(true);
            found += got.filter((h) => truth.has(h.id)).length;
            wanted += truth.size;
          }
          expect(found / wanted, `${name} ${share}`).toBeGreaterThanOrEqual(0.95);
        }
      } finally {
        await store.close();
      }
    });
  });
}
