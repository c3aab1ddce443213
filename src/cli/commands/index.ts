import { DEFAULT_MODEL } from '../../config.js';
import { Option, type Command } from 'commander';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createError } from '../../errors.js';
import type { SubmitOptions } from '../../queue/distributed.js';
import {
  collect,
  columnTypes,
  configFrom,
  indexOptions,
  indexSpecFrom,
  inferenceOptions,
  metadataKey,
  nonEmpty,
  storeOptions,
  type ColumnTypeName,
  type IndexOpts,
  type InferenceOpts,
  type StoreOpts,
} from '../options.js';
import { EXIT, Output, UsageError } from '../output.js';
import type { IndexReport } from '../../ingest/folder.js';
import type { MetadataFileOptions } from '../../ingest/sidecar.js';
import { progressBar, withDb, type ProgressBar } from '../shared.js';
import { POOLINGS, type Pooling } from '../../embed/pooling.js';


export interface IndexCliOpts extends StoreOpts, InferenceOpts, IndexOpts {
  readonly model?: string;
  readonly exclude: string[];
  readonly prune?: boolean;
  readonly labelKey?: string;
  readonly pooling?: Pooling;
  readonly progress: boolean;
  readonly queue?: string;
  readonly tiles?: string[];
  readonly watch?: boolean;
  readonly metadataCsv?: string;
  readonly metadataJsonl?: string;
  readonly keyColumn?: string;
  readonly columnType?: Record<string, ColumnTypeName>;
  /** false with --no-facts. */
  readonly facts: boolean;
}

/** The metadata file the flags name, or undefined; --key-column / --column-type without one are usage errors. */
export function metadataFileFrom(o: IndexCliOpts): MetadataFileOptions | undefined {
  const file = o.metadataCsv ?? o.metadataJsonl;
  if (file === undefined) {
    if (o.keyColumn !== undefined) throw new UsageError('--key-column needs --metadata-csv or --metadata-jsonl.');
    if (o.columnType !== undefined) throw new UsageError('--column-type needs --metadata-csv or --metadata-jsonl.');
    return undefined;
  }
  return {
    path: file,
    format: o.metadataCsv !== undefined ? 'csv' : 'jsonl',
    ...(o.keyColumn !== undefined ? { keyColumn: o.keyColumn } : {}),
    ...(o.columnType !== undefined ? { columnTypes: o.columnType } : {}),
  };
}

