/**
 * What `tune` learns for a collection, as zod schemas (stored in the spec of the collection's `<name>#tune`
 * companion, JSON, both stores): a linear transform (PCA-whitening or LDA) and calibrated scores. Versioned: a
 * reader that meets a version it does not know refuses it with a message to run `lookalike tune` again.
 */
import { z } from 'zod';

/** Version of the stored tuning format. */
export const TUNING_VERSION = 1;

/** Float32 arrays are stored as base64 of their little-endian bytes (a 1024×256 matrix is 1.4 MB of text). */
const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/u, 'base64');

export const LinearTransformSchema = z.object({
  /** `whiten`: centring + PCA-whitening learnt without labels; `lda`: linear discriminant analysis on labels. */
  kind: z.enum(['whiten', 'lda']),
  /** Signed power applied to each component first (0.5 = signed square root, 1 = none), then L2-normalised. */
  power: z.number().gt(0).max(1),
  inputDimension: z.number().int().positive(),
  outputDimension: z.number().int().positive(),
  /** Mean of the (power-normalised) vectors it was learnt from: float32 × inputDimension, base64. */
  mean: Base64,
  /** Projection: float32, inputDimension × outputDimension, row-major, base64. */
  matrix: Base64,
  /** The settings it was learnt with (shrinkage, exponent, regularisation, classes…), for `info`. */
  params: z.record(z.string(), z.union([z.number(), z.string()])),
  /** Vectors it was learnt from. */
  learnedFrom: z.number().int().nonnegative(),
});

export const CalibrationSchema = z.object({
  /** Score space the figures describe: the collection's raw cosine, or the cosine after its transform. */
  space: z.enum(['raw', 'transformed']),
  /** Random pairs of distinct items sampled. */
  pairs: z.number().int().positive(),
  /** Scores of random pairs at the quantiles 0, 1/Q, …, 1 (non-decreasing, Q + 1 values). */
  random: z.array(z.number()).min(2),
  /** Scores of items' nearest neighbours at the same quantiles (for reading: how high a typical best match is). */
  neighbours: z.array(z.number()).min(2),
  /** Items the calibration was learnt on. */
  learnedFrom: z.number().int().nonnegative(),
  seed: z.number().int(),
});

export const TuningSpecSchema = z.object({
  version: z.literal(TUNING_VERSION),
  learnedAt: z.string(),
  transform: LinearTransformSchema.optional(),
  calibration: CalibrationSchema.optional(),
  /**
   * Re-learn automatically (same settings) once the collection has grown to `growth` × the `items` it had when this
   * was learnt — after an index, sync or add. Unsupervised tuning only (whitening, calibration).
   */
  relearn: z.object({ growth: z.number().min(1.1).max(100), items: z.number().int().nonnegative() }).optional(),
});

/**
 * How the collection spec holds the tuning: any version (read fully by `TuningSpecSchema`), so that a collection
 * tuned by another version of lookalike still opens, and says what to do instead of failing to load.
 */
export const StoredTuningSchema = z.object({ version: z.number().int() }).passthrough();

export type LinearTransformSpec = z.infer<typeof LinearTransformSchema>;
export type CalibrationSpec = z.infer<typeof CalibrationSchema>;
export type TuningSpec = z.infer<typeof TuningSpecSchema>;

export function encodeFloats(a: ArrayLike<number>): string {
  const f = Float32Array.from(a);
  const bytes = Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  if (!isLittleEndian()) for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  return bytes.toString('base64');
}

export function decodeFloats(s: string, expected: number, what: string): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length !== expected * 4) {
    throw new RangeError(`${what}: expected ${expected} float32 values, found ${bytes.length / 4}`);
  }
  const copy = new Uint8Array(bytes);
  if (!isLittleEndian()) for (let i = 0; i < copy.length; i += 4) copy.subarray(i, i + 4).reverse();
  return new Float32Array(copy.buffer);
}

const isLittleEndian = (): boolean => new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
