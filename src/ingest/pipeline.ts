/**
 * The one ingest pipeline: read → sniff → decode + prepare → embed → upsert → report. Folder ingest, HTTP/library
 * uploads and queue workers all feed it sources; they differ only in where the bytes come from.
 */
import type { Embedder, PreparedImage } from '../embed/types.js';
import { createError, reasonOf } from '../errors.js';
import { regionsOf } from '../image/crop.js';
import { readFacts, TEXT_FACT_KEYS, type PhotoFacts } from '../image/facts.js';
import { sniffImage, type ImageFacts } from '../image/sniff.js';
import { metadataProblem } from '../schema.js';
import { TiledStore } from '../store/tiled.js';
import type { FileState, ItemInput, Metadata, StoreCollection } from '../store/types.js';

/** The bytes of one source, read (size-limited) and hashed. */
export interface SourceBytes {
  readonly bytes: Uint8Array;
  readonly size: number;
  readonly mtimeMs: number | null;
  /** sha256 of the bytes, hex. */
  readonly contentHash: string;
}

export interface IngestSource {
  /** What a failure report names: the file's path, or an upload's file name. */
  readonly label: string;
  readonly id: string;
  /** Stored path (a file), or null; `keep` may replace it. */
  readonly path: string | null;
  readonly read: () => Promise<SourceBytes>;
  readonly metadata?: Metadata;
  /** The stored record, when it exists. Unchanged content (same hash) only refreshes size/mtime. */
  readonly previous?: FileState;
}

export interface IngestFailure {
  readonly path: string;
  readonly error: string;
}

/** Something about an image that was indexed all the same (e.g. its EXIF block is broken: the pixels were indexed). */
export interface IngestWarning {
  readonly path: string;
  readonly warning: string;
}

export type SourceOutcome =
  | {
      readonly status: 'added' | 'updated' | 'unchanged';
      readonly id: string;
      readonly path: string | null;
      /** What could not be read from the image although it was indexed (broken metadata). */
      readonly warnings?: readonly string[];
    }
  | { readonly status: 'failed'; readonly error: string };

export interface IngestProgress {
  readonly total: number;
  /** Sources finished so far in this run (embedded, unchanged or failed), plus those skipped before the run. */
  readonly done: number;
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly failed: number;
  /** Images embedded per second since the run started. */
  readonly imagesPerSecond: number;
  readonly etaSeconds: number | null;
}

export interface PipelineOptions {
  /** Images per inference call. */
  readonly batchSize: number;
  /** Images read and decoded ahead of inference. */
  readonly prefetch: number;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((p: IngestProgress) => void) | undefined;
  /** Keep the original bytes somewhere (uploads); returns the path stored with the item. */
  readonly keep?: ((bytes: Uint8Array, facts: ImageFacts, src: IngestSource) => Promise<string>) | undefined;
  /** Counted as done and unchanged before the run (files skipped without reading). */
  readonly skipped?: number | undefined;
  /** Failures found before the run (e.g. by the folder walk). */
  readonly failures?: readonly IngestFailure[] | undefined;
  /**
   * Read each image's facts (format, date taken, camera, GPS, orientation, title… see `src/image/facts.ts`) into its
   * metadata, under the source's own metadata (which wins on a key collision). Default true.
   */
  readonly facts?: boolean | undefined;
}

export interface PipelineResult {
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly failed: number;
  readonly failures: IngestFailure[];
  /** Images indexed with something unreadable (broken EXIF…), in source order. */
  readonly warnings: IngestWarning[];
  /** One per source, in order. */
  readonly outcomes: SourceOutcome[];
  /** True when the run was stopped early (signal); everything reported was committed. */
  readonly interrupted: boolean;
  readonly seconds: number;
  readonly imagesPerSecond: number;
}

type Prepared =
  | { kind: 'embed'; i: number; item: Omit<ItemInput, 'vector'>; image: PreparedImage; tiles: PreparedImage[]; warnings: string[] }
  | { kind: 'touch'; i: number; id: string; path: string | null; size: number; mtimeMs: number }
  | { kind: 'failed'; i: number; error: string };

/**
 * An item's metadata: its facts under the source's metadata (which wins on a key collision). When both together
 * would be over the metadata limits, the free-text facts are left out first, then all of them (with a warning).
 */
