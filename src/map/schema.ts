/**
 * The collection map at the HTTP boundary, as zod schemas (the route schemas and /openapi.json are derived from them):
 * the query string of `GET …/map`, the map (200) and the answer while it is being computed (202).
 */
import { z } from 'zod';
import { MetadataValueSchema } from '../schema.js';
import { MAX_CLUSTERS } from './map.js';

const integer = z.string().regex(/^(0|[1-9][0-9]{0,9})$/u, 'a whole number');

/** Longest wait for a map before answering 202 (milliseconds). */
export const MAX_WAIT_MS = 20_000;
export const DEFAULT_WAIT_MS = 2_000;

export const MapQuerySchema = z
  .object({
    /** `auto` (default: UMAP up to 50,000 items, PCA beyond), `umap` or `pca`. */
    method: z.enum(['auto', 'umap', 'pca']).optional(),
    /** Number of clusters (1 to 256) or `auto` (default: about √(n/2), at most 36). */
    clusters: z.union([z.literal('auto'), integer]).optional(),
    /** Seed of the layout and the clustering (default 42). */
    seed: integer.optional(),
    /** Metadata keys whose values every point should carry, comma-separated (at most 8): for colouring by a key. */
    keys: z.string().max(1100).optional(),
    /** How long to wait for a map being computed before answering 202 (milliseconds, default 2000, at most 20000). */
    wait: integer.optional(),
  })
  .strict();
export type MapQuery = z.infer<typeof MapQuerySchema>;

export const MapPointSchema = z.object({
  id: z.string(),
  path: z.string().nullable(),
  x: z.number(),
  y: z.number(),
  cluster: z.number().int(),
  metadata: z.record(z.string(), MetadataValueSchema).optional(),
});

export const MapClusterSchema = z.object({
  id: z.number().int(),
  size: z.number().int(),
  x: z.number(),
  y: z.number(),
  representatives: z.array(z.string()),
  labels: z.array(z.string()).optional(),
});

export const MapResponseSchema = z.object({
  collection: z.string(),
  items: z.number().int(),
  method: z.enum(['umap', 'pca']),
  seed: z.number().int(),
  generation: z.number().int(),
  computedAt: z.string(),
  ms: z.number(),
  cached: z.boolean(),
  points: z.array(MapPointSchema),
  clusters: z.array(MapClusterSchema).max(MAX_CLUSTERS),
});

export const MapPendingSchema = z.object({
  status: z.enum(['queued', 'computing']),
  collection: z.string(),
  /** What the computation is doing now (reading, projecting, neighbours, layout, clusters, labels). */
  phase: z.string(),
  done: z.number(),
  total: z.number(),
  /** Ask again after this many seconds (also in the Retry-After header). */
  retryAfter: z.number().int(),
});
export type MapPending = z.infer<typeof MapPendingSchema>;
