/** `/v1/collections/{name}/items`: add uploads, get, delete, thumbnails, the original image. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import sharp from 'sharp';
import { createError, reasonOf } from '../errors.js';
import { OnConflictSchema, validateMetadata, type AddResponse, type OnConflict } from '../schema.js';
import type { Item, Metadata } from '../store/types.js';
import { securityOf, type ServerContext } from './context.js';
import { redactorFor } from './errors.js';
import { jsonField, readMultipart } from './multipart.js';
import { BROWSER_FORMATS, MIME_OF_FORMAT } from './query-images.js';
import * as S from './schemas.js';

/** Most images in one upload request. */
export const MAX_FILES_PER_UPLOAD = 32;

/** How long a browser may use a thumbnail or an original without asking again (it then revalidates with the ETag). */
export const IMAGE_MAX_AGE_S = 86_400;

/** A strong ETag for a representation of an item: changes whenever the item is re-indexed or replaced. */
function etagOf(item: Item, variant: string): string {
  const v = JSON.stringify([item.id, item.contentHash, item.size, item.mtimeMs, item.updatedAt, variant]);
  return `"${createHash('sha256').update(v).digest('base64url').slice(0, 27)}"`;
}

/** The validator and freshness of an image representation (set on successful replies only: errors are not cached). */
function cacheHeaders(reply: FastifyReply, etag: string): FastifyReply {
  return reply.header('etag', etag).header('cache-control', `private, max-age=${IMAGE_MAX_AGE_S}`);
}

