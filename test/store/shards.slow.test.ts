/**
 * Issue 16.3: shards with PostgreSQL's own machinery — a coordinator and two shard servers on loopback, a collection
 * hash-partitioned over the shards (native partitioning + postgres_fdw foreign partitions). 20,000 random unit
 * vectors go in through the library's import path; searches must answer exactly as one server does, the rows must
 * really be on both shards, and each shard must be sent its own `ORDER BY … LIMIT` (run concurrently: Async Append).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config.js';
import { isLookalikeError } from '../../src/errors.js';
import { openDatabase } from '../../src/lookalike.js';
import { ShardedPgCollection } from '../../src/store/postgres/shards.js';
import { openStore } from '../../src/store/registry.js';
import type { Hit, ItemInput, StoreCollection, VectorSearchOptions, VectorStore, Where } from '../../src/store/types.js';
import { importInto, vectorsOnlySpec, type ImportSource } from '../../src/transfer/transfer.js';
import { randomUnitVectors, SAMPLES } from '../helpers.js';
import { startPostgresServer, type PostgresServer } from '../setup/postgres.js';

const N = 20_000;
const D = 128;
const K = 10;
const HNSW = { type: 'hnsw', m: 16, efConstruction: 64, ef: 200 } as const;

async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

/** Rows of the collection's table on one shard server, counted there directly. */
async function rowsOnShard(url: string): Promise<number> {
  const tables = await sql<{ t: string }>(url, `SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE tablename LIKE 'lookalike_shard_%'`);
  let n = 0;
  for (const { t } of tables) n += Number((await sql<{ n: string }>(url, `SELECT count(*) AS n FROM ${t}`))[0]!.n);
  return n;
}

/** The vectors as an import source (what `lookalike import` reads from a file), in batches of 2,000. */
function source(items: readonly ItemInput[]): ImportSource {
  return {
    spec: undefined,
    dimension: D,
    total: items.length,
    describe: 'random unit vectors',
    async *batches() {
      for (let i = 0; i < items.length; i += 2000) yield items.slice(i, i + 2000);
    },
  };
}

/** A plan with its 128-number vector literals shortened, for the log. */
const short = (plan: string): string => plan.replace(/'\[[^']*\]'/g, "'[…]'");
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timed(queries: readonly Float32Array[], fn: (q: Float32Array) => Promise<unknown>): Promise<number> {
  for (const q of queries.slice(0, 3)) await fn(q); // warm: connections to the shards, caches
  const ms: number[] = [];
  for (const q of queries) {
    const t = performance.now();
    await fn(q);
    ms.push(performance.now() - t);
  }
  return median(ms);
}

