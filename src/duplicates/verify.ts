/**
 * Geometric verification of a candidate near-duplicate pair: ORB keypoints (OpenCV.js, loaded the way bovw-orb
 * loads it), Hamming matching with Lowe's ratio test, and a RANSAC homography (`cv.findHomography`) that must be
 * a plausible edit (no mirror, bounded scale and shear, little perspective) supported by enough inliers spread over
 * both images. The mirrored image is tried too (horizontal flips). Colour checks (`colour.ts`: hues overall, then
 * colour and brightness at matching points) keep apart pictures with the same layout in other colours.
 */
import { opencv, orbKeypoints } from '../embed/bovw-orb.js';
import { decodeImage, type DecodedImage, type ImageInput } from '../image/decode.js';
import { colourFeatures, coloursAgree, localMismatch, MAX_LOCAL_MISMATCH, type ColourFeatures } from './colour.js';

/** The OpenCV.js calls used here (a superset of what bovw-orb declares). */
interface Mat {
  rows: number;
  cols: number;
  data: Uint8Array;
  data64F: Float64Array;
  empty(): boolean;
  delete(): void;
}
interface KeyPoint {
  pt: { x: number; y: number };
}
interface Vector<T> {
  size(): number;
  get(i: number): T;
  delete(): void;
}
interface DMatch {
  queryIdx: number;
  trainIdx: number;
  distance: number;
}
interface Cv {
  CV_8UC1: number;
  CV_32FC2: number;
  RANSAC: number;
  NORM_HAMMING: number;
  Mat: new () => Mat;
  KeyPointVector: new () => Vector<KeyPoint>;
  DMatchVectorVector: new () => Vector<Vector<DMatch>>;
  ORB: new (nfeatures: number) => { detectAndCompute(img: Mat, mask: Mat, kp: Vector<KeyPoint>, des: Mat): void; delete(): void };
  BFMatcher: new (norm: number, crossCheck: boolean) => { knnMatch(q: Mat, t: Mat, out: Vector<Vector<DMatch>>, k: number): void; delete(): void };
  matFromArray(rows: number, cols: number, type: number, data: ArrayLike<number>): Mat;
  findHomography(src: Mat, dst: Mat, method: number, reprojThreshold: number, mask: Mat): Mat;
  countNonZero(m: Mat): number;
  setRNGSeed(seed: number): void;
}

/** Keypoints and descriptors of one (possibly mirrored) greyscale image. */
interface Keypoints {
  readonly n: number;
  /** x, y of each keypoint, in working-size pixels. */
  readonly xy: Float32Array;
  /** 32 bytes per keypoint. */
  readonly des: Uint8Array;
}

/** What verification keeps of an image (computed once, cached by the caller's key). */
export interface ImageFeatures extends ColourFeatures {
  readonly width: number;
  readonly height: number;
  readonly direct: Keypoints;
  /** Keypoints of the horizontally mirrored image, computed when first needed (from the image read again). */
  mirrored?: Keypoints;
  readonly reload: () => Promise<ImageInput>;
  readonly maxPixels: number;
}

export interface VerifyOptions {
  /** RANSAC inliers a pair needs (default 15). */
  readonly minInliers?: number;
  /** Lowe's ratio test (default 0.8). */
  readonly ratio?: number;
  /** Also try the mirrored image (default true). */
  readonly mirrored?: boolean;
  /** Require similar colours when both images have colour (default true). */
  readonly colour?: boolean;
}

/** How a pair was confirmed (or not). */
export interface Verdict {
  readonly match: boolean;
  readonly how: 'geometry' | 'mirrored' | 'none';
  /** RANSAC inliers of the best attempt. */
  readonly inliers: number;
  /** Why a pair was refused: `keypoints`, `geometry`, `colour`. */
  readonly reason?: 'keypoints' | 'geometry' | 'colour';
  /** Share of the points matched by the homography whose colour or brightness disagree. */
  readonly mismatch?: number;
}

/** Shortest edge of the working image; ORB needs ~31-pixel patches, so small images are enlarged. */
const WORKING_SIZE = 320;
const FEATURES = 800;
/** Least share of each image's area the inliers' bounding box must cover (a shared logo or watermark is not enough). */
const MIN_COVERAGE = 0.12;
/** The quick look (`goodMatches`): every 4th keypoint, and the matches it needs to go on. */
const QUICK_STRIDE = 4;
const QUICK_MIN_GOOD = 7;

