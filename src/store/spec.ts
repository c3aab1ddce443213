/**
 * The collection definition, as zod schemas: the one source of truth for its TypeScript types (`store/types.ts`),
 * for what is read back from storage, and for the library defaults of each index type.
 */
import { z } from 'zod';
import { createError } from '../errors.js';
import { StoredTuningSchema } from '../tune/schema.js';

export const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Names of the companion collections a store may hold for a collection: tiles (store/tiled.ts), tuning (tune/store.ts). */
const COMPANION_SUFFIXES = ['#tiles', '#tune-a', '#tune-b'] as const;

/**
 * A collection name users may give. Stores also accept the names of companion collections they hold for a
 * collection (`<name>#tiles`, see store/tiled.ts; `<name>#tune-a|b`, see tune/store.ts), which users cannot give.
 */
export function validateCollectionName(name: string, { companion = false }: { companion?: boolean } = {}): string {
  const suffix = companion ? COMPANION_SUFFIXES.find((x) => name.endsWith(x)) : undefined;
  const own = suffix ? name.slice(0, -suffix.length) : name;
  if (!COLLECTION_NAME.test(own)) {
    throw createError(
      'INVALID_ARGUMENT',
      `Invalid collection name "${name}": use 1-128 letters, digits, "_", "-" or ".", starting with a letter or digit.`,
      { field: 'collection' },
    );
  }
  return name;
}

export const EmbedderSpecSchema = z.object({
  /** Stable embedder id: `mobilenet-v1`, `clip:Xenova/clip-vit-base-patch32`, `onnx:my-resnet`, … */
  id: z.string(),
  /** Implementation family (the registry key of the factory). */
  kind: z.string(),
  /** What `--model` resolved from: a registry id, a Hugging Face id, or an absolute folder path. */
  model: z.string(),
  /** Fingerprint of the model files (configs + weight sizes): changes when the model changes. */
  revision: z.string(),
  dimension: z.number().int().positive(),
  modalities: z.array(z.enum(['image', 'text'])).readonly(),
  /** Human-readable preprocessing summary (resize, crop, normalisation, pooling). */
  preprocessing: z.record(z.string(), z.unknown()).readonly(),
});

export const VectorTypeSchema = z.enum(['float32', 'float16', 'int8']);

export const FlatIndexSchema = z.object({
  type: z.literal('flat'),
  /** Scan random projections to this many dimensions, then re-score exactly. */
  projection: z.number().int().min(1).max(65536).optional(),
});
export const HnswIndexSchema = z.object({
  type: z.literal('hnsw'),
  /** Links per node (graph connectivity M). */
  m: z.number().int().min(2).max(256),
  /** Candidate list size while building. */
  efConstruction: z.number().int().min(1).max(4096),
  /** Default candidate list size while searching. */
  ef: z.number().int().min(1).max(4096),
});
export const IvfIndexSchema = z.object({
  type: z.literal('ivf'),
  /** Inverted lists (k-means centroids). */
  nlist: z.number().int().min(1).max(65536),
  /** Lists scanned per query by default. */
  nprobe: z.number().int().min(1).max(65536),
});
export const IndexSpecSchema = z.discriminatedUnion('type', [FlatIndexSchema, HnswIndexSchema, IvfIndexSchema]);

export const CollectionSpecSchema = z.object({
  name: z.string(),
  /** Unique per created collection (never reused, even for a re-created collection of the same name). */
  uid: z.string().optional(),
  embedder: EmbedderSpecSchema,
  dimension: z.number().int().positive(),
  metric: z.literal('cosine'),
  vectorType: VectorTypeSchema,
  createdAt: z.string(),
  /** Defaults to `{ type: 'flat' }`. */
  index: IndexSpecSchema.optional(),
  /** Tile grids (e.g. `["3x3@0.5"]`): extra vectors per image for region search (see store/tiled.ts). */
  tiles: z.array(z.string()).optional(),
  /** Only in a `#tune-a|b` companion: what `tune` learnt (transform, calibration; see tune/schema.ts). */
  tuning: StoredTuningSchema.optional(),
});

