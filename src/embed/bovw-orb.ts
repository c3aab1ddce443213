import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Config } from '../config.js';
import { createError } from '../errors.js';
import { decodeImage, type ImageInput } from '../image/decode.js';
import { kMajority, nearest, WORDS } from './kmajority.js';
import { BaseEmbedder } from './base.js';
import { l2normalize, type EmbedderSpec, type PreparedImage } from './types.js';

/** The few OpenCV.js calls used here. */
interface Mat {
  rows: number;
  cols: number;
  data: Uint8Array;
  delete(): void;
}
interface OpenCv {
  CV_8UC1: number;
  Mat: new () => Mat;
  KeyPointVector: new () => { size(): number; get(i: number): { pt: { x: number; y: number } }; delete(): void };
  ORB: new (nfeatures: number) => { detectAndCompute(img: Mat, mask: Mat, kp: unknown, des: Mat): void; delete(): void };
  matFromArray(rows: number, cols: number, type: number, data: Uint8Array): Mat;
}

// The Emscripten module object has a `then` method: resolving a promise with it (or returning it from an async
// function) makes the promise adopt it again and again, forever. It only ever travels wrapped in `{ cv }`.
let cvPromise: Promise<{ cv: OpenCv }> | undefined;
/**
 * OpenCV.js (WebAssembly), loaded on first use only: it is large (≈ 10 MB of JavaScript). Shared with the
 * near-duplicate verification (`src/duplicates/verify.ts`), which uses more of its API than the `OpenCv` type here.
 */
export function opencv(): Promise<{ cv: OpenCv }> {
  cvPromise ??= new Promise<{ cv: OpenCv }>((resolve, reject) => {
    const mod = createRequire(import.meta.url)('@techstark/opencv-js') as unknown;
    if (mod instanceof Promise) {
      mod.then((cv: OpenCv) => resolve({ cv }), reject);
      return;
    }
    const m = mod as OpenCv & { onRuntimeInitialized?: () => void };
    if (m.Mat) resolve({ cv: m });
    else m.onRuntimeInitialized = () => resolve({ cv: m });
  });
  return cvPromise;
}

/**
 * ORB keypoints of a greyscale image (one byte per pixel, row-major): their positions (x, y per keypoint) and
 * descriptors (32 bytes each). Shared with the near-duplicate verification.
 */
export async function orbKeypoints(grey: Uint8Array, width: number, height: number, features: number): Promise<{ n: number; xy: Float32Array; des: Uint8Array }> {
  const { cv } = await opencv();
  const mat = cv.matFromArray(height, width, cv.CV_8UC1, grey);
  const orb = new cv.ORB(features);
  const kp = new cv.KeyPointVector();
  const des = new cv.Mat();
  const mask = new cv.Mat();
  try {
    orb.detectAndCompute(mat, mask, kp, des);
    const n = des.rows;
    const xy = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const p = kp.get(i).pt;
      xy[2 * i] = p.x;
      xy[2 * i + 1] = p.y;
    }
    return { n, xy, des: Uint8Array.from(des.data.subarray(0, n * 32)) };
  } finally {
    for (const m of [mat, kp, des, mask, orb]) m.delete();
  }
}

const FEATURES_PER_IMAGE = 500;
const WORKING_SIZE = 320;
const TRAIN_DESCRIPTORS = 20_000;

interface Vocabulary {
  readonly centroids: Uint32Array;
  readonly idf: Float32Array;
}

/**
 * Bag of visual words over ORB keypoints (OpenCV.js): ORB descriptors (256-bit) of each image are assigned to the
 * nearest of K visual words; the word histogram is tf-idf weighted and L2-normalised. The vocabulary is learnt
 * from the collection's own images (k-majority, seeded, so training is deterministic) and stored in the
 * collection's spec, so queries use the same words. `bovw-orb:512` picks K (default 256).
 * (OpenCV.js builds on npm have no SIFT, so only ORB is offered.)
 */
export class BovwOrbEmbedder extends BaseEmbedder {
  private vocab: Vocabulary | undefined;
  private readonly k: number;
  private readonly model: string;

  constructor(
    param: string | undefined,
    private readonly config: Pick<Config, 'maxPixels'>,
    stored?: EmbedderSpec,
  ) {
    super();
    const k = param === undefined || param === '' ? 256 : Number(param);
    if (!Number.isInteger(k) || k < 8 || k > 4096) {
      throw createError('INVALID_ARGUMENT', `Model "bovw-orb:${param}": the vocabulary size must be an integer from 8 to 4096.`, { field: 'model' });
    }
    this.k = k;
    this.model = param ? `bovw-orb:${param}` : 'bovw-orb';
    if (stored) this.vocab = BovwOrbEmbedder.decodeVocabulary(stored);
  }

