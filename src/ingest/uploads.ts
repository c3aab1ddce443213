import type { Embedder } from '../embed/types.js';
import { isLookalikeError } from '../errors.js';
import { contentHashOf } from '../image/read.js';
import { validateMetadata } from '../schema.js';
import type { Metadata, StoreCollection } from '../store/types.js';
import { bytesSource, runPipeline, type IngestSource } from './pipeline.js';
import type { UploadStorage } from './upload-storage.js';

export interface AddImageInput {
  readonly bytes: Uint8Array;
  /** Defaults to the first 20 hex digits of the content's sha256, so the same image added twice is one record. */
  readonly id?: string;
  /** Shown in failure reports and stored as `filename` metadata. */
  readonly filename?: string;
  /** Stored path; ignored when `keepOriginals` is on (the kept copy's path is stored). */
  readonly path?: string;
  readonly metadata?: Metadata;
}

export interface AddImagesOptions {
  /** Keep the bytes in the database's upload storage; the item's `path` points at the copy (deleted with the item). */
  readonly keepOriginals?: boolean;
  /**
   * When an image with the same id exists: `replace` (default) re-embeds it and replaces its metadata with the new
   * one; `merge` keeps the stored metadata and overlays the new keys; `skip` leaves the stored item untouched.
   */
  readonly onConflict?: 'replace' | 'merge' | 'skip';
  /** Largest accepted image, bytes. */
  readonly maxFileBytes?: number;
  readonly batchSize?: number;
  /** Read each image's facts (format, date taken, camera, GPS… see docs/metadata.md) into its metadata (default true). */
  readonly facts?: boolean;
}

export interface AddImagesResult {
  /** Every image stored by this call (added or updated), in input order. */
  readonly added: { id: string; path: string | null; status: 'added' | 'updated' }[];
  /** How many of `added` replaced an existing record. */
  readonly updated: number;
  /** Images left as they were (`onConflict: 'skip'`), by their index in the input. */
  readonly skipped: { index: number; id: string }[];
  /** Images that could not be embedded, by their index in the input. */
  readonly failures: { index: number; filename?: string; error: string }[];
  /** Images stored although something about them could not be read (broken EXIF…), by their index in the input. */
  readonly warnings: { index: number; filename?: string; warning: string }[];
}

/** Add images given as bytes through the ingest pipeline (see `Collection.addImages`). */
export async function addUploads(
  store: StoreCollection,
  embedder: Embedder,
  storage: UploadStorage,
  images: readonly AddImageInput[],
  opts: AddImagesOptions & { maxFileBytes: number; batchSize: number },
): Promise<AddImagesResult> {
  const onConflict = opts.onConflict ?? 'replace';
  const skipped: AddImagesResult['skipped'] = [];
  const sources: (IngestSource & { index: number })[] = [];
  for (const [index, img] of images.entries()) {
    const metadata = validateMetadata({ ...(img.metadata ?? {}), ...(img.filename ? { filename: img.filename } : {}) }, `images[${index}].metadata`);
    const hash = contentHashOf(img.bytes);
    const id = img.id ?? hash.slice(0, 20);
    const previous = await store.get(id);
    if (previous && onConflict === 'skip') {
      skipped.push({ index, id });
      continue;
    }
    sources.push({
      index,
      label: img.filename ?? `images[${index}]`,
      id,
      path: img.path ?? null,
      metadata: previous && onConflict === 'merge' ? { ...previous.metadata, ...metadata } : metadata,
      read: bytesSource(img.bytes, hash, opts.maxFileBytes),
      // re-embedded even when the bytes are the same: the record (metadata, path) is replaced as a whole
      ...(previous ? { previous: { id, path: previous.path ?? '', size: previous.size, mtimeMs: previous.mtimeMs, contentHash: null } } : {}),
    });
  }
  const kept: string[] = [];
  const keep = opts.keepOriginals
    ? async (bytes: Uint8Array, facts: { format: string }) => {
        const file = await storage.keep(store.spec, bytes, contentHashOf(bytes), facts.format === 'jpeg' ? 'jpg' : facts.format);
        kept.push(file);
        return file;
      }
    : undefined;
  const stillUsed = async (paths: string[]) => new Set((await store.fileStates(paths)).keys());
  let r: Awaited<ReturnType<typeof runPipeline>>;
  try {
    r = await runPipeline(store, embedder, sources, { batchSize: opts.batchSize, prefetch: opts.batchSize, keep, facts: opts.facts });
  } catch (e) {
    // nothing kept by this call may outlive it unreferenced: a collection deleted meanwhile takes its whole folder
    if (isLookalikeError(e, 'COLLECTION_CHANGED')) await storage.dropCollection(store.spec);
    else await storage.release(store.spec, kept, stillUsed).catch(() => {});
    throw e;
  }
  // originals kept for images that then failed (e.g. an empty embedding) are not referenced by any record
  if (r.failed > 0 && kept.length > 0) await storage.release(store.spec, kept, stillUsed);
  const added: AddImagesResult['added'] = [];
  const failures: AddImagesResult['failures'] = [];
  const warnings: AddImagesResult['warnings'] = [];
  r.outcomes.forEach((o, i) => {
    const src = sources[i]!;
    const named = images[src.index]!.filename ? { filename: images[src.index]!.filename! } : {};
    if (o.status === 'failed') failures.push({ index: src.index, ...named, error: o.error });
    else {
      added.push({ id: o.id, path: o.path, status: o.status === 'unchanged' ? 'updated' : o.status });
      for (const warning of o.warnings ?? []) warnings.push({ index: src.index, ...named, warning });
    }
  });
  return { added, updated: added.filter((a) => a.status === 'updated').length, skipped, failures, warnings };
}
