import path from 'node:path';
import {
  AutoConfig,
  AutoProcessor,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  RawImage,
  Tensor,
  env as hfEnv,
  type PreTrainedTokenizer,
  type Processor,
  type PreTrainedModel,
} from '@huggingface/transformers';
import type { Config } from '../config.js';
import { createError, reasonOf } from '../errors.js';
import { decodeImage, type DecodedImage } from '../image/decode.js';
import { modelRevision, notFound, type ModelLocation } from './resolve.js';
import {
  splitRows,
  stackPrepared,
  type Embedder,
  type EmbedderSpec,
  type ImageInput,
  type Modality,
  type PreparedImage,
} from './types.js';

export interface ClipOptions {
  readonly model: string;
  readonly location: ModelLocation;
  readonly looked: readonly string[];
  readonly config: Pick<Config, 'threads' | 'device' | 'maxPixels' | 'cacheDir' | 'allowDownloads' | 'downloadTimeoutMs'>;
}

const CLIP_FILES = [
  'config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/text_model.onnx',
  'onnx/vision_model.onnx',
];

/** Point transformers.js at our cache, allow or forbid downloads, and never let a request hang. */
function configureHub(config: ClipOptions['config']): void {
  hfEnv.cacheDir = config.cacheDir;
  hfEnv.allowLocalModels = true;
  hfEnv.allowRemoteModels = config.allowDownloads;
  hfEnv.fetch = (input: string | URL | Request, init?: RequestInit) => fetchWithTimeout(input, init, config.downloadTimeoutMs);
}

/**
 * `fetch` that gives up when no response (headers) arrives within `ms` — an unreachable hub fails fast instead of
 * hanging — but lets a large model file take as long as its download needs once it has started.
 */
export async function fetchWithTimeout(input: string | URL | Request, init: RequestInit | undefined, ms: number): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no response within ${ms} ms`)), ms);
  try {
    return await fetch(input, { ...init, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * CLIP-family models (image and text towers into one space) through transformers.js: AutoTokenizer,
 * AutoProcessor, CLIPVisionModelWithProjection, CLIPTextModelWithProjection. Works with the standard
 * Hugging Face / transformers.js layout (`Xenova/clip-vit-base-patch32`), local or downloaded.
 */
export class ClipEmbedder implements Embedder {
  readonly modalities: ReadonlySet<Modality> = new Set<Modality>(['image', 'text']);
  private constructor(
    readonly spec: EmbedderSpec,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly processor: Processor,
    private readonly textModel: PreTrainedModel,
    private readonly visionModel: PreTrainedModel,
    private readonly shortestEdge: number,
    private readonly maxPixels: number,
  ) {}

  get id(): string {
    return this.spec.id;
  }
  get dimension(): number {
    return this.spec.dimension;
  }

  static async load(opts: ClipOptions): Promise<ClipEmbedder> {
    configureHub(opts.config);
    const ref = opts.location.type === 'local' ? opts.location.dir : opts.location.id;
    const common = {
      local_files_only: opts.location.type === 'local',
      cache_dir: opts.config.cacheDir,
    };
    const modelOpts = {
      ...common,
      device: opts.config.device,
      dtype: 'fp32' as const,
      session_options: {
        intraOpNumThreads: opts.config.threads,
        interOpNumThreads: 1,
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      },
    };
    let parts: [PreTrainedTokenizer, Processor, PreTrainedModel, PreTrainedModel, Record<string, unknown>];
    try {
      parts = await Promise.all([
        AutoTokenizer.from_pretrained(ref, common),
        AutoProcessor.from_pretrained(ref, common),
        CLIPTextModelWithProjection.from_pretrained(ref, modelOpts),
        CLIPVisionModelWithProjection.from_pretrained(ref, modelOpts),
        AutoConfig.from_pretrained(ref, common) as unknown as Promise<Record<string, unknown>>,
      ]);
    } catch (e) {
      const reason = reasonOf(e);
      if (opts.location.type === 'hub' || /not found|ENOENT|no such file/i.test(reason)) {
        throw notFound(opts.model, opts.looked, opts.config, opts.location.type === 'hub' ? opts.location.id : undefined, reason);
      }
      throw createError('MODEL_LOAD_FAILED', `Cannot load CLIP model "${opts.model}" from ${ref}: ${reason}`, { model: opts.model }, e);
    }
    const [tokenizer, processor, textModel, visionModel, modelConfig] = parts;
    const pre = (processor as unknown as { image_processor?: { config?: Record<string, unknown> } }).image_processor?.config ?? {};
    const size = pre.size as { shortest_edge?: number } | number | undefined;
    const shortestEdge = typeof size === 'number' ? size : (size?.shortest_edge ?? 224);
    const probe = await textModel(tokenizer(['a photo'], { padding: true, truncation: true }));
    const dimension = (probe.text_embeds as Tensor).dims[1]!;
    const dir = opts.location.type === 'local' ? opts.location.dir : path.join(opts.config.cacheDir, opts.location.id);
    const spec: EmbedderSpec = {
      id: `clip:${opts.location.type === 'hub' ? opts.location.id : path.basename(ref)}`,
      kind: 'clip',
      model: opts.model,
      revision: modelRevision(dir, CLIP_FILES),
      dimension,
      modalities: ['image', 'text'],
      preprocessing: {
        processor: pre.image_processor_type ?? pre.feature_extractor_type ?? 'CLIPImageProcessor',
        shortest_edge: shortestEdge,
        crop_size: pre.crop_size,
        resample: pre.resample,
        image_mean: pre.image_mean,
        image_std: pre.image_std,
        model_type: modelConfig.model_type,
      },
    };
    return new ClipEmbedder(spec, tokenizer, processor, textModel, visionModel, shortestEdge, opts.config.maxPixels);
  }

  async prepareImage(input: ImageInput): Promise<PreparedImage> {
    // Decode with lookalike's decoder (orientation, CMYK, alpha, limits) and shrink to the processor's
    // shortest edge with its bicubic kernel right away; the CLIP processor then only centre-crops and normalises.
    const img: DecodedImage = await decodeImage(input, {
      maxPixels: this.maxPixels,
      resize: { width: this.shortestEdge, height: this.shortestEdge, fit: 'outside', kernel: 'cubic' },
    });
    const raw = new RawImage(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength), img.width, img.height, 3);
    const { pixel_values } = (await this.processor(raw)) as { pixel_values: Tensor };
    return { data: pixel_values.data as Float32Array, dims: pixel_values.dims };
  }

  async embedPrepared(batch: readonly PreparedImage[]): Promise<Float32Array[]> {
    if (batch.length === 0) return [];
    const { data, dims } = stackPrepared(batch);
    const { image_embeds } = (await this.visionModel({ pixel_values: new Tensor('float32', data, dims) })) as {
      image_embeds: Tensor;
    };
    return splitRows(image_embeds.data as Float32Array, batch.length, this.dimension);
  }

  async embedImages(images: readonly ImageInput[]): Promise<Float32Array[]> {
    return this.embedPrepared(await Promise.all(images.map((i) => this.prepareImage(i))));
  }

  async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const inputs = this.tokenizer([...texts], { padding: true, truncation: true });
    const { text_embeds } = (await this.textModel(inputs)) as { text_embeds: Tensor };
    return splitRows(text_embeds.data as Float32Array, texts.length, this.dimension);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.textModel.dispose(), this.visionModel.dispose()]);
  }
}
