/**
 * The HTTP server: the `/v1` API, its OpenAPI document (`/openapi.json`), health probes and the web page, over one
 * `LookalikeDatabase`. Composed from one plugin per concern; every route is thin (validate, call the library, shape
 * the reply).
 *
 * | plugin | file |
 * |---|---|
 * | Host / Origin / CORS / API key / rate limits / timeouts | `security.ts` |
 * | error and not-found handlers (JSON, no paths) | `errors.ts` |
 * | `/v1/collections` | `collections.ts` |
 * | `/v1/collections/{name}/items` | `items.ts` |
 * | `/v1/collections/{name}/search` | `search.ts` |
 * | `/v1/query-images/{hash}` (uploaded query images kept for repeated searches) | `query-images.ts` |
 * | `/v1/limits`, `/v1/collections/{name}/metadata` | `meta.ts` |
 * | `/v1/embed` | `embed.ts` |
 * | `/healthz`, `/readyz` | `health.ts` |
 * | the web page | `web.ts` |
 */
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { collectionsRoutes } from './collections.js';
import { CollectionCache, resolveSettings, type ServerContext, type ServerOptions, type Settings } from './context.js';
import { embedRoutes } from './embed.js';
import { errorsPlugin } from './errors.js';
import { healthRoutes } from './health.js';
import { itemsRoutes } from './items.js';
import { metaRoutes } from './meta.js';
import { QueryImageCache, queryImageRoutes } from './query-images.js';
import { searchRoutes } from './search.js';
import { connectionOptions, heavyGate, securityPlugin } from './security.js';
import { webRoutes } from './web.js';

export type { RateLimitOptions, ServerOptions } from './context.js';
export { checkRequestedModel } from './collections.js';

/** Largest JSON body. */
const JSON_BODY_LIMIT = 1024 * 1024;

/**
 * Build the server (not listening yet: call `listen`). Throws `INVALID_ARGUMENT` for a bad option (an empty API
 * key, a malformed CORS origin, …).
 */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const settings = resolveSettings(opts);
  const app = Fastify({
    // the request log goes to stderr: stdout stays for the CLI's machine-readable output (`serve --json`)
    logger: settings.logger ? { level: 'info', stream: process.stderr } : false,
    bodyLimit: JSON_BODY_LIMIT,
    trustProxy: settings.trustProxy as boolean,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, allowUnionTypes: true } },
    ...connectionOptions(settings),
  });
  app.server.maxConnections = settings.maxConnections;

  await app.register(swagger, {
    openapi: {
      info: { title: 'lookalike', description: 'Image similarity search API', version: '1' },
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: settings.apiKeyRequiredFor === 'reads' ? 'Needed by every /v1 route' : 'Needed by write routes when the server has an API key',
          },
        },
      },
    },
  });
  // Only JSON and multipart bodies are accepted; anything else is a 415.
  app.removeContentTypeParser('text/plain');
  await app.register(multipart, {
    limits: { fileSize: settings.maxUploadBytes, files: 64, fields: 16, fieldSize: 64 * 1024, parts: 100, headerPairs: 100 },
  });

  // queries that embed (uploads, texts, /v1/embed) share micro-batches of up to batchSize (see embed/batcher.ts):
  // by default on a GPU only (ServerOptions.batchQueries)
  const batching = settings.batchQueries ?? opts.db.config.device === 'cuda';
  const collections = new CollectionCache(opts.db, batching && { maxBatch: opts.db.config.batchSize });
  const partial = { db: opts.db, settings, collections, queryImages: new QueryImageCache() };
  await app.register(securityPlugin, { ctx: partial as ServerContext });
  const ctx: ServerContext = { ...partial, heavy: heavyGate(app, settings) };
  await app.register(errorsPlugin, { ctx });

  await app.register(healthRoutes, { ctx });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(collectionsRoutes, { ctx });
  await app.register(itemsRoutes, { ctx });
  await app.register(searchRoutes, { ctx });
  await app.register((await import('./duplicates.js')).duplicatesRoutes, { ctx });
  await app.register((await import('./map.js')).mapRoutes, { ctx });
  await app.register(queryImageRoutes, { ctx });
  await app.register(metaRoutes, { ctx });
  await app.register(embedRoutes, { ctx });
  await app.register(webRoutes, {});

  const warming = settings.warmUp ? startWarmUp(app, ctx, settings) : undefined;
  app.addHook('onClose', async () => {
    await warming?.catch(() => undefined);
    await ctx.collections.closeAll();
  });
  return app;
}

/**
 * Load the default collection's model in the background (for image+text models, run the text tower once), so the
 * first query is not slow; the server listens meanwhile. A failure is logged, not fatal (requests report it).
 */
function startWarmUp(app: FastifyInstance, ctx: ServerContext, settings: Settings): Promise<void> | undefined {
  const name = settings.defaultCollection;
  if (!name) return undefined;
  return new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => ctx.collections.use(name, (c) => c.warmUp()))
    .then(
      () => app.log.info({ collection: name }, 'model warmed up'),
      (err: unknown) => app.log.warn({ err, collection: name }, 'warming up the model failed'),
    );
}
