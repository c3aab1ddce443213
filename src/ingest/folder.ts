import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Embedder } from '../embed/types.js';
import { readImageFile } from '../image/read.js';
import type { FileState, Metadata, StoreCollection } from '../store/types.js';
import { runPipeline, type IngestFailure, type IngestProgress, type IngestSource, type IngestWarning } from './pipeline.js';
import { matchFolder, mergeStoredMetadata, readMetadataFile, type MetadataFileOptions, type MetadataFileReport } from './sidecar.js';
import { walkImages, type WalkedFile } from './walk.js';

export type IndexProgress = IngestProgress;
export type IndexFailure = IngestFailure;
export type IndexWarning = IngestWarning;

export interface IndexReport {
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly removed: number;
  readonly failed: number;
  readonly failures: IndexFailure[];
  /** Images indexed all the same although something about them could not be read (broken EXIF, …). */
  readonly warnings: IndexWarning[];
  /** With `metadataFile`: rows matched, unmatched rows and images (with examples), column types. */
  readonly metadataFile?: MetadataFileReport;
  /** True when the run was stopped early (signal); everything reported was committed. */
  readonly interrupted: boolean;
  readonly seconds: number;
  readonly imagesPerSecond: number;
  /** True when the collection's tuning was re-learnt after this run (it had grown past `relearnGrowth`). */
  readonly retuned?: boolean;
}

export interface IndexOptions {
  /** Globs (relative to the folder) to leave out. */
  readonly exclude?: readonly string[];
  /** Delete records of files under the folder that no longer exist. */
  readonly prune?: boolean;
  /** Metadata merged into every item of this run. */
  readonly metadata?: Metadata;
  /** Store each image's parent folder name under this metadata key (e.g. `label`). */
  readonly folderLabelKey?: string;
  /**
   * `indexFolder`: attach the rows of a CSV / JSON Lines file to the images they name (see `src/ingest/sidecar.ts`).
   * Its values win over `metadata`, the folder label and the image facts; unchanged images already indexed get them
   * too, without being re-embedded.
   */
  readonly metadataFile?: MetadataFileOptions;
  /** Metadata of single files by absolute path (what a metadata file gave them; queue workers get it with their job). */
  readonly fileMetadata?: ReadonlyMap<string, Metadata>;
  /** Read each image's facts (format, date taken, camera, GPS… see docs/metadata.md) into its metadata (default true). */
  readonly facts?: boolean;
  /** Images per inference call (default: `Config.batchSize`). */
  readonly batchSize: number;
  /** Images read and decoded ahead of inference (default: `Config.decodeConcurrency`). */
  readonly decodeConcurrency: number;
  readonly maxFileBytes: number;
  readonly onProgress?: (p: IndexProgress) => void;
  /** Abort to stop after the batch in flight (which is committed). */
  readonly signal?: AbortSignal;
}

/** The id of a file's record: stable for its absolute path, so re-indexing a changed file updates it. */
export function fileId(absPath: string): string {
  return createHash('sha256').update(path.resolve(absPath)).digest('hex').slice(0, 20);
}

/** Files whose size and mtime match their record are unchanged (not even read); the rest must be looked at. */
export function planChanges(files: readonly WalkedFile[], states: ReadonlyMap<string, FileState>): { todo: WalkedFile[]; unchanged: number } {
  const todo: WalkedFile[] = [];
  let unchanged = 0;
  for (const f of files) {
    const s = states.get(f.path);
    if (s && s.size === f.size && s.mtimeMs === f.mtimeMs) unchanged++;
    else todo.push(f);
  }
  return { todo, unchanged };
}

function fileSources(
  files: readonly WalkedFile[],
  states: ReadonlyMap<string, FileState>,
  opts: Pick<IndexOptions, 'metadata' | 'folderLabelKey' | 'maxFileBytes' | 'fileMetadata'>,
): IngestSource[] {
  return files.map((f) => {
    const metadata: Metadata = { ...(opts.metadata ?? {}) };
    if (opts.folderLabelKey) metadata[opts.folderLabelKey] = path.basename(path.dirname(f.path));
    Object.assign(metadata, opts.fileMetadata?.get(f.path));
    const previous = states.get(f.path);
    return {
      label: f.path,
      id: previous?.id ?? fileId(f.path),
      path: f.path,
      metadata,
      read: () => readImageFile(f.path, opts.maxFileBytes),
      ...(previous ? { previous } : {}),
    };
  });
}

