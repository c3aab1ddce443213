/** `POST /v1/collections/{name}/search`: by uploaded image (multipart), or JSON `{text | id | vector}`. */
import type { FastifyInstance } from 'fastify';
import { createError } from '../errors.js';
import { validateWhere, type SearchBody, type Where } from '../schema.js';
import type { Query } from '../search/search.js';
import { securityOf, type ServerContext } from './context.js';
import { numberField, readMultipart, whereField } from './multipart.js';
import * as S from './schemas.js';

export async function searchRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const maxK = ctx.settings.maxK;
  const checkK = (k: number | undefined): number => {
    const kk = k ?? 10;
    if (!Number.isInteger(kk) || kk < 1 || kk > maxK) {
      throw createError('INVALID_ARGUMENT', `k must be an integer from 1 to ${maxK} (got ${k}).`, { field: 'k' });
    }
    return kk;
  };

  app.post<{ Params: { name: string }; Body: SearchBody | undefined }>(
    '/v1/collections/:name/search',
    {
      config: { access: 'read' },
      schema: {
        summary: 'Search by uploaded image (multipart: image, k, minScore, where), or JSON {text | id | vector, k, minScore, where}',
        params: S.NameParams,
        body: { content: { 'application/json': { schema: S.SearchBody }, 'multipart/form-data': { schema: {} } } },
        response: { 200: S.SearchResponse, ...S.errorResponses },
        ...securityOf(ctx, 'read'),
      },
    },
    async (req, reply) => {
      const name = req.params.name;
      await ctx.collections.get(name); // 404 before reading an upload
      const run = async (query: Query, k: number | undefined, minScore: number | undefined, where: Where | undefined) => {
        const hits = await ctx.collections.use(name, (c) =>
          c.search(query, { k: checkK(k), ...(minScore !== undefined ? { minScore } : {}), ...(where ? { where } : {}) }),
        );
        return { results: hits.map((h) => ({ id: h.id, path: h.path, score: h.score, metadata: h.metadata })) };
      };

      if (req.isMultipart()) {
        return ctx.heavy(req, reply, async () => {
          const { files, fields } = await readMultipart(req, 1);
          if (files.length === 0) throw createError('INVALID_ARGUMENT', 'Multipart search needs an image file field.', { field: 'image' });
          return run({ image: files[0]!.bytes }, numberField(fields.k, 'k'), numberField(fields.minScore, 'minScore'), whereField(fields.where));
        });
      }
      const b = req.body ?? {};
      const given = (['text', 'id', 'vector'] as const).filter((f) => b[f] !== undefined);
      if (given.length !== 1) throw createError('INVALID_ARGUMENT', 'Give exactly one of "text", "id" or "vector" (or upload an image as multipart).');
      const where = b.where === undefined ? undefined : validateWhere(b.where);
      if (b.text !== undefined) {
        const text = b.text;
        return ctx.heavy(req, reply, () => run({ text }, b.k, b.minScore, where));
      }
      return run(b.id !== undefined ? { id: b.id } : { vector: b.vector! }, b.k, b.minScore, where);
    },
  );
}
