import type { ImageInput } from '../image/decode.js';
export type { DecodedImage, ImageInput } from '../image/decode.js';
export { isDecodedImage } from '../image/decode.js';

export type Modality = 'image' | 'text';

/**
 * Everything needed to re-create an embedder and to tell whether two embedders produce comparable vectors.
 * Stored with every collection.
 */
export interface EmbedderSpec {
  /** Stable embedder id: `mobilenet-v1`, `clip:Xenova/clip-vit-base-patch32`, `onnx:my-resnet`, … */
  readonly id: string;
  /** Implementation family (the registry key of the factory). */
  readonly kind: string;
  /** What `--model` resolved from: a registry id, a Hugging Face id, or an absolute folder path. */
  readonly model: string;
  /** Fingerprint of the model files (configs + weight sizes): changes when the model changes. */
  readonly revision: string;
  readonly dimension: number;
  readonly modalities: readonly Modality[];
  /** Human-readable preprocessing summary (resize, crop, normalisation, pooling). */
  readonly preprocessing: Readonly<Record<string, unknown>>;
}

/** An image decoded and preprocessed into the model's input layout, ready to be batched. */
export interface PreparedImage {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/**
 * One interface for every embedding method. Vectors are L2-normalised `Float32Array`s of length
 * `spec.dimension`; what the embedder is (id, dimension, modalities) is read from `spec` only.
 *
 * `prepareImage` (decode + preprocess) is separate from `embedPrepared` (inference) so that ingest can decode
 * the next images while the model runs on the current batch. Implementations extend `BaseEmbedder`
 * (`./base.ts`), which derives `embedImages` and the defaults below from those two.
 */
export interface Embedder {
  readonly spec: EmbedderSpec;
  /** How many `embedPrepared` calls can usefully run at once (parallel inference sessions); 1 for most. */
  readonly concurrency: number;
  prepareImage(input: ImageInput): Promise<PreparedImage>;
  embedPrepared(batch: readonly PreparedImage[]): Promise<Float32Array[]>;
  /** `prepareImage` + `embedPrepared` for a batch (any length: split into model-sized batches). */
  embedImages(images: readonly ImageInput[]): Promise<Float32Array[]>;
  /**
   * Embedders that learn from the collection (e.g. a visual vocabulary): `trained` is false until `train` has
   * seen a sample of its images; their `spec` then carries what was learnt (before that it describes the
   * request only and must not be stored).
   */
  readonly trained?: boolean;
  train?(images: AsyncIterable<ImageInput> | Iterable<ImageInput>): Promise<void>;
  /** Extra metadata derived from an image's vector, stored with the item (e.g. `{ phash: 'c3a1…' }`). */
  vectorMetadata?(vector: Float32Array): Record<string, unknown>;
  /** Present only when `spec.modalities` has `text`. */
  embedTexts?(texts: readonly string[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

/** Whether the embedder (or a stored spec) embeds this modality: `supports(e.spec, 'text')`. */
export function supports(spec: Pick<EmbedderSpec, 'modalities'>, modality: Modality): boolean {
  return spec.modalities.includes(modality);
}

/** In-place L2 normalisation; a zero vector stays zero. Returns its argument. */
export function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  if (s > 0) {
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < v.length; i++) v[i]! *= inv;
  }
  return v;
}

/** Split a row-major [n, d] output into n normalised vectors (copies, so the output buffer can be freed). */
export function splitRows(data: Float32Array, n: number, d: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) out.push(l2normalize(data.slice(i * d, (i + 1) * d)));
  return out;
}

/** Concatenate prepared images of identical dims into one batch tensor. */
export function stackPrepared(batch: readonly PreparedImage[]): { data: Float32Array; dims: number[] } {
  const first = batch[0];
  if (!first) throw new Error('stackPrepared: empty batch');
  const per = first.data.length;
  const data = new Float32Array(per * batch.length);
  batch.forEach((p, i) => {
    if (p.data.length !== per) throw new Error('stackPrepared: images of different sizes in one batch');
    data.set(p.data, i * per);
  });
  const dims = [...first.dims];
  dims[0] = batch.length;
  return { data, dims };
}

export { POOLINGS, type Pooling } from './pooling.js';