/** Lines for people about what a metadata file matched (the JSON result carries the whole report). */
function metadataNotes(r: Pick<IndexReport, 'metadataFile'>, out: Output): void {
  const m = r.metadataFile;
  if (!m) return;
  const types = Object.entries(m.columns).map(([c, t]) => `${c}:${t}`).join(', ');
  out.note(`${m.file}: ${m.rows} rows, ${m.matched} images matched by ${m.keyColumn}` + (m.updated ? ` (${m.updated} already indexed brought up to date)` : '') + `; columns ${types}`);
  if (m.unmatchedRows.count > 0) {
    out.note(`  ${m.unmatchedRows.count} rows matched no image, e.g. ` + m.unmatchedRows.examples.map((e) => `line ${e.line} "${e.key}" (${e.reason})`).join('; '));
  }
  if (m.unmatchedImages.count > 0) out.note(`  ${m.unmatchedImages.count} images have no row, e.g. ${m.unmatchedImages.examples.join(', ')}`);
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
    .option('--watch', 'after indexing, keep the collection in sync with the folder (new, changed, moved, deleted files) until Ctrl-C')
    .option('--tiles <grids>', 'new collections: also keep a vector per tile for region search, e.g. 3x3@0.5 (9 half-size windows) or 2x2,3x3', (v: string) =>
      v.split(',').map((x) => x.trim()).filter(Boolean),
    )
    .option('--label-key <key>', "store each image's parent folder name in this metadata field", metadataKey('--label-key'))
    .addOption(new Option('--metadata-csv <file>', 'attach the rows of this CSV (header row) to the images they name (see --key-column)').argParser(nonEmpty('--metadata-csv')).conflicts('metadataJsonl'))
    .option('--metadata-jsonl <file>', 'attach the objects of this JSON Lines file to the images they name', nonEmpty('--metadata-jsonl'))
    .option('--key-column <column>', 'metadata file column naming each image: relative path, file name, file stem or item id (default: path, file, filename, image or id)', nonEmpty('--key-column'))
    .option('--column-type <col=type>', 'declare metadata file column types (string, number, boolean, date), e.g. price=number,sku=string (repeatable; others are detected)', columnTypes('--column-type'))
    .option('--no-facts', "do not read image facts (format, EXIF/XMP/IPTC date taken, camera, GPS, title…) into the metadata")
    .addOption(
      new Option('--pooling <how>', 'ViT token outputs: cls (default) or mean of tokens; CNN feature maps: average (default), gem or max (new collections)').choices([
        ...POOLINGS,
      ]),
    )
    .option('--no-progress', 'no progress bar')
    .option('--queue <url>', 'distribute the work as jobs on this Redis (redis://[[user]:password@]host:port, rediss:// for TLS); run `lookalike worker` processes to do it', nonEmpty('--queue'));
  inferenceOptions(indexOptions(cmd)).action(async (dir: string, o: IndexCliOpts) => {
    const out = new Output(o.json === true);
    const index = indexSpecFrom(o); // a bad index value is a usage error before anything is opened
    metadataFileFrom(o);
    if (o.watch && o.queue) throw new UsageError('--watch keeps one process in sync with the folder; it does not combine with --queue.');
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
    metadataFile: metadataFileFrom(o),
    facts: o.facts,
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
  const r = await submitIndexJobs({ ...queueOptionsFrom(dir, o, bar.update), onConnection: (line: string) => out.warn(line) });
  bar.stop();
  const { added, updated, unchanged, removed, failed, failures, warnings } = r;
  for (const f of failures) out.note(`skipped ${f.path}: ${f.error}`);
  for (const w of warnings) out.note(`warning: ${w.path}: ${w.warning}`);
  metadataNotes(r, out);
  out.result(
    { added, updated, unchanged, removed, failed, failures, warnings, ...(r.metadataFile ? { metadataFile: r.metadataFile } : {}) },
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
        ...(metadataFileFrom(o) ? { metadataFile: metadataFileFrom(o)! } : {}),
        ...(o.facts === false ? { facts: false } : {}),
        onProgress: bar.update,
        signal: abort.signal,
      });
      bar.stop();
      const { added, updated, unchanged, removed, failed, failures, warnings } = r;
      for (const f of failures) out.note(`skipped ${f.path}: ${f.error}`);
      for (const w of warnings) out.note(`warning: ${w.path}: ${w.warning}`);
      metadataNotes(r, out);
      if (r.retuned) out.note(`${o.collection} grew past its tuning's re-learn point: whitening/calibration re-learnt (lookalike tune ${o.collection} shows it)`);
      out.result(
        { added, updated, unchanged, removed, failed, failures, warnings, ...(r.metadataFile ? { metadataFile: r.metadataFile } : {}), ...(r.retuned ? { retuned: true } : {}) },
        () =>
          `${o.collection}: ${added} added, ${updated} updated, ${unchanged} unchanged, ${removed} removed, ${failed} failed` +
          ` (${r.seconds.toFixed(1)} s, ${r.imagesPerSecond.toFixed(1)} images/s)` +
          (r.interrupted ? ' — interrupted; run again to continue' : ''),
      );
      if (r.interrupted) process.exitCode = EXIT.interrupted;
      if (o.watch && !r.interrupted) {
        process.off('SIGINT', onSigint);
        const { describeSync } = await import('../../ingest/watch.js');
        const watcher = col.watch(dir, {
          exclude: o.exclude,
          ...(o.labelKey ? { folderLabelKey: o.labelKey } : {}),
          onSync: (s) => {
            if (!s.initial && s.added + s.updated + s.moved + s.removed + s.failed === 0 && !s.folderMissing) return;
            for (const f of s.failures) out.note(`skipped ${f.path}: ${f.error}`);
            out.log(`${new Date().toISOString()} ${o.collection}: ${describeSync(s)}`);
          },
          onError: (e) => out.warn(`watching ${dir}: ${e instanceof Error ? e.message : String(e)}`),
        });
        await watcher.ready;
        out.log(`watching ${dir} for changes (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await watcher.close();
      }
    } finally {
      process.off('SIGINT', onSigint);
      await col.close();
    }
  });
}
