import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config.js';
import { createError } from '../errors.js';
import { openDatabase, type Collection, type LookalikeDatabase } from '../lookalike.js';
import { tieKeyOf, type TieKey } from './ties.js';
import type { Pooling } from '../embed/pooling.js';

export interface EvalProgress {
  readonly phase: 'index' | 'query';
  readonly done: number;
  readonly total: number;
}

export interface EvalCommon {
  /** Labelled image folder. */
  readonly dir: string;
  readonly model: string;
  /** How the model's output is pooled (see `EmbedderOptions.pooling`). */
  readonly pooling?: Pooling;
  readonly config?: Partial<Config>;
  readonly onProgress?: (p: EvalProgress) => void;
  /** Store directory to build the evaluation collection in (default: a temporary one, removed afterwards). */
  readonly workDir?: string;
}

/** An image that is not in the evaluation: it could not be read, decoded or embedded, or its embedding is empty. */
export interface EvalFailure {
  readonly path: string;
  readonly error: string;
}

/** Figures at the cut-offs 1, 5 and 10. */
export interface AtK {
  readonly '1': number;
  readonly '5': number;
  readonly '10': number;
}

export type FileState = Awaited<ReturnType<Collection['files']>>[number];

export async function withCollection<T>(
  opts: EvalCommon,
  fn: (col: Collection, db: LookalikeDatabase) => Promise<T>,
): Promise<T> {
  const dir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-eval-'));
  const db = await openDatabase(dir, opts.config ?? {});
  try {
    if (await db.hasCollection('eval')) await db.dropCollection('eval');
    const col = await db.createCollection('eval', { model: opts.model, trainingFolder: path.resolve(opts.dir), ...(opts.pooling ? { pooling: opts.pooling } : {}) });
    try {
      return await fn(col, db);
    } finally {
      await col.close();
    }
  } finally {
    await db.close();
    if (!opts.workDir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function checkDir(dir: string): string {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw createError('FILE_NOT_FOUND', `Evaluation folder not found: ${abs}`, { path: abs });
  }
  return abs;
}

/** Whether `child` is strictly inside `parent` (both absolute). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

const isDir = (p: string): boolean => fs.existsSync(p) && fs.statSync(p).isDirectory();
/**
 * Items whose stored embedding is unusable (all zeros — e.g. `bovw-orb` on an image without keypoints — or not
 * finite): such a vector scores 0 against everything and would tie with every other result. They are reported as
 * failures and left out of the gallery. Returns the usable items' vectors' tie keys and the failures.
 */
export async function checkEmbeddings(
  col: Collection,
  files: readonly FileState[],
): Promise<{ keys: Map<string, TieKey>; bad: Map<string, EvalFailure> }> {
  const keys = new Map<string, TieKey>();
  const bad = new Map<string, EvalFailure>();
  for (const f of files) {
    const v = await col.vector(f.id);
    let norm = 0;
    for (let i = 0; v && i < v.length; i++) norm += v[i]! * v[i]!;
    if (!v || !(norm > 0) || !Number.isFinite(norm)) {
      const why = !v ? 'no stored vector' : Number.isFinite(norm) ? 'all zeros' : 'not finite';
      bad.set(f.id, { path: f.path, error: `empty embedding (${why}): the model found nothing to describe in this image` });
    } else keys.set(f.id, tieKeyOf(f.contentHash, v));
  }
  return { keys, bad };
}