async function working(input: ImageInput, maxPixels: number): Promise<{ img: DecodedImage; grey: Uint8Array }> {
  const img = await decodeImage(input, { maxPixels, resize: { width: WORKING_SIZE, height: WORKING_SIZE, fit: 'outside', kernel: 'linear' } });
  const grey = new Uint8Array(img.width * img.height);
  for (let i = 0, p = 0; i < grey.length; i++, p += 3) grey[i] = (img.data[p]! * 77 + img.data[p + 1]! * 150 + img.data[p + 2]! * 29) >> 8;
  return { img, grey };
}

/**
 * What verification needs of an image: its ORB keypoints and colours at a working size (shortest edge 320 pixels).
 * `reload` reads the image again when its mirrored keypoints are needed (they are not kept with the pixels).
 */
export async function imageFeatures(input: ImageInput, maxPixels: number, reload: () => Promise<ImageInput> = async () => input): Promise<ImageFeatures> {
  const { img, grey } = await working(input, maxPixels);
  return { ...colourFeatures(img), width: img.width, height: img.height, direct: await orb(grey, img.width, img.height), reload, maxPixels };
}

function orb(grey: Uint8Array, width: number, height: number): Promise<Keypoints> {
  return orbKeypoints(grey, width, height, FEATURES);
}

async function mirroredKeypoints(f: ImageFeatures): Promise<Keypoints> {
  if (!f.mirrored) {
    const { grey } = await working(await f.reload(), f.maxPixels);
    const flipped = new Uint8Array(grey.length);
    for (let y = 0; y < f.height; y++) {
      const row = y * f.width;
      for (let x = 0; x < f.width; x++) flipped[row + x] = grey[row + f.width - 1 - x]!;
    }
    f.mirrored = await orb(flipped, f.width, f.height);
  }
  return f.mirrored;
}

/**
 * Ratio-test matches of every `stride`-th keypoint of `a` in `b`: a quick look that rejects most unrelated pairs at a
 * quarter of the cost (measured on the images benchmark: edited copies have 12 or more of them, unrelated pictures
 * 3 in the median).
 */
function goodMatches(cv: Cv, a: Keypoints, b: Keypoints, ratio: number, stride: number): number {
  const rows = Math.ceil(a.n / stride);
  const sub = new Uint8Array(rows * 32);
  for (let r = 0; r < rows; r++) sub.set(a.des.subarray(r * stride * 32, r * stride * 32 + 32), r * 32);
  const da = cv.matFromArray(rows, 32, cv.CV_8UC1, sub);
  const db = cv.matFromArray(b.n, 32, cv.CV_8UC1, b.des);
  const matcher = new cv.BFMatcher(cv.NORM_HAMMING, false);
  const knn = new cv.DMatchVectorVector();
  try {
    matcher.knnMatch(da, db, knn, 2);
    let good = 0;
    for (let i = 0; i < knn.size(); i++) {
      const m = knn.get(i);
      if (m.size() >= 2 && m.get(0).distance < ratio * m.get(1).distance) good++;
    }
    return good;
  } finally {
    for (const m of [da, db, matcher, knn]) m.delete();
  }
}

interface GeometricMatch {
  readonly inliers: number;
  /** The homography from a's working pixels to b's (row-major 3x3). */
  readonly h: Float64Array;
}

const NO_MATCH: GeometricMatch = { inliers: 0, h: new Float64Array(9) };

