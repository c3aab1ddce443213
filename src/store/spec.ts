import { z } from 'zod';
import { createError } from '../errors.js';
import type { CollectionSpec, Metadata, MetadataValue } from './types.js';

export const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function validateCollectionName(name: string): string {
  if (!COLLECTION_NAME.test(name)) {
    throw createError(
      'INVALID_ARGUMENT',
      `Invalid collection name "${name}": use 1-128 letters, digits, "_", "-" or ".", starting with a letter or digit.`,
      { field: 'collection' },
    );
  }
  return name;
}

const EmbedderSpecSchema = z.object({
  id: z.string(),
  kind: z.string(),
  model: z.string(),
  revision: z.string(),
  dimension: z.number().int().positive(),
  modalities: z.array(z.enum(['image', 'text'])),
  preprocessing: z.record(z.string(), z.unknown()),
});

export const CollectionSpecSchema = z.object({
  name: z.string(),
  embedder: EmbedderSpecSchema,
  dimension: z.number().int().positive(),
  metric: z.literal('cosine'),
  vectorType: z.enum(['float32', 'float16', 'int8']),
  createdAt: z.string(),
  index: z
    .union([
      z.object({ type: z.literal('flat'), projection: z.number().int().min(1).optional() }),
      z.object({ type: z.literal('hnsw'), m: z.number().int().min(2).max(256), efConstruction: z.number().int().min(1).max(4096), ef: z.number().int().min(1).max(4096) }),
      z.object({ type: z.literal('ivf'), nlist: z.number().int().min(1).max(65536), nprobe: z.number().int().min(1).max(65536) }),
    ])
    .optional(),
});

/** Parse a spec read back from storage; a damaged one is `STORE_CORRUPT`, naming the collection. */
export function parseStoredSpec(json: string, name: string): CollectionSpec {
  try {
    return CollectionSpecSchema.parse(JSON.parse(json));
  } catch (e) {
    throw createError('STORE_CORRUPT', `The stored definition of collection "${name}" is unreadable: ${(e as Error).message}`, { name }, e);
  }
}

const MetadataValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export const MetadataSchema = z.record(z.string(), z.unknown());

export function validateMetadata(m: unknown, where: string): Metadata {
  const r = MetadataSchema.safeParse(m);
  if (!r.success) throw createError('INVALID_ARGUMENT', `${where}: metadata must be a JSON object`, { field: 'metadata' });
  return r.data;
}

export function validateWhere(where: unknown): Record<string, MetadataValue> {
  const r = z.record(z.string().min(1), MetadataValueSchema).safeParse(where);
  if (!r.success) {
    throw createError('INVALID_ARGUMENT', 'where: expected an object of key → string/number/boolean/null', { field: 'where' });
  }
  return r.data;
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
