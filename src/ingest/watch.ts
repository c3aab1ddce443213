/**
 * Folders that stay in sync: `syncFolder` brings a collection in step with a folder tree (or some paths of it) —
 * new files indexed, changed ones re-embedded, deleted ones removed, renamed or moved ones kept (same content: the
 * record's path is updated, nothing is re-embedded) — and `watchFolder` runs it on every burst of file-system events
 * (chokidar; a burst is debounced into one batch), after a catch-up sync at start. A folder that disappears (an
 * unmounted network drive) or turns up empty is never taken as "everything was deleted": its records are kept
 * and the folder is synced again when it is back.
 */
import { watch, type FSWatcher } from 'chokidar';
import fs from 'node:fs';
import path from 'node:path';
import type { Embedder } from '../embed/types.js';
import { contentHashOf } from '../image/read.js';
import type { FileState, StoreCollection } from '../store/types.js';
import { fileId, ingestFiles, type IndexOptions, type IndexFailure } from './folder.js';
import { IMAGE_EXTENSIONS, walkImages, type WalkedFile } from './walk.js';

export interface SyncReport {
  readonly added: number;
  readonly updated: number;
  /**
   * Files found under a new path with the content of a record whose file is gone: the record moves to the new path
   * (and the id of that path), vector and metadata carried over, nothing re-embedded.
   */
  readonly moved: number;
  readonly removed: number;
  readonly unchanged: number;
  readonly failed: number;
  readonly failures: IndexFailure[];
  /** The folder was missing or empty while records under it exist: nothing was removed. */
  readonly folderMissing: boolean;
  readonly seconds: number;
  /** True when the collection's tuning was re-learnt after this sync (it had grown past `relearnGrowth`). */
  readonly retuned?: boolean;
}

export type SyncOptions = Omit<IndexOptions, 'prune' | 'onProgress'>;

const EXT = new Set(IMAGE_EXTENSIONS.map((e) => `.${e}`));
const isImageName = (p: string): boolean => EXT.has(path.extname(p).toLowerCase()) && !path.basename(p).startsWith('.');
const under = (root: string, p: string): boolean => p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