/** RANSAC inliers of the homography from `a`'s keypoints to `b`'s, when it is a plausible edit; none otherwise. */
async function geometricInliers(a: Keypoints, fa: ImageFeatures, b: Keypoints, fb: ImageFeatures, ratio: number): Promise<GeometricMatch> {
  if (a.n < 8 || b.n < 8) return NO_MATCH;
  const { cv: base } = await opencv();
  const cv = base as unknown as Cv;
  if (a.n >= 4 * QUICK_STRIDE * QUICK_MIN_GOOD && goodMatches(cv, a, b, ratio, QUICK_STRIDE) < QUICK_MIN_GOOD) return NO_MATCH;
  const da = cv.matFromArray(a.n, 32, cv.CV_8UC1, a.des);
  const db = cv.matFromArray(b.n, 32, cv.CV_8UC1, b.des);
  const matcher = new cv.BFMatcher(cv.NORM_HAMMING, false);
  const knn = new cv.DMatchVectorVector();
  const src: number[] = [];
  const dst: number[] = [];
  try {
    matcher.knnMatch(da, db, knn, 2);
    const used = new Set<number>();
    for (let i = 0; i < knn.size(); i++) {
      const m = knn.get(i);
      if (m.size() < 2) continue;
      const best = m.get(0);
      const second = m.get(1);
      if (best.distance < ratio * second.distance && best.distance <= 64 && !used.has(best.trainIdx)) {
        used.add(best.trainIdx);
        src.push(a.xy[2 * best.queryIdx]!, a.xy[2 * best.queryIdx + 1]!);
        dst.push(b.xy[2 * best.trainIdx]!, b.xy[2 * best.trainIdx + 1]!);
      }
    }
  } finally {
    for (const m of [da, db, matcher, knn]) m.delete();
  }
  const n = src.length / 2;
  if (n < 8) return NO_MATCH;
  const ms = cv.matFromArray(n, 1, cv.CV_32FC2, src);
  const md = cv.matFromArray(n, 1, cv.CV_32FC2, dst);
  const mask = new cv.Mat();
  cv.setRNGSeed(n); // RANSAC draws the same samples for the same matches, whatever ran before
  const H = cv.findHomography(ms, md, cv.RANSAC, 4, mask);
  try {
    if (H.empty() || !plausible(H.data64F, fa)) return NO_MATCH;
    const inl: number[] = [];
    for (let i = 0; i < n; i++) if (mask.data[i]) inl.push(i);
    const cover = (pts: number[], w: number, h: number) => {
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -Infinity;
      let y1 = -Infinity;
      for (const i of inl) {
        x0 = Math.min(x0, pts[2 * i]!);
        x1 = Math.max(x1, pts[2 * i]!);
        y0 = Math.min(y0, pts[2 * i + 1]!);
        y1 = Math.max(y1, pts[2 * i + 1]!);
      }
      return ((x1 - x0) * (y1 - y0)) / (w * h);
    };
    if (inl.length === 0 || cover(src, fa.width, fa.height) < MIN_COVERAGE || cover(dst, fb.width, fb.height) < MIN_COVERAGE) return NO_MATCH;
    return { inliers: inl.length, h: Float64Array.from(H.data64F) };
  } finally {
    for (const m of [ms, md, mask, H]) m.delete();
  }
}

/** A homography an edit can make: orientation kept, scale within 1/4–4, little shear and perspective. */
function plausible(h: Float64Array, f: ImageFeatures): boolean {
  const w = h[8]!;
  if (!Number.isFinite(w) || Math.abs(w) < 1e-9) return false;
  const [a, b, c, d] = [h[0]! / w, h[1]! / w, h[3]! / w, h[4]! / w];
  const det = a * d - b * c;
  if (!(det > 1 / 16 && det < 16)) return false;
  // singular values of the linear part: their ratio bounds the shear / anisotropic scaling
  const s = a * a + b * b + c * c + d * d;
  const root = Math.sqrt(Math.max(0, s * s - 4 * det * det));
  const ratio = Math.sqrt((s + root) / Math.max(1e-12, s - root));
  if (!(ratio < 2)) return false;
  const size = Math.max(f.width, f.height);
  return Math.abs(h[6]! / w) * size < 0.3 && Math.abs(h[7]! / w) * size < 0.3;
}

/** Is `b` an edited copy of `a` (or the other way round)? Symmetric when called with the same order of keys. */
export async function verifyPair(a: ImageFeatures, b: ImageFeatures, opts: VerifyOptions = {}): Promise<Verdict> {
  const minInliers = opts.minInliers ?? 15;
  const ratio = opts.ratio ?? 0.8;
  const colour = opts.colour !== false;
  if (a.direct.n < 8 || b.direct.n < 8) return { match: false, how: 'none', inliers: 0, reason: 'keypoints' };
  if (colour && !coloursAgree(a, b)) return { match: false, how: 'none', inliers: 0, reason: 'colour' };
  let best = 0;
  let refused: Verdict | undefined;
  for (const mirrored of opts.mirrored === false ? [false] : [false, true]) {
    const g = await geometricInliers(a.direct, a, mirrored ? await mirroredKeypoints(b) : b.direct, b, ratio);
    best = Math.max(best, g.inliers);
    if (g.inliers < minInliers) continue;
    const mismatch = colour ? localMismatch(a, b, b.width, g.h, mirrored) : 0;
    // a symmetric picture may match its mirrored copy unmirrored, with the colours in the wrong places: go on
    if (mismatch > MAX_LOCAL_MISMATCH) {
      refused = { match: false, how: 'none', inliers: g.inliers, reason: 'colour', mismatch };
      continue;
    }
    return { match: true, how: mirrored ? 'mirrored' : 'geometry', inliers: g.inliers, mismatch };
  }
  return refused ?? { match: false, how: 'none', inliers: best, reason: 'geometry' };
}
