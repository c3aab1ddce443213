import { DEFAULT_MODEL } from '../../config.js';
import { Option, type Command } from 'commander';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createError } from '../../errors.js';
import type { SubmitOptions } from '../../queue/distributed.js';
import {
  collect,
  configFrom,
  indexOptions,
  indexSpecFrom,
  inferenceOptions,
  metadataKey,
  nonEmpty,
  storeOptions,
  type IndexOpts,
  type InferenceOpts,
  type StoreOpts,
} from '../options.js';
import { EXIT, Output } from '../output.js';
import { progressBar, withDb, type ProgressBar } from '../shared.js';


export interface IndexCliOpts extends StoreOpts, InferenceOpts, IndexOpts {
  readonly model?: string;
  readonly exclude: string[];
  readonly prune?: boolean;
  readonly labelKey?: string;
  readonly pooling?: 'cls' | 'mean';
  readonly progress: boolean;
  readonly queue?: string;
  readonly tiles?: string[];
}

export function registerIndex(program: Command): void {
  const cmd = program
    .command('index')
    .description('embed every image under a folder into a collection (incremental, resumable)')
    .argument('<dir>', 'folder (searched recursively) or single image file');
  storeOptions(cmd)
    .option('-m, --model <model>', `embedder: a built-in name, a Hugging Face id or a model folder (new collections default to ${DEFAULT_MODEL})`, nonEmpty('--model'))
    .option('--exclude <glob>', 'leave out files matching this glob, relative to <dir> (repeatable)', collect('--exclude'), [])
    .option('--prune', 'remove records of files under <dir> that no longer exist')
    .option('--tiles <grids>', 'new collections: also keep a vector per tile for region search, e.g. 3x3@0.5 (9 half-size windows) or 2x2,3x3', (v: string) =>
      v.split(',').map((x) => x.trim()).filter(Boolean),
    )
    .option('--label-key <key>', "store each image's parent folder name in this metadata field", metadataKey('--label-key'))
    .addOption(new Option('--pooling <how>', 'ViT-style token outputs: CLS token or mean of tokens (new collections)').choices(['cls', 'mean']))
    .option('--no-progress', 'no progress bar')
    .option('--queue <url>', 'distribute the work as jobs on this Redis (redis://host:port); run `lookalike worker` processes to do it', nonEmpty('--queue'));
  inferenceOptions(indexOptions(cmd)).action(async (dir: string, o: IndexCliOpts) => {
    const out = new Output(o.json === true);
    const index = indexSpecFrom(o); // a bad index value is a usage error before anything is opened
    await checkSource(dir); // …and a missing folder an error before any store is created
    const bar = await progressBar(o.progress && !o.json);
    try {
      if (o.queue) await indexByQueue(dir, o, out, bar);
      else await indexHere(dir, o, index, out, bar);
    } finally {
      bar.stop();
    }
  });
}

async function checkSource(dir: string): Promise<void> {
  const abs = path.resolve(dir);
  try {
    await fs.stat(abs);
  } catch {
    throw createError('FILE_NOT_FOUND', `Nothing to index: ${abs} does not exist or cannot be read.`, { path: abs });
  }
}

/** Every `index` flag, as `submitIndexJobs` takes it (none dropped: the queue path does what the local one does). */
export function queueOptionsFrom(dir: string, o: IndexCliOpts, onProgress?: SubmitOptions['onProgress']): SubmitOptions {
  const index = indexSpecFrom(o);
  // written out (not spread) so that the compiler checks submitIndexJobs takes every one of them
  return {
    queue: o.queue!,
    db: o.db,
    collection: o.collection,
    folder: dir,
    exclude: o.exclude,
    model: o.model,
    prune: o.prune === true,
    folderLabelKey: o.labelKey,
    pooling: o.pooling,
    index,
    vectorType: o.vectorType,
    batchSize: o.batchSize,
    config: configFrom(o),
    onProgress,
  };
}

async function indexByQueue(dir: string, o: IndexCliOpts, out: Output, bar: ProgressBar): Promise<void> {
  if (o.device || o.threads) {
    out.warn('with --queue, --device / --threads apply to this process only (it creates the collection); ' +
      'the workers embed with their own: `lookalike worker --device … --threads …`.');
  }
  const { submitIndexJobs } = await import('../../queue/distributed.js');
  const r = await submitIndexJobs(queueOptionsFrom(dir, o, bar.update));
  bar.stop();
  const { added, updated, unchanged, removed, failed, failures } = r;
  for (const f of failures) out.note(`skipped ${f.path}: ${f.error}`);
  out.result(
    { added, updated, unchanged, removed, failed, failures },
    () => `${o.collection}: ${added} added, ${updated} updated, ${unchanged} unchanged, ${removed} removed, ${failed} failed (${r.jobs} jobs, ${r.seconds.toFixed(1)} s)`,
  );
}

async function indexHere(dir: string, o: IndexCliOpts, index: ReturnType<typeof indexSpecFrom>, out: Output, bar: ProgressBar): Promise<void> {
  await withDb(o, true, async (db) => {
    const exists = await db.hasCollection(o.collection);
    const model = o.model ?? (exists ? undefined : DEFAULT_MODEL);
    const col = await db.collection(o.collection, {
      ...(model ? { model } : {}),
      ...(o.pooling ? { pooling: o.pooling } : {}),
      trainingFolder: dir,
      ...(index ? { index } : {}),
      ...(o.vectorType ? { vectorType: o.vectorType } : {}),
      ...(o.tiles ? { tiles: o.tiles } : {}),
    });
    if (exists && (index || o.vectorType)) {
      out.warn(`--index / --vector-type apply to new collections; use \`lookalike reindex\` to change ${o.collection}'s index.`);
    }
    if (exists && o.tiles && JSON.stringify(o.tiles) !== JSON.stringify(col.spec.tiles ?? [])) {
      out.warn(`--tiles applies to new collections; ${o.collection} keeps ${col.spec.tiles?.length ? col.spec.tiles.join(',') : 'no tiles'}.`);
    }
    const abort = new AbortController();
    let interrupts = 0;
    const onSigint = (): void => {
      if (++interrupts > 1) process.exit(EXIT.interrupted);
      process.stderr.write('\nInterrupted: finishing the current batch (press Ctrl-C again to quit at once)…\n');
      abort.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const r = await col.indexFolder(dir, {
        exclude: o.exclude,
        ...(o.prune ? { prune: true } : {}),
        ...(o.labelKey ? { folderLabelKey: o.labelKey } : {}),
        onProgress: bar.update,
        signal: abort.signal,
      });
      bar.stop();
      const { added, updated, unchanged, removed, failed, failures } = r;
      for (const f of failures) out.note(`skipped ${f.path}: ${f.error}`);
      out.result(
        { added, updated, unchanged, removed, failed, failures },
        () =>
          `${o.collection}: ${added} added, ${updated} updated, ${unchanged} unchanged, ${removed} removed, ${failed} failed` +
          ` (${r.seconds.toFixed(1)} s, ${r.imagesPerSecond.toFixed(1)} images/s)` +
          (r.interrupted ? ' — interrupted; run again to continue' : ''),
      );
      if (r.interrupted) process.exitCode = EXIT.interrupted;
    } finally {
      process.off('SIGINT', onSigint);
      await col.close();
    }
  });
}
