/** Issue 18 part 4: dynamic micro-batching of concurrent queries, with the real mobilenet-v1 (and the color-clip text tower). */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchingEmbedder } from '../../src/embed/batcher.js';
import { loadEmbedder } from '../../src/embed/registry.js';
import type { Embedder, EmbedderSpec, ImageInput, PreparedImage } from '../../src/embed/types.js';
import { httpStatusOf, isLookalikeError } from '../../src/errors.js';
import { COLOR_CLIP, requireShared, SAMPLES } from '../helpers.js';

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A thin wrapper of a real embedder that records every inference call (batch sizes, most calls at once). */
class Counting implements Embedder {
  readonly calls: number[] = [];
  readonly textCalls: number[] = [];
  imageCallsViaEmbedImages = 0;
  running = 0;
  mostRunning = 0;
  /** When set, the next inference call throws this. */
  failNext: Error | undefined;
  readonly embedTexts?: (texts: readonly string[]) => Promise<Float32Array[]>;

  constructor(readonly inner: Embedder) {
    const texts = inner.embedTexts?.bind(inner);
    if (texts) {
      this.embedTexts = async (t) => {
        this.textCalls.push(t.length);
        return texts(t);
      };
    }
  }
  get spec(): EmbedderSpec {
    return this.inner.spec;
  }
  get concurrency(): number {
    return this.inner.concurrency;
  }
  prepareImage(input: ImageInput): Promise<PreparedImage> {
    return this.inner.prepareImage(input);
  }
  async embedPrepared(batch: readonly PreparedImage[]): Promise<Float32Array[]> {
    this.calls.push(batch.length);
    this.mostRunning = Math.max(this.mostRunning, ++this.running);
    try {
      const fail = this.failNext;
      this.failNext = undefined;
      if (fail) {
        await sleep(1);
        throw fail;
      }
      return await this.inner.embedPrepared(batch);
    } finally {
      this.running--;
    }
  }
  async embedImages(images: readonly ImageInput[]): Promise<Float32Array[]> {
    this.imageCallsViaEmbedImages++;
    return this.embedPrepared(await Promise.all(images.map((i) => this.prepareImage(i))));
  }
  reset(): void {
    this.calls.length = 0;
    this.textCalls.length = 0;
    this.imageCallsViaEmbedImages = 0;
    this.mostRunning = 0;
  }
  async dispose(): Promise<void> {}
}

