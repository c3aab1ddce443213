import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createError } from './errors.js';

/** The model of a new collection when the caller names none (`lookalike index`, with or without `--queue`). */
export const DEFAULT_MODEL = 'mobilenet-v1';

/** Folder that holds the models shipped inside the package (`models/` beside `dist/`). */
export const PACKAGE_MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'models');

/**
 * lookalike's whole configuration, one object. Every field has a default derived from the environment;
 * library callers pass a partial object, the CLI maps flags onto it.
 *
 * | field | env | default |
 * |---|---|---|
 * | modelPaths | `LOOKALIKE_MODELS` (path-list, `:`-separated) | `[]` (the package's own `models/` is always searched last) |
 * | cacheDir | `LOOKALIKE_CACHE` | `$XDG_CACHE_HOME/lookalike` or `~/.cache/lookalike` (downloaded Hugging Face models) |
 * | allowDownloads | `LOOKALIKE_OFFLINE=1` or `HF_HUB_OFFLINE=1` turn it off | `true` |
 * | hubEndpoint | `LOOKALIKE_HF_ENDPOINT`, `HF_ENDPOINT` | `https://huggingface.co` (a mirror or a local stand-in of the Hugging Face hub) |
 * | downloadTimeoutMs | `LOOKALIKE_DOWNLOAD_TIMEOUT_MS` | `30000` (per request; no hang when offline) |
 * | device | `LOOKALIKE_DEVICE` | `cpu` (`cuda` needs onnxruntime-node's CUDA libraries, see README) |
 * | threads | `LOOKALIKE_THREADS` | number of CPU cores (ONNX threads in all, split over the workers) |
 * | searchThreads | `LOOKALIKE_SEARCH_THREADS` | number of CPU cores: threads an exact scan of a large collection (≥ 4 MiB of vectors) is split over, the caller's included (`1`: no worker threads; process-wide, set when a database opens) |
 * | inferenceWorkers | `LOOKALIKE_INFERENCE_WORKERS` | number of CPU cores (ONNX sessions in worker threads, each gets threads/workers) |
 * | batchSize | `LOOKALIKE_BATCH_SIZE` | images per inference call: `8` on CPU, `64` with CUDA |
 * | decodeConcurrency | `LOOKALIKE_DECODE_CONCURRENCY` | `4 × batchSize`: images read and decoded ahead of inference (bounds ingest's memory) |
 * | uploadsDir | `LOOKALIKE_UPLOADS` | where originals of uploaded images are kept when the store has no place of its own (PostgreSQL): `./lookalike-uploads`; the embedded store keeps them in `<db>/uploads` |
 * | storeRetryMs | `LOOKALIKE_STORE_RETRY_MS` | `30000`: how long transient errors of a server store (connection reset, restart, serialization failure, deadlock) are retried before `STORE_UNAVAILABLE` |
 * | readReplicas | `LOOKALIKE_READ_DB` (comma-separated URLs) | none: PostgreSQL streaming replicas that answer searches (writes go to `--db`) |
 * | shards | `LOOKALIKE_SHARDS` (comma-separated URLs) | none: PostgreSQL servers new collections are hash-partitioned over (`--db` is the coordinator; docs/scale.md) |
 * | maxPixels | `LOOKALIKE_MAX_PIXELS` | `100000000` (decompression-bomb guard) |
 * | maxFileBytes | `LOOKALIKE_MAX_FILE_BYTES` | `268435456` (256 MiB) |
 */
export const ConfigSchema = z.object({
  modelPaths: z.array(z.string()),
  cacheDir: z.string(),
  allowDownloads: z.boolean(),
  hubEndpoint: z.string().min(1),
  downloadTimeoutMs: z.number().int().positive(),
  device: z.enum(['cpu', 'cuda']),
  threads: z.number().int().positive(),
  searchThreads: z.number().int().positive().max(256),
  inferenceWorkers: z.number().int().positive(),
  batchSize: z.number().int().positive().max(4096),
  decodeConcurrency: z.number().int().positive().max(256),
  maxPixels: z.number().int().positive(),
  maxFileBytes: z.number().int().positive(),
  uploadsDir: z.string().min(1),
  storeRetryMs: z.number().int().min(0),
  readReplicas: z.array(z.string().min(1)),
  shards: z.array(z.string().min(1)),
});

export type Config = z.infer<typeof ConfigSchema>;

function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw createError('INVALID_ARGUMENT', `Environment variable ${name}="${raw}" must be an integer ≥ ${min}.`, { name });
  }
  return n;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && /^(1|true|yes|on)$/i.test(v);
}

export function defaultConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cores = Math.max(1, os.availableParallelism());
  const cacheRoot = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const device = env.LOOKALIKE_DEVICE ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') {
    throw createError('INVALID_ARGUMENT', `LOOKALIKE_DEVICE="${device}" must be "cpu" or "cuda".`);
  }
  // Small batches keep activations in cache on CPU (8 measured best for mobilenet-v1 here); GPUs want big ones.
  const batchSize = envInt(env, 'LOOKALIKE_BATCH_SIZE', device === 'cuda' ? 64 : 8);
  return {
    modelPaths: (env.LOOKALIKE_MODELS ?? '').split(path.delimiter).filter((p) => p.length > 0),
    cacheDir: env.LOOKALIKE_CACHE || path.join(cacheRoot, 'lookalike'),
    allowDownloads: !(truthy(env.LOOKALIKE_OFFLINE) || truthy(env.HF_HUB_OFFLINE)),
    hubEndpoint: env.LOOKALIKE_HF_ENDPOINT || env.HF_ENDPOINT || 'https://huggingface.co',
    downloadTimeoutMs: envInt(env, 'LOOKALIKE_DOWNLOAD_TIMEOUT_MS', 30_000),
    device,
    threads: envInt(env, 'LOOKALIKE_THREADS', cores),
    searchThreads: envInt(env, 'LOOKALIKE_SEARCH_THREADS', cores),
    inferenceWorkers: envInt(env, 'LOOKALIKE_INFERENCE_WORKERS', cores),
    batchSize,
    decodeConcurrency: envInt(env, 'LOOKALIKE_DECODE_CONCURRENCY', 4 * batchSize),
    maxPixels: envInt(env, 'LOOKALIKE_MAX_PIXELS', 100_000_000),
    maxFileBytes: envInt(env, 'LOOKALIKE_MAX_FILE_BYTES', 256 * 1024 * 1024),
    uploadsDir: path.resolve(env.LOOKALIKE_UPLOADS || 'lookalike-uploads'),
    storeRetryMs: envInt(env, 'LOOKALIKE_STORE_RETRY_MS', 30_000, 0),
    readReplicas: (env.LOOKALIKE_READ_DB ?? '').split(',').map((u) => u.trim()).filter(Boolean),
    shards: (env.LOOKALIKE_SHARDS ?? '').split(',').map((u) => u.trim()).filter(Boolean),
  };
}

/** Defaults from the environment, overridden by `overrides` (validated: a bad field names itself). */
export function resolveConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const merged = { ...defaultConfig(env), ...stripUndefined(overrides) };
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '?';
    throw createError('INVALID_ARGUMENT', `Invalid config field "${field}": ${issue?.message ?? 'invalid value'}.`, {
      field,
    });
  }
  return parsed.data;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
