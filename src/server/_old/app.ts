import multipart, { type MultipartFile } from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { listModels } from '../../embed/registry.js';
import { isHubId, MODEL_REGISTRY } from '../../embed/resolve.js';
import { createError, httpStatusOf, LookalikeError, reasonOf, type ErrorCode } from '../../errors.js';
import { contentHashOf } from '../../image/read.js';
import type { Collection, LookalikeDatabase } from '../../lookalike.js';
import type { Query } from '../../search/search.js';
import { z } from 'zod';
const validateWhere = (w: unknown) => { const r = z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean(), z.null()])).safeParse(w); if (!r.success) throw createError('INVALID_ARGUMENT', 'where: bad'); return r.data; };
import type { MetadataValue } from '../../store/types.js';
import * as S from './schemas.js';

export interface ServerOptions {
  readonly db: LookalikeDatabase;
  /** Collection the web page opens first. */
  readonly defaultCollection?: string;
  /** When set, write routes need `Authorization: Bearer <key>` (or `x-api-key`). */
  readonly apiKey?: string;
  /** Largest accepted upload, bytes (default 20 MiB). */
  readonly maxUploadBytes?: number;
  /** Largest k a search may ask for (default 1000). */
  readonly maxK?: number;
  readonly logger?: boolean;
}

/** The compiled web page (dist/web; `npm run build` puts it there). */
const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'web');

/** Model names a request may use: built-in names and Hugging Face ids, never filesystem paths. */
function checkRequestedModel(model: string): string {
  const base = model.split(':')[0]!;
  const builtIn = MODEL_REGISTRY[base] || listModels().some((m) => m.name === base);
  if (!builtIn && !isHubId(model)) {
    throw createError(
      'INVALID_ARGUMENT',
      `Model "${model}" is not allowed over HTTP: use a built-in name (${listModels().map((m) => m.name).join(', ')}) or a ` +
        'Hugging Face id available to the server. Folders can be used from the CLI.',
      { field: 'model' },
    );
  }
  return model;
}

