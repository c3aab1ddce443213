/** `/v1/collections`: list, create, inspect, delete. */
import type { FastifyInstance } from 'fastify';
import { listModels } from '../embed/registry.js';
import { createError } from '../errors.js';
import type { CreateCollectionBody } from '../schema.js';
import { securityOf, type ServerContext } from './context.js';
import { makeRedactor, redactorFor } from './errors.js';
import * as S from './schemas.js';

/** A Hugging Face id: `owner/name`, no `..`, no `:`, no leading `/` (the regex rules those out but for `..`). */
const HF_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/u;
/** Parameters of the pixel embedders: `16`, `16x4x4`. */
const PIXEL_PARAM = /^[1-9][0-9]{0,4}(x[1-9][0-9]{0,4}){0,3}$/u;

/**
 * Model names a request may use: built-in names (`listModels()`), the `name:param` forms of the pixel embedders
 * (`color-histogram:16x4x4`, `pixels:32`) and Hugging Face ids — never filesystem paths (folders can be used from
 * the CLI). Throws `INVALID_ARGUMENT` otherwise.
 */
export function checkRequestedModel(model: string): string {
  const models = listModels();
  const builtIn = new Set(models.map((m) => m.name));
  const takesParameter = new Set(models.filter((m) => m.parameter !== undefined).map((m) => m.name));
  const colon = model.indexOf(':');
  const ok =
    colon < 0
      ? builtIn.has(model) || (HF_ID.test(model) && !model.includes('..'))
      : takesParameter.has(model.slice(0, colon)) && PIXEL_PARAM.test(model.slice(colon + 1));
  if (!ok) {
    const shown = model.length > 80 ? `${model.slice(0, 80)}…` : model;
    throw createError(
      'INVALID_ARGUMENT',
      `Model ${JSON.stringify(makeRedactor([])(shown))} is not allowed over HTTP: use a built-in name (${[...builtIn].join(', ')}; ` +
        'pixel methods take a parameter like color-histogram:16x4x4) or a Hugging Face id (owner/name) available to the server. ' +
        'Model folders can be used from the CLI.',
      { field: 'model' },
    );
  }
  return model;
}

export async function collectionsRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const { db, collections } = ctx;
  const redact = redactorFor(ctx);

  app.get(
    '/v1/collections',
    { config: { access: 'read' }, schema: { summary: 'List collections', response: { 200: S.CollectionList, ...S.errorResponses }, ...securityOf(ctx, 'read') } },
    async () => {
      const [specs, broken] = await Promise.all([db.listCollections(), db.listBrokenCollections()]);
      const infos = await Promise.allSettled(specs.map((s) => collections.use(s.name, (c) => c.info())));
      return {
        // a collection deleted while the list was being made is left out
        collections: infos.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
        broken: broken.map((b) => ({ name: b.name, error: redact(b.error) })),
        default: ctx.settings.defaultCollection ?? null,
      };
    },
  );

  app.post<{ Body: CreateCollectionBody }>(
    '/v1/collections',
    {
      config: { access: 'write' },
      schema: { summary: 'Create a collection', body: S.CreateCollection, response: { 201: S.CollectionInfo, ...S.errorResponses }, ...securityOf(ctx, 'write') },
    },
    async (req, reply) => {
      const b = req.body;
      const c = await db.createCollection(b.name, {
        model: checkRequestedModel(b.model),
        allowPaths: false, // a Hugging Face id from a request never names a server folder
        ...(b.pooling ? { pooling: b.pooling } : {}),
        ...(b.index ? { index: b.index } : {}),
        ...(b.vectorType ? { vectorType: b.vectorType } : {}),
        ...(b.tiles ? { tiles: b.tiles } : {}),
      });
      await collections.forget(c.name);
      collections.set(c);
      return reply.code(201).send(await c.info());
    },
  );

  app.get<{ Params: { name: string } }>(
    '/v1/collections/:name',
    {
      config: { access: 'read' },
      schema: { summary: 'Inspect a collection', params: S.NameParams, response: { 200: S.CollectionInfo, ...S.errorResponses }, ...securityOf(ctx, 'read') },
    },
    async (req) => collections.use(req.params.name, (c) => c.info()),
  );

  app.delete<{ Params: { name: string } }>(
    '/v1/collections/:name',
    {
      config: { access: 'write' },
      schema: {
        summary: 'Delete a collection, its items and the uploaded originals kept for them',
        params: S.NameParams,
        response: { 200: S.Deleted, ...S.errorResponses },
        ...securityOf(ctx, 'write'),
      },
    },
    async (req) => {
      const name = req.params.name;
      // works for a collection whose stored definition is damaged too (it cannot be opened, only dropped)
      if (!(await db.hasCollection(name))) {
        throw createError('COLLECTION_NOT_FOUND', `No collection "${name}".`, { name });
      }
      await collections.forget(name);
      return { deleted: await db.dropCollection(name) };
    },
  );
}
