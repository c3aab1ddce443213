import {
  AutoConfig,
  AutoProcessor,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  RawImage,
  Tensor,
  type PreTrainedTokenizer,
  type Processor,
  type PreTrainedModel,
} from '@huggingface/transformers';
import type { Config } from '../config.js';
import { createError, reasonOf } from '../errors.js';
import { decodeImage, type DecodedImage } from '../image/decode.js';
import { BaseEmbedder } from './base.js';
import {
  cachedModelDir,
  cachedModelState,
  configureTransformers,
  hubEndpoint,
  hubFileUrl,
  markDownloadComplete,
  urlIn,
  watchDownloads,
  type DownloadProgressCallback,
  type FailedDownload,
  type HubConfig,
} from './hf.js';
import { modelRevision, notFound, type Resolution } from './resolve.js';
import { splitRows, stackPrepared, type EmbedderSpec, type ImageInput, type PreparedImage } from './types.js';

export interface ClipOptions {
  /** What the spec records as the model: the Hugging Face id, or the folder path. */
  readonly model: string;
  /** Embedder id: `clip:<hub id>` or `clip:<folder name>`. */
  readonly id: string;
  readonly resolution: Resolution;
  readonly config: HubConfig & Pick<Config, 'threads' | 'device' | 'maxPixels' | 'batchSize'>;
  /** Called as model files arrive (downloads only; nothing is reported for local or cached files). */
  readonly onDownloadProgress?: DownloadProgressCallback;
}

const CLIP_FILES = [
  'config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/text_model.onnx',
  'onnx/vision_model.onnx',
];

type Parts = [PreTrainedTokenizer, Processor, PreTrainedModel, PreTrainedModel, Record<string, unknown>];

/**
 * CLIP-family models (image and text towers into one space) through transformers.js: AutoTokenizer,
 * AutoProcessor, CLIPVisionModelWithProjection, CLIPTextModelWithProjection. Works with the standard
 * Hugging Face / transformers.js layout (`Xenova/clip-vit-base-patch32`), local or downloaded.
 */
export class ClipEmbedder extends BaseEmbedder {
  private constructor(
    readonly spec: EmbedderSpec,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly processor: Processor,
    private readonly textModel: PreTrainedModel,
    private readonly visionModel: PreTrainedModel,
    private readonly shortestEdge: number,
    private readonly maxPixels: number,
    protected override readonly maxBatch: number,
  ) {
    super();
  }

  static async load(opts: ClipOptions): Promise<ClipEmbedder> {
    const { location } = opts.resolution;
    const hubId = location.type === 'hub' ? location.id : undefined;
    const ref = location.type === 'hub' ? location.id : location.dir;
    await configureTransformers(opts.config);
    const common = { local_files_only: location.type === 'local', cache_dir: opts.config.cacheDir };
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
    const loadAll = async (failures: readonly FailedDownload[]): Promise<Parts> => {
      // allSettled: no download keeps writing into the cache after this returns, and no model is left loaded.
      const settled = await Promise.allSettled([
        AutoTokenizer.from_pretrained(ref, common),
        AutoProcessor.from_pretrained(ref, common),
        CLIPTextModelWithProjection.from_pretrained(ref, modelOpts),
        CLIPVisionModelWithProjection.from_pretrained(ref, modelOpts),
        AutoConfig.from_pretrained(ref, common) as unknown as Promise<Record<string, unknown>>,
      ]);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (!failed) return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as Parts;
      await Promise.all(
        [settled[2], settled[3]].map((r) => (r.status === 'fulfilled' ? (r.value as PreTrainedModel).dispose().catch(() => {}) : undefined)),
      );
      throw loadFailure(opts, ref, failed.reason, failures);
    };
    const [tokenizer, processor, textModel, visionModel, modelConfig] = hubId
      ? await watchDownloads(hubId, opts.config, opts.onDownloadProgress, loadAll)
      : await loadAll([]);
    const dir = hubId ? cachedModelDir(opts.config.cacheDir, hubId) : ref;
    if (hubId) {
      try {
        markDownloadComplete(dir, hubId, hubEndpoint(opts.config));
      } catch {
        // a read-only cache: the copy stays "incomplete" and is checked against the hub next time
      }
    }

    const pre = (processor as unknown as { image_processor?: { config?: Record<string, unknown> } }).image_processor?.config ?? {};
    const size = pre.size as { shortest_edge?: number } | number | undefined;
    const shortestEdge = typeof size === 'number' ? size : (size?.shortest_edge ?? 224);
    const probe = await textModel(tokenizer(['a photo'], { padding: true, truncation: true }));
    const dimension = (probe.text_embeds as Tensor).dims[1]!;
    const spec: EmbedderSpec = {
      id: opts.id,
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
    return new ClipEmbedder(spec, tokenizer, processor, textModel, visionModel, shortestEdge, opts.config.maxPixels, opts.config.batchSize);
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
    return splitRows(image_embeds.data as Float32Array, batch.length, this.spec.dimension);
  }

  async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const inputs = this.tokenizer([...texts], { padding: true, truncation: true });
    const { text_embeds } = (await this.textModel(inputs)) as { text_embeds: Tensor };
    return splitRows(text_embeds.data as Float32Array, texts.length, this.spec.dimension);
  }

  override async dispose(): Promise<void> {
    await Promise.all([this.textModel.dispose(), this.visionModel.dispose()]);
  }
}

/** Why a CLIP model did not load, as the error the user sees: what was tried, and what to do. */
function loadFailure(opts: ClipOptions, ref: string, e: unknown, failures: readonly FailedDownload[]): Error {
  const { resolution, config } = opts;
  const reason = reasonOf(e);
  const cut = failures[0];
  if (resolution.location.type === 'hub') {
    const id = resolution.location.id;
    const cache = cachedModelDir(config.cacheDir, id);
    const incomplete = cachedModelState(cache).state === 'incomplete' ? cache : undefined;
    const why = !cut
      ? reason
      : cut.stage === 'body'
        ? `the download of ${cut.file} stopped after ${cut.loaded}${cut.total ? ` of ${cut.total}` : ''} bytes: ${cut.reason}`
        : `no answer for ${cut.file}: ${cut.reason}`;
    let url = cut?.url ?? urlIn(reason);
    if (!url) {
      try {
        url = hubFileUrl(hubEndpoint(config), id, '');
      } catch {
        url = undefined;
      }
    }
    return notFound(opts.model, resolution.looked, config, {
      hubId: id,
      reason: why,
      ...(url ? { url } : {}),
      ...(incomplete ? { incompleteDir: incomplete } : {}),
    });
  }
  if (resolution.incompleteDownload) {
    return notFound(opts.model, resolution.looked, config, {
      ...(resolution.hubId ? { hubId: resolution.hubId } : {}),
      reason,
      incompleteDir: resolution.incompleteDownload,
    });
  }
  if (/not found|ENOENT|no such file|could not locate/i.test(reason)) return notFound(opts.model, resolution.looked, config, { reason });
  return createError('MODEL_LOAD_FAILED', `Cannot load CLIP model "${opts.model}" from ${ref}: ${reason}`, { model: opts.model }, e);
}
