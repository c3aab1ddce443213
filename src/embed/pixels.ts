import type { Config } from '../config.js';
import type { DecodedImage } from '../image/decode.js';
import { normalisationTables, resizeToChw } from '../image/resample.js';
import { l2normalize, parseDims, PixelFeatureEmbedder, spec } from './classic.js';
import type { EmbedderSpec } from './types.js';

/**
 * Raw pixels: the image resized (Pillow bilinear, antialiased) to N x N RGB (default 16 → 768-d), values in
 * [0, 1] with the image's mean subtracted, L2-normalised — so cosine is the pixels' correlation. The naive baseline.
 */
export class PixelsEmbedder extends PixelFeatureEmbedder {
  readonly spec: EmbedderSpec;
  protected readonly workingSize: number;
  private readonly size: number;
  private static readonly unit = normalisationTables(1 / 255, [0, 0, 0], [1, 1, 1]);

  constructor(param: string | undefined, config: Pick<Config, 'maxPixels'>) {
    super(config);
    const [size] = parseDims('pixels', param, [16], 256) as [number];
    this.size = size;
    this.workingSize = Math.max(64, size * 2);
    const model = param ? `pixels:${param}` : 'pixels';
    this.spec = spec(model, 'pixels', model, 3 * size * size, {
      resize: { width: size, height: size, fit: 'fill', filter: 'bilinear' },
      normalisation: 'x/255, minus the image mean, L2',
    });
  }

  protected feature(img: DecodedImage): Float32Array {
    const v = resizeToChw(img, this.size, this.size, 'bilinear', PixelsEmbedder.unit);
    let mean = 0;
    for (let i = 0; i < v.length; i++) mean += v[i]!;
    mean /= v.length;
    for (let i = 0; i < v.length; i++) v[i]! -= mean;
    return l2normalize(v);
  }
}
