/**
 * The near-duplicate API at the HTTP boundary, as zod schemas (the route schemas and /openapi.json are derived from
 * them): the query string of `GET …/duplicates`, the JSON body of `POST …/duplicates/check`, and both answers.
 */
import { z } from 'zod';
import { MAX_K } from './options.js';

/** Query-string values are text: a decimal number. */
const decimal = z.string().regex(/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/u, 'a decimal number');
const integer = z.string().regex(/^(0|[1-9][0-9]{0,8})$/u, 'a whole number');

/** Most groups one page of `GET …/duplicates` may hold. */
export const HTTP_MAX_GROUPS = 1000;

export const DuplicatesQuerySchema = z
  .object({
    /** Least score of a duplicate pair (-1 to 1), or `auto` (default). */
    threshold: z.union([z.literal('auto'), decimal]).optional(),
    /** Neighbours per image (1 to 100, default 10). */
    k: integer.optional(),
    /** Least density-normalised margin (default 0.5; 0 with verify). */
    margin: decimal.optional(),
    /** `true`: confirm pairs by matching local features in the image files (slower). */
    verify: z.enum(['true', 'false']).optional(),
    /** Groups to skip (paging). */
    offset: integer.optional(),
    /** Groups per page (1 to 1000, default 50). */
    limit: integer.optional(),
  })
  .strict();
export type DuplicatesQuery = z.infer<typeof DuplicatesQuerySchema>;

const Options = {
  threshold: z.union([z.literal('auto'), z.number().min(-1).max(1)]).optional(),
  k: z.number().int().min(1).max(MAX_K).optional(),
  margin: z.number().min(-1).max(1).optional(),
  verify: z.boolean().optional(),
};

/** JSON body of a check: a stored item's id (multipart uploads carry the same options as text fields). */
export const CheckBodySchema = z.object({ id: z.string().min(1).max(512), ...Options }).strict();
export type CheckBody = z.infer<typeof CheckBodySchema>;

const Verified = z.enum(['identical', 'geometry', 'mirrored']).nullable();

export const DuplicateMemberSchema = z.object({
  id: z.string(),
  path: z.string().nullable(),
  score: z.number(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  size: z.number().nullable(),
  mtimeMs: z.number().nullable(),
  verified: Verified,
});

export const DuplicatesResponseSchema = z.object({
  collection: z.string(),
  items: z.number().int(),
  threshold: z.number(),
  auto: z.boolean(),
  k: z.number().int(),
  margin: z.number(),
  linkThreshold: z.number(),
  verified: z.boolean(),
  totalGroups: z.number().int(),
  totalDuplicates: z.number().int(),
  offset: z.number().int(),
  limit: z.number().int(),
  groups: z.array(z.object({ keeper: DuplicateMemberSchema, duplicates: z.array(DuplicateMemberSchema) })),
  stats: z.object({ candidatePairs: z.number().int(), verifiedPairs: z.number().int(), rejectedPairs: z.number().int(), ms: z.number() }),
  /** When the groups were computed (they are reused for further pages until the collection changes). */
  computedAt: z.string(),
});

export const CheckResponseSchema = z.object({
  duplicate: z.boolean(),
  matches: z.array(
    z.object({ id: z.string(), path: z.string().nullable(), score: z.number(), margin: z.number(), verified: Verified }),
  ),
  threshold: z.number(),
  ms: z.number(),
});
