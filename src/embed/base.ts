import type { Embedder, EmbedderSpec, ImageInput, PreparedImage } from './types.js';

/**
 * What every embedder shares. A subclass gives its `spec`, `prepareImage` (decode + preprocess, CPU side) and
 * `embedPrepared` (one batch through the model); the base derives `embedImages` (batched, with up to
 * `concurrency` batches in flight, results in input order), `concurrency` (1) and `dispose` (nothing to free).
 */
export abstract class BaseEmbedder implements Embedder {
  abstract readonly spec: EmbedderSpec;

  /** Largest batch `embedImages` hands to `embedPrepared` at once. */
  protected readonly maxBatch: number = 32;

  get concurrency(): number {
    return 1;
  }

  abstract prepareImage(input: ImageInput): Promise<PreparedImage>;
  abstract embedPrepared(batch: readonly PreparedImage[]): Promise<Float32Array[]>;

  async embedImages(images: readonly ImageInput[]): Promise<Float32Array[]> {
    const size = Math.max(1, this.maxBatch);
    const batches: ImageInput[][] = [];
    for (let i = 0; i < images.length; i += size) batches.push(images.slice(i, i + size));
    const out: Float32Array[][] = new Array<Float32Array[]>(batches.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < batches.length) {
        const i = next++;
        const prepared = await Promise.all(batches[i]!.map((img) => this.prepareImage(img)));
        out[i] = await this.embedPrepared(prepared);
      }
    };
    await Promise.all(Array.from({ length: Math.min(Math.max(1, this.concurrency), batches.length) }, lane));
    return out.flat();
  }

  async dispose(): Promise<void> {}
}
