/**
 * The API-visible data of lookalike as zod schemas: the one source of truth for metadata and `where` rules (used by
 * the library, the CLI and the HTTP server), for the TypeScript types of what the API returns (`z.infer`), and —
 * converted with `z.toJSONSchema` in `server/schemas.ts` — for the HTTP server's request validation, response
 * serialisation and `/openapi.json`.
 *
 * Collection names and index definitions come from `store/spec.ts` (the definition a store persists), which this file
 * imports at load time: `store/` must never import this file (the cycle would leave these schemas uninitialised).
 */
import { z } from 'zod';
import { createError } from './errors.js';
import { checkWhere, type Where } from './search/where.js';
import { RERANKERS } from './tune/rerank.js';
import { COLLECTION_NAME, IndexSpecSchema, VectorTypeSchema } from './store/spec.js';
import type { CollectionInfo } from './collection.js';
import type { Hit, Item, Metadata, MetadataValue } from './store/types.js';

// ---------------------------------------------------------------------------------------------------------------
// Metadata and filters
// ---------------------------------------------------------------------------------------------------------------

/** Bounds of a metadata object (see README, "Security"). */
export const METADATA_LIMITS = {
  /** Nesting of objects and arrays; the metadata object itself is level 1. */
  maxDepth: 8,
  maxKeysPerObject: 64,
  /** `JSON.stringify(metadata)`, in UTF-8 bytes. */
  maxBytes: 16 * 1024,
  maxKeyLength: 128,
} as const;

/** Most conditions in one `where` filter. */
export { MAX_WHERE_CONDITIONS } from './search/where.js';
import { MAX_WHERE_CONDITIONS } from './search/where.js';

/**
 * A metadata key (and a `where` key): 1-128 characters, none of them a control character (NUL included), a
 * backslash, a quote (`"`, `'`, backtick) or a character that means a path in JSON path / SQL JSON operators
 * (`.`, `$`, `[`, `]`). Keys are used as plain names by every store; nothing needs escaping.
 */
export const METADATA_KEY = /^[^\u0000-\u001f\u007f\\"'`.$[\]]{1,128}$/u;

export const MetadataKeySchema = z
  .string()
  .min(1)
  .max(METADATA_LIMITS.maxKeyLength)
  .regex(METADATA_KEY, 'keys must not contain control characters, backslashes, quotes or path characters (. $ [ ])');

/** Why `key` is not an acceptable metadata / where key, or undefined. */
function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'keys must not be empty';
  if (key.length > METADATA_LIMITS.maxKeyLength) return `keys must be at most ${METADATA_LIMITS.maxKeyLength} characters`;
  if (!METADATA_KEY.test(key)) return 'keys must not contain control characters (NUL), backslashes, quotes or path characters (. $ [ ])';
  return undefined;
}

/** A short, printable rendering of a key for error messages (never the whole of a long key). */
function showKey(key: string): string {
  const printable = key.replace(/[\u0000-\u001f\u007f]/gu, '?');
  return JSON.stringify(printable.length > 40 ? `${printable.slice(0, 40)}…` : printable);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/**
 * What is wrong with `value` as metadata, or undefined when it is acceptable. Walks at most `maxDepth` levels (a
 * deeper value is rejected without being walked further, so hostile nesting costs nothing).
 */
export function metadataProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return 'must be a JSON object';
  const walk = (v: unknown, depth: number, at: string): string | undefined => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
    if (typeof v === 'number') return Number.isFinite(v) ? undefined : `${at}: numbers must be finite`;
    const container = Array.isArray(v) || isPlainObject(v);
    if (!container) return `${at}: values must be JSON (string, number, boolean, null, array or object)`;
    if (depth > METADATA_LIMITS.maxDepth) return `nested deeper than ${METADATA_LIMITS.maxDepth} levels (at ${at})`;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const p = walk(v[i], depth + 1, `${at}[${i}]`);
        if (p) return p;
      }
      return undefined;
    }
    const keys = Object.keys(v);
    if (keys.length > METADATA_LIMITS.maxKeysPerObject) {
      return `more than ${METADATA_LIMITS.maxKeysPerObject} keys in one object (${keys.length} at ${at})`;
    }
    for (const k of keys) {
      const kp = keyProblem(k);
      if (kp) return `${kp} (key ${showKey(k)} at ${at})`;
      const p = walk((v as Record<string, unknown>)[k], depth + 1, `${at}.${showKey(k)}`);
      if (p) return p;
    }
    return undefined;
  };
  const problem = walk(value, 1, 'top level');
  if (problem) return problem;
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > METADATA_LIMITS.maxBytes) return `larger than ${METADATA_LIMITS.maxBytes} bytes as JSON (${bytes})`;
  return undefined;
}

