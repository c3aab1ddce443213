/**
 * `POST /v1/collections/{name}/search`: by uploaded image (multipart), or JSON `{text | id | vector | upload}`;
 * `k` results from rank `offset` (paging). A multipart search's image is kept for a while (`upload` in the response)
 * so that the same query can be repeated with `{upload}`.
 */
import type { FastifyInstance } from 'fastify';
import { createError } from '../errors.js';
import { validateWhere, type Where } from '../schema.js';
import type { Query } from '../search/search.js';
import { securityOf, type ServerContext } from './context.js';
import { numberField, readMultipart, whereField } from './multipart.js';
import { queryImageGone } from './query-images.js';
import * as S from './schemas.js';

interface Paging {
  k: number | undefined;
  offset: number | undefined;
  minScore: number | undefined;
  where: Where | undefined;
}

export async function searchRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const maxK = ctx.settings.maxK;
  /** k and offset, checked against the server's largest k (never clamped). */
  const checkPage = (k: number | undefined, offset: number | undefined): { k: number; offset: number } => {
    const kk = k ?? 10;
    if (!Number.isInteger(kk) || kk < 1 || kk > maxK) {
      throw createError('INVALID_ARGUMENT', `k must be an integer from 1 to ${maxK} (got ${k}).`, { field: 'k' });
    }
    const off = offset ?? 0;
    if (!Number.isInteger(off) || off < 0 || off + kk > maxK) {
      throw createError(
        'INVALID_ARGUMENT',
        `offset must be an integer from 0 to ${maxK - kk} (got ${offset}): this server ranks at most ${maxK} results per query (offset + k).`,
        { field: 'offset' },
      );
    }
    return { k: kk, offset: off };
  };

  app.post<{ Params: { name: string }; Body: S.HttpSearchBody | undefined }>(
    '/v1/collections/:name/search',
    {
      config: { access: 'read' },
      schema: {
        summary:
          'Search by uploaded image (multipart: image, k, offset, minScore, where), or JSON {text | id | vector | upload, k, offset, minScore, where}. ' +
          `k results from rank offset + 1 (paging); offset + k is at most ${maxK}. A multipart search answers with "upload", the name of ` +
          'the uploaded image, which the server keeps for a while: search again with {"upload": name}.',
        params: S.NameParams,
        body: { content: { 'application/json': { schema: S.HttpSearchBody }, 'multipart/form-data': { schema: {} } } },
        response: { 200: S.HttpSearchResponse, ...S.errorResponses },
        ...securityOf(ctx, 'read'),
      },
    },
    async (req, reply) => {
      const name = req.params.name;
      await ctx.collections.get(name); // 404 before reading an upload
      const run = async (query: Query, p: Paging) => {
        const page = checkPage(p.k, p.offset);
        const hits = await ctx.collections.use(name, (c) =>
          c.search(query, {
            k: page.k,
            ...(page.offset > 0 ? { offset: page.offset } : {}),
            ...(p.minScore !== undefined ? { minScore: p.minScore } : {}),
            ...(p.where ? { where: p.where } : {}),
          }),
        );
        return { results: hits.map((h) => ({ id: h.id, path: h.path, score: h.score, metadata: h.metadata })) };
      };

      if (req.isMultipart()) {
        return ctx.heavy(req, reply, async () => {
          const { files, fields } = await readMultipart(req, 1);
          if (files.length === 0) throw createError('INVALID_ARGUMENT', 'Multipart search needs an image file field.', { field: 'image' });
          const bytes = files[0]!.bytes;
          const paging: Paging = {
            k: numberField(fields.k, 'k'),
            offset: numberField(fields.offset, 'offset'),
            minScore: numberField(fields.minScore, 'minScore'),
            where: whereField(fields.where),
          };
          checkPage(paging.k, paging.offset); // before the image is embedded
          const found = await run({ image: bytes }, paging);
          return { ...found, upload: ctx.queryImages.put(bytes) }; // kept only once it is known to be a usable image
        });
      }
      const b = req.body ?? {};
      const given = (['text', 'id', 'vector', 'upload'] as const).filter((f) => b[f] !== undefined);
      if (given.length !== 1) {
        throw createError('INVALID_ARGUMENT', 'Give exactly one of "text", "id", "vector" or "upload" (or upload an image as multipart).');
      }
      const paging: Paging = { k: b.k, offset: b.offset, minScore: b.minScore, where: b.where === undefined ? undefined : validateWhere(b.where) };
      checkPage(paging.k, paging.offset);
      if (b.upload !== undefined) {
        const bytes = ctx.queryImages.get(b.upload);
        if (!bytes) throw queryImageGone(ctx.queryImages, b.upload);
        return ctx.heavy(req, reply, async () => ({ ...(await run({ image: bytes }, paging)), upload: b.upload }));
      }
      if (b.text !== undefined) {
        const text = b.text;
        return ctx.heavy(req, reply, () => run({ text }, paging));
      }
      return run(b.id !== undefined ? { id: b.id } : { vector: b.vector! }, paging);
    },
  );
}
