import path from 'node:path';
import { resolveConfig, type Config } from '../config.js';
import { createError, reasonOf } from '../errors.js';
import { hubEndpoint, hubFileUrl, hubModelType, urlIn, watchDownloads, type DownloadProgressCallback } from './hf.js';
import { POOLINGS, type Pooling } from './pooling.js';
import { notFound, readJson, resolveModel, type Resolution } from './resolve.js';
import type { Embedder, EmbedderSpec } from './types.js';

export type { DownloadProgress, DownloadProgressCallback } from './hf.js';

/** Options for loading an embedder (`loadEmbedder`, and the library's collection options, which extend them). */
export interface EmbedderOptions {
  /** ViT-style models: CLS token (default) or mean of all tokens; CNNs: average (default), `gem` or `max` pooling. */
  readonly pooling?: Pooling;
  /**
   * Called while model files are downloaded from the Hugging Face hub (or `LOOKALIKE_HF_ENDPOINT`), per file as
   * bytes arrive and once when it is complete. Not called for local or already cached models.
   */
  readonly onDownloadProgress?: DownloadProgressCallback;
  /**
   * `false`: the model name is never taken as a filesystem path, only as a built-in name or a Hugging Face id
   * (resolved in the model folders, the cache or the hub). The HTTP server sets it for names from requests.
   */
  readonly allowPaths?: boolean;
}

interface LoadContext {
  readonly config: Config;
  readonly options: EmbedderOptions;
  /** The stored spec, when re-creating a collection's embedder. */
  readonly stored?: EmbedderSpec;
}

/** A built-in name for a model with files: `folder` is looked up in the model paths, `hub` is a Hugging Face id. */
export interface BuiltinModel {
  readonly name: string;
  readonly kind: string;
  readonly description: string;
  readonly folder?: string;
  readonly hub?: string;
}

/** An embedding method computed from pixels alone: `name`, or `name:param` (`color-histogram:16x4x4`). */
interface PixelFamily {
  readonly kind: string;
  readonly from: 'pixels';
  readonly description: string;
  /** The form of `name:param`, when it takes one (`HxSxV`, `N`, `K`). */
  readonly parameter?: string;
  /** Build it; `ctx.stored` carries what a learning method learnt (it is re-created from `spec.model` + that). */
  create(param: string | undefined, ctx: LoadContext): Promise<Embedder>;
}

/** Models with files (a Hugging Face-layout folder, or a hub id), chosen by their `config.json` `model_type`. */
interface ModelFamily {
  readonly kind: string;
  readonly from: 'model';
  /** Built-in names of this family, with where their files are. */
  readonly builtins: readonly Omit<BuiltinModel, 'kind'>[];
  /** `model_type` values this family loads; `'*'` = every type no other family claims. */
  readonly modelTypes: readonly string[] | '*';
  load(res: Resolution, ctx: LoadContext): Promise<Embedder>;
  /** Loading options that a stored spec implies (re-creating a collection's embedder from `spec.model`). */
  optionsFromSpec?(spec: EmbedderSpec): EmbedderOptions;
}

type EmbedderFamily = PixelFamily | ModelFamily;

/**
 * Every embedding method, one entry each, keyed by `EmbedderSpec.kind`: its names, description, how to create
 * it, and how to re-create it from a stored spec. Adding a method = adding an entry here (and its class).
 * `listModels()`, `--model` parsing and the built-in names in model resolution all derive from this table.
 */