async function statFile(p: string): Promise<WalkedFile | undefined> {
  try {
    const st = await fs.promises.stat(p);
    return st.isFile() ? { path: p, size: st.size, mtimeMs: st.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

async function hashFile(p: string): Promise<string | undefined> {
  try {
    return contentHashOf(await fs.promises.readFile(p));
  } catch {
    return undefined;
  }
}

/**
 * Bring `store` in step with `root`: every file under it, or only `scope` (paths of files or folders that changed).
 * Files are matched to records by path; a new path whose content is that of a vanished record is a move.
 */
export async function syncFolder(
  store: StoreCollection,
  embedder: () => Promise<Embedder>,
  root: string,
  opts: SyncOptions & { readonly scope?: readonly string[] | undefined },
): Promise<SyncReport> {
  const started = performance.now();
  const absRoot = path.resolve(root);
  const states = await store.fileStates();
  const recordsUnder = [...states.values()].filter((s) => under(absRoot, s.path));
  const empty = (folderMissing: boolean): SyncReport => {
    const seconds = (performance.now() - started) / 1000;
    return { added: 0, updated: 0, moved: 0, removed: 0, unchanged: 0, failed: 0, failures: [], folderMissing, seconds };
  };
  if (!fs.existsSync(absRoot)) return empty(recordsUnder.length > 0);

  // the files to look at, and the records that may have lost their file
  let present: WalkedFile[];
  let candidates: FileState[];
  if (opts.scope === undefined) {
    present = await walkImages(absRoot, opts.exclude ? { exclude: opts.exclude } : {});
    if (present.length === 0 && recordsUnder.length > 0) return empty(true); // an unmounted drive looks like this
    candidates = recordsUnder;
  } else {
    const files = new Map<string, WalkedFile>();
    const gone = new Map<string, FileState>();
    for (const p of new Set(opts.scope.map((x) => path.resolve(x)))) {
      if (!under(absRoot, p)) continue;
      const st = await fs.promises.stat(p).catch(() => undefined);
      if (st?.isDirectory()) for (const f of await walkImages(p, opts.exclude ? { exclude: opts.exclude } : {})) files.set(f.path, f);
      else if (st?.isFile() && isImageName(p)) files.set(p, { path: p, size: st.size, mtimeMs: st.mtimeMs });
      // records at or under a changed path whose file is no longer there
      for (const s of recordsUnder) if (under(p, s.path) && !files.has(s.path)) gone.set(s.path, s);
    }
    present = [...files.values()];
    candidates = [...gone.values()];
  }
  const seen = new Set(present.map((f) => f.path));
  const vanished = candidates.filter((s) => !seen.has(s.path) && !fs.existsSync(s.path));

  // moves: a new path with the content of a vanished record keeps that record (and its vector)
  const byHash = new Map<string, FileState[]>();
  for (const s of vanished) if (s.contentHash) byHash.set(s.contentHash, [...(byHash.get(s.contentHash) ?? []), s]);
  const moved = new Set<string>();
  const movedTo = new Set<string>();
  const todo: WalkedFile[] = [];
  let unchanged = 0;
  for (const f of present) {
    const s = states.get(f.path);
    if (s && s.size === f.size && s.mtimeMs === f.mtimeMs) {
      unchanged++;
      continue;
    }
    if (!s && byHash.size > 0) {
      const hash = await hashFile(f.path);
      const from = hash ? byHash.get(hash)?.shift() : undefined;
      if (from) {
        const item = await store.get(from.id);
        const vector = item && (await store.getVector(from.id));
        if (item && vector) {
          const label = opts.folderLabelKey ? { [opts.folderLabelKey]: path.basename(path.dirname(f.path)) } : {};
          // the record takes the id of its new path (file ids are derived from paths: a new file at the old path must
          // not overwrite it); vector and metadata are carried over, nothing is re-embedded
          const id = fileId(f.path);
          await store.upsert([{ ...item, id, path: f.path, size: f.size, mtimeMs: f.mtimeMs, metadata: { ...item.metadata, ...label }, vector }]);
          moved.add(from.id);
          movedTo.add(id);
          continue;
        }
      }
    }
    todo.push(f);
  }
  const r = todo.length
    ? await ingestFiles(store, await embedder(), todo.map((f) => f.path), opts)
    : { added: 0, updated: 0, unchanged: 0, failed: 0, failures: [] as IndexFailure[] };
  const removed = await store.delete(vanished.filter((s) => !moved.has(s.id)).map((s) => s.id));
  await store.delete([...moved].filter((id) => !movedTo.has(id))); // the moved records' old ids
  return {
    added: r.added,
    updated: r.updated,
    moved: moved.size,
    removed,
    unchanged: unchanged + r.unchanged,
    failed: r.failed,
    failures: r.failures,
    folderMissing: false,
    seconds: (performance.now() - started) / 1000,
  };
}

export interface WatchOptions extends SyncOptions {
  /** Quiet time that ends a burst of events (default 500 ms). */
  readonly debounceMs?: number;
  /** A burst is synced after this long even if events keep coming (default 5 s). */
  readonly maxWaitMs?: number;
  /** How often the folder's existence is checked (it may be unmounted and come back; default 2 s). */
  readonly pollMs?: number;
  /** Each sync's report (the catch-up at start included, with `initial: true`). */
  readonly onSync?: (r: SyncReport & { readonly initial: boolean }) => void;
  readonly onError?: (e: unknown) => void;
  /** @internal — run after each sync, before the next (the collection re-learns its tuning here). */
  readonly afterSync?: (r: SyncReport) => Promise<SyncReport>;
}

export interface FolderWatcher {
  /** Resolves when the catch-up sync at start is done and events are being watched. */
  readonly ready: Promise<void>;
  /** Resolves when no sync is running or pending (tests, shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Keep `store` in sync with `root` until `close()`. */
export function watchFolder(store: StoreCollection, embedder: () => Promise<Embedder>, root: string, opts: WatchOptions): FolderWatcher {
  const absRoot = path.resolve(root);
  const debounce = opts.debounceMs ?? 500;
  const maxWait = opts.maxWaitMs ?? 5000;
  let pending = new Set<string>();
  let full = true; // the catch-up sync
  let timer: NodeJS.Timeout | undefined;
  let firstEvent = 0;
  let running: Promise<void> = Promise.resolve();
  let closed = false;
  let watcher: FSWatcher | undefined;
  let missing = false;

  const run = (initial: boolean): Promise<void> => {
    const scope = full ? undefined : [...pending];
    pending = new Set();
    full = false;
    firstEvent = 0;
    running = running.then(async () => {
      if (closed) return;
      try {
        const synced = await syncFolder(store, embedder, absRoot, { ...opts, scope });
        const r = opts.afterSync ? await opts.afterSync(synced) : synced;
        missing = r.folderMissing;
        opts.onSync?.({ ...r, initial });
      } catch (e) {
        opts.onError?.(e);
      }
    });
    return running;
  };
  const schedule = (): void => {
    if (closed) return;
    const now = Date.now();
    if (firstEvent === 0) firstEvent = now;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void run(false);
    }, Math.max(0, Math.min(debounce, firstEvent + maxWait - now)));
  };
  const onEvent = (p: string): void => {
    pending.add(path.resolve(p));
    if (pending.size > 10_000) full = true; // a huge burst: one walk is cheaper than 10,000 lookups
    schedule();
  };
  const startWatcher = (): void => {
    watcher = watch(absRoot, {
      ignoreInitial: true,
      ignored: (p: string) => path.basename(p).startsWith('.') && p !== absRoot,
      awaitWriteFinish: { stabilityThreshold: 200, pollInterval: 50 },
    });
    for (const ev of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) watcher.on(ev, onEvent);
    watcher.on('error', (e) => opts.onError?.(e));
  };
  // the folder may vanish (unmounted) and come back: then watch it afresh and sync it whole
  const poll = setInterval(() => {
    const exists = fs.existsSync(absRoot);
    if (!exists && !missing) {
      missing = true;
      void watcher?.close();
      watcher = undefined;
    } else if (exists && missing && !closed) {
      missing = false;
      startWatcher();
      full = true;
      schedule();
    }
  }, opts.pollMs ?? 2000);
  poll.unref();

  const ready = (async () => {
    startWatcher();
    await new Promise<void>((resolve) => watcher!.once('ready', () => resolve()));
    await run(true);
  })();
  ready.catch((e: unknown) => opts.onError?.(e));
  return {
    ready,
    async idle() {
      await ready.catch(() => {});
      for (;;) {
        const r = running;
        await r;
        if (r === running && pending.size === 0 && !full && timer === undefined) return;
        if (r === running) await new Promise((res) => setTimeout(res, Math.max(50, debounce)));
      }
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      await watcher?.close();
      await running;
    },
  };
}

export const describeSync = (r: SyncReport): string =>
  r.folderMissing
    ? 'the folder is missing or empty: its records are kept until it is back'
    : `${r.added} added, ${r.updated} updated, ${r.moved} moved, ${r.removed} removed, ${r.failed} failed`;
