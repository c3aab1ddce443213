/**
 * `POST /v1/collections/{name}/search`: by uploaded image (multipart), or JSON `{text | id | vector | upload}`;
 * `k` results from rank `offset` (paging). A multipart search's image is kept for a while (`upload` in the response)
 * so that the same query can be repeated with `{upload}`.
 */
import type { FastifyInstance } from 'fastify';
import { createError } from '../errors.js';
import { validateWhere, type Where } from '../schema.js';
import type { Crop } from '../image/crop.js';
import type { Query, QueryTerm } from '../search/search.js';
import type { Reranker, RerankOptions } from '../tune/rerank.js';
import { securityOf, type ServerContext } from './context.js';
import { jsonField, numberField, readMultipart, whereField } from './multipart.js';
import { CropSchema, SearchBodySchema } from '../schema.js';

const HttpRerankSchema = SearchBodySchema.shape.rerank.unwrap();
import { queryImageGone } from './query-images.js';
import * as S from './schemas.js';

interface Paging {
  k: number | undefined;
  offset: number | undefined;
  minScore: number | undefined;
  where: Where | undefined;
  collapse: number | undefined;
  sort?: string | undefined;
  minConfidence?: number | undefined;
  rerank?: Reranker | RerankOptions | undefined;
}

/** A multipart `crop` field: JSON `{"x":…,"y":…,"w":…,"h":…}` or `x,y,w,h`. */
function cropField(v: string | undefined): Crop | undefined {
  if (v === undefined || v === '') return undefined;
  const parts = v.trim().startsWith('{') ? undefined : v.split(',').map(Number);
  if (parts) {
    if (parts.length === 4 && parts.every(Number.isFinite)) return { x: parts[0]!, y: parts[1]!, w: parts[2]!, h: parts[3]! };
  } else {
    const parsed = jsonField(v, 'crop', 'INVALID_ARGUMENT');
    const r = CropSchema.safeParse(parsed);
    if (r.success) return r.data;
  }
  throw createError('INVALID_ARGUMENT', `crop must be x,y,w,h or {"x","y","w","h"} (pixels, or fractions when all are at most 1); got "${v.slice(0, 60)}".`, {
    field: 'crop',
  });
}

