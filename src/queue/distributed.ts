import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { DEFAULT_MODEL, type Config } from '../config.js';
import type { EmbedderOptions } from '../embed/registry.js';
import { ConnectionWatch, checkQueue, parseQueueUrl, redactUrl } from './redis.js';
import { fileId, planChanges, vanished, type IndexFailure, type IndexProgress, type IndexReport, type IndexWarning } from '../ingest/folder.js';
import { matchFolder, readMetadataFile, type MetadataFileOptions } from '../ingest/sidecar.js';
import { walkImages } from '../ingest/walk.js';
import { openDatabase, type Collection } from '../lookalike.js';
import type { IndexSpec, Metadata, VectorType } from '../store/types.js';

/**
 * Distributed ingestion on BullMQ (Redis): `submitIndexJobs` splits a folder into jobs of a few dozen files;
 * any number of `runWorker` processes (on any machine that sees the files and the database) embed and write them.
 * Effects are idempotent upserts keyed by the file's path id, so a retried or duplicated job never creates
 * duplicates; a bad image is a failure in the job's result, not a job failure (no retry loop); a worker that
 * dies has its job taken over by another once its lock expires. The Redis URL (password, ACL user, TLS), the fast
 * failure on refused credentials and the reconnecting through an outage are `./redis.ts`'s. Jobs carry the database
 * URL, password included: a reason more for a Redis with a password on a private network.
 */

export const QUEUE_NAME = 'lookalike-ingest';

export interface IngestJobData {
  readonly run: string;
  readonly db: string;
  readonly collection: string;
  /** With the values a metadata file gave each (`--metadata-csv`), matched by the submitter. */
  readonly files: { path: string; metadata?: Metadata }[];
  readonly folderLabelKey?: string;
  readonly metadata?: Metadata;
  /** false: no image facts (`--no-facts`). */
  readonly facts?: boolean;
  /** Images per inference call (the submitter's `--batch-size`; else the worker's own). */
  readonly batchSize?: number;
}

export interface IngestJobResult {
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly failures: IndexFailure[];
  readonly warnings?: IndexWarning[];
}

export interface SubmitOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS): see `parseQueueUrl`. */
  readonly queue: string;
  readonly db: string;
  readonly collection: string;
  readonly model?: string;
  readonly folder: string;
  readonly exclude?: readonly string[];
  /** After every job is done, delete records of files under the folder that no longer exist. */
  readonly prune?: boolean;
  readonly folderLabelKey?: string;
  /** Metadata merged into every item. */
  readonly metadata?: Metadata;
  /** Rows of a CSV / JSON Lines file attached to the images they name (matched here, sent with the jobs). */
  readonly metadataFile?: MetadataFileOptions;
  /** false: no image facts in the metadata. */
  readonly facts?: boolean;
  /** New collections: pooling of ViT-style outputs, search index, vector type (as for a local `index`). */
  readonly pooling?: EmbedderOptions['pooling'];
  readonly index?: IndexSpec | { readonly type: IndexSpec['type'] };
  readonly vectorType?: VectorType;
  /** Images per inference call in the workers (default: each worker's own `Config.batchSize`). */
  readonly batchSize?: number | undefined;
  /** Files per job (default 64). */
  readonly jobSize?: number;
  readonly config?: Partial<Config>;
  readonly onProgress?: (p: IndexProgress) => void;
  /** How long Redis may be unreachable at the start before `QUEUE_UNAVAILABLE` (default 10 s; a refused password fails at once). */
  readonly connectTimeoutMs?: number;
  /** Lines about the connection to Redis (lost, reconnected; the password never in them). Default: `console.warn`. */
  readonly onConnection?: (line: string) => void;
}

/** The same counts as a local run's report, plus the number of jobs. */
export interface DistributedReport extends Omit<IndexReport, 'interrupted' | 'imagesPerSecond'> {
  readonly jobs: number;
}

