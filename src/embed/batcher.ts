/**
 * Dynamic micro-batching of inference for concurrent callers (the HTTP server's queries): a `BatchingEmbedder`
 * wraps an embedder and coalesces small `embedPrepared` / `embedImages` / `embedTexts` calls into model-sized
 * batches, so 16 clients sending one photo each get close to the throughput of batched inference.
 *
 * - Items wait in a queue per modality and input shape (images of different sizes are never stacked together).
 *   A batch leaves when it holds `maxBatch` items, or `maxWaitMs` after its oldest item arrived.
 * - At most `inner.concurrency` batches are in flight; while every lane is busy, waiting batches keep filling.
 * - Calls that already bring `maxBatch` items or more pass straight through (bulk ingest is not slowed down).
 * - Decoding (`prepareImage`) stays per call and concurrent: only inference is batched. A bad image fails only
 *   its own call; a failed batch rejects exactly the callers whose items were in it.
 * - The queue is bounded: past `maxQueued` waiting items a call fails with `SERVER_BUSY` (HTTP 503) instead of
 *   growing without limit.
 *
 * Results are those of the wrapped embedder, row for row (batched ONNX inference may differ from single-image
 * inference in the last bits only).
 */
import { createError } from '../errors.js';
import type { Embedder, EmbedderSpec, ImageInput, PreparedImage } from './types.js';

export interface BatchingOptions {
  /** Most items per inference call; calls with at least this many items pass straight through (default 8). */
  readonly maxBatch?: number;
  /** How long the oldest waiting item waits for company before its batch leaves anyway (default 5 ms). */
  readonly maxWaitMs?: number;
  /** Most items waiting for a batch (default 4 × maxBatch × concurrency); past it, calls fail with `SERVER_BUSY`. */
  readonly maxQueued?: number;
}

interface Waiting<T> {
  readonly item: T;
  readonly at: number;
  readonly resolve: (v: Float32Array) => void;
  readonly reject: (e: unknown) => void;
}

/** What the scheduler needs of a queue, whatever it holds. */
interface Flushable {
  readonly size: number;
  /** Arrival time of the oldest waiting item (only meaningful when `size > 0`). */
  readonly oldest: number;
  timer: NodeJS.Timeout | undefined;
  /** Take up to `max` items off the front and run them as one batch; settles every taken caller. */
  flush(max: number): Promise<void>;
  /** Reject every waiting caller (dispose). */
  fail(e: unknown): void;
}

class BatchQueue<T> implements Flushable {
  readonly #items: Waiting<T>[] = [];
  timer: NodeJS.Timeout | undefined;

  constructor(private readonly run: (batch: T[]) => Promise<Float32Array[]>) {}

  get size(): number {
    return this.#items.length;
  }
  get oldest(): number {
    return this.#items[0]?.at ?? Infinity;
  }

