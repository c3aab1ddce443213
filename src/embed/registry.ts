import { AutoConfig, env as hfEnv } from '@huggingface/transformers';
import path from 'node:path';
import { resolveConfig, type Config } from '../config.js';
import { createError, reasonOf } from '../errors.js';
import { BovwOrbEmbedder } from './bovw-orb.js';
import { ClipEmbedder } from './clip.js';
import { ColorHistogramEmbedder } from './color-histogram.js';
import { PhashEmbedder } from './phash.js';
import { PixelsEmbedder } from './pixels.js';
import { OnnxImageEmbedder, type Pooling } from './onnx-image.js';
import { MODEL_REGISTRY, notFound, readJson, resolveModel, type Resolution } from './resolve.js';
import type { Embedder, EmbedderSpec } from './types.js';

export interface EmbedderOptions {
  /** ViT-style models: CLS token (default) or mean of all tokens. */
  readonly pooling?: Pooling;
}

type Factory = (res: Resolution, config: Config, opts: EmbedderOptions) => Promise<Embedder>;

/** Embedder families by `EmbedderSpec.kind`. New methods register here. */
const FACTORIES: Record<string, Factory> = {
  'onnx-image': async (res, config, opts) => {
    if (res.location.type !== 'local') throw notFound(res.name, res.looked, config);
    const builtin = MODEL_REGISTRY[res.name] ? res.name : undefined;
    return OnnxImageEmbedder.load(res.location.dir, {
      model: builtin ?? res.location.dir,
      ...(builtin ? { id: builtin } : {}),
      ...(opts.pooling ? { pooling: opts.pooling } : {}),
      config,
    });
  },
  clip: async (res, config) =>
    ClipEmbedder.load({
      model: res.location.type === 'local' && !res.registry ? res.location.dir : res.name,
      location: res.location,
      looked: res.looked,
      config,
    }),
};

/**
 * Embedders computed from pixels alone (no model files), by name; `name:param` passes a parameter
 * (`color-histogram:16x4x4`, `pixels:32`).
 */
const PIXEL_EMBEDDERS: Record<
  string,
  { description: string; create: (param: string | undefined, config: Config, stored?: EmbedderSpec) => Embedder }
> = {
  'color-histogram': {
    description: 'HSV colour histogram, 8x4x4 bins (color-histogram:HxSxV for others), Hellinger-normalised',
    create: (param, config) => new ColorHistogramEmbedder(param, config),
  },
  pixels: {
    description: 'raw pixels resized to 16x16 RGB (pixels:N for NxN), mean-centred — the naive baseline',
    create: (param, config) => new PixelsEmbedder(param, config),
  },
  phash: {
    description: 'DCT perceptual hash, 64 bits as a ±1 vector (cosine order = Hamming order), for near-duplicates',
    create: (param, config) => {
      if (param) throw createError('INVALID_ARGUMENT', `Model "phash" takes no parameter (got "phash:${param}").`);
      return new PhashEmbedder(config);
    },
  },
  'bovw-orb': {
    description: 'bag of visual words over ORB keypoints (OpenCV.js), vocabulary of 256 words (bovw-orb:K) learnt from the collection, tf-idf',
    create: (param, config, stored) => new BovwOrbEmbedder(param, config, stored),
  },
};

const TEXT_IMAGE_MODEL_TYPES = new Set(['clip', 'chinese_clip', 'siglip']);

async function detectKind(res: Resolution, config: Config): Promise<string> {
  if (res.registry) return res.registry.kind;
  let modelType: unknown;
  if (res.location.type === 'local') {
    modelType = readJson(path.join(res.location.dir, 'config.json')).model_type;
  } else {
    hfEnv.cacheDir = config.cacheDir;
    hfEnv.allowRemoteModels = true;
    try {
      const cfg = (await withTimeout(
        AutoConfig.from_pretrained(res.location.id, { cache_dir: config.cacheDir }),
        config.downloadTimeoutMs,
      )) as unknown as { model_type?: string };
      modelType = cfg.model_type;
    } catch (e) {
      throw notFound(res.name, res.looked, config, res.location.id, reasonOf(e));
    }
  }
  return typeof modelType === 'string' && TEXT_IMAGE_MODEL_TYPES.has(modelType) ? 'clip' : 'onnx-image';
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });
}

/**
 * Load an embedder from a registry id (`mobilenet-v1`), a Hugging Face id (`Xenova/clip-vit-base-patch32`) or a
 * folder path. Throws `MODEL_NOT_FOUND` naming every place it looked when the files are not there.
 */
export async function loadEmbedder(
  model: string,
  config: Partial<Config> = {},
  opts: EmbedderOptions = {},
  stored?: EmbedderSpec,
): Promise<Embedder> {
  const cfg = resolveConfig(config);
  const [base, param] = splitParam(model);
  const pixel = PIXEL_EMBEDDERS[base];
  if (pixel) return pixel.create(param, cfg, stored);
  const res = resolveModel(model, cfg);
  const kind = await detectKind(res, cfg);
  const factory = FACTORIES[kind];
  if (!factory) throw createError('UNKNOWN_MODEL', `No embedder implementation for kind "${kind}"`);
  return factory(res, cfg, opts);
}

/** Re-create the embedder a collection was built with, and check that its files have not changed. */
export async function loadEmbedderForSpec(spec: EmbedderSpec, config: Partial<Config> = {}): Promise<Embedder> {
  const pooling = spec.preprocessing.pooling;
  const embedder = await loadEmbedder(spec.model, config, pooling === 'mean' || pooling === 'cls' ? { pooling } : {}, spec);
  try {
    assertCompatible(spec, embedder.spec);
  } catch (e) {
    await embedder.dispose();
    throw e;
  }
  return embedder;
}

/** Throws `EMBEDDER_MISMATCH` unless `actual` produces vectors comparable with `expected`'s. */
export function assertCompatible(expected: EmbedderSpec, actual: EmbedderSpec, collection?: string): void {
  const where = collection ? `Collection "${collection}"` : 'The collection';
  if (expected.id !== actual.id || expected.dimension !== actual.dimension) {
    throw createError(
      'EMBEDDER_MISMATCH',
      `${where} was built with embedder "${expected.id}" (${expected.dimension}-d), not "${actual.id}" ` +
        `(${actual.dimension}-d). Use --model ${expected.model} (or leave --model out), or index into a new collection.`,
      { expected: expected.id, actual: actual.id },
    );
  }
  if (expected.revision !== actual.revision) {
    throw createError(
      'EMBEDDER_MISMATCH',
      `${where} was built with a different version of model "${expected.model}" (revision ${expected.revision}, ` +
        `found ${actual.revision}). Restore the original model files, or re-index into a new collection.`,
      { expected: expected.revision, actual: actual.revision },
    );
  }
}

function splitParam(model: string): [string, string | undefined] {
  const i = model.indexOf(':');
  if (i <= 0 || model.includes('/') || model.includes('\\')) return [model, undefined];
  return [model.slice(0, i), model.slice(i + 1)];
}

export function listModels(): { name: string; description: string }[] {
  return [
    ...Object.entries(MODEL_REGISTRY).map(([name, m]) => ({ name, description: m.description })),
    ...Object.entries(PIXEL_EMBEDDERS).map(([name, m]) => ({ name, description: m.description })),
  ];
}
