import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { PACKAGE_MODELS_DIR } from '../config.js';
import { createError } from '../errors.js';
import { cachedModelDir, cachedModelState, hubEndpoint } from './hf.js';
import { builtinModel, builtinNames, type BuiltinModel } from './registry.js';

/** A model, found: either a local folder in the Hugging Face layout or a hub id to download. */
export type ModelLocation =
  | { readonly type: 'local'; readonly dir: string }
  | { readonly type: 'hub'; readonly id: string };

/** @deprecated Built-in names now live in the embedder registry (`./registry.ts`); kept for existing imports. */

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
  /** The built-in model `name` stands for. */
  readonly builtin?: BuiltinModel;
  /** The Hugging Face id the model was asked for by (directly or through a built-in alias), found locally or not. */
  readonly hubId?: string;
  /** The cache folder of an interrupted download this resolution resumes (hub) or uses as it is (downloads off). */
  readonly incompleteDownload?: string;
  /** Every place that was checked, in order (reported when nothing is found). */
  readonly looked: readonly string[];
}

type ResolveConfig = Pick<Config, 'modelPaths' | 'cacheDir' | 'allowDownloads'> & { readonly hubEndpoint?: string };

/**
 * Resolve `--model`: built-in name → existing folder path → `LOOKALIKE_MODELS` folders → download cache → hub.
 * Never touches the network; a `hub` result means "download when loading" (only if downloads are allowed). A
 * cached download counts only once complete (see `DOWNLOAD_MARKER`); an interrupted one is resumed.
 */
export function resolveModel(name: string, config: ResolveConfig, opts: { readonly allowPaths?: boolean } = {}): Resolution {
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

  const builtin = builtinModel(name);
  if (builtin) {
    if (builtin.folder) {
      const dir = findIn(searchDirs.map((d) => path.join(d, builtin.folder!)));
      if (dir) return { name, location: { type: 'local', dir }, builtin, looked };
    }
    if (builtin.hub) return resolveHub(builtin.hub, name, builtin);
    throw notFound(name, looked, config);
  }

  // An explicit path: absolute, ./relative, or any existing folder (unless paths are off: names from HTTP requests).
  const asPath = path.resolve(name);
  if (opts.allowPaths === false) {
    if (!isHubId(name)) throw createError('UNKNOWN_MODEL', `Unknown model "${name}": use a built-in name or a Hugging Face id.`, { model: name });
  } else if (path.isAbsolute(name) || name.startsWith('.') || fs.existsSync(asPath)) {
    looked.push(asPath);
    if (isModelDir(asPath)) return { name: asPath, location: { type: 'local', dir: asPath }, looked };
    if (!isHubId(name)) throw notFound(name, looked, config);
  }

  if (isHubId(name)) return resolveHub(name, name);
  throw createError(
    'UNKNOWN_MODEL',
    `Unknown model "${name}". Use a built-in name (${builtinNames().join(', ')}), a folder in the ` +
      `Hugging Face layout (config.json + onnx/*.onnx), or a Hugging Face id such as Xenova/clip-vit-base-patch32.`,
    { model: name },
  );

  function resolveHub(id: string, asked: string, reg?: BuiltinModel): Resolution {
    const base = id.split('/').pop()!;
    const found = (dir: string): Resolution => ({ name: id, location: { type: 'local', dir }, hubId: id, ...(reg ? { builtin: reg } : {}), looked });
    const hub = (): Resolution => ({ name: id, location: { type: 'hub', id }, hubId: id, ...(reg ? { builtin: reg } : {}), looked });
    const local = findIn(searchDirs.flatMap((d) => [path.join(d, id), path.join(d, base)]));
    if (local) return found(local);
    const cached = cachedModelDir(config.cacheDir, id);
    looked.push(cached);
    const state = cachedModelState(cached);
    switch (state.state) {
      case 'complete':
        return found(cached);
      case 'damaged':
        throw createError(
          'MODEL_NOT_FOUND',
          `The downloaded copy of model "${id}" in ${cached} is damaged: ${state.file} is ` +
            `${state.actual === undefined ? 'missing' : `${state.actual} bytes`}, expected ${state.expected} bytes. ` +
            `Delete the folder ${cached} and run again to download it anew.`,
          { model: asked, looked, delete: cached },
        );
      case 'incomplete':
        if (config.allowDownloads) return { ...hub(), incompleteDownload: cached }; // resume: finished files are reused
        // Downloads are off: use what is there (copies cached before the marker existed); if files are missing,
        // loading fails with a message naming the folder to delete.
        if (isModelDir(cached)) return { ...found(cached), incompleteDownload: cached };
        throw notFound(asked, looked, config, { hubId: id, incompleteDir: cached });
      case 'absent':
        if (!config.allowDownloads) throw notFound(asked, looked, config, { hubId: id });
        return hub();
    }
  }
}

export interface NotFoundDetails {
  /** The Hugging Face id it would be (or was) downloaded as. */
  readonly hubId?: string;
  /** Why loading or downloading failed (one line). */
  readonly reason?: string;
  /** The URL that was tried. */
  readonly url?: string;
  /** The cache folder holding an interrupted download. */
  readonly incompleteDir?: string;
}

export function notFound(
  name: string,
  looked: readonly string[],
  config: Pick<Config, 'cacheDir' | 'allowDownloads'> & { readonly hubEndpoint?: string },
  more: NotFoundDetails = {},
): Error {
  const { hubId, reason, url, incompleteDir } = more;
  const lines = [`Model "${name}" not found${reason ? ` (${reason.replace(/\.+$/, '')})` : ''}.`, `Looked in:`, ...looked.map((l) => `  - ${l}`)];
  if (hubId) {
    let endpoint: string;
    try {
      endpoint = hubEndpoint(config);
    } catch {
      endpoint = '(invalid LOOKALIKE_HF_ENDPOINT / HF_ENDPOINT)';
    }
    if (config.allowDownloads) {
      lines.push(
        `Downloading it from ${endpoint} into ${config.cacheDir} failed${url ? `; tried ${url}` : ''}. ` +
          `(A mirror of the hub can be set with LOOKALIKE_HF_ENDPOINT or HF_ENDPOINT.)`,
      );
    } else {
      lines.push(`Downloads are off (LOOKALIKE_OFFLINE / HF_HUB_OFFLINE).`);
    }
    if (incompleteDir) {
      lines.push(
        `An interrupted download of it is in ${incompleteDir} (files that arrived completely are kept; partial files never are). ` +
          `Run again with the hub reachable to finish it, or delete the folder ${incompleteDir} to start over.`,
      );
    }
    lines.push(
      `To use it offline, copy the model folder (config.json, preprocessor_config.json, tokenizer files, onnx/*.onnx) ` +
        `from a machine with network access, e.g. \`git clone https://huggingface.co/${hubId}\`, into a folder listed ` +
        `in LOOKALIKE_MODELS (as ${hubId} or ${hubId.split('/').pop()}), or pass its path with --model.`,
    );
  } else {
    lines.push(
      'Pass a folder in the Hugging Face layout (config.json + onnx/model.onnx) with --model, or add its parent folder to LOOKALIKE_MODELS.',
    );
  }
  return createError('MODEL_NOT_FOUND', lines.join('\n'), {
    model: name,
    looked,
    ...(url ? { url } : {}),
    ...(incompleteDir ? { delete: incompleteDir } : {}),
  });
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