/** A multipart `rerank` field: a method name, or JSON options `{"method":…,"k":…}`. */
function rerankField(v: string | undefined): Reranker | RerankOptions | undefined {
  if (v === undefined || v === '') return undefined;
  if (!v.trim().startsWith('{')) return v as Reranker; // checked by the library (checkRerank), which names the methods
  const r = HttpRerankSchema.safeParse(jsonField(v, 'rerank', 'INVALID_ARGUMENT'));
  if (r.success) return r.data;
  throw createError('INVALID_ARGUMENT', `rerank must be aqe, alpha-qe or diffusion, or JSON {"method", "k", "alpha", "n", "beta"}; got "${v.slice(0, 60)}".`, {
    field: 'rerank',
  });
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
          'Search by uploaded image (multipart: image, crop, k, offset, minScore, minConfidence, rerank, where, collapse), or JSON {text | id | vector | upload, crop, k, offset, minScore, minConfidence, rerank, where, collapse}, ' +
          'or a compositional query: JSON {positive: [terms], negative: [terms], strategy: "average" | "best-score"}, each term one of {text | id | vector | upload} ' +
          'with an optional weight (negative = less like this) and crop (id and upload terms). ' +
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
            ...(p.collapse !== undefined ? { collapse: p.collapse } : {}),
            ...(p.sort !== undefined ? { sort: p.sort } : {}),
            ...(p.minConfidence !== undefined ? { minConfidence: p.minConfidence } : {}),
            ...(p.rerank !== undefined ? { rerank: p.rerank } : {}),
          }),
        );
        return {
          results: hits.map((h) => ({
            id: h.id,
            path: h.path,
            score: h.score,
            metadata: h.metadata,
            ...(h.tile ? { tile: h.tile } : {}),
            ...(h.folded ? { folded: h.folded } : {}),
            ...(h.confidence !== undefined ? { confidence: h.confidence } : {}),
          })),
        };
      };
      /** An HTTP term as a library term: an `upload` becomes the kept query image's bytes. */
      const toTerm = (t: S.HttpSearchTerm): QueryTerm => {
        const weight = t.weight !== undefined ? { weight: t.weight } : {};
        const crop = t.crop ? { crop: t.crop } : {};
        const kinds = (['text', 'id', 'vector', 'upload'] as const).filter((f) => t[f] !== undefined);
        if (kinds.length !== 1) {
          throw createError('INVALID_ARGUMENT', `A query term needs exactly one of "text", "id", "vector" or "upload" (got ${kinds.join(' and ') || 'none'}).`, {
            field: 'positive',
          });
        }
        if (t.upload !== undefined) {
          const bytes = ctx.queryImages.get(t.upload);
          if (!bytes) throw queryImageGone(ctx.queryImages, t.upload);
          return { image: bytes, ...crop, ...weight };
        }
        if (t.text !== undefined) return { text: t.text, ...weight };
        if (t.id !== undefined) return { id: t.id, ...crop, ...weight };
        return { vector: t.vector!, ...weight };
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
            collapse: numberField(fields.collapse, 'collapse'),
            sort: fields.sort || undefined,
            minConfidence: numberField(fields.minConfidence, 'minConfidence'),
            rerank: rerankField(fields.rerank),
          };
          checkPage(paging.k, paging.offset); // before the image is embedded
          const crop = cropField(fields.crop);
          const found = await run({ image: bytes, ...(crop ? { crop } : {}) }, paging);
          return { ...found, upload: ctx.queryImages.put(bytes) }; // kept only once it is known to be a usable image
        });
      }
      const b = req.body ?? {};
      const given = (['text', 'id', 'vector', 'upload', 'positive'] as const).filter((f) => b[f] !== undefined);
      if (given.length !== 1) {
        throw createError(
          'INVALID_ARGUMENT',
          'Give exactly one of "text", "id", "vector", "upload" or "positive" (a list of query terms), or upload an image as multipart.',
        );
      }
      if (b.positive === undefined && (b.negative !== undefined || b.strategy !== undefined)) {
        throw createError('INVALID_ARGUMENT', '"negative" and "strategy" go with "positive" (a compositional query).', { field: 'negative' });
      }
      if (b.crop !== undefined && b.id === undefined && b.upload === undefined) {
        throw createError('INVALID_ARGUMENT', '"crop" goes with "id" or "upload" (or inside a term of "positive"/"negative").', { field: 'crop' });
      }
      const paging: Paging = {
        k: b.k,
        offset: b.offset,
        minScore: b.minScore,
        where: b.where === undefined ? undefined : validateWhere(b.where),
        collapse: b.collapse,
        sort: b.sort,
        minConfidence: b.minConfidence,
        rerank: b.rerank,
      };
      checkPage(paging.k, paging.offset);
      const crop = b.crop ? { crop: b.crop } : {};
      if (b.positive !== undefined) {
        const terms = [...b.positive, ...(b.negative ?? [])];
        const query: Query = { positive: b.positive.map(toTerm), negative: (b.negative ?? []).map(toTerm), ...(b.strategy ? { strategy: b.strategy } : {}) };
        const embeds = terms.some((t) => t.text !== undefined || t.upload !== undefined || t.crop !== undefined);
        return embeds ? ctx.heavy(req, reply, () => run(query, paging)) : run(query, paging);
      }
      if (b.upload !== undefined) {
        const bytes = ctx.queryImages.get(b.upload);
        if (!bytes) throw queryImageGone(ctx.queryImages, b.upload);
        return ctx.heavy(req, reply, async () => ({ ...(await run({ image: bytes, ...crop }, paging)), upload: b.upload }));
      }
      if (b.text !== undefined) {
        const text = b.text;
        return ctx.heavy(req, reply, () => run({ text }, paging));
      }
      if (b.id !== undefined && b.crop) {
        const id = b.id;
        return ctx.heavy(req, reply, () => run({ id, ...crop }, paging));
      }
      return run(b.id !== undefined ? { id: b.id } : { vector: b.vector! }, paging);
    },
  );
}
