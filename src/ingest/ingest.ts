import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Embedder, PreparedImage } from '../embed/types.js';
import { reasonOf } from '../errors.js';
import { readImageFile } from '../image/read.js';
import type { FileState, ItemInput, Metadata, StoreCollection } from '../store/types.js';
import { walkImages, type WalkedFile } from './walk.js';

export interface IndexProgress {
  readonly total: number;
  /** Files finished so far in this run (embedded, skipped or failed). */
  readonly done: number;
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly failed: number;
  /** Images embedded per second since the run started. */
  readonly imagesPerSecond: number;
  readonly etaSeconds: number | null;
}

export interface IndexFailure {
  readonly path: string;
  readonly error: string;
}

export interface IndexReport {
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly removed: number;
  readonly failed: number;
  readonly failures: IndexFailure[];
  /** True when the run was stopped early (signal); everything reported was committed. */
  readonly interrupted: boolean;
  readonly seconds: number;
  readonly imagesPerSecond: number;
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
  readonly batchSize?: number;
  /** Images being read and decoded at once, ahead of inference. */
  readonly decodeConcurrency?: number;
  readonly onProgress?: (p: IndexProgress) => void;
  /** Abort to stop after the batch in flight (which is committed). */
  readonly signal?: AbortSignal;
  readonly maxFileBytes: number;
}

/** The id of a file's record: stable for its absolute path, so re-indexing a changed file updates it. */
export function fileId(absPath: string): string {
  return createHash('sha256').update(path.resolve(absPath)).digest('hex').slice(0, 20);
}

type Prepared =
  | { kind: 'embed'; file: WalkedFile; item: Omit<ItemInput, 'vector'>; image: PreparedImage }
  | { kind: 'touch'; file: WalkedFile; id: string; size: number; mtimeMs: number }
  | { kind: 'failed'; file: WalkedFile; error: string };

/**
 * Index every image under `root` into `collection`: new files are added, changed ones updated, unchanged ones
 * skipped without being read. Decoding runs ahead of inference (bounded), each batch is committed in one
 * transaction, and a file that fails is reported and skipped.
 */
