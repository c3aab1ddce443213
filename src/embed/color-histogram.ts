import type { Config } from '../config.js';
import type { DecodedImage } from '../image/decode.js';
import { parseDims, PixelFeatureEmbedder, spec } from './classic.js';
import type { EmbedderSpec } from './types.js';

/**
 * HSV colour histogram (default 8 hue x 4 saturation x 4 value bins = 128-d). The histogram is L1-normalised and
 * square-rooted (Hellinger), so the cosine of two vectors is the Bhattacharyya coefficient of the histograms.
 * `color-histogram:16x4x4` picks other bin counts.
 */
export class ColorHistogramEmbedder extends PixelFeatureEmbedder {
  readonly spec: EmbedderSpec;
  protected readonly workingSize = 128;
  private readonly bins: [number, number, number];

  constructor(param: string | undefined, config: Pick<Config, 'maxPixels'>) {
    super(config);
    const [h, s, v] = parseDims('color-histogram', param, [8, 4, 4], 64) as [number, number, number];
    this.bins = [h, s, v];
    const model = param ? `color-histogram:${param}` : 'color-histogram';
    this.spec = spec(model, 'color-histogram', model, h * s * v, {
      space: 'hsv',
      bins: { hue: h, saturation: s, value: v },
      workingSize: this.workingSize,
      normalisation: 'L1 then square root (Hellinger)',
    });
  }

  protected feature(img: DecodedImage): Float32Array {
    const [hb, sb, vb] = this.bins;
    const hist = new Float32Array(hb * sb * vb);
    const d = img.data;
    const n = img.width * img.height;
    for (let i = 0, p = 0; i < n; i++, p += 3) {
      const r = d[p]! / 255;
      const g = d[p + 1]! / 255;
      const b = d[p + 2]! / 255;
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      const c = max - min;
      let h = 0;
      if (c > 0) {
        if (max === r) h = ((g - b) / c + 6) % 6;
        else if (max === g) h = (b - r) / c + 2;
        else h = (r - g) / c + 4;
      }
      const s = max === 0 ? 0 : c / max;
      const hi = Math.min(hb - 1, Math.floor((h / 6) * hb));
      const si = Math.min(sb - 1, Math.floor(s * sb));
      const vi = Math.min(vb - 1, Math.floor(max * vb));
      hist[(hi * sb + si) * vb + vi]! += 1;
    }
    for (let i = 0; i < hist.length; i++) hist[i] = Math.sqrt(hist[i]! / n);
    return hist;
  }
}
