/**
 * What several commands do the same way: open a store (read commands never create one), open a collection,
 * show progress, keep a server or worker alive until a signal. The library is imported lazily so `--help` and
 * usage errors answer at once.
 */
import type { Config } from '../config.js';
import type { Collection, LookalikeDatabase } from '../lookalike.js';
import { configFrom, type InferenceOpts } from './options.js';
import { EXIT, reportError } from './output.js';

export interface DbOpts extends InferenceOpts {
  readonly db: string;
}

/**
 * Run `fn` with the store at `o.db`, closed afterwards. `create: false` (read commands): a missing store is
 * `STORE_NOT_FOUND` naming the location, and nothing is created.
 */
export async function withDb<T>(o: DbOpts, create: boolean, fn: (db: LookalikeDatabase) => Promise<T>, config: Partial<Config> = {}): Promise<T> {
  const db = await openDb(o, create, config);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Open the store at `o.db` (see `withDb`; `config`: settings of the command's own, under the flags'); the caller closes it. */
export async function openDb(o: DbOpts, create: boolean, config: Partial<Config> = {}): Promise<LookalikeDatabase> {
  const { openDatabase } = await import('../lookalike.js');
  return openDatabase(o.db, { ...config, ...configFrom(o) }, { create });
}

/** Run `fn` with an existing collection of an existing store (both closed afterwards). */
export async function withCollection<T>(o: DbOpts & { collection: string }, fn: (col: Collection) => Promise<T>, config: Partial<Config> = {}): Promise<T> {
  return withDb(o, false, async (db) => {
    const col = await db.openCollection(o.collection);
    try {
      return await fn(col);
    } finally {
      await col.close();
    }
  }, config);
}

/** What `Collection.indexFolder` reports as it goes (the queue's progress has the same shape). */
export type IndexProgress = Parameters<NonNullable<NonNullable<Parameters<Collection['indexFolder']>[1]>['onProgress']>>[0];

export interface ProgressBar {
  readonly update: (p: IndexProgress) => void;
  readonly stop: () => void;
}

/** A progress bar on stderr when it is a terminal and progress is wanted; else nothing. */
export async function progressBar(enabled: boolean): Promise<ProgressBar> {
  if (!enabled || process.stderr.isTTY !== true) return { update: () => {}, stop: () => {} };
  const { default: cliProgress } = await import('cli-progress');
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
      started = false;
    },
  };
}

/**
 * Keep a long-running command (serve, worker) alive until SIGINT/SIGTERM, then close it and exit 0 (a second signal
 * exits at once). The handlers stay installed: a library that re-raises a signal when no one else listens
 * (signal-exit) would otherwise kill the process before `close` has run.
 */
export async function runUntilSignal(close: () => Promise<void>, json: boolean): Promise<never> {
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) process.exit(EXIT.interrupted);
    stopping = true;
    close().then(
      () => process.exit(EXIT.ok),
      (e: unknown) => process.exit(reportError(e, json)),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return new Promise<never>(() => {});
}

export { redactUrl } from '../util/redact.js';
