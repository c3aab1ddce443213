import fg from 'fast-glob';
import fs from 'node:fs';
import path from 'node:path';
import { createError } from '../errors.js';

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif'] as const;

export interface WalkedFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface WalkOptions {
  /** Glob patterns (relative to the root, e.g. `**\/thumbs/**`, `*.gif`) to leave out. */
  readonly exclude?: readonly string[];
  readonly followSymlinks?: boolean;
}

/**
 * All image files under `root` (recursively; by extension, case-insensitive; hidden files and folders skipped),
 * sorted by path so runs are reproducible. `root` may also be a single file.
 */
export async function walkImages(root: string, opts: WalkOptions = {}): Promise<WalkedFile[]> {
  const abs = path.resolve(root);
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(abs);
  } catch {
    throw createError('FILE_NOT_FOUND', `Folder not found: ${abs}`, { path: abs });
  }
  if (st.isFile()) return [{ path: abs, size: st.size, mtimeMs: st.mtimeMs }];
  const entries = await fg(`**/*.{${IMAGE_EXTENSIONS.join(',')}}`, {
    cwd: abs,
    absolute: true,
    dot: false,
    onlyFiles: true,
    caseSensitiveMatch: false,
    followSymbolicLinks: opts.followSymlinks ?? true,
    suppressErrors: true,
    ignore: [...(opts.exclude ?? [])],
    stats: true,
  });
  return entries
    .map((e) => ({ path: path.normalize(e.path), size: e.stats?.size ?? 0, mtimeMs: e.stats?.mtimeMs ?? 0 }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