/**
 * Metadata of an item: a bounded JSON object (depth ≤ 8, ≤ 64 keys per object, ≤ 16 KiB as JSON, keys as
 * `METADATA_KEY`). The bounds beyond the key rule are not expressible in JSON Schema; they are checked by the
 * refinement (and by `validateMetadata`).
 */
export const MetadataSchema = z.record(MetadataKeySchema, z.unknown()).superRefine((v, ctx) => {
  const problem = metadataProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Metadata as returned (stored metadata is not re-validated on the way out). */
export const StoredMetadataSchema = z.record(z.string(), z.unknown());

/**
 * Check that `value` is acceptable metadata and return it typed. Throws `INVALID_METADATA` naming `field` and the
 * rule that failed. Called by the library (`addImages`, `indexFolder`), the CLI and the HTTP server.
 */
export function validateMetadata(value: unknown, field = 'metadata'): Metadata {
  const problem = metadataProblem(value);
  if (problem) throw createError('INVALID_METADATA', `${field}: metadata ${problem}.`, { field });
  return value as Metadata;
}

export const MetadataValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** Metadata equality filter: every key must equal its value. At most 32 conditions, keys as metadata keys. */
/**
 * A metadata filter: key → value (equality) or key → {eq, ne, gt, gte, lt, lte, in, nin, exists}, all ANDed, plus
 * `$near: {lat, lon, km}`. The request schema checks keys and that each condition is a value or an object; the
 * operators are checked by `validateWhere`, so a bad one gets one message naming the key and the operator instead of
 * a list of schema alternatives.
 */
export const WhereSchema = z
  .record(z.union([MetadataKeySchema, z.literal('$near')]), z.union([MetadataValueSchema, z.record(z.string(), z.unknown())]))
  .superRefine((v, ctx) => {
    const n = Object.keys(v).length;
    if (n > MAX_WHERE_CONDITIONS) ctx.addIssue({ code: 'custom', message: `at most ${MAX_WHERE_CONDITIONS} conditions (got ${n})` });
  })
  .describe(
    'Metadata filter: {"key": value} (equality, compared as text) or {"key": {"eq"|"ne": v, "gt"|"gte"|"lt"|"lte": number or string, "in"|"nin": [v…], "exists": bool}}, ' +
      'all conditions ANDed (at most 32), plus {"$near": {"lat", "lon", "km"}} on numeric lat/lon metadata. See docs/filters.md.',
  );
export type { Where } from './search/where.js';

/**
 * Check a `where` filter (see src/search/where.ts): at most 32 conditions, keys as metadata keys, known operators
 * with values of the right type. Throws `INVALID_ARGUMENT` (field `where`) saying which rule failed. Used by the
 * library, the CLI and the server.
 */
export function validateWhere(value: unknown, field = 'where'): Where {
  return checkWhere(value, field, keyProblem, showKey);
}

// ---------------------------------------------------------------------------------------------------------------
// What the API returns
// ---------------------------------------------------------------------------------------------------------------

export const CollectionNameSchema = z.string().regex(COLLECTION_NAME, 'collection names are 1-128 letters, digits, "_", "-" or ".", starting with a letter or digit');
export const ItemIdSchema = z.string().min(1).max(256).regex(/^[^/\\]+$/u, 'ids contain no slashes');

export const TileBoxSchema = z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() });

export const HitSchema = z.object({
  id: z.string(),
  path: z.string().nullable(),
  score: z.number(),
  metadata: StoredMetadataSchema,
  /** Tiled collections: the tile (fractions of the image) that matched best, when it beat the whole image. */
  tile: TileBoxSchema.optional(),
});
export type HitT = z.infer<typeof HitSchema>;