async function run(
  store: StoreCollection,
  embedder: Embedder,
  files: readonly WalkedFile[],
  states: ReadonlyMap<string, FileState>,
  walkProblems: IndexFailure[],
  opts: IndexOptions,
): Promise<Omit<IndexReport, 'removed'> & { metadataUpdated: number }> {
  const { todo, unchanged } = planChanges(files, states);
  const r = await runPipeline(store, embedder, fileSources(todo, states, opts), {
    batchSize: opts.batchSize,
    prefetch: opts.decodeConcurrency,
    signal: opts.signal,
    onProgress: opts.onProgress,
    skipped: unchanged,
    failures: walkProblems,
    facts: opts.facts,
  });
  const warnings = [...r.warnings];
  let metadataUpdated = 0;
  if (opts.fileMetadata && opts.fileMetadata.size > 0 && !r.interrupted) {
    // unchanged files (not re-embedded) get their given metadata too, merged into what is stored; files embedded
    // (or failed) in this run are left alone
    const handled = new Set(r.outcomes.flatMap((o, i) => (o.status === 'unchanged' ? [] : [todo[i]!.path])));
    const updates = new Map<string, Metadata>();
    for (const f of files) {
      const m = opts.fileMetadata.get(f.path);
      const s = states.get(f.path);
      if (m && s && !handled.has(f.path)) updates.set(s.id, m);
    }
    const merged = await mergeStoredMetadata(store, updates);
    metadataUpdated = merged.updated;
    for (const p of merged.problems) warnings.push({ path: p.path ?? p.id, warning: `metadata not updated: with the new values it ${p.problem}` });
  }
  return {
    added: r.added,
    updated: r.updated,
    unchanged: r.unchanged,
    failed: r.failed,
    failures: r.failures,
    warnings,
    interrupted: r.interrupted,
    seconds: r.seconds,
    imagesPerSecond: r.imagesPerSecond,
    metadataUpdated,
  };
}

/** Records of files under `root` that are no longer there. */
export function vanished(root: string, seen: ReadonlySet<string>, states: ReadonlyMap<string, FileState>): string[] {
  const absRoot = path.resolve(root);
  const prefix = absRoot.endsWith(path.sep) ? absRoot : absRoot + path.sep;
  return [...states.values()].filter((s) => (s.path.startsWith(prefix) || s.path === absRoot) && !seen.has(s.path)).map((s) => s.id);
}

/**
 * Index every image under `root` into `store`: new files are added, changed ones updated, unchanged ones skipped
 * without being read; with `prune`, records of files that disappeared are deleted.
 */
export async function indexFolder(store: StoreCollection, embedder: Embedder, root: string, opts: IndexOptions): Promise<IndexReport> {
  // a bad metadata file is an error before anything is walked or embedded
  const table = opts.metadataFile ? await readMetadataFile(opts.metadataFile) : undefined;
  const walkProblems: IndexFailure[] = [];
  const files = await walkImages(path.resolve(root), {
    ...(opts.exclude ? { exclude: opts.exclude } : {}),
    onProblem: (p, error) => walkProblems.push({ path: p, error }),
  });
  const states = await store.fileStates();
  let runOpts = opts;
  let match: ReturnType<typeof matchFolder> | undefined;
  if (table) {
    match = matchFolder(table, root, files, (p) => states.get(p)?.id ?? fileId(p));
    runOpts = { ...opts, fileMetadata: new Map([...(opts.fileMetadata ?? []), ...match.byPath]) };
  }
  const { metadataUpdated, ...r } = await run(store, embedder, files, states, walkProblems, runOpts);
  const removed = opts.prune && !r.interrupted ? await store.delete(vanished(root, new Set(files.map((f) => f.path)), states)) : 0;
  return { ...r, removed, ...(match ? { metadataFile: { ...match.report, updated: metadataUpdated } } : {}) };
}

/** Index exactly these files (absolute paths), with the same change detection; nothing is pruned. */
export async function ingestFiles(store: StoreCollection, embedder: Embedder, paths: readonly string[], opts: IndexOptions): Promise<IndexReport> {
  const problems: IndexFailure[] = [];
  const files: WalkedFile[] = [];
  for (const p of paths) {
    try {
      const st = await fs.stat(p);
      files.push({ path: path.resolve(p), size: st.size, mtimeMs: st.mtimeMs });
    } catch (e) {
      problems.push({ path: p, error: `cannot open file: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file does not exist' : String((e as NodeJS.ErrnoException).code ?? e)}` });
    }
  }
  const states = await store.fileStates(files.map((f) => f.path));
  const { metadataUpdated: _, ...r } = await run(store, embedder, files, states, problems, opts);
  return { ...r, removed: 0 };
}