/** Enqueue the changed files of `folder` and wait until workers have processed all of them. */
export async function submitIndexJobs(opts: SubmitOptions): Promise<DistributedReport> {
  const started = performance.now();
  const target = parseQueueUrl(opts.queue);
  // before anything is created: a wrong password or an unreachable Redis is an error now, not a hang later
  await checkQueue(target, opts.connectTimeoutMs);
  const connection = target.options;
  const table = opts.metadataFile ? await readMetadataFile(opts.metadataFile) : undefined;
  // the collection exists (created with its model) before any worker touches it
  const db = await openDatabase(opts.db, opts.config ?? {});
  let todo: { path: string; metadata?: Metadata }[];
  let unchanged = 0;
  const walkProblems: IndexFailure[] = [];
  let prune: (() => Promise<number>) | undefined;
  let match: ReturnType<typeof matchFolder> | undefined;
  let attachUnchanged: (() => ReturnType<Collection['mergeMetadata']>) | undefined;
  let col: Collection;
  try {
    const model = opts.model ?? ((await db.hasCollection(opts.collection)) ? undefined : DEFAULT_MODEL);
    col = await db.collection(opts.collection, {
      ...(model ? { model } : {}),
      ...(opts.pooling ? { pooling: opts.pooling } : {}),
      ...(opts.index ? { index: opts.index } : {}),
      ...(opts.vectorType ? { vectorType: opts.vectorType } : {}),
      trainingFolder: opts.folder,
    });
    await col.close();
    const files = await walkImages(path.resolve(opts.folder), {
      ...(opts.exclude ? { exclude: opts.exclude } : {}),
      onProblem: (p, error) => walkProblems.push({ path: p, error }),
    });
    const states = new Map((await col.files()).map((f) => [f.path, f]));
    const plan = planChanges(files, states);
    if (table) {
      match = matchFolder(table, opts.folder, files, (p) => states.get(p)?.id ?? fileId(p));
      const inJobs = new Set(plan.todo.map((f) => f.path));
      const updates = new Map(files.flatMap((f) => {
        const m = match!.byPath.get(f.path);
        const s = states.get(f.path);
        return m && s && !inJobs.has(f.path) ? [[s.id, m] as const] : [];
      }));
      attachUnchanged = () => col.mergeMetadata(updates);
    }
    todo = plan.todo.map((f) => ({ path: f.path, ...(match?.byPath.has(f.path) ? { metadata: match.byPath.get(f.path)! } : {}) }));
    unchanged = plan.unchanged;
    if (opts.prune) {
      const gone = vanished(opts.folder, new Set(files.map((f) => f.path)), states);
      prune = () => col.delete(gone);
    }
  } catch (e) {
    await db.close();
    throw e;
  }
  const run = randomUUID();
  const size = opts.jobSize ?? 64;
  const queue = new Queue<IngestJobData, IngestJobResult>(QUEUE_NAME, { connection });
  const events = new QueueEvents(QUEUE_NAME, { connection });
  const watch = new ConnectionWatch(target, opts.onConnection ?? ((line) => console.warn(line)));
  watch.watch(queue, queue.getBackend());
  watch.watch(events, events.getBackend());
  const total = { added: 0, updated: 0, unchanged, failures: [...walkProblems], warnings: [] as IndexWarning[] };
  const jobs = Math.ceil(todo.length / size);
  let finished = 0;
  let done = unchanged;
  const all = todo.length + unchanged;
  let removed = 0;
  let metadataUpdated = 0;
  try {
    await events.waitUntilReady();
    const pending = new Set<string>();
    const finishedAll = new Promise<void>((resolve) => {
      const check = () => {
        if (finished >= jobs) resolve();
      };
      const onResult = (jobId: string, result: IngestJobResult | undefined, error?: string) => {
        if (!pending.delete(jobId)) return;
        finished++;
        if (result) {
          total.added += result.added;
          total.updated += result.updated;
          total.unchanged += result.unchanged;
          total.failures.push(...result.failures);
          total.warnings.push(...(result.warnings ?? []));
          done += result.added + result.updated + result.unchanged + result.failures.length;
        } else total.failures.push({ path: `(job ${jobId})`, error: error ?? 'job failed' });
        const secs = (performance.now() - started) / 1000;
        const rate = (done - unchanged) / Math.max(secs, 1e-3);
        opts.onProgress?.({ total: all, done, added: total.added, updated: total.updated, unchanged: total.unchanged, failed: total.failures.length, imagesPerSecond: rate, etaSeconds: rate > 0 ? (all - done) / rate : null });
        check();
      };
      events.on('completed', ({ jobId, returnvalue }) => onResult(jobId, (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as IngestJobResult));
      events.on('failed', ({ jobId, failedReason }) => {
        queue.getJob(jobId).then(
          (job) => {
            // only final failures count (retries in progress are not the end)
            if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) onResult(jobId, undefined, failedReason);
          },
          (e: unknown) => onResult(jobId, undefined, `${failedReason} (and its state could not be read: ${target.scrub(String(e))})`),
        );
      });
      check();
    });
    const batch: { name: string; data: IngestJobData; opts: { jobId: string; attempts: number; backoff: { type: 'exponential'; delay: number }; removeOnComplete: number; removeOnFail: number } }[] = [];
    for (let i = 0; i < jobs; i++) {
      const jobId = `${run}-${i}`;
      pending.add(jobId);
      batch.push({
        name: 'index',
        data: {
          run,
          db: opts.db,
          collection: opts.collection,
          files: todo.slice(i * size, (i + 1) * size),
          ...(opts.folderLabelKey ? { folderLabelKey: opts.folderLabelKey } : {}),
          ...(opts.metadata ? { metadata: opts.metadata } : {}),
          ...(opts.facts === false ? { facts: false } : {}),
          ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
        },
        opts: { jobId, attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: 10_000, removeOnFail: 10_000 },
      });
    }
    for (let i = 0; i < batch.length; i += 500) await queue.addBulk(batch.slice(i, i + 500));
    await finishedAll;
    // prune only when every job succeeded: a failed job's files may still exist
    if (prune && !total.failures.some((f) => f.path.startsWith('(job '))) removed = await prune();
    if (attachUnchanged) {
      const r = await attachUnchanged();
      metadataUpdated = r.updated;
      for (const k of r.skipped) total.warnings.push({ path: k.id, warning: `metadata not updated: with the new values it ${k.problem}` });
    }
  } finally {
    watch.stop();
    await events.close();
    await queue.close();
    await db.close();
  }
  return {
    added: total.added,
    updated: total.updated,
    unchanged: total.unchanged,
    removed,
    failed: total.failures.length,
    failures: total.failures,
    warnings: total.warnings,
    ...(match ? { metadataFile: { ...match.report, updated: metadataUpdated } } : {}),
    jobs,
    seconds: (performance.now() - started) / 1000,
  };
}

