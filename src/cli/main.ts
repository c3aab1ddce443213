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
import type { MetadataValue } from '../store/types.js';

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

export function buildProgram(): Command {
  const program = new Command('lookalike')
    .description('Image similarity search: index folders of images, search by image or text.')
    .version('0.1.0')
    .showHelpAfterError();

  commonOptions(
    program
      .command('index')
      .description('embed every image under a folder into a collection (incremental, resumable)')
      .argument('<dir>', 'folder (searched recursively) or single image file'),
  )
    .option('-m, --model <model>', 'embedder: a built-in name, a Hugging Face id or a model folder (new collections default to mobilenet-v1)')
    .option('--exclude <glob>', 'leave out files matching this glob, relative to <dir> (repeatable)', collect, [])
    .option('--prune', 'remove records of files under <dir> that no longer exist')
    .option('--label-key <key>', "store each image's parent folder name in this metadata field")
    .option('--batch-size <n>', 'images per inference call', positiveInt('--batch-size'))
    .option('--no-progress', 'no progress bar')
    .action(async (dir: string, o: CommonOpts & { model?: string; exclude: string[]; prune?: boolean; labelKey?: string; progress: boolean }) => {
      await withDb(o, async (db) => {
        const exists = await db.store.hasCollection(o.collection);
        const col = await db.collection(o.collection, { model: o.model ?? (exists ? undefined : 'mobilenet-v1') } as {
          model?: string;
        });
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
    .action(async (o: CommonOpts & { image?: string; text?: string; id?: string; k: number; minScore?: number; where: string[]; model?: string }) => {
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
          print(JSON.stringify({ collection, count, model, dimension, metric, embedder: info.embedder, vectorType: info.vectorType }));
          return;
        }
        print(`collection  ${info.collection}`);
        print(`count       ${info.count}`);
        print(`model       ${info.model}`);
        print(`embedder    ${info.embedder} (${info.modalities.join(' + ')})`);
        print(`dimension   ${info.dimension}`);
        print(`metric      ${info.metric} (${info.vectorType})`);
        print(`created     ${info.createdAt}`);
      });
    },
  );

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
