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
