import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.js';
import { createError } from '../errors.js';
import { decodeImage, kernelFromPilResample, type ResizeKernel } from '../image/decode.js';
import { normalisationTables, resizeToChw, type ResampleFilter } from '../image/resample.js';
import { SessionPool } from './onnx.js';
import { exposeFeatureMap } from './onnx-graph.js';
import { modelRevision, readJson } from './resolve.js';
import { BaseEmbedder } from './base.js';
import { l2normalize, stackPrepared, type EmbedderSpec, type ImageInput, type Pooling, type PreparedImage } from './types.js';

const Size = z.union([
  z.number().int().positive(),
  z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
  z.object({ shortest_edge: z.number().int().positive() }),
]);

/** The subset of a Hugging Face `preprocessor_config.json` that image models use. */
const PreprocessorConfig = z.object({
  do_resize: z.boolean().default(true),
  size: Size.optional(),
  resample: z.number().int().optional(),
  do_center_crop: z.boolean().default(false),
  crop_size: Size.optional(),
  do_rescale: z.boolean().default(true),
  rescale_factor: z.number().default(1 / 255),
  do_normalize: z.boolean().default(true),
  image_mean: z.union([z.number(), z.array(z.number()).length(3)]).default([0.5, 0.5, 0.5]),
  image_std: z.union([z.number(), z.array(z.number()).length(3)]).default([0.5, 0.5, 0.5]),
});

export { POOLINGS, type Pooling } from './types.js';
/** Exponent of GeM pooling. */
export const GEM_P = 3;
const SPATIAL: readonly Pooling[] = ['gem', 'max'];

/** Preprocessing, resolved into concrete numbers. Stored with the collection. */
export interface ImagePreprocessing {
  /** Image is resized to exactly this (fit `fill`) or so its shortest edge is this (fit `outside`). */
  readonly resize: { width: number; height: number; fit: 'fill' | 'outside' | 'cover' };
  readonly crop: { width: number; height: number } | null;
  readonly kernel: ResizeKernel;
  readonly rescale: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly pooling: Pooling;
}

function triple(v: number | number[]): [number, number, number] {
  return typeof v === 'number' ? [v, v, v] : [v[0]!, v[1]!, v[2]!];
}

export function parsePreprocessing(raw: unknown, file: string, pooling: Pooling = 'cls'): ImagePreprocessing {
  const parsed = PreprocessorConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw createError(
      'MODEL_LOAD_FAILED',
      `${file}: field "${issue?.path.join('.')}" ${issue?.message ?? 'is invalid'}`,
      { file },
    );
  }
  const p = parsed.data;
  const crop = p.do_center_crop && p.crop_size !== undefined ? sizeToWH(p.crop_size) : null;
  let resize: ImagePreprocessing['resize'];
  const size = p.size ?? p.crop_size ?? 224;
  if (!p.do_resize) {
    throw createError('MODEL_LOAD_FAILED', `${file}: do_resize=false is not supported (batching needs a fixed size)`);
  }
  if (typeof size === 'object' && 'shortest_edge' in size) {
    const s = size.shortest_edge;
    // shortest edge == crop size: resizing to cover the crop and centre-cropping is the same thing, done by sharp.
    resize =
      crop && crop.width === s && crop.height === s
        ? { width: s, height: s, fit: 'cover' }
        : { width: s, height: s, fit: 'outside' };
  } else {
    const wh = sizeToWH(size);
    resize = { ...wh, fit: 'fill' };
  }
  const effectiveCrop = resize.fit === 'cover' ? null : crop;
  if (resize.fit === 'outside' && !effectiveCrop) {
    throw createError('MODEL_LOAD_FAILED', `${file}: size.shortest_edge without crop_size gives images of varying size`);
  }
  return {
    resize,
    crop: effectiveCrop,
    kernel: kernelFromPilResample(p.resample),
    rescale: p.do_rescale ? p.rescale_factor : 1,
    mean: p.do_normalize ? triple(p.image_mean) : [0, 0, 0],
    std: p.do_normalize ? triple(p.image_std) : [1, 1, 1],
    pooling,
  };
}

function sizeToWH(s: z.infer<typeof Size>): { width: number; height: number } {
  if (typeof s === 'number') return { width: s, height: s };
  if ('shortest_edge' in s) return { width: s.shortest_edge, height: s.shortest_edge };
  return { width: s.width, height: s.height };
}

