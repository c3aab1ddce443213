/**
 * JSON Schemas of the HTTP API, derived from the zod schemas in `src/schema.ts` (the one source of truth): Fastify
 * validates requests with them (ajv), serialises responses with them, and @fastify/swagger publishes them in
 * `/openapi.json`.
 */
import { z } from 'zod';
import * as S from '../schema.js';

type JsonSchema = Record<string, unknown>;

/** draft-07 JSON Schema of a zod schema: `input` for what a client sends, `output` for what the server returns. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const input = (s: z.ZodType) => jsonSchema(s, 'input');
const output = (s: z.ZodType) => jsonSchema(s, 'output');

export const NameParams = input(S.NameParamsSchema);
export const ItemParams = input(S.ItemParamsSchema);
export const ThumbQuery = input(S.ThumbQuerySchema);
export const CreateCollection = input(S.CreateCollectionBodySchema);
export const SearchBody = input(S.SearchBodySchema);
export const EmbedBody = input(S.EmbedBodySchema);

export const CollectionInfo = output(S.CollectionInfoSchema);
export const CollectionList = output(S.CollectionListSchema);
export const SearchResponse = output(S.SearchResponseSchema);
export const AddResponse = output(S.AddResponseSchema);
export const Item = output(S.ItemSchema);
export const EmbedResponse = output(S.EmbedResponseSchema);
export const Deleted = output(S.DeletedSchema);
export const ErrorResponse = output(S.ErrorResponseSchema);
export const ReadyResponse = output(S.ReadyResponseSchema);

/** The error responses every `/v1` route may give (documented in `/openapi.json`). */
export const errorResponses = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

// ---------------------------------------------------------------------------------------------------------------
// What the web page needs beyond the library's shapes: paging and uploaded query images in searches, the server's
// limits, a collection's metadata summary. Built from the shared zod schemas (src/schema.ts) by extension.
// ---------------------------------------------------------------------------------------------------------------

/** The hash naming an uploaded query image the server keeps (first 20 hex digits of its SHA-256). */
export const QUERY_IMAGE_HASH = /^[0-9a-f]{20}$/u;
const QueryImageHashSchema = z.string().regex(QUERY_IMAGE_HASH, 'an uploaded query image is named by 20 lower-case hex digits');

/** A search request over HTTP: the library's, plus `offset` (paging) and `upload` (search again with an uploaded image). */
/** An HTTP query term may also be a query image uploaded earlier (`upload`: the name a multipart search answered with). */
export const HttpSearchTermSchema = S.SearchTermSchema.extend({ upload: QueryImageHashSchema.optional() }).strict();
export type HttpSearchTerm = z.infer<typeof HttpSearchTermSchema>;

export const HttpSearchBodySchema = S.SearchBodySchema.extend({
  positive: z.array(HttpSearchTermSchema).min(1).max(32).optional(),
  negative: z.array(HttpSearchTermSchema).max(32).optional(),
  /** Skip this many of the best results (paging); `offset + k` is at most the server's largest k. */
  offset: z.number().int().optional(),
  /** Search with a query image uploaded earlier (the `upload` of a multipart search's response). */
  upload: QueryImageHashSchema.optional(),
});
export type HttpSearchBody = z.infer<typeof HttpSearchBodySchema>;

export const HttpSearchResponseSchema = S.SearchResponseSchema.extend({
  /** Multipart searches: the name under which the server keeps the uploaded image for a while (search again with `{upload}`). */
  upload: z.string().optional(),
});

export const LimitsSchema = z.object({
  /** Largest k of a search; `offset + k` is at most this too. */
  maxK: z.number().int(),
  /** Largest upload, bytes. */
  maxUploadBytes: z.number().int(),
  /** Most conditions in a `where` filter. */
  maxWhereConditions: z.number().int(),
  /** Image formats accepted in uploads, e.g. "JPEG". */
  acceptedFormats: z.array(z.string()),
  /** The same as MIME types, for an `accept` attribute. */
  acceptedTypes: z.array(z.string()),
  /** Most terms (positive and negative together) in a compositional query. */
  maxQueryTerms: z.number().int(),
  /**
   * Default relevance-feedback weights (Rocchio, for the `average` strategy): the query term weighs alpha, each of the
   * |P| liked hits beta/|P|, each of the |N| disliked hits gamma/|N| (as negative terms).
   */
  feedbackWeights: z.object({ alpha: z.number(), beta: z.number(), gamma: z.number() }),
});
export type Limits = z.infer<typeof LimitsSchema>;

export const MetadataSummarySchema = z.object({
  collection: z.string(),
  /** Items in the collection. */
  items: z.number().int(),
  /** The folder every item's path starts with, or null. */
  pathPrefix: z.string().nullable(),
  /** Top-level keys with string, number or boolean values, most common first; values as text, most common first. */
  keys: z.array(
    z.object({
      key: z.string(),
      items: z.number().int(),
      distinct: z.number().int(),
      values: z.array(z.object({ value: z.string(), count: z.number().int() })),
    }),
  ),
});

/** Query strings are text: `keys` and `values`, 1 to 1000. */
const count1000 = z.string().regex(/^([1-9][0-9]{0,2}|1000)$/u, '1 to 1000');
export const MetadataQuerySchema = z.object({ keys: count1000.optional(), values: count1000.optional() }).strict();
export const QueryImageParamsSchema = z.object({ hash: QueryImageHashSchema });

export const HttpSearchBody = input(HttpSearchBodySchema);
export const HttpSearchResponse = output(HttpSearchResponseSchema);
export const LimitsResponse = output(LimitsSchema);
export const MetadataSummary = output(MetadataSummarySchema);
export const MetadataQuery = input(MetadataQuerySchema);
export const QueryImageParams = input(QueryImageParamsSchema);