/** A search hit; with `collapse`, the near-duplicates folded into it. */
export const SearchHitSchema = HitSchema.extend({
  folded: z.array(z.object({ id: z.string(), path: z.string().nullable(), score: z.number() })).optional(),
  /** Collections with calibrated scores (`lookalike tune --calibrate`): the share of random pairs scoring below this hit. */
  confidence: z.number().optional(),
});

export const ItemSchema = z.object({
  id: z.string(),
  path: z.string().nullable(),
  contentHash: z.string().nullable(),
  size: z.number().int().nullable(),
  mtimeMs: z.number().nullable(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  metadata: StoredMetadataSchema,
  updatedAt: z.string(),
});
export type ItemT = z.infer<typeof ItemSchema>;

export const CollectionInfoSchema = z.object({
  collection: z.string(),
  count: z.number().int(),
  model: z.string(),
  embedder: z.string(),
  dimension: z.number().int(),
  metric: z.string(),
  vectorType: z.string(),
  modalities: z.array(z.string()).readonly(),
  createdAt: z.string(),
  index: IndexSpecSchema,
  bytesPerVector: z.number().int(),
  /** Tile grids of a tiled collection (region search), or null. */
  tiles: z.array(z.string()).readonly().nullable(),
  /** Vectors kept per image: 1, plus the tiles. */
  vectorsPerImage: z.number().int(),
  /** Index memory per image (all its vectors). */
  bytesPerImage: z.number().int(),
  /** Whether hits carry a calibrated `confidence` (`lookalike tune --calibrate`; `minConfidence` works). */
  calibrated: z.boolean(),
});
export type CollectionInfoT = z.infer<typeof CollectionInfoSchema>;

export const BrokenCollectionSchema = z.object({ name: z.string(), error: z.string() });

export const CollectionListSchema = z.object({
  collections: z.array(CollectionInfoSchema),
  /** Collections whose stored definition cannot be read (they can be deleted). */
  broken: z.array(BrokenCollectionSchema),
  default: z.string().nullable(),
});

export const OnConflictSchema = z.enum(['replace', 'skip', 'merge']);
export type OnConflict = z.infer<typeof OnConflictSchema>;

export const AddedItemSchema = z.object({
  id: z.string(),
  path: z.string().nullable(),
  /** `added`: new; `updated`: an item with this id existed and was replaced/merged; `skipped`: existed, left as it was. */
  status: z.enum(['added', 'updated', 'skipped']),
});

export const AddResponseSchema = z.object({
  added: z.array(AddedItemSchema),
  updated: z.number().int(),
  skipped: z.number().int(),
  failures: z.array(z.object({ filename: z.string(), error: z.string() })),
  /** Images stored although something about them could not be read (broken EXIF…). */
  warnings: z.array(z.object({ filename: z.string(), warning: z.string() })),
});
export type AddResponse = z.infer<typeof AddResponseSchema>;

export const SearchResponseSchema = z.object({ results: z.array(SearchHitSchema) });

export const EmbedResponseSchema = z.object({
  collection: z.string(),
  model: z.string(),
  dimension: z.number().int(),
  vector: z.array(z.number()),
});

export const DeletedSchema = z.object({ deleted: z.union([z.number().int(), z.boolean()]) });

export const ErrorResponseSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export const ReadyResponseSchema = z.object({
  status: z.enum(['ready', 'unavailable']),
  code: z.string().optional(),
  message: z.string().optional(),
});

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export const NameParamsSchema = z.object({ name: CollectionNameSchema });
export const ItemParamsSchema = z.object({ name: CollectionNameSchema, id: ItemIdSchema });
/** Query strings are text (the API does not coerce types): a number of pixels, 16 to 1024. */
export const ThumbQuerySchema = z
  .object({ size: z.string().regex(/^(1[6-9]|[2-9][0-9]|[1-9][0-9]{2}|10[01][0-9]|102[0-4])$/u, 'size is 16 to 1024').optional() })
  .strict();

const IndexRequestSchema = z
  .object({
    type: z.enum(['flat', 'hnsw', 'ivf']),
    projection: z.number().int().min(1).optional(),
    m: z.number().int().optional(),
    efConstruction: z.number().int().optional(),
    ef: z.number().int().optional(),
    nlist: z.number().int().optional(),
    nprobe: z.number().int().optional(),
  })
  .strict();

export const CreateCollectionBodySchema = z
  .object({
    name: CollectionNameSchema,
    /** A built-in model name (`listModels()`, `color-histogram:16x4x4`…) or a Hugging Face id; never a path over HTTP. */
    model: z.string().min(1).max(200),
    pooling: z.enum(['cls', 'mean', 'gem', 'max']).optional(),
    /** Search index; missing parameters take the library's defaults. */
    index: IndexRequestSchema.optional(),
    vectorType: VectorTypeSchema.optional(),
    /** Tile grids for region search, e.g. ["3x3@0.5"]. */
    tiles: z.array(z.string().max(20)).max(4).optional(),
  })
  .strict();
export type CreateCollectionBody = z.infer<typeof CreateCollectionBodySchema>;

/** A region of a query image: pixels, or fractions of the image when all four are at most 1. */
export const CropSchema = z.object({ x: z.number().min(0), y: z.number().min(0), w: z.number().gt(0), h: z.number().gt(0) }).strict();

/** One term of a compositional query: exactly one of text, id, vector (the HTTP API adds upload), and a weight. */
export const SearchTermSchema = z
  .object({
    text: z.string().min(1).max(2000).optional(),
    id: z.string().min(1).max(256).optional(),
    vector: z.array(z.number()).min(1).max(65536).optional(),
    /** Default 1; a negative weight counts the term on the other side. */
    weight: z.number().optional(),
    /** id (and upload) terms: search with this region of the image. */
    crop: CropSchema.optional(),
  })
  .strict();

const MAX_QUERY_TERMS = 32;

export const SearchBodySchema = z
  .object({
    text: z.string().min(1).max(2000).optional(),
    id: z.string().min(1).max(256).optional(),
    vector: z.array(z.number()).min(1).max(65536).optional(),
    /** With id (or upload): search with this region of the image. */
    crop: CropSchema.optional(),
    /** Compositional query: more like these… */
    positive: z.array(SearchTermSchema).min(1).max(MAX_QUERY_TERMS).optional(),
    /** …less like those (with positive). */
    negative: z.array(SearchTermSchema).max(MAX_QUERY_TERMS).optional(),
    /** How positive and negative terms combine (default average). */
    strategy: z.enum(['average', 'best-score']).optional(),
    /** Fold hits at least this similar to a better-ranked hit into it (e.g. 0.97). */
    collapse: z.number().optional(),
    /** Order the hits above minScore by a metadata key or "path" ("-taken": newest first). */
    sort: z.string().max(130).optional(),
    k: z.number().int().optional(),
    minScore: z.number().optional(),
    /** Collections with calibrated scores: drop hits whose confidence is below this (0…1, e.g. 0.99). */
    minConfidence: z.number().optional(),
    /** Query expansion / re-ranking of the top hits (docs/tuning.md): a method name or its options. */
    rerank: z
      .union([
        z.enum(RERANKERS),
        z
          .object({ method: z.enum(RERANKERS), k: z.number().optional(), alpha: z.number().optional(), n: z.number().optional(), beta: z.number().optional() })
          .strict(),
      ])
      .optional(),
    where: WhereSchema.optional(),
  })
  .strict();
export type SearchBody = z.infer<typeof SearchBodySchema>;

export const EmbedBodySchema = z
  .object({
    text: z.string().min(1).max(2000),
    collection: CollectionNameSchema.optional(),
  })
  .strict();
export type EmbedBody = z.infer<typeof EmbedBodySchema>;

// ---------------------------------------------------------------------------------------------------------------
// Compile-time checks: the schemas describe exactly what the library returns (a field added to the library's type
// and missing here — like `bytesPerVector` once — fails the type check instead of being dropped from responses).
// ---------------------------------------------------------------------------------------------------------------

type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
type Describes<Lib, Schema> = [Lib] extends [Schema] ? SameKeys<Lib, Schema> : false;

const schemaMatchesLibrary: [
  Describes<CollectionInfo, CollectionInfoT>,
  Describes<Hit, HitT>,
  Describes<Item, ItemT>,
] = [true, true, true];
void schemaMatchesLibrary;
