/**
 * Everything about the Hugging Face hub and transformers.js's global `env`, in one place: where models are
 * downloaded from (`LOOKALIKE_HF_ENDPOINT` / `HF_ENDPOINT`), where they are cached, whether downloads are allowed,
 * request timeouts, download progress, and how a download is known to be complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { createError } from '../errors.js';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** What the hub code needs from the Config (`hubEndpoint` defaults from `LOOKALIKE_HF_ENDPOINT` / `HF_ENDPOINT`). */
export type HubConfig = Pick<Config, 'cacheDir' | 'allowDownloads' | 'downloadTimeoutMs'> & { readonly hubEndpoint?: string };

/**
 * The hub (or mirror) models are downloaded from, without a trailing slash: `config.hubEndpoint`, else
 * `LOOKALIKE_HF_ENDPOINT`, else `HF_ENDPOINT` (the variable huggingface_hub reads), else https://huggingface.co.
 * It must serve the hub's layout: `{endpoint}/{owner}/{name}/resolve/{revision}/{file}`.
 */
export function hubEndpoint(config: Partial<HubConfig> = {}, env: NodeJS.ProcessEnv = process.env): string {
  const [source, raw] =
    config.hubEndpoint !== undefined && config.hubEndpoint !== ''
      ? ['hubEndpoint', config.hubEndpoint]
      : env.LOOKALIKE_HF_ENDPOINT
        ? ['LOOKALIKE_HF_ENDPOINT', env.LOOKALIKE_HF_ENDPOINT]
        : env.HF_ENDPOINT
          ? ['HF_ENDPOINT', env.HF_ENDPOINT]
          : ['default', DEFAULT_HUB_ENDPOINT];
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw createError(
      'INVALID_ARGUMENT',
      `${source}="${raw}" is not a hub address: give an http(s) URL such as ${DEFAULT_HUB_ENDPOINT} or a mirror that serves ` +
        `{owner}/{name}/resolve/{revision}/{file}.`,
      { field: source },
    );
  }
  return raw.replace(/\/+$/, '');
}

/** The URL of one file of a hub repository, as transformers.js requests it. */
export function hubFileUrl(endpoint: string, id: string, file: string, revision = 'main'): string {
  return `${endpoint}/${id}/resolve/${encodeURIComponent(revision)}/${file}`;
}

/**
 * Set transformers.js's global `env` from the config. The only place that writes it: every loader calls this
 * right before calling transformers.js (the settings are process-wide, so the last config wins; per-call
 * options — `cache_dir`, `local_files_only` — carry what differs between calls).
 */
/** transformers.js, loaded on first use (it takes a noticeable part of a second to import: only CLIP needs it). */
async function transformers(): Promise<typeof import('@huggingface/transformers')> {
  return import('@huggingface/transformers');
}