/** The library's index parameters when a request leaves them out (the CLI and the server use these too). */
export const INDEX_DEFAULTS = {
  hnsw: { m: 16, efConstruction: 200, ef: 64 },
  ivf: { nlist: 256, nprobe: 16 },
} as const;

type IndexRequest =
  | { readonly type: 'flat'; readonly projection?: number | undefined }
  | { readonly type: 'hnsw'; readonly m?: number | undefined; readonly efConstruction?: number | undefined; readonly ef?: number | undefined }
  | { readonly type: 'ivf'; readonly nlist?: number | undefined; readonly nprobe?: number | undefined };

/** A complete, validated index spec from a partial request (missing parameters take `INDEX_DEFAULTS`). */
export function withIndexDefaults(req: IndexRequest): z.infer<typeof IndexSpecSchema> {
  const defined = Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined));
  const full = req.type === 'flat' ? defined : { ...INDEX_DEFAULTS[req.type], ...defined };
  const r = IndexSpecSchema.safeParse(full);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || 'index';
    throw createError('INVALID_ARGUMENT', `Invalid index setting "${field}" for ${req.type}: ${issue.message}.`, { field });
  }
  return r.data;
}

/** Parse a spec read back from storage; a damaged one is `STORE_CORRUPT`, naming the collection. */
export function parseStoredSpec(json: string, name: string): z.infer<typeof CollectionSpecSchema> {
  try {
    return CollectionSpecSchema.parse(JSON.parse(json));
  } catch (e) {
    throw createError(
      'STORE_CORRUPT',
      `The stored definition of collection "${name}" is unreadable (${e instanceof SyntaxError ? 'not JSON' : 'unexpected fields'}). ` +
        `Delete it (\`lookalike drop\`, or DELETE /v1/collections/${name}) and index it again.`,
      { name },
      e,
    );
  }
}

/** Bytes each vector takes in the search index's memory. */
export function bytesPerVector(spec: { dimension: number; vectorType: z.infer<typeof VectorTypeSchema>; index?: z.infer<typeof IndexSpecSchema> | undefined }): number {
  const d = spec.index?.type === 'flat' && spec.index.projection !== undefined ? spec.index.projection : spec.dimension;
  return d * (spec.vectorType === 'float32' ? 4 : spec.vectorType === 'float16' ? 2 : 1);
}

/** What a store back-end supports; every create and setIndex request is checked against it up front. */
export interface StoreCapabilities {
  readonly indexTypes: readonly z.infer<typeof IndexSpecSchema>['type'][];
  readonly vectorTypes: readonly z.infer<typeof VectorTypeSchema>[];
  /** Random projection of flat indexes. */
  readonly projection: boolean;
  /** `where` filters: metadata equality. */
  readonly filters: readonly 'equals'[];
}

export function checkCapabilities(
  caps: StoreCapabilities,
  index: z.infer<typeof IndexSpecSchema>,
  vectorType: z.infer<typeof VectorTypeSchema>,
  dimension?: number,
): void {
  const no = (what: string, field: string, supported: readonly string[]) =>
    createError('INVALID_ARGUMENT', `This store does not support ${what}; it supports ${supported.join(', ')}.`, { field });
  if (!caps.indexTypes.includes(index.type)) throw no(`the "${index.type}" index`, 'index', caps.indexTypes);
  if (!caps.vectorTypes.includes(vectorType)) throw no(`${vectorType} vectors`, 'vectorType', caps.vectorTypes);
  if (index.type === 'flat' && index.projection !== undefined) {
    if (!caps.projection) throw no('random projection', 'projection', ['none']);
    if (dimension !== undefined && index.projection >= dimension) {
      throw createError('INVALID_ARGUMENT', `projection must be below the dimension (${dimension}); got ${index.projection}.`, { field: 'projection' });
    }
  }
}

/** Vectors must have the collection's dimension and finite values. */
export function checkVector(v: Float32Array, dimension: number, what: string): void {
  if (v.length !== dimension) {
    throw createError('DIMENSION_MISMATCH', `${what} has ${v.length} dimensions; the collection has ${dimension}.`, {
      expected: dimension,
      actual: v.length,
    });
  }
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) throw createError('INVALID_ARGUMENT', `${what} contains a non-finite value at index ${i}.`);
  }
}
