/**
 * `GET /v1/collections/{name}/duplicates`: near-duplicate groups, paged (the groups are computed once per collection
 * state and options, then served page by page); `POST /v1/collections/{name}/duplicates/check`: is this image (an
 * upload, or a stored item `{id}`) already in the collection?
 */
import type { FastifyInstance } from 'fastify';
import type { Collection } from '../collection.js';
import { DuplicatesQuerySchema, CheckBodySchema, CheckResponseSchema, DuplicatesResponseSchema, HTTP_MAX_GROUPS, type CheckBody, type DuplicatesQuery } from '../duplicates/schema.js';
import type { CheckDuplicateOptions, DuplicatesResult, FindDuplicatesOptions } from '../duplicates/types.js';
import { createError } from '../errors.js';
import { securityOf, type ServerContext } from './context.js';
import { numberField, readMultipart } from './multipart.js';
import { errorResponses, jsonSchema, NameParams } from './schemas.js';

/** Computed groups are reused for this long while the collection's item count stays the same. */
const CACHE_MS = 10 * 60_000;
/** Option sets remembered per collection. */
const CACHE_ENTRIES = 4;
const DEFAULT_LIMIT = 50;

interface Cached {
  readonly at: number;
  readonly count: number;
  readonly result: Promise<DuplicatesResult & { computedAt: string }>;
}

function bool(v: string | undefined, field: string): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'true' || v === 'false') return v === 'true';
  throw createError('INVALID_ARGUMENT', `${field} must be "true" or "false" (got "${v.slice(0, 20)}").`, { field });
}

function findOptions(q: DuplicatesQuery): FindDuplicatesOptions {
  const verify = bool(q.verify, 'verify');
  return {
    threshold: q.threshold === undefined || q.threshold === 'auto' ? 'auto' : Number(q.threshold),
    ...(q.k !== undefined ? { k: Number(q.k) } : {}),
    ...(q.margin !== undefined ? { margin: Number(q.margin) } : {}),
    ...(verify ? { verify } : {}),
  };
}

export async function duplicatesRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const cache = new WeakMap<Collection, Map<string, Cached>>();

  /** The groups for these options: computed, or reused while the collection is unchanged. */
  const groupsOf = async (c: Collection, opts: FindDuplicatesOptions): Promise<DuplicatesResult & { computedAt: string }> => {
    const key = JSON.stringify(opts);
    const count = await c.count();
    const mine = cache.get(c) ?? new Map<string, Cached>();
    cache.set(c, mine);
    const hit = mine.get(key);
    if (hit && hit.count === count && Date.now() - hit.at < CACHE_MS) return hit.result;
    const result = c.findDuplicates(opts).then((r) => ({ ...r, computedAt: new Date().toISOString() }));
    mine.delete(key);
    mine.set(key, { at: Date.now(), count, result });
    if (mine.size > CACHE_ENTRIES) mine.delete(mine.keys().next().value!);
    result.catch(() => mine.get(key)?.result === result && mine.delete(key));
    return result;
  };

  app.get<{ Params: { name: string }; Querystring: DuplicatesQuery }>(
    '/v1/collections/:name/duplicates',
    {
      config: { access: 'read' },
      schema: {
        summary:
          'Groups of near-duplicate images, largest first, each with a suggested keeper (most pixels, then largest file, then oldest) ' +
          'and the others with their scores. Query: threshold (a score, or auto), k, margin, verify (true: confirm pairs by matching ' +
          `local features in the files), offset and limit (groups per page, at most ${HTTP_MAX_GROUPS}, default ${DEFAULT_LIMIT}). The groups ` +
          'are computed once and reused for further pages while the collection does not change. Nothing is deleted.',
        params: NameParams,
        querystring: jsonSchema(DuplicatesQuerySchema, 'input'),
        response: { 200: jsonSchema(DuplicatesResponseSchema, 'output'), ...errorResponses },
        ...securityOf(ctx, 'read'),
      },
    },
    async (req, reply) => {
      const q = req.query;
      const opts = findOptions(q);
      const offset = q.offset === undefined ? 0 : Number(q.offset);
      const limit = q.limit === undefined ? DEFAULT_LIMIT : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > HTTP_MAX_GROUPS) {
        throw createError('INVALID_ARGUMENT', `limit must be an integer from 1 to ${HTTP_MAX_GROUPS} (got ${q.limit}).`, { field: 'limit' });
      }
      await ctx.collections.get(req.params.name); // 404 before any work
      const all = await ctx.heavy(req, reply, () => ctx.collections.use(req.params.name, (c) => groupsOf(c, opts)));
      return { ...all, offset, limit, groups: all.groups.slice(offset, offset + limit) };
    },
  );

  app.post<{ Params: { name: string }; Body: CheckBody | undefined }>(
    '/v1/collections/:name/duplicates/check',
    {
      config: { access: 'read' },
      schema: {
        summary:
          'Is this image already in the collection? Upload it (multipart: image; optional fields threshold, k, margin, verify) or name ' +
          'a stored item (JSON {id, threshold?, k?, margin?, verify?}); answers whether it duplicates items, and which, by the rule of ' +
          'GET …/duplicates.',
        params: NameParams,
        body: { content: { 'application/json': { schema: jsonSchema(CheckBodySchema, 'input') }, 'multipart/form-data': { schema: {} } } },
        response: { 200: jsonSchema(CheckResponseSchema, 'output'), ...errorResponses },
        ...securityOf(ctx, 'read'),
      },
    },
    async (req, reply) => {
      const name = req.params.name;
      await ctx.collections.get(name); // 404 before reading an upload
      if (req.isMultipart()) {
        return ctx.heavy(req, reply, async () => {
          const { files, fields } = await readMultipart(req, 1);
          if (files.length === 0) throw createError('INVALID_ARGUMENT', 'The multipart check needs an image file field.', { field: 'image' });
          const threshold = fields.threshold === 'auto' ? 'auto' : numberField(fields.threshold, 'threshold');
          const k = numberField(fields.k, 'k');
          const margin = numberField(fields.margin, 'margin');
          const verify = bool(fields.verify, 'verify');
          const opts: CheckDuplicateOptions = {
            ...(threshold !== undefined ? { threshold } : {}),
            ...(k !== undefined ? { k } : {}),
            ...(margin !== undefined ? { margin } : {}),
            ...(verify ? { verify } : {}),
          };
          return ctx.collections.use(name, (c) => c.checkDuplicates(files[0]!.bytes, opts));
        });
      }
      const b = req.body;
      if (!b) throw createError('INVALID_ARGUMENT', 'Send JSON {"id": …} or upload an image as multipart/form-data.', { field: 'id' });
      const { id, ...opts } = b;
      return ctx.heavy(req, reply, () => ctx.collections.use(name, (c) => c.checkDuplicates({ id }, opts)));
    },
  );
}