export async function configureTransformers(config: HubConfig): Promise<void> {
  const { env: hfEnv } = await transformers();
  hfEnv.cacheDir = config.cacheDir;
  hfEnv.useFSCache = true;
  hfEnv.useBrowserCache = false;
  hfEnv.allowLocalModels = true;
  hfEnv.allowRemoteModels = config.allowDownloads;
  hfEnv.remoteHost = `${hubEndpoint(config)}/`;
  hfEnv.remotePathTemplate = '{model}/resolve/{revision}/';
  hfEnv.fetch = (input: string | URL, init?: RequestInit) => hubFetch(input, init, config.downloadTimeoutMs);
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

/** One file being downloaded: reported to `onDownloadProgress` as bytes arrive, and once more when complete. */
export interface DownloadProgress {
  /** Hugging Face id of the model (`Xenova/clip-vit-base-patch32`). */
  readonly model: string;
  /** The file inside the repository (`onnx/vision_model.onnx`). */
  readonly file: string;
  readonly url: string;
  /** Bytes received so far. */
  readonly loaded: number;
  /** Size the server announced (Content-Length), when it did. */
  readonly total: number | undefined;
  /** True on the last report of a file, once it has arrived completely. */
  readonly done: boolean;
}

export type DownloadProgressCallback = (progress: DownloadProgress) => void;

/** A file whose download failed: no response (`request`), or cut off while its body arrived (`body`). */
export interface FailedDownload {
  readonly stage: 'request' | 'body';
  readonly file: string;
  readonly url: string;
  readonly loaded: number;
  readonly total: number | undefined;
  readonly reason: string;
}

interface Scope {
  readonly prefix: string;
  readonly model: string;
  readonly onProgress: DownloadProgressCallback | undefined;
  readonly failures: FailedDownload[];
}

const scopes = new Set<Scope>();

/**
 * Watch the downloads of one hub model while `fn` runs: progress goes to `onProgress`, and files cut off
 * mid-way are collected (for the error message). Requests of other models are not reported.
 */
export async function watchDownloads<T>(
  id: string,
  config: HubConfig,
  onProgress: DownloadProgressCallback | undefined,
  fn: (failures: readonly FailedDownload[]) => Promise<T>,
): Promise<T> {
  const scope: Scope = { prefix: `${hubEndpoint(config)}/${id}/resolve/`, model: id, onProgress, failures: [] };
  scopes.add(scope);
  try {
    return await fn(scope.failures);
  } finally {
    scopes.delete(scope);
  }
}

function describe(e: unknown): string {
  const cause = (e as { cause?: unknown } | undefined)?.cause;
  return [e instanceof Error ? e.message : String(e), cause instanceof Error ? cause.message : undefined].filter(Boolean).join(': ');
}

async function hubFetch(input: string | URL, init: RequestInit | undefined, ms: number): Promise<Response> {
  const url = typeof input === 'string' ? input : input.href;
  const watching = [...scopes].filter((s) => url.startsWith(s.prefix));
  const file = watching.length ? url.slice(watching[0]!.prefix.length).split('/').slice(1).map(decodeURIComponent).join('/') : '';
  let res: Response;
  try {
    res = await fetchWithTimeout(input, init, ms);
  } catch (e) {
    for (const s of watching) s.failures.push({ stage: 'request', file, url, loaded: 0, total: undefined, reason: describe(e) });
    throw e;
  }
  if (watching.length === 0 || res.status !== 200 || !res.body) return res;
  const length = Number(res.headers.get('content-length'));
  const total = Number.isFinite(length) && length > 0 ? length : undefined;
  let loaded = 0;
  const report = (done: boolean): void => {
    for (const s of watching) {
      try {
        s.onProgress?.({ model: s.model, file, url, loaded, total, done });
      } catch {
        // a failing progress display must not break the download
      }
    }
  };
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          report(true);
          controller.close();
          return;
        }
        loaded += value.byteLength;
        report(false);
        controller.enqueue(value);
      } catch (e) {
        const reason = describe(e);
        for (const s of watching) s.failures.push({ stage: 'body', file, url, loaded, total, reason });
        controller.error(e);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
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

/** `model_type` from a hub model's `config.json` (downloaded into the cache, or read from it). */
export async function hubModelType(id: string, config: HubConfig): Promise<unknown> {
  await configureTransformers(config);
  const { AutoConfig } = await transformers();
  const cfg = (await withTimeout(
    AutoConfig.from_pretrained(id, { cache_dir: config.cacheDir, local_files_only: !config.allowDownloads }),
    config.downloadTimeoutMs,
  )) as unknown as { model_type?: unknown };
  return cfg.model_type;
}

/** The first URL quoted in an error message (transformers.js quotes the URL it failed on). */
export function urlIn(message: string): string | undefined {
  return /"(https?:\/\/[^"\s]+)"/.exec(message)?.[1];
}

// ---- the download cache ---------------------------------------------------------------------------------------

/**
 * Written into `<cacheDir>/<owner>/<name>/` once every file of a downloaded model has arrived and the model has
 * loaded: the file names and sizes. A cache folder without it is an interrupted download.
 */
export const DOWNLOAD_MARKER = '.lookalike-download.json';

/** transformers.js streams a download into `<file>.tmp.<pid>.<random>` and renames it when complete. */
const TEMP_FILE = /\.tmp\.\d+\.[0-9a-z]+$/;

/** Where transformers.js caches the files of hub model `id`. */
export function cachedModelDir(cacheDir: string, id: string): string {
  return path.join(cacheDir, id);
}

export type CachedModelState =
  | { readonly state: 'absent' }
  | { readonly state: 'complete' }
  /** Files but no marker: a download that was cut off (or made by another tool). */
  | { readonly state: 'incomplete' }
  /** The marker lists a file that is now missing or has another size. */
  | { readonly state: 'damaged'; readonly file: string; readonly expected: number; readonly actual: number | undefined };

export function cachedModelState(dir: string): CachedModelState {
  let marker: { files?: Record<string, number> };
  try {
    marker = JSON.parse(fs.readFileSync(path.join(dir, DOWNLOAD_MARKER), 'utf8')) as typeof marker;
  } catch {
    return fs.existsSync(dir) && listFiles(dir).length > 0 ? { state: 'incomplete' } : { state: 'absent' };
  }
  for (const [file, expected] of Object.entries(marker.files ?? {})) {
    let actual: number | undefined;
    try {
      actual = fs.statSync(path.join(dir, file)).size;
    } catch {
      actual = undefined;
    }
    if (actual !== expected) return { state: 'damaged', file, expected, actual };
  }
  return { state: 'complete' };
}

/** Record that the cached copy of `id` is complete (atomically: a reader sees the old state or the new one). */
export function markDownloadComplete(dir: string, id: string, endpoint: string): void {
  const files = Object.fromEntries(listFiles(dir).map((f) => [f, fs.statSync(path.join(dir, f)).size]));
  const tmp = path.join(dir, `${DOWNLOAD_MARKER}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify({ model: id, endpoint, completedAt: new Date().toISOString(), files }, null, 2));
  fs.renameSync(tmp, path.join(dir, DOWNLOAD_MARKER));
}

/** Regular files under `dir` (relative, `/`-separated), without the marker and download temp files. */
function listFiles(dir: string, prefix = ''): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(dir, prefix), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const d of entries) {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...listFiles(dir, rel));
    else if (d.isFile() && !d.name.startsWith(DOWNLOAD_MARKER) && !TEMP_FILE.test(d.name)) out.push(rel);
  }
  return out.sort();
}