function sendError(reply: FastifyReply, status: number, code: ErrorCode | 'NOT_FOUND' | 'UNAUTHORIZED' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE', message: string) {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

/**
 * The HTTP API (`/v1`), its OpenAPI document and the web page, over one `LookalikeDatabase`. Thin: every route
 * validates its input (JSON schema) and calls the library.
 */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const maxUpload = opts.maxUploadBytes ?? 20 * 1024 * 1024;
  const maxK = opts.maxK ?? 1000;
  const app = Fastify({
    logger: opts.logger ? { level: 'info' } : false,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, allowUnionTypes: true } },
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'lookalike', description: 'Image similarity search API', version: '1' },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Needed by write routes when the server has an API key' } },
      },
    },
  });
  // Only JSON and multipart bodies are accepted; anything else is a 415.
  app.removeContentTypeParser('text/plain');
  await app.register(multipart, { limits: { fileSize: maxUpload, files: 64, fields: 16, fieldSize: 64 * 1024, parts: 100 } });

  // ---- errors: always JSON, a stable code, never a stack trace ----
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, req, reply) => {
    if (err instanceof LookalikeError) return sendError(reply, httpStatusOf(err.code), err.code, err.message);
    if (err.validation) return sendError(reply, 400, 'INVALID_ARGUMENT', `Invalid request: ${err.message}`);
    if (err.code === 'FST_REQ_FILE_TOO_LARGE' || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
      return sendError(reply, 413, 'PAYLOAD_TOO_LARGE', `Request too large (uploads up to ${maxUpload} bytes, JSON bodies up to 1 MiB).`);
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) {
      return sendError(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send application/json or multipart/form-data.');
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, 'INVALID_ARGUMENT', err.message);
    }
    req.log.error(err);
    return sendError(reply, 500, 'INTERNAL', 'Internal error; see the server log.');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`));

  // ---- auth for write routes ----
  const requireKey = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!opts.apiKey) return;
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice(7) : (req.headers['x-api-key'] as string | undefined);
    const a = Buffer.from(given ?? '');
    const b = Buffer.from(opts.apiKey);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      return sendError(reply, 401, 'UNAUTHORIZED', 'This route needs the API key: send "Authorization: Bearer <key>".');
    }
  };

  // ---- collections, cached with their loaded embedders ----
  const open = new Map<string, Promise<Collection>>();
  const collection = (name: string): Promise<Collection> => {
    let c = open.get(name);
    if (!c) {
      c = opts.db.openCollection(name);
      open.set(name, c);
      c.catch(() => open.delete(name));
    }
    return c;
  };
  app.addHook('onClose', async () => {
    for (const c of open.values()) await (await c.catch(() => undefined))?.close();
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/v1/collections', { schema: { summary: 'List collections', response: { 200: S.CollectionList } } }, async () => {
    const specs = await opts.db.listCollections();
    return { collections: await Promise.all(specs.map(async (s) => (await collection(s.name)).info())), default: opts.defaultCollection ?? null };
  });

  app.post<{ Body: { name: string; model: string; pooling?: 'cls' | 'mean' } }>(
    '/v1/collections',
    { preHandler: requireKey, schema: { summary: 'Create a collection', body: S.CreateCollection, response: { 201: S.CollectionInfo }, security: [{ apiKey: [] }] } },
    async (req, reply) => {
      const c = await opts.db.createCollection(req.body.name, {
        model: checkRequestedModel(req.body.model),
        ...(req.body.pooling ? { pooling: req.body.pooling } : {}),
      });
      open.set(c.name, Promise.resolve(c));
      return reply.code(201).send(await c.info());
    },
  );

  app.get<{ Params: { name: string } }>(
    '/v1/collections/:name',
    { schema: { summary: 'Inspect a collection', params: S.NameParams, response: { 200: S.CollectionInfo } } },
    async (req) => (await collection(req.params.name)).info(),
  );

  app.delete<{ Params: { name: string } }>(
    '/v1/collections/:name',
    { preHandler: requireKey, schema: { summary: 'Delete a collection', params: S.NameParams, security: [{ apiKey: [] }] } },
    async (req) => {
      await collection(req.params.name); // 404 when missing
      const c = open.get(req.params.name);
      open.delete(req.params.name);
      await (await c)?.close();
      return { deleted: await opts.db.dropCollection(req.params.name) };
    },
  );

  // ---- search ----
  const parseNumberField = (v: string | undefined, field: string): number | undefined => {
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw createError('INVALID_ARGUMENT', `${field} must be a number (got "${v}").`, { field });
    return n;
  };
  const parseWhereField = (v: string | undefined): Record<string, MetadataValue> | undefined => {
    if (v === undefined || v === '') return undefined;
    try {
      return validateWhere(JSON.parse(v));
    } catch (e) {
      throw e instanceof LookalikeError ? e : createError('INVALID_ARGUMENT', 'where must be a JSON object of key → value.', { field: 'where' });
    }
  };
  const checkK = (k: number | undefined): number => {
    const kk = k ?? 10;
    if (!Number.isInteger(kk) || kk < 1 || kk > maxK) {
      throw createError('INVALID_ARGUMENT', `k must be an integer from 1 to ${maxK} (got ${k}).`, { field: 'k' });
    }
    return kk;
  };

  /** Read a multipart request: one or more image files (buffered, size-limited) and text fields. */
  async function readMultipart(req: FastifyRequest, maxFiles: number): Promise<{ files: { name: string; bytes: Buffer }[]; fields: Record<string, string> }> {
    const files: { name: string; bytes: Buffer }[] = [];
    const fields: Record<string, string> = {};
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        const f = part as MultipartFile;
        const bytes = await f.toBuffer(); // throws FST_REQ_FILE_TOO_LARGE past the limit
        if (files.length >= maxFiles) throw createError('INVALID_ARGUMENT', `At most ${maxFiles} image(s) per request.`, { field: 'image' });
        files.push({ name: f.filename, bytes });
      } else {
        fields[part.fieldname] = String(part.value);
      }
    }
    return { files, fields };
  }

  app.post<{ Params: { name: string }; Body: S.SearchBodyT }>(
    '/v1/collections/:name/search',
    {
      schema: {
        summary: 'Search by uploaded image (multipart: image, k, minScore, where), or JSON {text | id | vector, k, minScore, where}',
        params: S.NameParams,
        body: { content: { 'application/json': { schema: S.SearchBody }, 'multipart/form-data': { schema: {} } } },
        response: { 200: S.SearchResponse },
      },
    },
    async (req) => {
      const c = await collection(req.params.name);
      let query: Query;
      let k: number | undefined;
      let minScore: number | undefined;
      let where: Record<string, MetadataValue> | undefined;
      if (req.isMultipart()) {
        const { files, fields } = await readMultipart(req, 1);
        if (files.length === 0) throw createError('INVALID_ARGUMENT', 'Multipart search needs an image file field.', { field: 'image' });
        query = { image: files[0]!.bytes };
        k = parseNumberField(fields.k, 'k');
        minScore = parseNumberField(fields.minScore, 'minScore');
        where = parseWhereField(fields.where);
      } else {
        const b = req.body ?? {};
        const given = (['text', 'id', 'vector'] as const).filter((f) => b[f] !== undefined);
        if (given.length !== 1) throw createError('INVALID_ARGUMENT', 'Give exactly one of "text", "id" or "vector" (or upload an image as multipart).');
        query = b.text !== undefined ? { text: b.text } : b.id !== undefined ? { id: b.id } : { vector: b.vector! };
        k = b.k;
        minScore = b.minScore;
        where = b.where === undefined ? undefined : validateWhere(b.where);
      }
      const hits = await c.search(query, { k: checkK(k), ...(minScore !== undefined ? { minScore } : {}), ...(where ? { where } : {}) });
      return { results: hits.map((h) => ({ id: h.id, path: h.path, score: h.score, metadata: h.metadata })) };
    },
  );

  // ---- items ----
  app.post<{ Params: { name: string } }>(
    '/v1/collections/:name/items',
    {
      preHandler: requireKey,
      schema: {
        summary: 'Add images (multipart: one or more image files, optional metadata JSON field)',
        params: S.NameParams,
        response: { 200: S.AddResponse },
        security: [{ apiKey: [] }],
      },
    },
    async (req) => {
      const c = await collection(req.params.name);
      if (!req.isMultipart()) throw createError('INVALID_ARGUMENT', 'Upload images as multipart/form-data.', { field: 'image' });
      const { files, fields } = await readMultipart(req, 32);
      if (files.length === 0) throw createError('INVALID_ARGUMENT', 'No image file in the request.', { field: 'image' });
      let metadata: Record<string, unknown> = {};
      if (fields.metadata) {
        try {
          const m: unknown = JSON.parse(fields.metadata);
          if (!m || typeof m !== 'object' || Array.isArray(m)) throw new Error('not an object');
          metadata = m as Record<string, unknown>;
        } catch {
          throw createError('INVALID_ARGUMENT', 'metadata must be a JSON object.', { field: 'metadata' });
        }
      }
      // Uploads are kept (named by content hash) so results can show thumbnails of them.
      const dir = path.join(opts.db.location.includes('://') ? path.join(process.cwd(), 'lookalike-uploads') : opts.db.location, 'uploads', c.name);
      fs.mkdirSync(dir, { recursive: true });
      const inputs = await Promise.all(
        files.map(async (f) => {
          const hash = contentHashOf(f.bytes);
          let format = 'img';
          try {
            format = (await sharp(f.bytes).metadata()).format ?? 'img';
          } catch {
            // not an image: addImages reports it
          }
          const file = path.join(dir, `${hash.slice(0, 32)}.${format}`);
          return { bytes: f.bytes, file, metadata: { ...metadata, filename: f.name } };
        }),
      );
      const r = await c.addImages(inputs.map((i) => ({ bytes: i.bytes, path: i.file, metadata: i.metadata })));
      const failedIdx = new Set(r.failures.map((f) => f.index));
      inputs.forEach((i, idx) => {
        if (!failedIdx.has(idx) && !fs.existsSync(i.file)) fs.writeFileSync(i.file, i.bytes);
      });
      return {
        added: r.added,
        failures: r.failures.map((f) => ({ filename: files[f.index]!.name, error: f.error })),
      };
    },
  );

  app.get<{ Params: { name: string; id: string } }>(
    '/v1/collections/:name/items/:id',
    { schema: { summary: 'Get one item', params: S.ItemParams, response: { 200: S.Item } } },
    async (req) => {
      const item = await (await collection(req.params.name)).get(req.params.id);
      if (!item) throw createError('ITEM_NOT_FOUND', `No item "${req.params.id}" in collection "${req.params.name}".`);
      return item;
    },
  );

  app.delete<{ Params: { name: string; id: string } }>(
    '/v1/collections/:name/items/:id',
    { preHandler: requireKey, schema: { summary: 'Delete one item', params: S.ItemParams, security: [{ apiKey: [] }] } },
    async (req) => {
      const n = await (await collection(req.params.name)).delete([req.params.id]);
      if (n === 0) throw createError('ITEM_NOT_FOUND', `No item "${req.params.id}" in collection "${req.params.name}".`);
      return { deleted: n };
    },
  );

  app.get<{ Params: { name: string; id: string }; Querystring: { size?: string } }>(
    '/v1/collections/:name/items/:id/thumbnail',
    { schema: { summary: 'JPEG thumbnail of an indexed image', params: S.ItemParams, querystring: S.ThumbQuery } },
    async (req, reply) => {
      const item = await (await collection(req.params.name)).get(req.params.id);
      if (!item) throw createError('ITEM_NOT_FOUND', `No item "${req.params.id}" in collection "${req.params.name}".`);
      // The path comes from the store, never from the request.
      if (!item.path) throw createError('FILE_NOT_FOUND', 'This item has no image file.');
      const size = req.query.size === undefined ? 256 : Number(req.query.size);
      let jpg: Buffer;
      try {
        jpg = await sharp(item.path, { limitInputPixels: opts.db.config.maxPixels }).rotate().resize(size, size, { fit: 'inside' }).jpeg({ quality: 80 }).toBuffer();
      } catch (e) {
        throw createError('FILE_NOT_FOUND', `The image file of item "${item.id}" cannot be read: ${reasonOf(e)}`);
      }
      return reply.type('image/jpeg').header('cache-control', 'max-age=3600').send(jpg);
    },
  );

  // ---- embed (like Elasticsearch's _infer) ----
  app.post<{ Body: S.EmbedBodyT }>(
    '/v1/embed',
    {
      schema: {
        summary: "Embed a text (JSON) or an image (multipart) with a collection's embedder",
        body: { content: { 'application/json': { schema: S.EmbedBody }, 'multipart/form-data': { schema: {} } } },
        response: { 200: S.EmbedResponse },
      },
    },
    async (req) => {
      let name: string | undefined;
      let vector: Float32Array;
      if (req.isMultipart()) {
        const { files, fields } = await readMultipart(req, 1);
        name = fields.collection ?? opts.defaultCollection;
        if (!name) throw createError('INVALID_ARGUMENT', 'Say which collection\'s embedder to use: field "collection".', { field: 'collection' });
        if (files.length === 0) throw createError('INVALID_ARGUMENT', 'No image file in the request.', { field: 'image' });
        const e = await (await collection(name)).embedder();
        [vector] = (await e.embedImages([files[0]!.bytes])) as [Float32Array];
      } else {
        const b = req.body ?? ({} as S.EmbedBodyT);
        name = b.collection ?? opts.defaultCollection;
        if (!name) throw createError('INVALID_ARGUMENT', 'Say which collection\'s embedder to use: "collection".', { field: 'collection' });
        const c = await collection(name);
        if (!c.spec.embedder.modalities.includes('text')) {
          throw createError('TEXT_NOT_SUPPORTED', `Collection "${name}" embeds images only (${c.spec.embedder.id}).`);
        }
        const e = await c.embedder();
        [vector] = (await e.embedTexts!([b.text])) as [Float32Array];
      }
      const c = await collection(name);
      return { collection: name, model: c.spec.embedder.model, dimension: vector.length, vector: Array.from(vector) };
    },
  );

  // ---- web page ----
  if (fs.existsSync(WEB_DIR)) {
    await app.register(fastifyStatic, { root: WEB_DIR, prefix: '/', index: ['index.html'], wildcard: false });
  }
  return app;
}