const FAMILIES: readonly EmbedderFamily[] = [
  {
    kind: 'color-histogram',
    from: 'pixels',
    description: 'HSV colour histogram, 8x4x4 bins (color-histogram:HxSxV for others), Hellinger-normalised',
    parameter: 'HxSxV',
    create: async (param, { config }) => new (await import('./color-histogram.js')).ColorHistogramEmbedder(param, config),
  },
  {
    kind: 'pixels',
    from: 'pixels',
    description: 'raw pixels resized to 16x16 RGB (pixels:N for NxN), mean-centred — the naive baseline',
    parameter: 'N',
    create: async (param, { config }) => new (await import('./pixels.js')).PixelsEmbedder(param, config),
  },
  {
    kind: 'phash',
    from: 'pixels',
    description: 'DCT perceptual hash, 64 bits as a ±1 vector (cosine order = Hamming order), for near-duplicates',
    create: async (param, { config }) => {
      if (param) throw createError('INVALID_ARGUMENT', `Model "phash" takes no parameter (got "phash:${param}").`);
      return new (await import('./phash.js')).PhashEmbedder(config);
    },
  },
  {
    kind: 'bovw-orb',
    from: 'pixels',
    description:
      'bag of visual words over ORB keypoints (OpenCV.js), vocabulary of 256 words (bovw-orb:K) learnt from the collection, tf-idf',
    parameter: 'K',
    create: async (param, { config, stored }) => new (await import('./bovw-orb.js')).BovwOrbEmbedder(param, config, stored),
  },
  {
    kind: 'onnx-image',
    from: 'model',
    builtins: [
      { name: 'mobilenet-v1', folder: 'mobilenet-v1-imagenet', description: 'ImageNet MobileNet v1 features (1024-d), bundled with lookalike' },
    ],
    modelTypes: '*',
    load: async (res, { config, options }) => {
      if (res.location.type !== 'local') {
        throw notFound(res.name, res.looked, config, {
          hubId: res.location.id,
          reason: 'only CLIP-family models are downloaded; put image models in a folder (see docs/models.md)',
        });
      }
      const { OnnxImageEmbedder } = await import('./onnx-image.js');
      return OnnxImageEmbedder.load(res.location.dir, {
        model: res.builtin?.name ?? res.location.dir,
        ...(res.builtin ? { id: res.builtin.name } : {}),
        ...(options.pooling ? { pooling: options.pooling } : {}),
        config,
      });
    },
    optionsFromSpec: (spec) => {
      const pooling = spec.preprocessing.pooling;
      return typeof pooling === 'string' && (POOLINGS as readonly string[]).includes(pooling) ? { pooling: pooling as Pooling } : {};
    },
  },
  {
    kind: 'clip',
    from: 'model',
    builtins: [
      {
        name: 'clip-vit-base-patch32',
        hub: 'Xenova/clip-vit-base-patch32',
        description: 'OpenAI CLIP ViT-B/32 (512-d, image + text), downloaded from the Hugging Face hub on first use',
      },
    ],
    modelTypes: ['clip', 'chinese_clip', 'siglip'],
    load: async (res, { config, options }) => {
      const { ClipEmbedder } = await import('./clip.js');
      // One id and model per hub id, whether it is downloaded now, cached, or in LOOKALIKE_MODELS.
      const folder = res.location.type === 'local' ? res.location.dir : undefined;
      return ClipEmbedder.load({
        model: res.hubId ?? folder!,
        id: `clip:${res.hubId ?? path.basename(folder!)}`,
        resolution: res,
        config,
        ...(options.onDownloadProgress ? { onDownloadProgress: options.onDownloadProgress } : {}),
      });
    },
  },
];

const BY_KIND = new Map(FAMILIES.map((f) => [f.kind, f]));
const BUILTINS = new Map<string, BuiltinModel>(
  FAMILIES.flatMap((f) => (f.from === 'model' ? f.builtins.map((b) => [b.name, { ...b, kind: f.kind }] as const) : [])),
);

/** The built-in model (with files) called `name`, if any. */
export function builtinModel(name: string): BuiltinModel | undefined {
  return BUILTINS.get(name);
}

/** Every built-in name `--model` accepts, in listing order. */
export function builtinNames(): string[] {
  return listModels().map((m) => m.name);
}

export interface ModelListing {
  readonly name: string;
  /** The family (`EmbedderSpec.kind`). */
  readonly kind: string;
  readonly description: string;
  /** Present when the name takes a parameter, `name:<parameter>` (`color-histogram:16x4x4`). */
  readonly parameter?: string;
}

/** What `lookalike models` prints: every built-in name, derived from the registry. */
export function listModels(): ModelListing[] {
  return FAMILIES.flatMap((f): ModelListing[] =>
    f.from === 'pixels'
      ? [{ name: f.kind, kind: f.kind, description: f.description, ...(f.parameter ? { parameter: f.parameter } : {}) }]
      : f.builtins.map((b) => ({ name: b.name, kind: f.kind, description: b.description })),
  );
}

function modelFamilyFor(modelType: unknown): ModelFamily {
  const models = FAMILIES.filter((f): f is ModelFamily => f.from === 'model');
  return (
    models.find((f) => f.modelTypes !== '*' && typeof modelType === 'string' && f.modelTypes.includes(modelType)) ??
    models.find((f) => f.modelTypes === '*')!
  );
}

