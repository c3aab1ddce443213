/** `export`, `import` and `copy`: collections moved between files and stores without re-embedding (src/transfer/). */
import { Option, type Command } from 'commander';
import type { TransferProgress } from '../../transfer/transfer.js';
import { collect, DEFAULT_COLLECTION, jsonOption, nonEmpty, storeOptions, type JsonOpts } from '../options.js';
import { CliError, Output } from '../output.js';
import { progressBar, type ProgressBar } from '../shared.js';

interface TransferOpts extends JsonOpts {
  readonly db: string;
  readonly collection: string;
  readonly progress: boolean;
  /** `--shard`: new collections are hash-partitioned over these PostgreSQL servers (env LOOKALIKE_SHARDS). */
  readonly shard?: string[];
}

/** Transfer progress on the index progress bar (items instead of images). */
function onBar(bar: ProgressBar): (p: TransferProgress) => void {
  const started = performance.now();
  return (p) => {
    const rate = p.done / Math.max(1e-3, (performance.now() - started) / 1000);
    bar.update({ total: p.total, done: p.done, added: p.done, updated: 0, unchanged: 0, failed: 0, imagesPerSecond: rate, etaSeconds: null });
  };
}

async function store(location: string, create: boolean, shard?: string[]) {
  const { openStore } = await import('../../store/registry.js');
  const { resolveConfig } = await import('../../config.js');
  const { shards } = resolveConfig(shard?.length ? { shards: shard } : {});
  return openStore(location, { create, ...(shards.length ? { shards } : {}) });
}

export function registerTransfer(program: Command): void {
  const exp = program
    .command('export')
    .description('write a collection (ids, paths, metadata, vectors, its spec) to Parquet, .npy (clip-retrieval layout) or JSON Lines');
  storeOptions(exp)
    .addOption(new Option('--format <format>', 'file format').choices(['parquet', 'npy', 'jsonl']).default('parquet'))
    .requiredOption('-o, --out <path>', 'file to write (.parquet, .jsonl), or folder for npy (img_emb/ + metadata/)', nonEmpty('--out'))
    .option('--no-progress', 'no progress bar')
    .action(async (o: TransferOpts & { format: 'parquet' | 'npy' | 'jsonl'; out: string }) => {
      const out = new Output(o.json === true);
      const { exportCollection } = await import('../../transfer/transfer.js');
      const s = await store(o.db, false);
      const bar = await progressBar(o.progress && !o.json);
      try {
        const r = await exportCollection(await s.getCollection(o.collection), o.format, o.out, onBar(bar));
        bar.stop();
        out.result(r, () => `${o.collection}: ${r.items} items (dimension ${r.dimension}) → ${r.files.join(', ')}`);
      } finally {
        bar.stop();
        await s.close();
      }
    });

  const imp = program
    .command('import')
    .description('read a collection from an exported file, or embeddings made elsewhere (clip-retrieval: img_emb/*.npy + metadata/*.parquet)')
    .argument('<path>', '.parquet or .jsonl file, or an embeddings folder', nonEmpty('<path>'));
  storeOptions(imp)
    .option('--no-progress', 'no progress bar')
    .action(async (file: string, o: TransferOpts) => {
      const out = new Output(o.json === true);
      const { importInto, openImportSource } = await import('../../transfer/transfer.js');
      const { validateCollectionName } = await import('../../store/spec.js');
      validateCollectionName(o.collection);
      const source = await openImportSource(file);
      const s = await store(o.db, true, o.shard);
      const bar = await progressBar(o.progress && !o.json);
      try {
        const r = await importInto(s, o.collection, source, onBar(bar));
        bar.stop();
        out.result(
          r,
          () =>
            `${r.collection}: ${r.items} items imported${r.created ? ' (new collection)' : ''}` +
            (r.vectorsOnly ? ' — vectors only (no model): search by --id or a vector' : ''),
        );
      } finally {
        bar.stop();
        await s.close();
      }
    });

  jsonOption(
    program
      .command('copy')
      .description('copy a collection between two stores (embedded ↔ PostgreSQL), resumable, verified by count and checksum')
      .requiredOption('--from <location>', 'source store', nonEmpty('--from'))
      .requiredOption('--to <location>', 'target store (created when it is a directory that does not exist)', nonEmpty('--to'))
      .option('-c, --collection <name>', 'collection to copy', nonEmpty('--collection'), DEFAULT_COLLECTION)
      .option('--as <name>', 'its name in the target (default: the same)', nonEmpty('--as'))
      .option('--shard <url>', 'PostgreSQL shard server the new target collection is hash-partitioned over; --to is the coordinator (repeatable; env LOOKALIKE_SHARDS)', collect('--shard'))
      .option('--no-progress', 'no progress bar'),
  ).action(async (o: Omit<TransferOpts, 'db'> & { from: string; to: string; as?: string }) => {
    const out = new Output(o.json === true);
    const { copyCollection } = await import('../../transfer/transfer.js');
    const from = await store(o.from, false);
    let to: Awaited<ReturnType<typeof store>> | undefined;
    const bar = await progressBar(o.progress && !o.json);
    try {
      to = await store(o.to, true, o.shard);
      const r = await copyCollection(from, to, o.collection, { ...(o.as ? { as: o.as } : {}), onProgress: onBar(bar) });
      bar.stop();
      if (!r.equal) {
        throw new CliError(
          'INTERNAL',
          `The copy of ${o.collection} does not match: source ${r.source.count} items / ${r.source.checksum}, target ${r.target.count} / ${r.target.checksum}. Run the copy again (it resumes).`,
        );
      }
      out.result(r, () => `${r.collection}: ${r.copied} copied, ${r.skipped} already there; ${r.target.count} items, checksum ${r.target.checksum} on both sides`);
    } finally {
      bar.stop();
      await to?.close();
      await from.close();
    }
  });
}