describe('PostgreSQL shards (native partitioning + postgres_fdw)', () => {
  let coordinator: PostgresServer;
  let shards: PostgresServer[];
  let store: VectorStore; // the coordinator, opened with the shards
  let plain: VectorStore; // the same coordinator server without shards: one node
  let col: StoreCollection;
  let single: StoreCollection;
  const vectors = randomUnitVectors(N, D, 1603);
  const queries = randomUnitVectors(20, D, 77);
  const items: ItemInput[] = vectors.map((vector, i) => ({ id: `v${i}`, path: `/data/v${i}.jpg`, metadata: { bucket: i % 4, even: i % 2 === 0 }, vector }));
  const both = async (fn: (c: StoreCollection) => Promise<Hit[]>) => [await fn(col), await fn(single)] as const;

  beforeAll(async () => {
    [coordinator, ...shards] = await Promise.all([startPostgresServer(), startPostgresServer(), startPostgresServer()]);
    store = await openStore(coordinator.url, { shards: shards.map((s) => s.url) });
    plain = await openStore(coordinator.url);
    const t0 = performance.now();
    await importInto(store, 'vecs', source(items));
    const t1 = performance.now();
    await importInto(plain, 'single', source(items));
    const t2 = performance.now();
    col = await store.getCollection('vecs');
    single = await plain.getCollection('single');
    console.log(`[shards] import of ${N} × ${D}-d vectors: sharded ${((t1 - t0) / 1000).toFixed(1)} s, one node ${((t2 - t1) / 1000).toFixed(1)} s`);
  }, 300_000);

  afterAll(async () => {
    await store?.close();
    await plain?.close();
    for (const s of [coordinator, ...(shards ?? [])]) s?.destroy();
  });

  it('is a hash-partitioned table with one foreign partition per shard, and the rows are on both shards', async () => {
    expect(col).toBeInstanceOf(ShardedPgCollection);
    expect(single).not.toBeInstanceOf(ShardedPgCollection);
    const parts = await sql<{ name: string; bound: string; server: string; options: string[] }>(
      coordinator.url,
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, s.srvname AS server, s.srvoptions AS options
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_foreign_table f ON f.ftrelid = c.oid JOIN pg_foreign_server s ON s.oid = f.ftserver
        WHERE i.inhparent = (SELECT ('lookalike_items_' || cid)::regclass FROM lookalike_collections WHERE name = 'vecs') ORDER BY c.relname`,
    );
    expect(parts.map((p) => p.bound)).toEqual(['FOR VALUES WITH (modulus 2, remainder 0)', 'FOR VALUES WITH (modulus 2, remainder 1)']);
    for (const [i, p] of parts.entries()) {
      expect(p.options).toEqual(expect.arrayContaining(['extensions=vector', 'async_capable=true', `port=${shards[i]!.port}`]));
    }
    const [a, b] = await Promise.all(shards.map((s) => rowsOnShard(s.url)));
    console.log(`[shards] rows per shard: ${a}, ${b}`);
    expect(a! + b!).toBe(N);
    expect(Math.min(a!, b!)).toBeGreaterThan(0.4 * N); // hash of the id: about half each
    expect(await col.count()).toBe(N);
    // nothing is stored on the coordinator itself
    expect(Number((await sql<{ n: string }>(coordinator.url, `SELECT count(*) AS n FROM ONLY ${'lookalike_items_' + (await sql<{ cid: number }>(coordinator.url, `SELECT cid FROM lookalike_collections WHERE name = 'vecs'`))[0]!.cid}`))[0]!.n)).toBe(0);
  });

  it('exact top-10 equals a single-node exact search (ids and scores) for 20 queries', async () => {
    for (const q of queries) {
      const [s, one] = await both((c) => c.search(q, { k: K, exact: true }));
      expect(s.map((h) => h.id)).toEqual(one.map((h) => h.id));
      expect(s.map((h) => h.score)).toEqual(one.map((h) => h.score));
      expect(s[0]!.metadata).toEqual(one[0]!.metadata);
      expect(s[0]!.path).toBe(one[0]!.path);
    }
    // paging and excluded ids rank over all shards too
    const [s, one] = await both((c) => c.search(queries[0]!, { k: 5, offset: 7, exact: true, excludeIds: ['v1', 'v2'] }));
    expect(s.map((h) => [h.id, h.score])).toEqual(one.map((h) => [h.id, h.score]));
  });

  it('sends each shard its own ORDER BY … LIMIT and runs the shards concurrently (EXPLAIN VERBOSE)', async () => {
    const sharded = col as ShardedPgCollection;
    const remoteOf = (plan: string) => plan.split('\n').filter((l) => l.includes('Remote SQL:'));
    for (const [name, opts] of [
      ['exact', { k: K, exact: true }],
      ['flat', { k: K }],
      ['paged', { k: 4, offset: 6, exact: true, excludeIds: ['v1'] }],
    ] as [string, VectorSearchOptions][]) {
      const plan = await sharded.explainSearch(queries[0]!, opts);
      if (name === 'exact') console.log(`[shards] EXPLAIN (VERBOSE) of an exact search:\n${short(plan)}`);
      const remote = remoteOf(plan);
      expect(remote, `${name}:\n${plan}`).toHaveLength(2);
      for (const r of remote) expect(r, `${name}:\n${plan}`).toMatch(/ORDER BY \(\(vector OPERATOR\(public\.<=>\) '\[[^']*\]'\) \+ 0::double precision\) ASC NULLS LAST LIMIT 10::bigint$/);
      expect(plan.match(/Async Foreign Scan/g), `${name}:\n${plan}`).toHaveLength(2);
      expect(plan).toMatch(/^\s*->\s+Append$/m);
      expect(plan).not.toMatch(/Merge Append/);
    }
    // a where filter runs on the shards, in the shards' ORDER BY; postgres_fdw ships the LIMIT too when it expects at
    // least k matching rows there, else a cursor reads the first rows of the shard's ordering: no shard's rows are ever
    // sorted on the coordinator (one Sort: the final ranking of n × shards rows)
    for (const where of [{ bucket: 2 }, { bucket: 2, even: 'true' }] as Where[]) {
      for (const exact of [true, false]) {
        const plan = await sharded.explainSearch(queries[0]!, { k: K, exact, where });
        const remote = remoteOf(plan);
        expect(remote, plan).toHaveLength(2);
        for (const r of remote) expect(r, plan).toMatch(/ FROM public\.lookalike_shard_\w+ WHERE .*metadata @> '\{"bucket": 2\}'.* ORDER BY \(.*\) ASC NULLS LAST( LIMIT 10::bigint)?$/);
        expect(plan.match(/Sort Key:/g), plan).toHaveLength(1);
        console.log(`[shards] where ${JSON.stringify(where)}${exact ? ' (exact)' : ''}: LIMIT shipped to ${remote.filter((r) => r.endsWith('LIMIT 10::bigint')).length} of 2 shards`);
      }
    }
  });

  it('a where filter answers as on one node', async () => {
    for (const q of queries.slice(0, 5)) {
      const [s, one] = await both((c) => c.search(q, { k: K, exact: true, where: { bucket: 2, even: 'true' } }));
      expect(s.map((h) => [h.id, h.score])).toEqual(one.map((h) => [h.id, h.score]));
      expect(s.every((h) => h.metadata.bucket === 2)).toBe(true);
      const [r, one2] = await both((c) => c.search(q, { k: K, exact: true, where: { bucket: { in: [1, 3] }, even: { ne: true } } }));
      expect(r.map((h) => h.id)).toEqual(one2.map((h) => h.id));
    }
  });

  it('HNSW on every shard: an index built per shard, approximate searches with high recall, latency measured', async () => {
    const exact = await Promise.all(queries.map((q) => single.search(q, { k: K, exact: true })));
    const flatSharded = await timed(queries, (q) => col.search(q, { k: K }));
    const flatSingle = await timed(queries, (q) => single.search(q, { k: K }));
    const b0 = performance.now();
    await col.setIndex(HNSW);
    const b1 = performance.now();
    await single.setIndex(HNSW);
    console.log(`[shards] HNSW build (m 16, ef_construction 64): sharded ${((b1 - b0) / 1000).toFixed(1)} s (both shards at once), one node ${((performance.now() - b1) / 1000).toFixed(1)} s`);
    col = await store.getCollection('vecs');
    single = await plain.getCollection('single');
    for (const s of shards) {
      const idx = await sql<{ def: string }>(s.url, `SELECT indexdef AS def FROM pg_indexes WHERE tablename LIKE 'lookalike_shard_%' AND indexdef LIKE '%hnsw%'`);
      expect(idx).toHaveLength(1);
    }
    const plan = await (col as ShardedPgCollection).explainSearch(queries[0]!, { k: K });
    console.log(`[shards] EXPLAIN (VERBOSE) of an HNSW search:\n${short(plan)}`);
    const remote = plan.split('\n').filter((l) => l.includes('Remote SQL:'));
    expect(remote).toHaveLength(2);
    for (const r of remote) expect(r).toMatch(/ORDER BY \(vector OPERATOR\(public\.<=>\) '\[[^']*\]'\) ASC NULLS LAST LIMIT 10::bigint$/);
    expect(plan.match(/Async Foreign Scan/g)).toHaveLength(2);
    // each shard answers from its HNSW index (what a shard was sent, run there: EXPLAIN on the shard itself)
    const remoteSql = remote[0]!.replace(/^\s*Remote SQL:\s*/, '');
    const onShard = (await sql<{ 'QUERY PLAN': string }>(shards[0]!.url, `EXPLAIN ${remoteSql}`)).map((r) => r['QUERY PLAN']).join('\n');
    expect(onShard).toMatch(/Index Scan using lookalike_shard_\w+_hnsw/);

    const recallOf = async (c: StoreCollection) => {
      let found = 0;
      for (const [i, q] of queries.entries()) found += (await c.search(q, { k: K })).filter((h) => exact[i]!.some((e) => e.id === h.id)).length;
      return found / (queries.length * K);
    };
    const [recall, recallSingle] = [await recallOf(col), await recallOf(single)];
    console.log(`[shards] HNSW recall@10 (ef 200): sharded ${recall.toFixed(3)}, one node ${recallSingle.toFixed(3)}`);
    // two graphs of half the size, each searched as wide as the one graph: at least as good
    expect(recall).toBeGreaterThanOrEqual(recallSingle - 0.02);
    expect(recall).toBeGreaterThan(0.8);
    // a filtered approximate search (iterative scans on the shards) keeps to the filter and fills k
    const f = await col.search(queries[1]!, { k: K, where: { bucket: 3 } });
    expect(f).toHaveLength(K);
    expect(f.every((h) => h.metadata.bucket === 3)).toBe(true);
    // the search width is the collection's (a setting of its connections to the shards): a per-search ef is refused
    await expect(col.search(queries[0]!, { k: K, ef: 100 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });

    const hnswSharded = await timed(queries, (q) => col.search(q, { k: K }));
    const hnswSingle = await timed(queries, (q) => single.search(q, { k: K }));
    const exactSharded = await timed(queries, (q) => col.search(q, { k: K, exact: true }));
    const exactSingle = await timed(queries, (q) => single.search(q, { k: K, exact: true }));
    console.log(
      `[shards] median search latency, ${N} × ${D}-d, k = ${K}, 20 queries (loopback, one machine):\n` +
        `  flat (exact scan)  sharded ${flatSharded.toFixed(1)} ms, one node ${flatSingle.toFixed(1)} ms\n` +
        `  exact over HNSW    sharded ${exactSharded.toFixed(1)} ms, one node ${exactSingle.toFixed(1)} ms\n` +
        `  HNSW (ef 200)      sharded ${hnswSharded.toFixed(1)} ms, one node ${hnswSingle.toFixed(1)} ms`,
    );
  }, 300_000);

  it('upserts and deletes go through the coordinator to the right shard', async () => {
    const target = queries[5]!;
    const before = await col.count();
    // v10 gets a new vector (the query itself) and metadata; n1 and n2 are new
    const r = await col.upsert([
      { id: 'v10', path: '/data/v10.jpg', metadata: { bucket: 9 }, vector: target },
      { id: 'n1', path: '/data/n1.jpg', metadata: { bucket: 9 }, vector: queries[6]! },
      { id: 'n2', path: null, metadata: {}, vector: vectors[3]! },
    ]);
    expect(r).toEqual({ added: 2, updated: 1 });
    expect(await col.count()).toBe(before + 2);
    expect((await col.get('v10'))?.metadata).toEqual({ bucket: 9 });
    expect(Array.from((await col.getVector('v10'))!)).toEqual(Array.from(target));
    const top = await col.search(target, { k: 1, exact: true });
    expect(top[0]!.id).toBe('v10');
    expect(top[0]!.score).toBeCloseTo(1, 6);
    expect((await col.search(target, { k: 3, exact: true, where: { bucket: 9 } })).map((h) => h.id).sort()).toEqual(['n1', 'v10']);
    // the same upsert again only updates
    expect(await col.upsert([{ id: 'n1', metadata: { bucket: 9, again: true }, vector: queries[6]! }])).toEqual({ added: 0, updated: 1 });
    expect((await col.get('n1'))?.metadata).toEqual({ bucket: 9, again: true });
    // touchFiles (size and mtime, no vector write) reaches the shards
    await col.touchFiles([{ id: 'v10', size: 1234, mtimeMs: 5678.5 }]);
    expect((await col.get('v10'))?.size).toBe(1234);
    expect((await col.fileStates(['/data/v10.jpg'])).get('/data/v10.jpg')?.mtimeMs).toBe(5678.5);
    // rows are on the shard the coordinator's hash says
    const [a, b] = await Promise.all(shards.map((s) => rowsOnShard(s.url)));
    expect(a! + b!).toBe(before + 2);

    expect(await col.delete(['v10', 'n1', 'n2', 'no-such-id'])).toBe(3);
    expect(await col.count()).toBe(before - 1);
    expect(await col.get('v10')).toBeUndefined();
    expect((await col.search(target, { k: K, exact: true })).map((h) => h.id)).not.toContain('v10');
    expect((await col.search(target, { k: K })).map((h) => h.id)).not.toContain('v10');
    // what the coordinator refuses by itself (why upserts are a lookup, a delete and an insert): ON CONFLICT … DO UPDATE
    const cid = (await sql<{ cid: number }>(coordinator.url, `SELECT cid FROM lookalike_collections WHERE name = 'vecs'`))[0]!.cid;
    await expect(
      sql(coordinator.url, `INSERT INTO lookalike_items_${cid} (id, vector) VALUES ('v11', $1) ON CONFLICT (id) DO UPDATE SET vector = excluded.vector`, [`[${Array.from(target).join(',')}]`]),
    ).rejects.toThrow(/no unique or exclusion constraint/);
  });

  it('scans, samples and metadata summaries see every shard', async () => {
    let n = 0;
    const seen = new Set<string>();
    for await (const batch of col.scanVectors(5000)) for (const v of batch) (n++, seen.add(v.id));
    expect(n).toBe(await col.count());
    expect(seen.size).toBe(n);
    expect(await col.sampleIds(10)).toHaveLength(10);
    const summary = await col.metadataSummary();
    expect(summary.items).toBe(n);
    expect(summary.keys.find((k) => k.key === 'bucket')?.distinct).toBe(4);
  });

  it('with a shard down, searches and counts fail with STORE_UNAVAILABLE (never a partial answer), and recover', async () => {
    const impatient = await openStore(coordinator.url, { retry: { timeoutMs: 300 } });
    try {
      const c = await impatient.getCollection('vecs');
      expect(await c.search(queries[0]!, { k: K })).toHaveLength(K);
      const cid = (await sql<{ cid: number }>(coordinator.url, `SELECT cid FROM lookalike_collections WHERE name = 'vecs'`))[0]!.cid;
      const onFirst = (await sql<{ id: string }>(coordinator.url, `SELECT id FROM lookalike_items_${cid}_p0 LIMIT 1`))[0]!.id;
      shards[1]!.stop();
      try {
        // an item of the shard that is up is still read by id (the coordinator prunes to its partition)
        expect((await c.get(onFirst))?.id).toBe(onFirst);
        for (const attempt of [() => c.search(queries[0]!, { k: K }), () => c.count(), () => c.upsert([{ id: 'x', vector: queries[0]! }])]) {
          const e = await attempt().then(
            () => undefined,
            (err: unknown) => err,
          );
          expect(isLookalikeError(e, 'STORE_UNAVAILABLE'), String(e)).toBe(true);
          expect(String((e as Error).message)).toMatch(/could not connect to server "lookalike_\d+_s1"|server closed the connection/);
        }
      } finally {
        shards[1]!.start();
      }
      expect(await c.search(queries[0]!, { k: K })).toHaveLength(K);
      expect(await c.get('x')).toBeUndefined(); // the failed upsert left nothing
    } finally {
      await impatient.close();
    }
  });

  it('openDatabase(url, { shards }) and LOOKALIKE_SHARDS shard new collections; drop removes the shard tables', async () => {
    expect(resolveConfig({}, { LOOKALIKE_SHARDS: `${shards[0]!.url}, ${shards[1]!.url}` }).shards).toEqual(shards.map((s) => s.url));
    // shards need a PostgreSQL coordinator, and URLs that say who logs in
    await expect(openStore('/nonexistent/lookalike-db', { shards: [shards[0]!.url] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(openStore(coordinator.url, { shards: [`postgres://127.0.0.1:${shards[0]!.port}/postgres`] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const db = await openDatabase(coordinator.url, { threads: 1, shards: shards.map((s) => s.url) });
    try {
      const flowers = await db.collection('flowers', { model: 'color-histogram' });
      const report = await flowers.indexFolder(SAMPLES);
      expect(report.added).toBeGreaterThan(50);
      const [first] = await flowers.files();
      const hits = await flowers.search({ id: first!.id }, { k: 5 });
      expect(hits).toHaveLength(5);
      expect((await flowers.info()).count).toBe(report.added);
      await flowers.close();
      const tables = async () => (await Promise.all(shards.map((s) => sql<{ t: string }>(s.url, `SELECT tablename AS t FROM pg_tables WHERE tablename LIKE 'lookalike_shard_%'`)))).flat().length;
      const withFlowers = await tables();
      expect(withFlowers).toBeGreaterThanOrEqual(4); // vecs and flowers, on both shards
      expect(await db.dropCollection('flowers')).toBe(true);
      expect(await tables()).toBe(withFlowers - 2);
    } finally {
      await db.close();
    }
    expect(await store.dropCollection('vecs')).toBe(true);
    expect((await Promise.all(shards.map((s) => rowsOnShard(s.url)))).every((n) => n === 0)).toBe(true);
    expect(await sql(coordinator.url, `SELECT srvname FROM pg_foreign_server WHERE srvname LIKE 'lookalike_%'`)).toEqual([]);
  });
});