  push(items: readonly T[]): Promise<Float32Array[]> {
    const at = performance.now();
    return Promise.all(items.map((item) => new Promise<Float32Array>((resolve, reject) => this.#items.push({ item, at, resolve, reject }))));
  }

  async flush(max: number): Promise<void> {
    const batch = this.#items.splice(0, max);
    try {
      const out = await this.run(batch.map((w) => w.item));
      if (out.length !== batch.length) {
        throw createError('INTERNAL', `The embedder returned ${out.length} vectors for a batch of ${batch.length}.`);
      }
      batch.forEach((w, i) => w.resolve(out[i]!));
    } catch (e) {
      for (const w of batch) w.reject(e);
    }
  }

  fail(e: unknown): void {
    for (const w of this.#items.splice(0)) w.reject(e);
  }
}

/** Queue key of a prepared image: same key, same tensor shape, so the batch can be stacked. */
const shapeOf = (p: PreparedImage): string => `${p.dims.join('x')}/${p.data.length}`;

export class BatchingEmbedder implements Embedder {
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly maxQueued: number;
  readonly #inner: Embedder;
  readonly #images = new Map<string, BatchQueue<PreparedImage>>();
  readonly #texts: BatchQueue<string> | undefined;
  #queued = 0;
  #inFlight = 0;
  #disposed = false;

  /** Present exactly when the wrapped embedder embeds text. */
  readonly embedTexts?: (texts: readonly string[]) => Promise<Float32Array[]>;
  readonly train?: (images: AsyncIterable<ImageInput> | Iterable<ImageInput>) => Promise<void>;
  readonly vectorMetadata?: (vector: Float32Array) => Record<string, unknown>;

  constructor(inner: Embedder, opts: BatchingOptions = {}) {
    this.#inner = inner;
    this.maxBatch = checkInt(opts.maxBatch ?? 8, 1, 'maxBatch');
    this.maxWaitMs = checkInt(opts.maxWaitMs ?? 5, 0, 'maxWaitMs');
    this.maxQueued = checkInt(opts.maxQueued ?? 4 * this.maxBatch * this.concurrency, 1, 'maxQueued');
    const embedTexts = inner.embedTexts?.bind(inner);
    if (embedTexts) {
      const texts = new BatchQueue<string>((batch) => embedTexts(batch));
      this.#texts = texts;
      this.embedTexts = (t) => (t.length >= this.maxBatch ? embedTexts(t) : this.#enqueue(texts, t));
    }
    if (inner.train) this.train = inner.train.bind(inner);
    if (inner.vectorMetadata) this.vectorMetadata = inner.vectorMetadata.bind(inner);
  }

  /** The wrapped embedder. */
  get inner(): Embedder {
    return this.#inner;
  }
  get spec(): EmbedderSpec {
    return this.#inner.spec;
  }
  get concurrency(): number {
    return Math.max(1, this.#inner.concurrency);
  }
  get trained(): boolean | undefined {
    return this.#inner.trained;
  }
  /** Items waiting for a batch (not yet handed to the model). */
  get queued(): number {
    return this.#queued;
  }

  prepareImage(input: ImageInput): Promise<PreparedImage> {
    return this.#inner.prepareImage(input);
  }

  async embedPrepared(batch: readonly PreparedImage[]): Promise<Float32Array[]> {
    if (batch.length === 0) return [];
    if (batch.length >= this.maxBatch) return this.#inner.embedPrepared(batch);
    this.#admit(batch.length);
    const byShape = new Map<string, number[]>();
    batch.forEach((p, i) => {
      const k = shapeOf(p);
      const at = byShape.get(k);
      if (at) at.push(i);
      else byShape.set(k, [i]);
    });
    const out = new Array<Float32Array>(batch.length);
    await Promise.all(
      [...byShape].map(async ([k, at]) => {
        let q = this.#images.get(k);
        if (!q) {
          q = new BatchQueue<PreparedImage>((b) => this.#inner.embedPrepared(b));
          this.#images.set(k, q);
        }
        const vs = await this.#enqueue(q, at.map((i) => batch[i]!));
        at.forEach((i, j) => (out[i] = vs[j]!));
      }),
    );
    return out;
  }

  async embedImages(images: readonly ImageInput[]): Promise<Float32Array[]> {
    if (images.length >= this.maxBatch) return this.#inner.embedImages(images);
    this.#admit(images.length); // refuse before decoding when the queue is already full
    const prepared = await Promise.all(images.map((img) => this.#inner.prepareImage(img)));
    return this.embedPrepared(prepared);
  }

  /** Reject whatever still waits, then dispose the wrapped embedder. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    const gone = createError('INTERNAL', 'The embedder was disposed while the request waited for a batch.');
    for (const q of this.#queues()) {
      clearTimeout(q.timer);
      q.timer = undefined;
      this.#queued -= q.size;
      q.fail(gone);
    }
    await this.#inner.dispose();
  }

  /** SERVER_BUSY when `n` more items would overfill the queue. */
  #admit(n: number): void {
    if (this.#disposed) throw createError('INTERNAL', 'The embedder has been disposed.');
    if (this.#queued + n > this.maxQueued) {
      throw createError('SERVER_BUSY', `The server is busy: ${this.#queued} images or texts are already waiting to be embedded; retry in a moment.`, {
        queued: this.#queued,
        maxQueued: this.maxQueued,
      });
    }
  }

  #enqueue<T>(q: BatchQueue<T>, items: readonly T[]): Promise<Float32Array[]> {
    this.#admit(items.length);
    const done = q.push(items);
    this.#queued += items.length;
    this.#pump();
    return done;
  }

  *#queues(): Iterable<Flushable> {
    yield* this.#images.values();
    if (this.#texts) yield this.#texts;
  }

  /** Start every batch that is due while a lane is free; arm a timer for queues still waiting. */
  #pump(): void {
    const now = performance.now();
    while (this.#inFlight < this.concurrency) {
      let next: Flushable | undefined;
      for (const q of this.#queues()) {
        if (q.size === 0) continue;
        const due = q.size >= this.maxBatch || q.oldest + this.maxWaitMs <= now;
        if (due && (!next || q.oldest < next.oldest)) next = q;
      }
      if (!next) break;
      const n = Math.min(next.size, this.maxBatch);
      this.#queued -= n;
      this.#inFlight++;
      void next.flush(n).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
    for (const q of this.#queues()) {
      // a queue that is already due waits for a lane: the end of a batch in flight pumps again
      const left = q.oldest + this.maxWaitMs - now;
      if (q.size === 0 || q.timer || left <= 0) continue;
      const wait = Math.max(1, Math.ceil(left));
      q.timer = setTimeout(() => {
        q.timer = undefined;
        this.#pump();
      }, wait);
    }
    // shapes come and go (models without a fixed input size): drop drained queues
    for (const [k, q] of this.#images) if (q.size === 0 && !q.timer) this.#images.delete(k);
  }
}

function checkInt(v: number, min: number, field: string): number {
  if (!Number.isInteger(v) || v < min) throw createError('INVALID_ARGUMENT', `Batching option ${field} must be an integer ≥ ${min} (got ${v}).`, { field });
  return v;
}
