import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CollectionSpec, UploadStorage } from '../store/types.js';

export type { UploadStorage };

/**
 * Where the originals of uploaded images are kept, so results can show them (thumbnails, full images): one folder
 * per collection *instance* (a collection deleted and re-created under the same name gets a new folder), files
 * named by content hash. Deleted with their item and with their collection.
 */
export class FolderUploadStorage implements UploadStorage {
  constructor(readonly root: string) {}

  /** The folder of one collection instance. */
  dirOf(spec: Pick<CollectionSpec, 'name' | 'uid' | 'createdAt'>): string {
    const key = spec.uid ?? createHash('sha256').update(`${spec.name}\0${spec.createdAt}`).digest('hex').slice(0, 16);
    return path.join(this.root, `${spec.name}-${key}`);
  }

  /** Store `bytes` (idempotent: the same content is one file) and return its path. */
  async keep(spec: Pick<CollectionSpec, 'name' | 'uid' | 'createdAt'>, bytes: Uint8Array, contentHash: string, ext: string): Promise<string> {
    const dir = this.dirOf(spec);
    await fs.mkdir(dir, { recursive: true });
    const file = path.join(dir, `${contentHash.slice(0, 32)}.${ext}`);
    try {
      await fs.writeFile(file, bytes, { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    return file;
  }

  /** Whether `file` is one of this collection's kept originals. */
  owns(spec: Pick<CollectionSpec, 'name' | 'uid' | 'createdAt'>, file: string | null): file is string {
    return file !== null && path.dirname(path.resolve(file)) === this.dirOf(spec);
  }

  async read(spec: Pick<CollectionSpec, 'name' | 'uid' | 'createdAt'>, file: string): Promise<Uint8Array | undefined> {
    if (!this.owns(spec, file)) return undefined;
    return fs.readFile(file).catch(() => undefined);
  }

  /**
   * Delete the kept originals among `paths` that no record still uses (`stillUsed` answers which of them are
   * still referenced, e.g. the same bytes added under another id).
   */
  async release(
    spec: Pick<CollectionSpec, 'name' | 'uid' | 'createdAt'>,
    paths: readonly (string | null)[],
    stillUsed: (paths: string[]) => Promise<ReadonlySet<string>>,
  ): Promise<void> {
    const mine = [...new Set(paths.filter((p): p is string => this.owns(spec, p)))];
    if (mine.length === 0) return;
    const used = await stillUsed(mine);
    await Promise.all(mine.filter((p) => !used.has(p)).map((p) => fs.rm(p, { force: true })));
  }

  /**
   * Delete the collection's folder. An upload still in flight may be writing into it (it then fails with
   * COLLECTION_CHANGED and removes what it wrote): a removal that races with it (ENOTEMPTY) is retried.
   */
  async dropCollection(spec: Pick<CollectionSpec, 'name' | 'uid' | 'createdAt'>): Promise<void> {
    await fs.rm(this.dirOf(spec), { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
  }
}
