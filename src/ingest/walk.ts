import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { createError } from '../errors.js';

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif'] as const;
const EXT = new Set<string>(IMAGE_EXTENSIONS.map((e) => `.${e}`));

export interface WalkedFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface WalkOptions {
  /** Glob patterns (relative to the root, e.g. `thumbs/**`, `**\/*.gif`) to leave out. */
  readonly exclude?: readonly string[];
  /** Follow symbolic links to files and folders (default true); loops are detected and walked once. */
  readonly followSymlinks?: boolean;
  /** Called for what cannot be walked: a dangling link to an image name, an unreadable folder. */
  readonly onProblem?: (path: string, reason: string) => void;
}

/**
 * All image files under `root` (recursively; by extension, case-insensitive; hidden files and folders skipped),
 * sorted by path so runs are reproducible. `root` may also be a single file. Symbolic links are followed, but a
 * folder (or file) reached twice — through a link loop or two links — is walked (or listed) once; dangling links and
 * unreadable folders are passed over.
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
  const excluded = opts.exclude?.length ? picomatch([...opts.exclude], { dot: true }) : undefined;
  const follow = opts.followSymlinks ?? true;
  const seen = new Set<string>([`${st.dev}:${st.ino}`]);
  const out: WalkedFile[] = [];
  const stack = [abs];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: fs.Dirent<Buffer>[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (e) {
      opts.onProblem?.(dir, `cannot read folder (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    for (const raw of entries) {
      const name = raw.name.toString('utf8');
      if (name.startsWith('.')) continue;
      const p = path.join(dir, name);
      if (!Buffer.from(name, 'utf8').equals(raw.name)) {
        // Paths are stored as text: a name that is not valid UTF-8 cannot be opened again from its text form.
        if (raw.isDirectory() || EXT.has(path.extname(name).toLowerCase())) {
          opts.onProblem?.(p, `the name is not valid UTF-8 (bytes ${raw.name.toString('hex')}); rename it to index it`);
        }
        continue;
      }
      const e = raw;
      if (excluded?.(path.relative(abs, p))) continue;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      let stats: fs.Stats | undefined;
      if (e.isSymbolicLink()) {
        if (!follow) continue;
        try {
          stats = await fs.promises.stat(p);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (EXT.has(path.extname(p).toLowerCase())) {
            opts.onProblem?.(p, code === 'ELOOP' ? 'symbolic link loop' : `broken symbolic link (${code ?? 'error'})`);
          }
          continue;
        }
        isDir = stats.isDirectory();
        isFile = stats.isFile();
      }
      if (isDir) {
        stats ??= await fs.promises.stat(p).catch(() => undefined);
        if (!stats) continue;
        const key = `${stats.dev}:${stats.ino}`;
        if (seen.has(key)) continue; // link loop or second way in
        seen.add(key);
        stack.push(p);
      } else if (isFile && EXT.has(path.extname(name).toLowerCase())) {
        stats ??= await fs.promises.stat(p).catch(() => undefined);
        if (!stats) continue;
        const key = `${stats.dev}:${stats.ino}`;
        if (seen.has(key)) continue; // the same file through another link
        seen.add(key);
        out.push({ path: p, size: stats.size, mtimeMs: stats.mtimeMs });
      }
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