describe('BatchingEmbedder (mobilenet-v1)', () => {
  let model: Embedder;
  let counting: Counting;
  const files = fs
    .readdirSync(SAMPLES)
    .sort()
    .flatMap((cls) => fs.readdirSync(path.join(SAMPLES, cls)).sort().slice(0, 2).map((f) => path.join(SAMPLES, cls, f)))
    .slice(0, 16);
  const bytes = files.map((f) => fs.readFileSync(f));
  let prepared: PreparedImage[];
  /** Each image embedded alone (a batch of one, straight through the model). */
  let alone: Float32Array[];

  beforeAll(async () => {
    // two sessions: two batches can be in flight
    model = await loadEmbedder('mobilenet-v1', { threads: 2, inferenceWorkers: 2, batchSize: 8 });
    counting = new Counting(model);
    prepared = await Promise.all(bytes.map((b) => model.prepareImage(b)));
    alone = [];
    for (const p of prepared) alone.push((await model.embedPrepared([p]))[0]!);
  }, 120_000);
  afterAll(async () => {
    await model?.dispose();
  });

  it('delegates what it does not batch', () => {
    const b = new BatchingEmbedder(counting, { maxBatch: 8 });
    expect(b.spec).toBe(model.spec);
    expect(b.concurrency).toBe(2);
    expect(b.maxWaitMs).toBe(5);
    expect(b.maxQueued).toBe(4 * 8 * 2);
    expect(b.embedTexts).toBeUndefined(); // an image-only model stays image-only
  });

  it('concurrent callers share inference calls; vectors equal unbatched ones', async () => {
    counting.reset();
    const b = new BatchingEmbedder(counting, { maxBatch: 8, maxWaitMs: 1000 }); // no timer flush mid-way on a loaded machine
    const out = await Promise.all(prepared.map((p) => b.embedPrepared([p])));
    expect(counting.calls).toEqual([8, 8]);
    expect(counting.mostRunning).toBe(2);
    out.forEach(([v], i) => {
      expect(v!.length).toBe(model.spec.dimension);
      expect(cosine(v!, alone[i]!)).toBeGreaterThan(0.99999);
    });
    expect(b.queued).toBe(0);
  });

  it('uploads decoded per request coalesce too (embedImages), results in order', async () => {
    counting.reset();
    // decodes finish at different times: a wider window than the default keeps the count deterministic on a busy machine
    const b = new BatchingEmbedder(counting, { maxBatch: 8, maxWaitMs: 200 });
    const out = await Promise.all(bytes.map((x) => b.embedImages([x])));
    expect(counting.calls.reduce((s, n) => s + n, 0)).toBe(16);
    expect(counting.calls.length).toBeLessThanOrEqual(4);
    expect(Math.max(...counting.calls)).toBeLessThanOrEqual(8);
    expect(counting.imageCallsViaEmbedImages).toBe(0); // decoded here, batched inference only
    out.forEach(([v], i) => expect(cosine(v!, alone[i]!)).toBeGreaterThan(0.99999));
    // a call with several images keeps its order
    const three = await b.embedImages([bytes[3]!, bytes[1]!, bytes[2]!]);
    [3, 1, 2].forEach((k, j) => expect(cosine(three[j]!, alone[k]!)).toBeGreaterThan(0.99999));
  });

  it('a lone request leaves after maxWaitMs', async () => {
    counting.reset();
    const quick = new BatchingEmbedder(counting, { maxBatch: 8 });
    let t0 = performance.now();
    const [v] = await quick.embedPrepared([prepared[0]!]);
    const quickMs = performance.now() - t0;
    expect(cosine(v!, alone[0]!)).toBeGreaterThan(0.99999);
    expect(counting.calls).toEqual([1]);
    expect(quickMs).toBeGreaterThanOrEqual(4);
    expect(quickMs).toBeLessThan(2000);

    const slow = new BatchingEmbedder(counting, { maxBatch: 8, maxWaitMs: 150 });
    t0 = performance.now();
    const first = slow.embedPrepared([prepared[1]!]);
    await sleep(50);
    const second = slow.embedPrepared([prepared[2]!]); // joins the waiting batch
    await Promise.all([first, second]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    expect(counting.calls).toEqual([1, 2]);
  });

  it('calls that bring a full batch pass straight through', async () => {
    counting.reset();
    const b = new BatchingEmbedder(counting, { maxBatch: 8, maxWaitMs: 60_000 });
    const t0 = performance.now();
    const out = await b.embedPrepared(prepared.slice(0, 8));
    expect(counting.calls).toEqual([8]);
    const viaImages = await b.embedImages(bytes.slice(0, 10));
    expect(counting.imageCallsViaEmbedImages).toBe(1);
    expect(counting.calls).toEqual([8, 10]);
    expect(performance.now() - t0).toBeLessThan(30_000);
    out.forEach((v, i) => expect(cosine(v, alone[i]!)).toBeGreaterThan(0.99999));
    viaImages.forEach((v, i) => expect(cosine(v, alone[i]!)).toBeGreaterThan(0.99999));
  });

  it('a bad image fails only its own request', async () => {
    counting.reset();
    const b = new BatchingEmbedder(counting, { maxBatch: 8 });
    const results = await Promise.allSettled([b.embedImages([bytes[0]!]), b.embedImages([Buffer.from('not an image')]), b.embedImages([bytes[1]!])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const bad = results[1] as PromiseRejectedResult;
    expect(isLookalikeError(bad.reason, 'IMAGE_DECODE_FAILED')).toBe(true);
    expect(counting.calls.reduce((s, n) => s + n, 0)).toBe(2); // the two good ones (together when decoded within 5 ms)
  });

  it('a failed batch rejects exactly its callers', async () => {
    counting.reset();
    const b = new BatchingEmbedder(counting, { maxBatch: 4 });
    const boom = new Error('inference failed');
    counting.failNext = boom;
    const results = await Promise.allSettled(prepared.slice(0, 6).map((p) => b.embedPrepared([p])));
    expect(counting.calls).toEqual([4, 2]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
    for (const r of results.slice(0, 4)) expect((r as PromiseRejectedResult).reason).toBe(boom);
    results.slice(4).forEach((r, j) => expect(cosine((r as PromiseFulfilledResult<Float32Array[]>).value[0]!, alone[4 + j]!)).toBeGreaterThan(0.99999));
    // the batcher keeps working
    const [v] = await b.embedPrepared([prepared[7]!]);
    expect(cosine(v!, alone[7]!)).toBeGreaterThan(0.99999);
  });

  it('never more batches in flight than the model runs at once; waiting batches fill up', async () => {
    const one = new Counting(wrapConcurrency(model, 1));
    const b = new BatchingEmbedder(one, { maxBatch: 4, maxWaitMs: 0 });
    const out = await Promise.all(prepared.map((p) => b.embedPrepared([p])));
    expect(one.mostRunning).toBe(1);
    // the first leaves at once (wait 0); the others queue while it runs and leave as full batches
    expect(one.calls).toEqual([1, 4, 4, 4, 3]);
    out.forEach(([v], i) => expect(cosine(v!, alone[i]!)).toBeGreaterThan(0.99999));
  });

  it('past maxQueued waiting items, SERVER_BUSY (503) instead of an unbounded queue', async () => {
    counting.reset();
    const b = new BatchingEmbedder(counting, { maxBatch: 8, maxWaitMs: 100, maxQueued: 4 });
    const waiting = prepared.slice(0, 4).map((p) => b.embedPrepared([p]));
    expect(b.queued).toBe(4);
    const refused = await b.embedPrepared([prepared[4]!]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLookalikeError(refused, 'SERVER_BUSY')).toBe(true);
    expect(isLookalikeError(refused) && httpStatusOf(refused.code)).toBe(503);
    // an upload is refused before it is even decoded
    const decodes = await b.embedImages([bytes[5]!]).catch((e: unknown) => e);
    expect(isLookalikeError(decodes, 'SERVER_BUSY')).toBe(true);
    expect((await Promise.all(waiting)).length).toBe(4);
    expect(counting.calls).toEqual([4]);
    expect(b.queued).toBe(0);
    await b.embedPrepared([prepared[4]!]); // room again
  });
});

/** The model seen as one session (concurrency 1). */
function wrapConcurrency(e: Embedder, concurrency: number): Embedder {
  return {
    spec: e.spec,
    concurrency,
    prepareImage: (i) => e.prepareImage(i),
    embedPrepared: (b) => e.embedPrepared(b),
    embedImages: (i) => e.embedImages(i),
    dispose: async () => {},
  };
}

describe('BatchingEmbedder texts (color-clip)', () => {
  let clip: Embedder;
  beforeAll(async () => {
    clip = await loadEmbedder(requireShared(COLOR_CLIP), { threads: 1 });
  }, 120_000);
  afterAll(async () => {
    await clip?.dispose();
  });

  it('concurrent texts share calls and equal unbatched ones', async () => {
    const texts = ['red', 'a blue flower', 'green', 'yellow petals in the sun', 'black', 'white'];
    const alone: Float32Array[] = [];
    for (const t of texts) alone.push((await clip.embedTexts!([t]))[0]!);
    const counting = new Counting(clip);
    const b = new BatchingEmbedder(counting, { maxBatch: 8 });
    expect(b.embedTexts).toBeDefined();
    const out = await Promise.all(texts.map((t) => b.embedTexts!([t])));
    expect(counting.textCalls).toEqual([6]);
    out.forEach(([v], i) => expect(cosine(v!, alone[i]!)).toBeGreaterThan(0.99999));
  });
});