/** Whether the client already has this representation (If-None-Match); if so the reply is a 304 without a body. */
function notModified(req: FastifyRequest, reply: FastifyReply, etag: string): boolean {
  const given = req.headers['if-none-match'];
  const fresh = given !== undefined && given.split(',').some((t) => t.trim().replace(/^W\//u, '') === etag || t.trim() === '*');
  if (fresh) cacheHeaders(reply, etag);
  return fresh;
}

export async function itemsRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const { collections } = ctx;
  const redact = redactorFor(ctx);
  const notFound = (name: string, id: string) => createError('ITEM_NOT_FOUND', `No item "${id}" in collection "${name}".`, { id });

  app.post<{ Params: { name: string } }>(
    '/v1/collections/:name/items',
    {
      config: { access: 'write' },
      schema: {
        summary:
          'Add images (multipart: one or more image files; optional fields: metadata (a JSON object: numbers, booleans and ' +
          'nested values are stored as given, under the facts read from each image), onConflict ' +
          '(replace | skip | merge: what happens to an image already in the collection; default replace))',
        params: S.NameParams,
        response: { 200: S.AddResponse, ...S.errorResponses },
        ...securityOf(ctx, 'write'),
      },
    },
    async (req, reply): Promise<AddResponse> => {
      const name = req.params.name;
      await collections.get(name); // 404 before reading the upload
      if (!req.isMultipart()) throw createError('INVALID_ARGUMENT', 'Upload images as multipart/form-data.', { field: 'image' });
      return ctx.heavy(req, reply, async () => {
        const { files, fields } = await readMultipart(req, MAX_FILES_PER_UPLOAD);
        if (files.length === 0) throw createError('INVALID_ARGUMENT', 'No image file in the request.', { field: 'image' });
        const raw = jsonField(fields.metadata, 'metadata', 'INVALID_METADATA');
        const metadata: Metadata | undefined = raw === undefined ? undefined : validateMetadata(raw, 'metadata');
        let onConflict: OnConflict = 'replace';
        if (fields.onConflict !== undefined && fields.onConflict !== '') {
          const parsed = OnConflictSchema.safeParse(fields.onConflict);
          if (!parsed.success) {
            throw createError('INVALID_ARGUMENT', 'onConflict must be "replace", "skip" or "merge".', { field: 'onConflict' });
          }
          onConflict = parsed.data;
        }
        return collections.use(name, async (c) => {
          // the library keeps the originals (named by content hash) so results can show thumbnails of them
          const r = await c.addImages(
            files.map((f) => ({ bytes: f.bytes, filename: f.name, ...(metadata ? { metadata } : {}) })),
            { keepOriginals: true, onConflict },
          );
          const skipped = await Promise.all(
            r.skipped.map(async (s) => ({ id: s.id, path: (await c.get(s.id))?.path ?? null, status: 'skipped' as const })),
          );
          return {
            added: [...r.added.map((a) => ({ id: a.id, path: a.path, status: a.status })), ...skipped],
            updated: r.updated,
            skipped: r.skipped.length,
            failures: r.failures.map((f) => ({ filename: files[f.index]?.name ?? f.filename ?? `#${f.index}`, error: redact(f.error) })),
            warnings: r.warnings.map((w) => ({ filename: files[w.index]?.name ?? w.filename ?? `#${w.index}`, warning: redact(w.warning) })),
          };
        });
      });
    },
  );

  app.get<{ Params: { name: string; id: string } }>(
    '/v1/collections/:name/items/:id',
    {
      config: { access: 'read' },
      schema: { summary: 'Get one item', params: S.ItemParams, response: { 200: S.Item, ...S.errorResponses }, ...securityOf(ctx, 'read') },
    },
    async (req) => {
      const item = await collections.use(req.params.name, (c) => c.get(req.params.id));
      if (!item) throw notFound(req.params.name, req.params.id);
      return item;
    },
  );

  app.delete<{ Params: { name: string; id: string } }>(
    '/v1/collections/:name/items/:id',
    {
      config: { access: 'write' },
      schema: {
        summary: 'Delete one item (and the uploaded original kept for it)',
        params: S.ItemParams,
        response: { 200: S.Deleted, ...S.errorResponses },
        ...securityOf(ctx, 'write'),
      },
    },
    async (req) => {
      const n = await collections.use(req.params.name, (c) => c.delete([req.params.id]));
      if (n === 0) throw notFound(req.params.name, req.params.id);
      return { deleted: n };
    },
  );

  /**
   * The item and its image: a file path, or the bytes of an original kept in the database (its path comes from the
   * store, never from the request).
   */
  const imageItem = async (name: string, id: string): Promise<Item & { path: string; source: string | Uint8Array }> => {
    const found = await collections.use(name, async (c) => {
      const item = await c.get(id);
      return item ? { item, source: await c.imageOf(item) } : undefined;
    });
    if (!found) throw notFound(name, id);
    if (!found.item.path) throw createError('FILE_NOT_FOUND', 'This item has no image file.');
    if (found.source === undefined) throw createError('FILE_NOT_FOUND', `The kept original of item "${id}" is gone.`);
    return { ...found.item, path: found.item.path, source: found.source };
  };
  const unreadable = (req: FastifyRequest, item: Item, e: unknown) => {
    req.log.info({ err: e, item: item.id }, 'image file unreadable');
    return createError('FILE_NOT_FOUND', `The image file of item "${item.id}" cannot be read (${redact(reasonOf(e))}).`);
  };

  app.get<{ Params: { name: string; id: string }; Querystring: { size?: string } }>(
    '/v1/collections/:name/items/:id/thumbnail',
    {
      config: { access: 'read' },
      schema: {
        summary: `JPEG thumbnail of an indexed image (fits in size × size, default 256; ETag, cached for ${IMAGE_MAX_AGE_S} s)`,
        params: S.ItemParams,
        querystring: S.ThumbQuery,
        ...securityOf(ctx, 'read'),
      },
    },
    async (req, reply) => {
      const item = await imageItem(req.params.name, req.params.id);
      const size = req.query.size === undefined ? 256 : Number(req.query.size);
      const etag = etagOf(item, `thumb-${size}`);
      if (notModified(req, reply, etag)) return reply.code(304).send();
      let jpg: Buffer;
      try {
        jpg = await sharp(item.source, { limitInputPixels: ctx.db.config.maxPixels })
          .rotate()
          .resize(size, size, { fit: 'inside' })
          .jpeg({ quality: 80 })
          .toBuffer();
      } catch (e) {
        throw unreadable(req, item, e);
      }
      return cacheHeaders(reply, etag).type('image/jpeg').send(jpg);
    },
  );

  app.get<{ Params: { name: string; id: string } }>(
    '/v1/collections/:name/items/:id/image',
    {
      config: { access: 'read' },
      schema: {
        summary:
          'The original image file of an item, with its type read from its bytes (TIFF and HEIF, which browsers do not show, as JPEG); ' +
          `ETag, cached for ${IMAGE_MAX_AGE_S} s`,
        params: S.ItemParams,
        ...securityOf(ctx, 'read'),
      },
    },
    async (req, reply) => {
      const item = await imageItem(req.params.name, req.params.id);
      const etag = etagOf(item, 'original');
      if (notModified(req, reply, etag)) return reply.code(304).send();
      let format: string;
      try {
        format = (await sharp(item.source, { limitInputPixels: ctx.db.config.maxPixels }).metadata()).format ?? '';
      } catch (e) {
        throw unreadable(req, item, e);
      }
      if (!MIME_OF_FORMAT[format]) throw unreadable(req, item, new Error(`not an image of an accepted format (${format || 'unknown'})`));
      if (!BROWSER_FORMATS.has(format)) {
        try {
          const jpg = await sharp(item.source, { limitInputPixels: ctx.db.config.maxPixels }).rotate().jpeg({ quality: 90 }).toBuffer();
          return cacheHeaders(reply, etag).type('image/jpeg').send(jpg);
        } catch (e) {
          throw unreadable(req, item, e);
        }
      }
      if (typeof item.source !== 'string') {
        return cacheHeaders(reply, etag).type(MIME_OF_FORMAT[format]!).send(Buffer.from(item.source.buffer, item.source.byteOffset, item.source.byteLength));
      }
      let file: fs.promises.FileHandle;
      try {
        file = await fs.promises.open(item.source, 'r');
      } catch (e) {
        throw unreadable(req, item, e);
      }
      const size = await file.stat().then(
        (st) => st.size,
        async (e: unknown) => {
          await file.close();
          throw unreadable(req, item, e);
        },
      );
      return cacheHeaders(reply, etag).type(MIME_OF_FORMAT[format]!).header('content-length', size).send(file.createReadStream());
    },
  );
}
