import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { PACKAGE_MODELS_DIR } from '../config.js';
import { createError } from '../errors.js';

/** A model, found: either a local folder in the Hugging Face layout or a hub id to download. */
export type ModelLocation =
  | { readonly type: 'local'; readonly dir: string }
  | { readonly type: 'hub'; readonly id: string };

/** Built-in names. `folder` is looked up in the model paths (and the package's `models/`); `hub` is a HF id. */
export interface RegistryModel {
  readonly kind: 'onnx-image' | 'clip';
  readonly description: string;
  readonly folder?: string;
  readonly hub?: string;
}

export const MODEL_REGISTRY: Readonly<Record<string, RegistryModel>> = {
  'mobilenet-v1': {
    kind: 'onnx-image',
    folder: 'mobilenet-v1-imagenet',
    description: 'ImageNet MobileNet v1 features (1024-d), bundled with lookalike',
  },
  'clip-vit-base-patch32': {
    kind: 'clip',
    hub: 'Xenova/clip-vit-base-patch32',
    description: 'OpenAI CLIP ViT-B/32 (512-d, image + text), downloaded from the Hugging Face hub on first use',
  },
};

const HF_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function isHubId(name: string): boolean {
  return HF_ID.test(name) && !name.startsWith('.') && !name.includes('..');
}

function isModelDir(dir: string): boolean {
  try {
    return fs.statSync(path.join(dir, 'config.json')).isFile();
  } catch {
    return false;
  }
}

export interface Resolution {
  readonly name: string;
  readonly location: ModelLocation;
  readonly registry?: RegistryModel;
  /** Every place that was checked, in order (reported when nothing is found). */
  readonly looked: readonly string[];
}

/**
 * Resolve `--model`: registry id → existing folder path → `LOOKALIKE_MODELS` folders → download cache → hub.
 * Never touches the network; a `hub` result means "download when loading" (only if downloads are allowed).
 */
export function resolveModel(name: string, config: Pick<Config, 'modelPaths' | 'cacheDir' | 'allowDownloads'>): Resolution {
  if (name.trim() === '') throw createError('INVALID_ARGUMENT', 'model name is empty');
  const looked: string[] = [];
  const searchDirs = [...config.modelPaths.map((p) => path.resolve(p)), PACKAGE_MODELS_DIR];
  const findIn = (candidates: string[]): string | undefined => {
    for (const c of candidates) {
      looked.push(c);
      if (isModelDir(c)) return c;
    }
    return undefined;
  };

  const registry = MODEL_REGISTRY[name];
  if (registry) {
    if (registry.folder) {
      const dir = findIn(searchDirs.map((d) => path.join(d, registry.folder!)));
      if (dir) return { name, location: { type: 'local', dir }, registry, looked };
    }
    if (registry.hub) return resolveHub(registry.hub, name, registry);
    throw notFound(name, looked, config);
  }

  // An explicit path: absolute, ./relative, or any existing folder.
  const asPath = path.resolve(name);
  if (path.isAbsolute(name) || name.startsWith('.') || fs.existsSync(asPath)) {
    looked.push(asPath);
    if (isModelDir(asPath)) return { name: asPath, location: { type: 'local', dir: asPath }, looked };
    if (!isHubId(name)) throw notFound(name, looked, config);
  }

  if (isHubId(name)) return resolveHub(name, name);
  throw createError(
    'UNKNOWN_MODEL',
    `Unknown model "${name}". Use a built-in name (${Object.keys(MODEL_REGISTRY).join(', ')}), a folder in the ` +
      `Hugging Face layout (config.json + onnx/*.onnx), or a Hugging Face id such as Xenova/clip-vit-base-patch32.`,
    { model: name },
  );

  function resolveHub(id: string, asked: string, reg?: RegistryModel): Resolution {
    const base = id.split('/').pop()!;
    const local = findIn([
      ...searchDirs.flatMap((d) => [path.join(d, id), path.join(d, base)]),
      path.join(config.cacheDir, id),
    ]);
    if (local) return { name: id, location: { type: 'local', dir: local }, ...(reg ? { registry: reg } : {}), looked };
    if (!config.allowDownloads) throw notFound(asked, looked, config, id);
    return { name: id, location: { type: 'hub', id }, ...(reg ? { registry: reg } : {}), looked };
  }
}

export function notFound(
  name: string,
  looked: readonly string[],
  config: Pick<Config, 'cacheDir' | 'allowDownloads'>,
  hubId?: string,
  reason?: string,
): Error {
  const lines = [
    `Model "${name}" not found${reason ? ` (${reason})` : ''}.`,
    `Looked in:`,
    ...looked.map((l) => `  - ${l}`),
  ];
  if (hubId) {
    lines.push(
      config.allowDownloads
        ? `Downloading it from the Hugging Face hub into ${config.cacheDir} failed.`
        : `Downloads are off (LOOKALIKE_OFFLINE / HF_HUB_OFFLINE).`,
      `To use it offline, copy the model folder (config.json, preprocessor_config.json, tokenizer files, onnx/*.onnx) ` +
        `from a machine with network access, e.g. \`git clone https://huggingface.co/${hubId}\`, into a folder listed ` +
        `in LOOKALIKE_MODELS (as ${hubId} or ${hubId.split('/').pop()}), or pass its path with --model.`,
    );
  } else {
    lines.push(
      'Pass a folder in the Hugging Face layout (config.json + onnx/model.onnx) with --model, or add its parent folder to LOOKALIKE_MODELS.',
    );
  }
  return createError('MODEL_NOT_FOUND', lines.join('\n'), { model: name, looked });
}

/** Fingerprint of a local model folder: the JSON configs' contents and the ONNX files' names and sizes. */
export function modelRevision(dir: string, files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    const p = path.join(dir, f);
    if (!fs.existsSync(p)) continue;
    h.update(f);
    if (f.endsWith('.json')) h.update(fs.readFileSync(p));
    else h.update(String(fs.statSync(p).size));
  }
  return h.digest('hex').slice(0, 16);
}

export function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw createError('MODEL_LOAD_FAILED', `Cannot read ${file}: ${(e as Error).message}`, { file }, e);
  }
}