async function detectFamily(res: Resolution, { config, options }: LoadContext): Promise<ModelFamily> {
  if (res.builtin) return BY_KIND.get(res.builtin.kind) as ModelFamily;
  if (res.location.type === 'local') return modelFamilyFor(readJson(path.join(res.location.dir, 'config.json')).model_type);
  const id = res.location.id;
  try {
    return modelFamilyFor(await watchDownloads(id, config, options.onDownloadProgress, () => hubModelType(id, config)));
  } catch (e) {
    const reason = reasonOf(e);
    let url = urlIn(reason);
    try {
      url ??= hubFileUrl(hubEndpoint(config), id, 'config.json');
    } catch {
      // invalid endpoint: the reason says so
    }
    throw notFound(res.name, res.looked, config, {
      hubId: id,
      reason,
      ...(url ? { url } : {}),
      ...(res.incompleteDownload ? { incompleteDir: res.incompleteDownload } : {}),
    });
  }
}

function splitParam(model: string): [string, string | undefined] {
  const i = model.indexOf(':');
  if (i <= 0 || model.includes('/') || model.includes('\\')) return [model, undefined];
  return [model.slice(0, i), model.slice(i + 1)];
}

async function load(model: string, ctx: LoadContext): Promise<Embedder> {
  const [base, param] = splitParam(model);
  const pixels = BY_KIND.get(base);
  if (pixels?.from === 'pixels') return await pixels.create(param, ctx);
  const res = resolveModel(model, ctx.config, { allowPaths: ctx.options.allowPaths ?? true });
  return (await detectFamily(res, ctx)).load(res, ctx);
}

/**
 * Load an embedder from a built-in name (`mobilenet-v1`, `color-histogram:16x4x4`), a Hugging Face id
 * (`Xenova/clip-vit-base-patch32`) or a folder path. Throws `MODEL_NOT_FOUND` naming every place it looked (and
 * the URL it tried) when the files are not there.
 */
export async function loadEmbedder(
  model: string,
  config: Partial<Config> = {},
  opts: EmbedderOptions = {},
  stored?: EmbedderSpec,
): Promise<Embedder> {
  return load(model, { config: resolveConfig(config), options: opts, ...(stored ? { stored } : {}) });
}

/** Re-create the embedder a collection was built with (by its family), and check that its files have not changed. */
export async function loadEmbedderForSpec(spec: EmbedderSpec, config: Partial<Config> = {}, opts: EmbedderOptions = {}): Promise<Embedder> {
  const family = BY_KIND.get(spec.kind);
  if (!family) {
    throw createError(
      'UNKNOWN_MODEL',
      `The collection was built with embedder kind "${spec.kind}" (${spec.id}), which this version of lookalike does not have ` +
        `(known: ${[...BY_KIND.keys()].join(', ')}).`,
      { kind: spec.kind },
    );
  }
  const cfg = resolveConfig(config);
  let embedder: Embedder;
  if (family.from === 'pixels') {
    embedder = await family.create(splitParam(spec.model)[1], { config: cfg, options: opts, stored: spec });
  } else {
    const options = { ...family.optionsFromSpec?.(spec), ...opts };
    embedder = await family.load(resolveModel(spec.model, cfg), { config: cfg, options, stored: spec });
  }
  try {
    assertCompatible(spec, embedder.spec);
  } catch (e) {
    await embedder.dispose();
    throw e;
  }
  return embedder;
}

/**
 * Same embedder id. CLIP models loaded from a folder named after their hub id were recorded as `clip:<name>`
 * before hub ids were kept whole (`clip:<owner>/<name>`); both name the same model (the revision still decides).
 */
function sameId(expected: string, actual: string): boolean {
  if (expected === actual) return true;
  const tail = (id: string) => id.slice(id.lastIndexOf('/') + 1);
  return expected.startsWith('clip:') && actual.startsWith('clip:') && tail(expected.slice(5)) === tail(actual.slice(5));
}

/** Throws `EMBEDDER_MISMATCH` unless `actual` produces vectors comparable with `expected`'s. */
export function assertCompatible(expected: EmbedderSpec, actual: EmbedderSpec, collection?: string): void {
  const where = collection ? `Collection "${collection}"` : 'The collection';
  if (!sameId(expected.id, actual.id) || expected.dimension !== actual.dimension) {
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