  get trained(): boolean {
    return this.vocab !== undefined;
  }
  /**
   * Before `train`, the spec describes the request (K words, revision `untrained`, no vocabulary) and must not be
   * stored; after it, the spec carries the vocabulary (centroids and idf) and its fingerprint.
   */
  get spec(): EmbedderSpec {
    const preprocessing = {
      detector: 'ORB (OpenCV.js)',
      featuresPerImage: FEATURES_PER_IMAGE,
      workingSize: WORKING_SIZE,
      words: this.vocab ? this.vocab.idf.length : this.k,
      weighting: 'tf-idf, L2',
    };
    const base = { id: this.model, kind: 'bovw-orb', model: this.model, modalities: ['image'] as const };
    const v = this.vocab;
    if (!v) return { ...base, revision: 'untrained', dimension: this.k, preprocessing };
    const centroids = Buffer.from(v.centroids.buffer, v.centroids.byteOffset, v.centroids.byteLength).toString('base64');
    const idf = Buffer.from(v.idf.buffer, v.idf.byteOffset, v.idf.byteLength).toString('base64');
    return {
      ...base,
      revision: createHash('sha256').update(centroids).update(idf).digest('hex').slice(0, 16),
      dimension: v.idf.length,
      preprocessing: { ...preprocessing, vocabulary: { centroids, idf } },
    };
  }

  private static decodeVocabulary(spec: EmbedderSpec): Vocabulary {
    const v = spec.preprocessing.vocabulary as { centroids?: string; idf?: string } | undefined;
    if (!v?.centroids || !v.idf) throw createError('STORE_CORRUPT', 'The collection\'s bovw-orb spec has no vocabulary.');
    const c = Buffer.from(v.centroids, 'base64');
    const i = Buffer.from(v.idf, 'base64');
    return { centroids: new Uint32Array(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength)), idf: new Float32Array(i.buffer.slice(i.byteOffset, i.byteOffset + i.byteLength)) };
  }

  private requireVocabulary(): Vocabulary {
    if (!this.vocab) {
      throw createError(
        'INVALID_ARGUMENT',
        'bovw-orb learns its visual vocabulary from images first: create the collection with `lookalike index <dir> --model bovw-orb` ' +
          '(or `db.createCollection(name, { model: "bovw-orb", trainingFolder })`).',
      );
    }
    return this.vocab;
  }

  /** ORB descriptors of one image as 8 x uint32 per keypoint. */
  private async descriptors(input: ImageInput): Promise<{ data: Uint32Array; n: number }> {
    // Shortest edge scaled to WORKING_SIZE, up or down: ORB needs ~31-pixel patches, so small images (product
    // thumbnails) are enlarged, large photos shrunk.
    const img = await decodeImage(input, {
      maxPixels: this.config.maxPixels,
      resize: { width: WORKING_SIZE, height: WORKING_SIZE, fit: 'outside', kernel: 'linear' },
    });
    const grey = new Uint8Array(img.width * img.height);
    for (let i = 0, p = 0; i < grey.length; i++, p += 3) grey[i] = (img.data[p]! * 77 + img.data[p + 1]! * 150 + img.data[p + 2]! * 29) >> 8;
    const { n, des } = await orbKeypoints(grey, img.width, img.height, FEATURES_PER_IMAGE);
    return { data: new Uint32Array(des.buffer, des.byteOffset, n * 8), n };
  }

  /** Learn the vocabulary from these images (a sample of the collection). */
  async train(images: AsyncIterable<ImageInput> | Iterable<ImageInput>): Promise<void> {
    const all: Uint32Array[] = [];
    let total = 0;
    for await (const img of images) {
      try {
        const d = await this.descriptors(img);
        if (d.n > 0) {
          all.push(d.data);
          total += d.n;
        }
      } catch {
        // unreadable training images are skipped; ingest reports them later
      }
    }
    if (total === 0) throw createError('INVALID_ARGUMENT', 'bovw-orb: no ORB keypoints found in the training images.');
    // a deterministic, even sample of the descriptors
    const step = Math.max(1, Math.floor(total / TRAIN_DESCRIPTORS));
    const n = Math.ceil(total / step);
    const sample = new Uint32Array(n * WORDS);
    let j = 0;
    let g = 0;
    for (const d of all) {
      for (let i = 0; i < d.length / WORDS; i++, g++) {
        if (g % step === 0 && j < n) sample.set(d.subarray(i * WORDS, (i + 1) * WORDS), j++ * WORDS);
      }
    }
    const centroids = kMajority(sample, j, this.k, { seed: 42, iterations: 10 });
    const k = centroids.length / WORDS;
    // document frequency of each word over the training images
    const df = new Float64Array(k);
    for (const d of all) {
      const seen = new Uint8Array(k);
      for (let i = 0; i < d.length / WORDS; i++) seen[nearest(d, i, centroids, k)] = 1;
      for (let w = 0; w < k; w++) df[w]! += seen[w]!;
    }
    const idf = new Float32Array(k);
    for (let w = 0; w < k; w++) idf[w] = Math.log((all.length + 1) / (df[w]! + 1)) + 1;
    this.vocab = { centroids, idf };
  }

  async prepareImage(input: ImageInput): Promise<PreparedImage> {
    const { centroids, idf } = this.requireVocabulary();
    const k = idf.length;
    const { data, n } = await this.descriptors(input);
    const h = new Float32Array(k);
    for (let i = 0; i < n; i++) h[nearest(data, i, centroids, k)]! += 1;
    if (n > 0) for (let w = 0; w < k; w++) h[w] = (h[w]! / n) * idf[w]!;
    return { data: l2normalize(h), dims: [1, k] };
  }

  async embedPrepared(batch: readonly PreparedImage[]): Promise<Float32Array[]> {
    return batch.map((p) => p.data);
  }
}
