/**
 * Uploaded query images, kept in memory for a while so that a search by upload can be repeated (paging, changing k
 * or a filter, Back/Forward, a shared link) with `{upload: hash}` instead of sending the image again, and shown
 * (`GET /v1/query-images/{hash}`). Bounded: the most recent `maxEntries` images and `maxBytes` in all; nothing is
 * written to disk, so they are gone when the server restarts.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { securityOf, type ServerContext } from './context.js';
import { HttpError } from './errors.js';
import * as S from './schemas.js';

/** MIME type of each accepted image format (what `sharp(...).metadata().format` says). */
export const MIME_OF_FORMAT: Readonly<Record<string, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  avif: 'image/avif',
  heif: 'image/heif',
};
/** Formats browsers display; the others are converted to JPEG when an image is shown. */
export const BROWSER_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'avif']);

export class QueryImageCache {
  readonly #images = new Map<string, Uint8Array>();
  #bytes = 0;

  constructor(
    readonly maxEntries = 64,
    readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  static hashOf(bytes: Uint8Array): string {
    return createHash('sha256').update(bytes).digest('hex').slice(0, 20);
  }

  /** Keep `bytes` (the most recently used are kept longest); returns its hash. */
  put(bytes: Uint8Array): string {
    const hash = QueryImageCache.hashOf(bytes);
    this.#drop(hash);
    if (bytes.byteLength > this.maxBytes) return hash;
    this.#images.set(hash, bytes);
    this.#bytes += bytes.byteLength;
    for (const [h] of this.#images) {
      if (this.#images.size <= this.maxEntries && this.#bytes <= this.maxBytes) break;
      this.#drop(h);
    }
    return hash;
  }

  get(hash: string): Uint8Array | undefined {
    const b = this.#images.get(hash);
    if (b) {
      this.#images.delete(hash); // most recently used last
      this.#images.set(hash, b);
    }
    return b;
  }

  #drop(hash: string): void {
    const b = this.#images.get(hash);
    if (b) {
      this.#bytes -= b.byteLength;
      this.#images.delete(hash);
    }
  }
}

/** `QUERY_IMAGE_NOT_FOUND` (404): the server no longer keeps the uploaded image `hash`. */
export function queryImageGone(cache: QueryImageCache, hash: string): HttpError {
  return new HttpError(
    404,
    'QUERY_IMAGE_NOT_FOUND',
    `The uploaded query image ${hash} is no longer kept by the server (it keeps the last ${cache.maxEntries} while it runs): upload the image again.`,
  );
}

export async function queryImageRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.get<{ Params: { hash: string } }>(
    '/v1/query-images/:hash',
    {
      config: { access: 'read' },
      schema: {
        summary: 'An image uploaded to search with, while the server keeps it (its hash is the `upload` of the search response)',
        params: S.QueryImageParams,
        ...securityOf(ctx, 'read'),
      },
    },
    async (req, reply) => {
      const bytes = ctx.queryImages.get(req.params.hash);
      if (!bytes) throw queryImageGone(ctx.queryImages, req.params.hash);
      const format = (await sharp(bytes).metadata()).format ?? '';
      const body = BROWSER_FORMATS.has(format)
        ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        : await sharp(bytes, { limitInputPixels: ctx.db.config.maxPixels }).rotate().jpeg({ quality: 90 }).toBuffer();
      // the bytes behind a hash never change
      return reply
        .type(BROWSER_FORMATS.has(format) ? MIME_OF_FORMAT[format]! : 'image/jpeg')
        .header('cache-control', 'private, max-age=31536000, immutable')
        .header('etag', `"${req.params.hash}"`)
        .send(body);
    },
  );
}
