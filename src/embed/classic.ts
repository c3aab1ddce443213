import type { Config } from '../config.js';
import { decodeImage, type DecodedImage } from '../image/decode.js';
import { createError } from '../errors.js';
import { BaseEmbedder } from './base.js';
import type { EmbedderSpec, ImageInput, PreparedImage } from './types.js';
import { l2normalize } from './types.js';

/**
 * Base for embedders computed directly from pixels (no model files): the whole feature is computed in
 * `prepareImage` (so it runs in ingest's decode stage, in parallel); `embedPrepared` only hands it over.
 */
export abstract class PixelFeatureEmbedder extends BaseEmbedder {
  constructor(protected readonly config: Pick<Config, 'maxPixels'>) {
    super();
  }

  /** Decode at a small working size (sharp shrinks on load) and compute the L2-normalised feature. */
  protected abstract feature(img: DecodedImage): Float32Array;
  /** Working size the image is shrunk to (never enlarged) before `feature`, keeping its aspect ratio. */
  protected abstract readonly workingSize: number;

  async prepareImage(input: ImageInput): Promise<PreparedImage> {
    const img = await decodeImage(input, {
      maxPixels: this.config.maxPixels,
      shrinkToCover: { width: this.workingSize, height: this.workingSize },
    });
    const data = this.feature(img);
    return { data, dims: [1, data.length] };
  }

  async embedPrepared(batch: readonly PreparedImage[]): Promise<Float32Array[]> {
    return batch.map((p) => p.data);
  }
}

/** Parse `WxHxD`-style integer lists in model names (`color-histogram:16x4x4`, `pixels:32`). */
export function parseDims(name: string, param: string | undefined, defaults: number[], max: number): number[] {
  if (param === undefined || param === '') return defaults;
  const parts = param.split('x').map(Number);
  if (parts.length !== defaults.length || parts.some((n) => !Number.isInteger(n) || n < 1 || n > max)) {
    throw createError(
      'INVALID_ARGUMENT',
      `Model "${name}:${param}": expected ${defaults.length === 1 ? 'one integer' : `${defaults.length} integers joined by "x"`} ` +
        `from 1 to ${max} (e.g. ${name}:${defaults.join('x')}).`,
      { field: 'model' },
    );
  }
  return parts;
}

export function spec(id: string, kind: string, model: string, dimension: number, preprocessing: Record<string, unknown>): EmbedderSpec {
  return { id, kind, model, revision: 'v1', dimension, modalities: ['image'], preprocessing };
}

export { l2normalize };
