/** `POST /v1/embed`: a text (JSON) or an image (multipart) embedded with a collection's embedder (like Elasticsearch's _infer). */
import type { FastifyInstance } from 'fastify';
import { createError } from '../errors.js';
import type { EmbedBody } from '../schema.js';
import { securityOf, type ServerContext } from './context.js';
import { readMultipart } from './multipart.js';
import * as S from './schemas.js';

export async function embedRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const which = (name: string | undefined, field: string): string => {
    const n = name ?? ctx.settings.defaultCollection;
    if (!n) throw createError('INVALID_ARGUMENT', `Say which collection's embedder to use: ${field}.`, { field: 'collection' });
    return n;
  };

  app.post<{ Body: EmbedBody | undefined }>(
    '/v1/embed',
    {
      config: { access: 'read' },
      schema: {
        summary: "Embed a text (JSON) or an image (multipart: image, collection) with a collection's embedder",
        body: { content: { 'application/json': { schema: S.EmbedBody }, 'multipart/form-data': { schema: {} } } },
        response: { 200: S.EmbedResponse, ...S.errorResponses },
        ...securityOf(ctx, 'read'),
      },
    },
    async (req, reply) =>
      ctx.heavy(req, reply, async () => {
        let name: string;
        let vector: Float32Array;
        if (req.isMultipart()) {
          const { files, fields } = await readMultipart(req, 1);
          name = which(fields.collection, 'field "collection"');
          if (files.length === 0) throw createError('INVALID_ARGUMENT', 'No image file in the request.', { field: 'image' });
          const bytes = files[0]!.bytes;
          [vector] = (await ctx.collections.use(name, async (c) => (await c.embedder()).embedImages([bytes]))) as [Float32Array];
        } else {
          const b = req.body ?? ({} as Partial<EmbedBody>);
          if (b.text === undefined) throw createError('INVALID_ARGUMENT', 'Send {"text": …} as JSON, or an image as multipart.', { field: 'text' });
          const text = b.text;
          name = which(b.collection, '"collection"');
          [vector] = (await ctx.collections.use(name, async (c) => {
            const imagesOnly = () => createError('TEXT_NOT_SUPPORTED', `Collection "${c.name}" embeds images only (${c.spec.embedder.id}).`);
            if (!c.spec.embedder.modalities.includes('text')) throw imagesOnly();
            const e = await c.embedder();
            if (!e.embedTexts) throw imagesOnly();
            return e.embedTexts([text]);
          })) as [Float32Array];
        }
        const c = await ctx.collections.get(name);
        return { collection: name, model: c.spec.embedder.model, dimension: vector.length, vector: Array.from(vector) };
      }),
  );
}