export async function indexFolder(
  collection: StoreCollection,
  embedder: Embedder,
  root: string,
  opts: IndexOptions,
): Promise<IndexReport> {
  const started = performance.now();
  const absRoot = path.resolve(root);
  const walkProblems: IndexFailure[] = [];
  const files = await walkImages(absRoot, {
    ...(opts.exclude ? { exclude: opts.exclude } : {}),
    onProblem: (p, error) => walkProblems.push({ path: p, error }),
  });
  const states = await collection.fileStates();

  const todo: WalkedFile[] = [];
  let unchanged = 0;
  for (const f of files) {
    const s = states.get(f.path);
    if (s && s.size === f.size && s.mtimeMs === f.mtimeMs) unchanged++;
    else todo.push(f);
  }

  const counts = { added: 0, updated: 0, unchanged, failed: walkProblems.length, embedded: 0 };
  const failures: IndexFailure[] = [...walkProblems];
  const batchSize = opts.batchSize ?? 32;
  const maxInflight = Math.max(opts.decodeConcurrency ?? 4, 4 * batchSize);
  const total = files.length;
  let done = unchanged;

  const report = (): void => {
    if (!opts.onProgress) return;
    const secs = (performance.now() - started) / 1000;
    const rate = counts.embedded / Math.max(secs, 1e-3);
    const left = total - done;
    opts.onProgress({
      total,
      done,
      added: counts.added,
      updated: counts.updated,
      unchanged: counts.unchanged,
      failed: counts.failed,
      imagesPerSecond: rate,
      etaSeconds: rate > 0 ? left / rate : null,
    });
  };

  const prepare = async (file: WalkedFile): Promise<Prepared> => {
    try {
      const f = await readImageFile(file.path, opts.maxFileBytes);
      const prev: FileState | undefined = states.get(file.path);
      if (prev && prev.contentHash === f.contentHash) {
        return { kind: 'touch', file, id: prev.id, size: f.size, mtimeMs: f.mtimeMs };
      }
      const image = await embedder.prepareImage(f.bytes);
      const metadata: Metadata = { ...(opts.metadata ?? {}) };
      if (opts.folderLabelKey) metadata[opts.folderLabelKey] = path.basename(path.dirname(file.path));
      return {
        kind: 'embed',
        file,
        image,
        item: { id: fileId(file.path), path: file.path, contentHash: f.contentHash, size: f.size, mtimeMs: f.mtimeMs, metadata },
      };
    } catch (e) {
      return { kind: 'failed', file, error: reasonOf(e) };
    }
  };

  const fail = (file: WalkedFile, error: string): void => {
    counts.failed++;
    failures.push({ path: file.path, error });
  };

  const flush = async (batch: Extract<Prepared, { kind: 'embed' }>[], touches: Extract<Prepared, { kind: 'touch' }>[]): Promise<void> => {
    if (touches.length > 0) {
      await collection.touchFiles(touches.map((t) => ({ id: t.id, size: t.size, mtimeMs: t.mtimeMs })));
      counts.unchanged += touches.length;
      done += touches.length;
    }
    if (batch.length === 0) return;
    let vectors: Float32Array[];
    try {
      vectors = await embedder.embedPrepared(batch.map((b) => b.image));
    } catch (e) {
      for (const b of batch) fail(b.file, `embedding failed: ${reasonOf(e)}`);
      done += batch.length;
      return;
    }
    const extra = embedder.vectorMetadata?.bind(embedder);
    const r = await collection.upsert(
      batch.map((b, i) => {
        const vector = vectors[i]!;
        return { ...b.item, vector, ...(extra ? { metadata: { ...b.item.metadata, ...extra(vector) } } : {}) };
      }),
    );
    counts.added += r.added;
    counts.updated += r.updated;
    counts.embedded += batch.length;
    done += batch.length;
  };

  // Ordered pipeline: up to `maxInflight` files are read and decoded (on libuv's thread pool) while the model
  // runs on the current batch; results are consumed in walk order.
  const queue: Promise<Prepared>[] = [];
  let next = 0;
  const fill = (): void => {
    while (!opts.signal?.aborted && queue.length < maxInflight && next < todo.length) queue.push(prepare(todo[next++]!));
  };
  // Up to `embedder.concurrency` batches are embedded at once (parallel inference sessions); each is committed
  // as soon as its vectors are back.
  const parallel = Math.max(1, embedder.concurrency ?? 1);
  const flushing: Promise<void>[] = [];
  let batch: Extract<Prepared, { kind: 'embed' }>[] = [];
  let touches: Extract<Prepared, { kind: 'touch' }>[] = [];
  fill();
  while (queue.length > 0) {
    const p = await queue.shift()!;
    fill();
    if (p.kind === 'embed') batch.push(p);
    else if (p.kind === 'touch') touches.push(p);
    else {
      fail(p.file, p.error);
      done++;
    }
    if (batch.length >= batchSize || touches.length >= 256 || queue.length === 0) {
      const f = flush(batch, touches).then(report);
      f.catch(() => {}); // handled when awaited below; never an unhandled rejection meanwhile
      flushing.push(f);
      batch = [];
      touches = [];
      if (flushing.length >= parallel) await flushing.shift();
      if (opts.signal?.aborted) break;
    }
  }
  await Promise.all(flushing);
  const interrupted = !!opts.signal?.aborted && done < total;

  let removed = 0;
  if (opts.prune && !interrupted) {
    const seen = new Set(files.map((f) => f.path));
    const prefix = absRoot.endsWith(path.sep) ? absRoot : absRoot + path.sep;
    const gone = [...states.values()].filter((s) => (s.path.startsWith(prefix) || s.path === absRoot) && !seen.has(s.path));
    removed = await collection.delete(gone.map((s) => s.id));
  }
  report();
  const seconds = (performance.now() - started) / 1000;
  return {
    added: counts.added,
    updated: counts.updated,
    unchanged: counts.unchanged,
    removed,
    failed: counts.failed,
    failures,
    interrupted,
    seconds,
    imagesPerSecond: counts.embedded / Math.max(seconds, 1e-3),
  };
}