export interface OnnxImageOptions {
  /** Registry id, HF id or folder path the user asked for (recorded in the spec). */
  readonly model: string;
  /** Embedder id; defaults to `onnx:<folder name>`. */
  readonly id?: string;
  readonly pooling?: Pooling;
  readonly config: Pick<Config, 'threads' | 'device' | 'maxPixels' | 'inferenceWorkers' | 'batchSize'>;
}

const PREFERRED_OUTPUTS = ['embedding', 'image_embeds', 'pooler_output', 'last_hidden_state'];

/**
 * Any image model in the Hugging Face ONNX folder layout (`config.json`, `preprocessor_config.json`,
 * `onnx/model.onnx`): CNNs (pooled or spatial output), ViTs (CLS or mean of tokens). `mobilenet-v1` is one.
 */
export class OnnxImageEmbedder extends BaseEmbedder {
  private constructor(
    readonly spec: EmbedderSpec,
    private readonly session: SessionPool,
    private readonly pre: ImagePreprocessing,
    private readonly inputName: string,
    private readonly outputName: string,
    private readonly maxPixels: number,
    protected override readonly maxBatch: number,
  ) {
    super();
    this.luts = normalisationTables(pre.rescale, pre.mean, pre.std);
    this.filter = filterFromKernel(pre.kernel);
  }
  private readonly luts: Float32Array[];
  private readonly filter: ResampleFilter;

  override get concurrency(): number {
    return this.session.concurrency;
  }

  static async load(dir: string, opts: OnnxImageOptions): Promise<OnnxImageEmbedder> {
    const preFile = path.join(dir, 'preprocessor_config.json');
    const pre = parsePreprocessing(readJson(preFile), preFile, opts.pooling ?? 'cls');
    const modelFile = path.join(dir, 'onnx', 'model.onnx');
    const spatial = SPATIAL.includes(pre.pooling);
    const edited = spatial ? featureMapModel(modelFile, pre.pooling) : undefined;
    const session = await SessionPool.create(edited?.model ?? modelFile, { ...opts.config, workers: opts.config.inferenceWorkers }, modelFile);
    const inputName = session.inputNames.includes('pixel_values') ? 'pixel_values' : session.inputNames[0]!;
    const outputName = edited?.output ?? PREFERRED_OUTPUTS.find((n) => session.outputNames.includes(n)) ?? session.outputNames[0]!;
    const w = pre.crop?.width ?? pre.resize.width;
    const h = pre.crop?.height ?? pre.resize.height;
    // One dummy inference tells the output dimension (and warms the session up).
    const probe = await session.run(inputName, outputName, new Float32Array(3 * w * h), [1, 3, h, w]);
    const dimension = pooledDimension(probe.dims);
    if (spatial && probe.dims.length !== 4) {
      throw createError('MODEL_LOAD_FAILED', `pooling ${pre.pooling} needs a feature map output [N, C, H, W]; ${modelFile} gives [${probe.dims.join(', ')}].`, {
        file: modelFile,
      });
    }
    const baseId = opts.id ?? `onnx:${path.basename(dir)}`;
    const spec: EmbedderSpec = {
      id: spatial ? `${baseId}+${pre.pooling}` : baseId,
      kind: 'onnx-image',
      model: opts.model,
      revision: modelRevision(dir, ['config.json', 'preprocessor_config.json', 'onnx/model.onnx']),
      dimension,
      modalities: ['image'],
      preprocessing: { ...pre, input: inputName, output: outputName },
    };
    return new OnnxImageEmbedder(spec, session, pre, inputName, outputName, opts.config.maxPixels, opts.config.batchSize);
  }

  async prepareImage(input: ImageInput): Promise<PreparedImage> {
    const { resize } = this.pre;
    // sharp decodes (and pre-shrinks big photos to twice the target, cheaply — a JPEG to between once and twice
    // it when its decoder can then shrink it on load by a larger factor); the exact PIL-style resample and the
    // normalisation then run in one fused pass (see image/resample.ts and bench:ingest).
    const img = await decodeImage(input, {
      maxPixels: this.maxPixels,
      shrinkToCover: { width: 2 * resize.width, height: 2 * resize.height, minimum: { width: resize.width, height: resize.height } },
    });
    const { width, height, crop } = resizeGeometry(img.width, img.height, this.pre);
    const data = resizeToChw(img, width, height, this.filter, this.luts, crop);
    return { data, dims: [1, 3, crop?.height ?? height, crop?.width ?? width] };
  }

