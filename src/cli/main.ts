#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import path from 'node:path';
import type { Config } from '../config.js';
import { LookalikeError, reasonOf } from '../errors.js';
import type { IndexProgress } from '../ingest/ingest.js';
import { openDatabase, type LookalikeDatabase } from '../lookalike.js';
import { listModels } from '../embed/registry.js';
import type { Query } from '../search/search.js';
import { compareModels, formatTable, renderReport } from '../eval/compare.js';
import { evaluateRetrieval, evaluateTextRetrieval, type EvalProgress } from '../eval/evaluate.js';
import fs from 'node:fs';
import type { IndexSpec, MetadataValue, VectorType } from '../store/types.js';

const DEFAULT_DB = process.env.LOOKALIKE_DB || './lookalike-db';
const DEFAULT_COLLECTION = 'default';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer.`);
    return n;
  };
}

function parseNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number.');
  return n;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** `key=value` pairs; values that look like JSON numbers/booleans are still matched as text by the store. */
export function parseWhere(pairs: readonly string[]): Record<string, MetadataValue> {
  const out: Record<string, MetadataValue> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`--where "${p}": expected key=value.`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

interface CommonOpts {
  db: string;
  collection: string;
  json?: boolean;
  device?: 'cpu' | 'cuda';
  threads?: number;
  batchSize?: number;
}

function configFrom(o: CommonOpts): Partial<Config> {
  return {
    ...(o.device ? { device: o.device } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.batchSize ? { batchSize: o.batchSize } : {}),
  };
}

async function withDb<T>(o: CommonOpts, fn: (db: LookalikeDatabase) => Promise<T>): Promise<T> {
  const db = await openDatabase(o.db, configFrom(o));
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function print(line: string): void {
  process.stdout.write(line + '\n');
}

function commonOptions(cmd: Command): Command {
  return cmd
    .option('--db <dir>', 'store directory (env LOOKALIKE_DB)', DEFAULT_DB)
    .option('-c, --collection <name>', 'collection name', DEFAULT_COLLECTION)
    .option('--json', 'print one JSON object (machine-readable)')
    .addOption(new Option('--device <device>', 'ONNX Runtime execution provider').choices(['cpu', 'cuda']))
    .option('--threads <n>', 'inference threads (default: CPU cores)', positiveInt('--threads'));
}

interface IndexFlags {
  vectorType?: VectorType;
  projection?: number;
  index?: 'flat' | 'hnsw' | 'ivf';
  nlist?: number;
  nprobe?: number;
  m?: number;
  efConstruction?: number;
  ef?: number;
}

function indexSpecFrom(o: IndexFlags): IndexSpec | undefined {
  if (!o.index) return undefined;
  if (o.index === 'flat') return o.projection ? { type: 'flat', projection: o.projection } : { type: 'flat' };
  if (o.index === 'ivf') return { type: 'ivf', nlist: o.nlist ?? 256, nprobe: o.nprobe ?? 16 };
  return { type: 'hnsw', m: o.m ?? 16, efConstruction: o.efConstruction ?? 200, ef: o.ef ?? 64 };
}

function indexOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--index <type>', 'search index: flat (exact), hnsw or ivf (approximate)').choices(['flat', 'hnsw', 'ivf']))
    .option('--projection <dims>', 'flat: scan random projections to this many dimensions, re-score exactly', positiveInt('--projection'))
    .option('--nlist <n>', 'IVF lists (k-means centroids)', positiveInt('--nlist'))
    .option('--nprobe <n>', 'IVF lists scanned per query', positiveInt('--nprobe'))
    .option('--m <n>', 'HNSW links per node', positiveInt('--m'))
    .option('--ef-construction <n>', 'HNSW candidate list while building', positiveInt('--ef-construction'))
    .option('--ef <n>', 'HNSW default candidate list while searching', positiveInt('--ef'))
    .addOption(new Option('--vector-type <type>', 'vectors in memory: float32, float16 or int8 (re-scored with float32)').choices(['float32', 'float16', 'int8']));
}

function progressBar(enabled: boolean): { update: (p: IndexProgress) => void; stop: () => void } {
  if (!enabled) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: '{bar} {percentage}% | {value}/{total} images | {rate} img/s | ETA {eta_formatted} | {failed} failed',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 200,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (!started) {
        bar.start(p.total, 0, { rate: '0.0', failed: 0 });
        started = true;
      }
      bar.update(p.done, { rate: p.imagesPerSecond.toFixed(1), failed: p.failed });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Keep a long-running command (serve, worker) alive until SIGINT/SIGTERM, then close it and exit. */
async function runUntilSignal(close: () => Promise<void>): Promise<never> {
  const stop = async () => {
    await close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  return new Promise<never>(() => {});
}

function evalProgress(enabled: boolean): ((p: EvalProgress) => void) | undefined {
  if (!enabled) return undefined;
  return (p) => {
    process.stderr.write(`\r${p.phase === 'index' ? 'indexing' : 'querying'} ${p.done}/${p.total}   `);
    if (p.phase === 'query' && p.done === p.total) process.stderr.write('\n');
  };
}

export function buildProgram(): Command {
  const program = new Command('lookalike')
    .description('Image similarity search: index folders of images, search by image or text.')
    .version('0.1.0')
    .showHelpAfterError();

  indexOptions(commonOptions(
    program
      .command('index')
      .description('embed every image under a folder into a collection (incremental, resumable)')
      .argument('<dir>', 'folder (searched recursively) or single image file'),
  ))
    .option('-m, --model <model>', 'embedder: a built-in name, a Hugging Face id or a model folder (new collections default to mobilenet-v1)')
    .option('--exclude <glob>', 'leave out files matching this glob, relative to <dir> (repeatable)', collect, [])
    .option('--prune', 'remove records of files under <dir> that no longer exist')
    .option('--label-key <key>', "store each image's parent folder name in this metadata field")
    .addOption(new Option('--pooling <how>', 'ViT-style token outputs: CLS token or mean of tokens (new collections)').choices(['cls', 'mean']))
    .option('--batch-size <n>', 'images per inference call', positiveInt('--batch-size'))
    .option('--no-progress', 'no progress bar')
    .option('--queue <url>', 'distribute the work as jobs on this Redis (redis://host:port); run `lookalike worker` processes to do it')
    .action(
      async (
        dir: string,
        o: CommonOpts &
          IndexFlags & { model?: string; exclude: string[]; prune?: boolean; labelKey?: string; progress: boolean; pooling?: 'cls' | 'mean'; queue?: string },
      ) => {
      if (o.queue) {
        const { submitIndexJobs } = await import('../queue/distributed.js');
        const bar = progressBar(o.progress && process.stderr.isTTY === true);
        const r = await submitIndexJobs({
          queue: o.queue,
          db: o.db,
          collection: o.collection,
          folder: dir,
          exclude: o.exclude,
          ...(o.model ? { model: o.model } : {}),
          ...(o.labelKey ? { folderLabelKey: o.labelKey } : {}),
          config: configFrom(o),
          onProgress: bar.update,
        });
        bar.stop();
        const { added, updated, unchanged, removed, failed, failures } = r;
        if (o.json) print(JSON.stringify({ added, updated, unchanged, removed, failed, failures }));
        else {
          for (const f of failures) process.stderr.write(`skipped ${f.path}: ${f.error}\n`);
          print(`${o.collection}: ${added} added, ${updated} updated, ${unchanged} unchanged, ${failed} failed (${r.jobs} jobs, ${r.seconds.toFixed(1)} s)`);
        }
        return;
      }
      await withDb(o, async (db) => {
        const exists = await db.store.hasCollection(o.collection);
        const model = o.model ?? (exists ? undefined : 'mobilenet-v1');
        const col = await db.collection(o.collection, {
          ...(model ? { model } : {}),
          ...(o.pooling ? { pooling: o.pooling } : {}),
          trainingFolder: dir,
          ...(indexSpecFrom(o) ? { index: indexSpecFrom(o)! } : {}),
          ...(o.vectorType ? { vectorType: o.vectorType } : {}),
        });
        if (exists && (o.index || o.vectorType)) {
          process.stderr.write(`note: --index / --vector-type apply to new collections; use \`lookalike reindex\` to change ${o.collection}'s index.\n`);
        }
        const bar = progressBar(o.progress && process.stderr.isTTY === true);
        const abort = new AbortController();
        let interrupts = 0;
        const onSigint = (): void => {
          if (++interrupts > 1) process.exit(130);
          process.stderr.write('\nInterrupted: finishing the current batch (press Ctrl-C again to quit at once)…\n');
          abort.abort();
        };
        process.on('SIGINT', onSigint);
        try {
          const report = await col.indexFolder(dir, {
            exclude: o.exclude,
            ...(o.prune ? { prune: true } : {}),
            ...(o.labelKey ? { folderLabelKey: o.labelKey } : {}),
            onProgress: bar.update,
            signal: abort.signal,
          });
          bar.stop();
          const { added, updated, unchanged, removed, failed, failures } = report;
          if (o.json) {
            print(JSON.stringify({ added, updated, unchanged, removed, failed, failures }));
          } else {
            for (const f of failures) process.stderr.write(`skipped ${f.path}: ${f.error}\n`);
            print(
              `${o.collection}: ${added} added, ${updated} updated, ${unchanged} unchanged, ${removed} removed, ${failed} failed` +
                ` (${report.seconds.toFixed(1)} s, ${report.imagesPerSecond.toFixed(1)} images/s)` +
                (report.interrupted ? ' — interrupted; run again to continue' : ''),
            );
          }
          await col.close();
          if (report.interrupted) process.exitCode = 130;
        } finally {
          process.off('SIGINT', onSigint);
          bar.stop();
        }
      });
    });

  commonOptions(program.command('search').description('find the most similar images in a collection'))
    .option('--image <file>', 'query image file (inside the collection or not)')
    .option('--text <text>', 'text query (CLIP-family models only)')
    .option('--id <id>', 'id of an indexed image ("more like this"; the image itself is excluded)')
    .option('-k, --k <n>', 'number of results', positiveInt('-k'), 10)
    .option('--min-score <x>', 'drop results scoring below this', parseNumber)
    .option('--where <key=value>', 'metadata filter (repeatable; all must match)', collect, [])
    .option('-m, --model <model>', 'check the collection was built with this model')
    .option('--ef <n>', 'HNSW collections: candidate list size for this search', positiveInt('--ef'))
    .option('--nprobe <n>', 'IVF collections: lists scanned for this search', positiveInt('--nprobe'))
    .action(async (o: CommonOpts & { image?: string; text?: string; id?: string; k: number; minScore?: number; where: string[]; model?: string; ef?: number; nprobe?: number }) => {
      const given = [o.image, o.text, o.id].filter((x) => x !== undefined).length;
      if (given !== 1) throw new InvalidArgumentError('give exactly one of --image, --text or --id.');
      const query: Query = o.image !== undefined ? { image: o.image } : o.text !== undefined ? { text: o.text } : { id: o.id! };
      const where = parseWhere(o.where);
      await withDb(o, async (db) => {
        const col = await db.openCollection(o.collection);
        if (o.model) await col.useModel(o.model);
        const hits = await col.search(query, {
          k: o.k,
          ...(o.minScore !== undefined ? { minScore: o.minScore } : {}),
          ...(Object.keys(where).length ? { where } : {}),
          ...(o.ef ? { ef: o.ef } : {}),
          ...(o.nprobe ? { nprobe: o.nprobe } : {}),
        });
        await col.close();
        if (o.json) {
          print(JSON.stringify({ results: hits.map((h) => ({ id: h.id, path: h.path, score: h.score, metadata: h.metadata })) }));
          return;
        }
        if (hits.length === 0) {
          print('no results');
          return;
        }
        const cwd = process.cwd();
        hits.forEach((h, i) => {
          const shown = h.path ? path.relative(cwd, h.path) || h.path : `(id ${h.id})`;
          print(`${String(i + 1).padStart(3)}  ${h.score.toFixed(4)}  ${shown}`);
        });
      });
    });

  commonOptions(program.command('info').description("show a collection's size, model, dimension and metric")).action(
    async (o: CommonOpts) => {
      await withDb(o, async (db) => {
        const info = await (await db.openCollection(o.collection)).info();
        if (o.json) {
          const { collection, count, model, dimension, metric } = info;
          print(JSON.stringify({ collection, count, model, dimension, metric, embedder: info.embedder, vectorType: info.vectorType, index: info.index, bytesPerVector: info.bytesPerVector }));
          return;
        }
        print(`collection  ${info.collection}`);
        print(`count       ${info.count}`);
        print(`model       ${info.model}`);
        print(`embedder    ${info.embedder} (${info.modalities.join(' + ')})`);
        print(`dimension   ${info.dimension}`);
        print(`metric      ${info.metric}`);
        print(`vectors     ${info.vectorType} in memory, ${info.bytesPerVector} bytes/vector`);
        print(`index       ${JSON.stringify(info.index)}`);
        print(`created     ${info.createdAt}`);
      });
    },
  );

  indexOptions(commonOptions(program.command('reindex').description("change a collection's search index and rebuild it from the stored vectors"))).action(
    async (o: CommonOpts & IndexFlags) => {
      await withDb(o, async (db) => {
        const col = await db.openCollection(o.collection);
        // no --index: keep the collection's index as it is (e.g. only --vector-type changes)
        const spec = o.index ? indexSpecFrom(o) : (col.spec.index ?? { type: 'flat' as const });
        const t0 = performance.now();
        await col.setIndex(spec!, o.vectorType);
        const seconds = (performance.now() - t0) / 1000;
        const vt = col.spec.vectorType;
        if (o.json) print(JSON.stringify({ collection: o.collection, index: spec, vectorType: vt, count: await col.count(), seconds }));
        else print(`${o.collection}: ${JSON.stringify(spec)} (${vt}) built over ${await col.count()} vectors in ${seconds.toFixed(1)} s`);
      });
    },
  );

  commonOptions(program.command('index-check').description("recall@k of the collection's index against exact search"))
    .option('--sample <n>', 'stored vectors used as queries', positiveInt('--sample'), 200)
    .option('-k, --k <n>', 'k of recall@k', positiveInt('-k'), 10)
    .option('--ef <n>', 'HNSW candidate list size', positiveInt('--ef'))
    .option('--nprobe <n>', 'IVF lists scanned', positiveInt('--nprobe'))
    .action(async (o: CommonOpts & { sample: number; k: number; ef?: number; nprobe?: number }) => {
      await withDb(o, async (db) => {
        const col = await db.openCollection(o.collection);
        const r = await col.indexCheck(o.sample, o.k, { ...(o.ef ? { ef: o.ef } : {}), ...(o.nprobe ? { nprobe: o.nprobe } : {}) });
        if (o.json) print(JSON.stringify({ collection: o.collection, ...r }));
        else
          print(
            `${o.collection} (${JSON.stringify(r.index)}): recall@${r.k} = ${r.recallAtK.toFixed(4)} over ${r.sample} queries; ` +
              `${r.indexMsPerQuery.toFixed(2)} ms/query vs exact ${r.exactMsPerQuery.toFixed(2)} ms/query`,
          );
      });
    });

  program
    .command('collections')
    .description('list the collections in a store')
    .option('--db <dir>', 'store directory (env LOOKALIKE_DB)', DEFAULT_DB)
    .option('--json', 'print JSON')
    .action(async (o: { db: string; json?: boolean }) => {
      const db = await openDatabase(o.db);
      try {
        const specs = await db.listCollections();
        if (o.json) print(JSON.stringify({ collections: specs.map((s) => ({ name: s.name, model: s.embedder.model, dimension: s.dimension })) }));
        else for (const s of specs) print(`${s.name}\t${s.embedder.id}\t${s.dimension}-d`);
      } finally {
        await db.close();
      }
    });

  const evalOptions = (cmd: Command): Command =>
    cmd
      .option('--labels <csv>', 'labels from a CSV (default: each image\'s folder name)')
      .option('--label-column <name>', 'CSV column with the label', 'label')
      .option('--path-column <name>', 'CSV column with the image path (relative to <dir>) or file name', 'path')
      .option('--distractors <dir>', 'folder (inside <dir> or a path) of distractors: in the gallery, never queries, never relevant')
      .option('--json', 'print one JSON object')
      .addOption(new Option('--device <device>', 'ONNX Runtime execution provider').choices(['cpu', 'cuda']))
      .option('--threads <n>', 'inference threads', positiveInt('--threads'));

  interface EvalCli {
    labels?: string;
    labelColumn: string;
    pathColumn: string;
    distractors?: string;
    json?: boolean;
    device?: 'cpu' | 'cuda';
    threads?: number;
  }
  const evalArgs = (dir: string, o: EvalCli) => ({
    dir,
    config: configFrom({ ...o, db: '', collection: '' }),
    ...(o.labels ? { labels: { csv: o.labels, labelColumn: o.labelColumn, pathColumn: o.pathColumn } } : {}),
    ...(o.distractors ? { distractors: o.distractors } : {}),
    onProgress: evalProgress(!o.json && process.stderr.isTTY === true),
  });

  evalOptions(
    program
      .command('eval')
      .description('measure retrieval quality of a model on a labelled folder (leave-one-out P@k, mAP)')
      .argument('<dir>', 'labelled image folder (labels = folder names unless --labels)')
      .requiredOption('-m, --model <model>', 'embedder to evaluate'),
  ).action(async (dir: string, o: EvalCli & { model: string }) => {
    const r = await evaluateRetrieval({ ...evalArgs(dir, o), model: o.model });
    const { model, images, queries, precisionAt, mapAt10, map, imagesPerSecond } = r;
    if (o.json) print(JSON.stringify({ model, images, queries, precisionAt, mapAt10, map, imagesPerSecond }));
    else {
      print(formatTable([r]));
      print(`${queries} queries over ${images} images${r.failed ? `, ${r.failed} images failed to index` : ''}`);
    }
  });

  program
    .command('eval-text')
    .description('measure text → image retrieval (recall@1/5/10) with COCO-format captions')
    .argument('<dir>', 'image folder')
    .requiredOption('--captions <json>', 'COCO captions JSON (images[].file_name, annotations[].caption)')
    .requiredOption('-m, --model <model>', 'CLIP-family embedder')
    .option('--json', 'print one JSON object')
    .addOption(new Option('--device <device>', 'ONNX Runtime execution provider').choices(['cpu', 'cuda']))
    .option('--threads <n>', 'inference threads', positiveInt('--threads'))
    .action(async (dir: string, o: { captions: string; model: string; json?: boolean; device?: 'cpu' | 'cuda'; threads?: number }) => {
      const r = await evaluateTextRetrieval({
        dir,
        captions: o.captions,
        model: o.model,
        config: configFrom({ ...o, db: '', collection: '' }),
        onProgress: evalProgress(!o.json && process.stderr.isTTY === true),
      });
      const { model, images, queries, recallAt, imagesPerSecond } = r;
      if (o.json) print(JSON.stringify({ model, images, queries, recallAt, imagesPerSecond }));
      else
        print(
          `${model}: recall@1 ${recallAt['1'].toFixed(3)}, recall@5 ${recallAt['5'].toFixed(3)}, recall@10 ${recallAt['10'].toFixed(3)} ` +
            `(${queries} captions, ${images} images)`,
        );
    });

  evalOptions(
    program
      .command('compare')
      .description('evaluate several models side by side: a metrics table and an HTML report of sample queries')
      .argument('<dir>', 'labelled image folder')
      .requiredOption('--models <list>', 'comma-separated embedders, e.g. color-histogram,pixels,phash,mobilenet-v1')
      .option('--out <file>', 'write the HTML report here')
      .option('--samples <n>', 'sample queries in the report (one per label)', positiveInt('--samples'), 6),
  ).action(async (dir: string, o: EvalCli & { models: string; out?: string; samples: number }) => {
    const models = o.models.split(',').map((m) => m.trim()).filter(Boolean);
    if (models.length === 0) throw new InvalidArgumentError('--models: give at least one model.');
    const results = await compareModels({
      ...evalArgs(dir, o),
      models,
      samples: o.samples,
      onModel: (m, i) => {
        if (!o.json) process.stderr.write(`[${i + 1}/${models.length}] ${m}\n`);
      },
    });
    if (o.out) fs.writeFileSync(o.out, await renderReport(results, `lookalike compare — ${path.resolve(dir)}`));
    if (o.json) {
      print(
        JSON.stringify({
          results: results.map(({ model, images, queries, precisionAt, mapAt10, map, imagesPerSecond }) => ({
            model, images, queries, precisionAt, mapAt10, map, imagesPerSecond,
          })),
          ...(o.out ? { report: path.resolve(o.out) } : {}),
        }),
      );
    } else {
      print(formatTable(results));
      if (o.out) print(`report: ${path.resolve(o.out)}`);
    }
  });

  program
    .command('worker')
    .description('process distributed index jobs from a Redis queue (see `index --queue`); run as many as you like')
    .requiredOption('--queue <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--db <location>', 'only serve jobs for this store (default: any)')
    .option('--concurrency <n>', 'jobs processed at once by this process (2 keeps decoding and inference overlapped)', positiveInt('--concurrency'), 2)
    .addOption(new Option('--device <device>', 'ONNX Runtime execution provider').choices(['cpu', 'cuda']))
    .option('--threads <n>', 'inference threads', positiveInt('--threads'))
    .option('--quiet', 'no per-job log')
    .action(async (o: { queue: string; db?: string; concurrency: number; device?: 'cpu' | 'cuda'; threads?: number; quiet?: boolean }) => {
      const { runWorker } = await import('../queue/distributed.js');
      const w = await runWorker({
        queue: o.queue,
        ...(o.db ? { db: o.db } : {}),
        concurrency: o.concurrency,
        config: configFrom({ ...o, db: o.db ?? '', collection: '' }),
        ...(o.quiet ? {} : { log: (l: string) => process.stderr.write(l + '\n') }),
      });
      process.stderr.write(`lookalike worker ${process.pid} waiting for jobs on ${o.queue}\n`);
      await runUntilSignal(() => w.close());
    });

  program
    .command('serve')
    .description('serve the HTTP API (/v1, /openapi.json) and the web page')
    .option('--db <dir>', 'store directory (env LOOKALIKE_DB)', DEFAULT_DB)
    .option('-c, --collection <name>', 'collection the web page opens first')
    .option('--host <host>', 'address to bind (default 127.0.0.1: this machine only)', '127.0.0.1')
    .option('--port <port>', 'port', positiveInt('--port'), 8080)
    .option('--api-key <key>', 'require this key for write routes (env LOOKALIKE_API_KEY)')
    .option('--max-upload-mb <n>', 'largest upload in MiB', positiveInt('--max-upload-mb'), 20)
    .option('--quiet', 'no request log')
    .addOption(new Option('--device <device>', 'ONNX Runtime execution provider').choices(['cpu', 'cuda']))
    .option('--threads <n>', 'inference threads', positiveInt('--threads'))
    .action(
      async (o: { db: string; collection?: string; host: string; port: number; apiKey?: string; maxUploadMb: number; quiet?: boolean; device?: 'cpu' | 'cuda'; threads?: number }) => {
        const { buildServer } = await import('../server/app.js');
        const db = await openDatabase(o.db, configFrom({ ...o, collection: o.collection ?? '' }));
        const apiKey = o.apiKey ?? process.env.LOOKALIKE_API_KEY;
        const app = await buildServer({
          db,
          ...(o.collection ? { defaultCollection: o.collection } : {}),
          ...(apiKey ? { apiKey } : {}),
          maxUploadBytes: o.maxUploadMb * 1024 * 1024,
          logger: !o.quiet,
        });
        const address = await app.listen({ host: o.host, port: o.port });
        process.stderr.write(`lookalike serving ${path.resolve(o.db)} at ${address}  (API: ${address}/v1, OpenAPI: ${address}/openapi.json)\n`);
        if (o.host !== '127.0.0.1' && o.host !== 'localhost' && !apiKey) {
          process.stderr.write('warning: listening beyond this machine without --api-key: anyone who can reach it can add and delete images.\n');
        }
        await runUntilSignal(async () => {
          await app.close();
          await db.close();
        });
      },
    );

  program
    .command('models')
    .description('list the built-in model names')
    .action(() => {
      for (const m of listModels()) print(`${m.name.padEnd(24)} ${m.description}`);
    });

  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof LookalikeError) {
      process.stderr.write(`lookalike: ${e.message}\n  (error code ${e.code})\n`);
      process.exitCode = 1;
    } else if (e instanceof InvalidArgumentError) {
      process.stderr.write(`lookalike: ${e.message}\n`);
      process.exitCode = 2;
    } else if (e && typeof e === 'object' && 'code' in e && String((e as { code: unknown }).code).startsWith('commander.')) {
      const ce = e as { exitCode?: number };
      process.exitCode = ce.exitCode ?? 2;
    } else {
      process.stderr.write(`lookalike: unexpected error: ${reasonOf(e)}\n${(e as Error)?.stack ?? ''}\n`);
      process.exitCode = 70;
    }
  }
}

await main();
