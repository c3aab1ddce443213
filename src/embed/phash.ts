import type { Config } from '../config.js';
import type { DecodedImage } from '../image/decode.js';
import { normalisationTables, resizeToChw } from '../image/resample.js';
import type { Metadata } from '../store/types.js';
import { PixelFeatureEmbedder, spec } from './classic.js';
import type { EmbedderSpec } from './types.js';

const N = 32; // DCT input size
const K = 8; // low-frequency block kept: 64 bits

/** cos((2x + 1) u π / 2N) table for the DCT-II. */
const COS = (() => {
  const t = new Float64Array(N * N);
  for (let u = 0; u < N; u++) for (let x = 0; x < N; x++) t[u * N + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N));
  return t;
})();

/**
 * Perceptual hash (DCT pHash, as Python's `imagehash.phash`): greyscale, 32x32, 2-D DCT, the 8x8 lowest
 * frequencies compared with their median → 64 bits. Stored as a ±1/8 vector, so cosine = 1 − 2·hamming/64 and
 * cosine order is Hamming order. The hex hash is added to each item's metadata (`phash`).
 */
export class PhashEmbedder extends PixelFeatureEmbedder {
  readonly spec: EmbedderSpec;
  protected readonly workingSize = 64;
  private static readonly luma = normalisationTables(1, [0, 0, 0], [1, 1, 1]);

  constructor(config: Pick<Config, 'maxPixels'>) {
    super(config);
    this.spec = spec('phash', 'phash', 'phash', K * K, {
      greyscale: 'ITU-R 601 luma',
      resize: { width: N, height: N, filter: 'bilinear' },
      dct: `${N}x${N}, low ${K}x${K} vs median`,
      vector: '±1/8 per bit (cosine = 1 - 2 hamming / 64)',
    });
  }

  /** The 64 bits as 16 hex digits (row-major, most significant bit first). */
  static hex(v: Float32Array): string {
    let out = '';
    for (let i = 0; i < v.length; i += 4) {
      const nibble = (v[i]! > 0 ? 8 : 0) | (v[i + 1]! > 0 ? 4 : 0) | (v[i + 2]! > 0 ? 2 : 0) | (v[i + 3]! > 0 ? 1 : 0);
      out += nibble.toString(16);
    }
    return out;
  }

  vectorMetadata(v: Float32Array): Metadata {
    return { phash: PhashEmbedder.hex(v) };
  }

  protected feature(img: DecodedImage): Float32Array {
    const rgb = resizeToChw(img, N, N, 'bilinear', PhashEmbedder.luma);
    const plane = N * N;
    const grey = new Float64Array(plane);
    for (let i = 0; i < plane; i++) grey[i] = 0.299 * rgb[i]! + 0.587 * rgb[i + plane]! + 0.114 * rgb[i + 2 * plane]!;
    // separable DCT-II of the rows, then of the columns, only for the K lowest frequencies
    const rows = new Float64Array(N * K);
    for (let y = 0; y < N; y++) {
      for (let u = 0; u < K; u++) {
        let s = 0;
        for (let x = 0; x < N; x++) s += grey[y * N + x]! * COS[u * N + x]!;
        rows[y * K + u] = s;
      }
    }
    const low = new Float64Array(K * K);
    for (let v = 0; v < K; v++) {
      for (let u = 0; u < K; u++) {
        let s = 0;
        for (let y = 0; y < N; y++) s += rows[y * K + u]! * COS[v * N + y]!;
        low[v * K + u] = s;
      }
    }
    const sorted = Float64Array.from(low).sort();
    const median = (sorted[K * K / 2 - 1]! + sorted[K * K / 2]!) / 2;
    const out = new Float32Array(K * K);
    for (let i = 0; i < K * K; i++) out[i] = low[i]! > median ? 1 / K : -1 / K;
    return out;
  }
}