export function withFacts(facts: PhotoFacts, metadata: Metadata): { metadata: Metadata; warnings: string[] } {
  const all: Metadata = { ...facts, ...metadata };
  if (metadataProblem(all) === undefined) return { metadata: all, warnings: [] };
  const short: Metadata = { ...facts };
  for (const k of TEXT_FACT_KEYS) delete short[k];
  const fewer: Metadata = { ...short, ...metadata };
  if (metadataProblem(fewer) === undefined) {
    return { metadata: fewer, warnings: ['title, description and keywords left out: with them the metadata would be over its size limits'] };
  }
  return { metadata, warnings: [`image facts left out: with them the metadata would be over its limits (${metadataProblem(fewer)})`] };
}

function isEmpty(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) return false;
  return true;
}

/**
 * Run `sources` through the pipeline into `store`. Decoding runs ahead of inference (bounded by `prefetch`), up to
 * `embedder.concurrency` batches are embedded at once, each batch is committed in one transaction as soon as its
 * vectors are back, and a source that fails is reported and skipped: one bad image never stops a batch.
 */
export async function runPipeline(
  store: StoreCollection,
  embedder: Embedder,
  sources: readonly IngestSource[],
  opts: PipelineOptions,
): Promise<PipelineResult> {
  const started = performance.now();
  const tiled = store instanceof TiledStore ? store : undefined;
  const skipped = opts.skipped ?? 0;
  const failures: IngestFailure[] = [...(opts.failures ?? [])];
  const outcomes: SourceOutcome[] = new Array<SourceOutcome>(sources.length);
  const counts = { added: 0, updated: 0, unchanged: skipped, failed: failures.length, embedded: 0 };
  const total = sources.length + skipped + failures.length;
  let done = skipped + failures.length;

  const report = (): void => {
    if (!opts.onProgress) return;
    const secs = (performance.now() - started) / 1000;
    const rate = counts.embedded / Math.max(secs, 1e-3);
    opts.onProgress({ total, done, ...counts, imagesPerSecond: rate, etaSeconds: rate > 0 ? (total - done) / rate : null });
  };
  const fail = (i: number, error: string): void => {
    counts.failed++;
    failures.push({ path: sources[i]!.label, error });
    outcomes[i] = { status: 'failed', error };
    done++;
  };

  const prepare = async (i: number): Promise<Prepared> => {
    const src = sources[i]!;
    try {
      const f = await src.read();
      if (src.previous && src.previous.contentHash === f.contentHash && f.mtimeMs !== null) {
        return { kind: 'touch', i, id: src.previous.id, path: src.path, size: f.size, mtimeMs: f.mtimeMs };
      }
      const facts = await sniffImage(f.bytes);
      let metadata = src.metadata ?? {};
      let warned: string[] = [];
      if (opts.facts !== false) {
        const read = await readFacts(f.bytes, facts.format);
        const merged = withFacts(read.facts, metadata);
        metadata = merged.metadata;
        warned = [...read.warnings, ...merged.warnings];
      }
      const image = await embedder.prepareImage(f.bytes);
      const tiles = tiled ? await Promise.all((await regionsOf(f.bytes, tiled.boxes)).map((r) => embedder.prepareImage(r))) : [];
      const path = opts.keep ? await opts.keep(f.bytes, facts, src) : src.path;
      return {
        kind: 'embed',
        i,
        image,
        tiles,
        warnings: warned,
        item: {
          id: src.id,
          path,
          contentHash: f.contentHash,
          size: f.size,
          mtimeMs: f.mtimeMs,
          width: facts.width,
          height: facts.height,
          metadata,
        },
      };
    } catch (e) {
      return { kind: 'failed', i, error: reasonOf(e) };
    }
  };

  type Embed = Extract<Prepared, { kind: 'embed' }>;
  type Touch = Extract<Prepared, { kind: 'touch' }>;
  const flush = async (batch: Embed[], touches: Touch[]): Promise<void> => {
    if (touches.length > 0) {
      await store.touchFiles(touches.map((t) => ({ id: t.id, size: t.size, mtimeMs: t.mtimeMs })));
      for (const t of touches) outcomes[t.i] = { status: 'unchanged', id: t.id, path: t.path };
      counts.unchanged += touches.length;
      done += touches.length;
    }
    if (batch.length === 0) return;
    let vectors: Float32Array[];
    const tileVectors: Float32Array[] = [];
    try {
      vectors = await embedder.embedPrepared(batch.map((b) => b.image));
      const tiles = batch.flatMap((b) => b.tiles);
      for (let j = 0; j < tiles.length; j += opts.batchSize) tileVectors.push(...(await embedder.embedPrepared(tiles.slice(j, j + opts.batchSize))));
    } catch (e) {
      for (const b of batch) fail(b.i, `embedding failed: ${reasonOf(e)}`);
      return;
    }
    const extra = embedder.vectorMetadata?.bind(embedder);
    const items: ItemInput[] = [];
    batch.forEach((b, j) => {
      const vector = vectors[j]!;
      if (isEmpty(vector)) {
        fail(b.i, 'empty embedding: this model found nothing to describe in the image (e.g. a blank image without keypoints)');
        return;
      }
      items.push({ ...b.item, vector, ...(extra ? { metadata: { ...b.item.metadata, ...extra(vector) } } : {}) });
    });
    if (items.length === 0) return;
    if (tiled) {
      // tiles first: a crash before the items are written leaves them to be indexed again, tiles and all
      const per = tiled.boxes.length;
      const kept = new Set(items.map((it) => it.id));
      await tiled.upsertTiles(
        batch.flatMap((b, j) => (kept.has(b.item.id) ? [{ id: b.item.id, vectors: tileVectors.slice(j * per, (j + 1) * per) }] : [])),
      );
    }
    const r = await store.upsert(items);
    counts.added += r.added;
    counts.updated += r.updated;
    counts.embedded += items.length;
    for (const b of batch) {
      if (outcomes[b.i]) continue;
      outcomes[b.i] = {
        status: sources[b.i]!.previous ? 'updated' : 'added',
        id: b.item.id,
        path: b.item.path ?? null,
        ...(b.warnings.length > 0 ? { warnings: b.warnings } : {}),
      };
      done++;
    }
  };

  // Ordered pipeline: up to `prefetch` sources are read and decoded (sharp on libuv's pool) while the model runs on
  // the current batches; results are consumed in source order.
  const queue: Promise<Prepared>[] = [];
  let next = 0;
  const prefetch = Math.max(1, opts.prefetch);
  const fill = (): void => {
    while (!opts.signal?.aborted && queue.length < prefetch && next < sources.length) queue.push(prepare(next++));
  };
  const parallel = Math.max(1, embedder.concurrency ?? 1);
  const flushing: Promise<void>[] = [];
  let batch: Embed[] = [];
  let touches: Touch[] = [];
  let error: unknown;
  fill();
  while (queue.length > 0) {
    const p = await queue.shift()!;
    fill();
    if (p.kind === 'embed') batch.push(p);
    else if (p.kind === 'touch') touches.push(p);
    else fail(p.i, p.error);
    if (batch.length >= opts.batchSize || touches.length >= 256 || queue.length === 0) {
      const f = flush(batch, touches).then(report);
      f.catch((e: unknown) => (error ??= e)); // a store error stops the run (after the batches in flight)
      flushing.push(f);
      batch = [];
      touches = [];
      if (flushing.length >= parallel) await flushing.shift()!.catch(() => {});
      if (opts.signal?.aborted || error !== undefined) break;
    }
  }
  await Promise.allSettled(flushing);
  await Promise.allSettled(queue); // sources already being read (and kept) finish before the run reports
  if (error !== undefined) throw error;
  const interrupted = !!opts.signal?.aborted && next < sources.length;
  report();
  const seconds = (performance.now() - started) / 1000;
  return {
    added: counts.added,
    updated: counts.updated,
    unchanged: counts.unchanged,
    failed: counts.failed,
    failures,
    // in source order (batches may be committed out of order)
    warnings: outcomes.flatMap((o, i) => (o?.status !== 'failed' && o?.warnings ? o.warnings.map((warning) => ({ path: sources[i]!.label, warning })) : [])),
    outcomes,
    interrupted,
    seconds,
    imagesPerSecond: counts.embedded / Math.max(seconds, 1e-3),
  };
}

/** A source's bytes as given (uploads, streams). */
export function bytesSource(bytes: Uint8Array, contentHash: string, maxFileBytes: number): () => Promise<SourceBytes> {
  return async () => {
    if (bytes.byteLength > maxFileBytes) {
      throw createError('IMAGE_TOO_LARGE', `file is ${bytes.byteLength} bytes, over the ${maxFileBytes}-byte limit`);
    }
    return { bytes, size: bytes.byteLength, mtimeMs: null, contentHash };
  };
}