export interface WorkerOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS): see `parseQueueUrl`. */
  readonly queue: string;
  /** Only serve jobs for this database (default: any). */
  readonly db?: string;
  /** Jobs processed at once by this process (default 1). */
  readonly concurrency?: number;
  readonly config?: Partial<Config>;
  readonly log?: (line: string) => void;
  /** How long Redis may be unreachable at the start before `QUEUE_UNAVAILABLE` (default 10 s; a refused password fails at once). */
  readonly connectTimeoutMs?: number;
  /**
   * Lines about the connection to Redis: lost (the worker keeps reconnecting, at most 2 s apart, for ever), still
   * down every 30 s, reconnected; the password never in them. Default: `console.warn`.
   */
  readonly onConnection?: (line: string) => void;
}

/** Process ingest jobs until stopped; resolves with a `close` function. */
export async function runWorker(opts: WorkerOptions): Promise<{ close: () => Promise<void>; processed: () => number }> {
  const target = parseQueueUrl(opts.queue);
  await checkQueue(target, opts.connectTimeoutMs);
  const connection = target.options;
  const dbs = new Map<string, ReturnType<typeof openDatabase>>();
  const collections = new Map<string, Promise<Collection>>();
  let processed = 0;
  const worker = new Worker<IngestJobData, IngestJobResult>(
    QUEUE_NAME,
    async (job: Job<IngestJobData, IngestJobResult>): Promise<IngestJobResult> => {
      const { data } = job;
      if (opts.db && data.db !== opts.db) throw new Error(`job for database ${redactUrl(data.db)}, this worker serves ${redactUrl(opts.db)}`);
      let dbp = dbs.get(data.db);
      if (!dbp) {
        dbp = openDatabase(data.db, opts.config ?? {});
        dbs.set(data.db, dbp);
      }
      const db = await dbp;
      const key = `${data.db}\u0000${data.collection}`;
      let colp = collections.get(key);
      if (!colp) {
        colp = db.openCollection(data.collection);
        collections.set(key, colp);
        colp.catch(() => collections.delete(key));
      }
      const col = await colp;
      // the one ingest pipeline, as a local run: change detection, unchanged content only touched, a bad image (or a
      // failed batch) reported as a failure of this job's report, not a failed job
      const r = await col.indexFiles(
        data.files.map((f) => f.path),
        {
          ...(data.folderLabelKey ? { folderLabelKey: data.folderLabelKey } : {}),
          ...(data.metadata ? { metadata: data.metadata } : {}),
          ...(data.facts === false ? { facts: false } : {}),
          ...(data.files.some((f) => f.metadata) ? { fileMetadata: new Map(data.files.flatMap((f) => (f.metadata ? [[path.resolve(f.path), f.metadata] as const] : []))) } : {}),
          ...(data.batchSize ? { batchSize: data.batchSize } : {}),
        },
      );
      const result: IngestJobResult = { added: r.added, updated: r.updated, unchanged: r.unchanged, failures: r.failures, warnings: r.warnings };
      processed += data.files.length;
      opts.log?.(`job ${job.id}: ${result.added} added, ${result.updated} updated, ${result.unchanged} unchanged, ${result.failures.length} failed`);
      return result;
    },
    { connection, concurrency: opts.concurrency ?? 1, lockDuration: 15_000, stalledInterval: 5_000, maxStalledCount: 5 },
  );
  const watch = new ConnectionWatch(target, opts.onConnection ?? ((line) => console.warn(line)));
  watch.watch(worker, worker.getBackend());
  await worker.waitUntilReady();
  return {
    processed: () => processed,
    close: async () => {
      watch.stop();
      await worker.close();
      for (const c of collections.values()) await (await c.catch(() => undefined))?.close();
      for (const d of dbs.values()) await (await d.catch(() => undefined))?.close();
    },
  };
}
