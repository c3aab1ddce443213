/** `/v1/collections/{name}/items`: add uploads, get, delete, thumbnails. */
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { createError, reasonOf } from '../errors.js';
import { OnConflictSchema, validateMetadata, type AddResponse, type OnConflict } from '../schema.js';
import type { Metadata } from '../store/types.js';
import { securityOf, type ServerContext } from './context.js';
import { redactorFor } from './errors.js';
import { jsonField, readMultipart } from './multipart.js';
import * as S from './schemas.js';

/** Most images in one upload request. */
export const MAX_FILES_PER_UPLOAD = 32;

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
          'Add images (multipart: one or more image files; optional fields: metadata (a JSON object), onConflict ' +
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

  app.get<{ Params: { name: string; id: string }; Querystring: { size?: string } }>(
    '/v1/collections/:name/items/:id/thumbnail',
    {
      config: { access: 'read' },
      schema: { summary: 'JPEG thumbnail of an indexed image', params: S.ItemParams, querystring: S.ThumbQuery, ...securityOf(ctx, 'read') },
    },
    async (req, reply) => {
      const item = await collections.use(req.params.name, (c) => c.get(req.params.id));
      if (!item) throw notFound(req.params.name, req.params.id);
      // The path comes from the store, never from the request.
      if (!item.path) throw createError('FILE_NOT_FOUND', 'This item has no image file.');
      const size = req.query.size === undefined ? 256 : Number(req.query.size);
      let jpg: Buffer;
      try {
        jpg = await sharp(item.path, { limitInputPixels: ctx.db.config.maxPixels })
          .rotate()
          .resize(size, size, { fit: 'inside' })
          .jpeg({ quality: 80 })
          .toBuffer();
      } catch (e) {
        req.log.info({ err: e, item: item.id }, 'thumbnail failed');
        throw createError('FILE_NOT_FOUND', `The image file of item "${item.id}" cannot be read (${redact(reasonOf(e))}).`);
      }
      return reply.type('image/jpeg').header('cache-control', 'max-age=3600').send(jpg);
    },
  );
}