  async embedPrepared(batch: readonly PreparedImage[]): Promise<Float32Array[]> {
    if (batch.length === 0) return [];
    const { data, dims } = stackPrepared(batch);
    const out = await this.session.run(this.inputName, this.outputName, data, dims);
    return poolOutput(out.data, out.dims, this.pre.pooling);
  }

  override async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** The model with its feature map as an output (a CNN ending in GlobalAveragePool), for GeM and max pooling. */
function featureMapModel(file: string, pooling: Pooling): { model: Uint8Array; output: string } {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    throw createError('MODEL_NOT_FOUND', `ONNX file not found: ${file}`, { file }, e);
  }
  let found: { model: Uint8Array; output: string } | undefined;
  try {
    found = exposeFeatureMap(bytes);
  } catch (e) {
    throw createError('MODEL_LOAD_FAILED', `Cannot read the graph of ${file}: ${(e as Error).message}`, { file }, e);
  }
  if (!found) {
    throw createError(
      'MODEL_LOAD_FAILED',
      `pooling ${pooling} needs a CNN whose graph ends in GlobalAveragePool (its feature map is pooled instead); ${file} has none. Use the default pooling.`,
      { file },
    );
  }
  return found;
}

function filterFromKernel(kernel: ResizeKernel): ResampleFilter {
  return kernel === 'nearest' ? 'nearest' : kernel === 'cubic' || kernel === 'mitchell' ? 'bicubic' : kernel === 'lanczos3' ? 'lanczos' : 'bilinear';
}

/**
 * Output size of the resize step (Hugging Face semantics) and the centre crop taken from it:
 * `fill` → exactly width x height; `cover`/`outside` → shortest edge = size, long edge floor(size * long / short).
 */
export function resizeGeometry(
  inW: number,
  inH: number,
  pre: ImagePreprocessing,
): { width: number; height: number; crop: { width: number; height: number } | null } {
  const { width, height, fit } = pre.resize;
  if (fit === 'fill') return { width, height, crop: pre.crop };
  const s = width;
  const [w, h] = inW <= inH ? [s, Math.floor((s * inH) / inW)] : [Math.floor((s * inW) / inH), s];
  return { width: w, height: h, crop: fit === 'cover' ? { width, height } : pre.crop };
}

function pooledDimension(dims: readonly number[]): number {
  if (dims.length === 2) return dims[1]!;
  if (dims.length === 3) return dims[2]!; // [N, tokens, D]
  if (dims.length === 4) return dims[1]!; // [N, C, H, W]
  throw createError('MODEL_LOAD_FAILED', `unsupported model output shape [${dims.join(', ')}]`);
}

/** [N,D] as is; [N,T,D] → CLS token or token mean; [N,C,H,W] → global average, GeM or max pool. L2-normalised. */
export function poolOutput(data: Float32Array, dims: readonly number[], pooling: Pooling): Float32Array[] {
  const n = dims[0]!;
  const d = pooledDimension(dims);
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(d);
    if (dims.length === 2) {
      v.set(data.subarray(i * d, (i + 1) * d));
    } else if (dims.length === 3) {
      const t = dims[1]!;
      const base = i * t * d;
      if (pooling === 'cls') v.set(data.subarray(base, base + d));
      else {
        for (let j = 0; j < t; j++) for (let k = 0; k < d; k++) v[k]! += data[base + j * d + k]!;
      }
    } else {
      const hw = dims[2]! * dims[3]!;
      const base = i * d * hw;
      for (let c = 0; c < d; c++) {
        const x = data.subarray(base + c * hw, base + (c + 1) * hw);
        if (pooling === 'max') {
          let m = -Infinity;
          for (let j = 0; j < hw; j++) if (x[j]! > m) m = x[j]!;
          v[c] = m;
        } else if (pooling === 'gem') {
          let s = 0;
          for (let j = 0; j < hw; j++) s += Math.max(x[j]!, 1e-6) ** GEM_P; // GeM clamps at ε (activations ≥ 0)
          v[c] = (s / hw) ** (1 / GEM_P);
        } else {
          let s = 0;
          for (let j = 0; j < hw; j++) s += x[j]!;
          v[c] = s / hw;
        }
      }
    }
    out.push(l2normalize(v));
  }
  return out;
}
