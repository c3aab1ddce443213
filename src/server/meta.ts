/**
 * What a client needs to build its controls: `GET /v1/limits` (the server's largest k, upload size and accepted
 * formats: stated, so a client never has its values clamped silently; the most terms of a compositional query and the
 * default 👍/👎 feedback weights, so a client does not repeat the library's constants) and `GET /v1/collections/{name}/metadata`
 * (a collection's metadata keys with their most common values, for filters).
 */
import type { FastifyInstance } from 'fastify';
import { FEEDBACK_DEFAULTS } from '../eval/feedback.js';
import { ACCEPTED_FORMATS } from '../image/sniff.js';
import { MAX_WHERE_CONDITIONS } from '../schema.js';
import { MAX_TERMS } from '../search/search.js';
import { securityOf, type ServerContext } from './context.js';
import { MIME_OF_FORMAT } from './query-images.js';
import * as S from './schemas.js';

const FORMAT_NAMES: Readonly<Record<string, string>> = { jpeg: 'JPEG', png: 'PNG', webp: 'WebP', gif: 'GIF', tiff: 'TIFF', avif: 'AVIF', heif: 'HEIF' };

export async function metaRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const limits: S.Limits = {
    maxK: ctx.settings.maxK,
    maxUploadBytes: ctx.settings.maxUploadBytes,
    maxWhereConditions: MAX_WHERE_CONDITIONS,
    acceptedFormats: ACCEPTED_FORMATS.map((f) => FORMAT_NAMES[f] ?? f),
    acceptedTypes: ACCEPTED_FORMATS.map((f) => MIME_OF_FORMAT[f] ?? `image/${f}`),
    maxQueryTerms: MAX_TERMS,
    feedbackWeights: { ...FEEDBACK_DEFAULTS.weights },
  };

  app.get(
    '/v1/limits',
    {
      config: { access: 'read' },
      schema: { summary: "The server's limits: largest k, largest upload, accepted image formats, most query terms, default feedback weights", response: { 200: S.LimitsResponse, ...S.errorResponses }, ...securityOf(ctx, 'read') },
    },
    async () => limits,
  );

  app.get<{ Params: { name: string }; Querystring: { keys?: string; values?: string } }>(
    '/v1/collections/:name/metadata',
    {
      config: { access: 'read' },
      schema: {
        summary:
          "A collection's metadata for filters: its top-level keys with string, number or boolean values (most common first, at most `keys`, " +
          'default 32), each with how many items have it, how many distinct values, and its most common values as text (at most `values`, ' +
          'default 20; filter with where {key: value}); and the folder every path starts with',
        params: S.NameParams,
        querystring: S.MetadataQuery,
        response: { 200: S.MetadataSummary, ...S.errorResponses },
        ...securityOf(ctx, 'read'),
      },
    },
    async (req) => {
      const { keys, values } = req.query;
      const summary = await ctx.collections.use(req.params.name, (c) =>
        c.metadataSummary({ ...(keys ? { maxKeys: Number(keys) } : {}), ...(values ? { maxValues: Number(values) } : {}) }),
      );
      return { collection: req.params.name, ...summary };
    },
  );
}
