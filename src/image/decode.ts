import { imageSize } from 'image-size';
import sharp from 'sharp';
import { createError, LookalikeError, reasonOf } from '../errors.js';

/** 8-bit sRGB pixels, interleaved RGB, row-major. What every embedder receives. */
export interface DecodedImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 3;
}

/** Encoded image bytes (any supported format) or already-decoded RGB pixels. */
export type ImageInput = Uint8Array | DecodedImage;

export function isDecodedImage(input: ImageInput): input is DecodedImage {
  return !(input instanceof Uint8Array);
}

export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos3';

export interface DecodeOptions {
  /** Reject images with more pixels than this before decoding them (decompression bombs). */
  maxPixels: number;
  /** Resize while decoding (sharp shrinks JPEGs on load, so this is much cheaper than resizing later). */
  resize?: {
    width: number;
    height: number;
    /** `fill`: stretch to width x height; `cover`: keep aspect ratio, centre-crop; `outside`: shortest edge fits. */
    fit: 'fill' | 'cover' | 'outside';
    kernel: ResizeKernel;
  };
  /**
   * Shrink (never enlarge) so the image still covers width x height, keeping its aspect ratio. A cheap
   * pre-shrink for large photos (JPEG shrink-on-load) before an exact resample done elsewhere.
   *
   * `minimum`: a JPEG may come out smaller than width x height, down to covering `minimum`, when that lets its
   * decoder shrink it on load by a larger factor (DCT scaling by 1/2, 1/4 or 1/8 — the cheapest way to shrink a
   * big photo: a 12 MP photo for a 224 x 224 model decodes at 1/8 instead of 1/4, ≈ 1.4x less CPU, see
   * bench:ingest --photos). Other formats, and JPEGs that gain nothing, are shrunk to cover width x height.
   */
  shrinkToCover?: { width: number; height: number; minimum?: { width: number; height: number } };
}

/** libjpeg's DCT scaling factors, largest first. */
const JPEG_SCALES = [8, 4, 2] as const;

/**
 * The factor sharp shrinks a JPEG by on load when asked to shrink it by `ratio` (sharp 0.3x with fastShrinkOnLoad:
 * the largest of 8, 4, 2 that is ≤ ratio, halved when it equals ratio's integer part — so a factor s needs a
 * ratio ≥ s + 1).
 */
export function jpegShrinkOnLoad(ratio: number): number {
  for (const s of JPEG_SCALES) if (ratio >= s + 1) return s;
  return 1;
}

/**
 * The size to ask sharp for (fit `outside`, never enlarged) so a JPEG of `shown` size (EXIF orientation applied)
 * covers `cover`, or, when `minimum` allows a larger shrink-on-load factor, covers `minimum` with that factor:
 * the largest size that still gets it, i.e. the smallest resample after the DCT scaling.
 */
export function preShrinkTarget(
  shown: { width: number; height: number },
  cover: { width: number; height: number },
  minimum: { width: number; height: number } | undefined,
): { width: number; height: number } {
  if (!minimum) return cover;
  const ratio = (c: { width: number; height: number }): number => Math.min(shown.width / c.width, shown.height / c.height);
  const usual = jpegShrinkOnLoad(ratio(cover));
  const best = jpegShrinkOnLoad(ratio(minimum));
  if (best <= usual) return cover;
  // shown / (best + 1) ≥ minimum (ratio(minimum) ≥ best + 1), and sharp's ratio to it is ≥ best + 1: it shrinks by `best` on load.
  return { width: Math.floor(shown.width / (best + 1)), height: Math.floor(shown.height / (best + 1)) };
}

/** A JPEG's size as shown (EXIF orientation applied), from its header; undefined for anything else. */
function jpegShownSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  try {
    const r = imageSize(bytes);
    if (r.type !== 'jpg' || !(r.width > 0 && r.height > 0)) return undefined;
    const turned = r.orientation !== undefined && r.orientation >= 5; // EXIF 5–8: width and height swap when shown
    return turned ? { width: r.height, height: r.width } : { width: r.width, height: r.height };
  } catch {
    return undefined; // libvips decides (and reports) below
  }
}

/** Hugging Face `resample` codes (PIL) → sharp kernels. */
export function kernelFromPilResample(resample: number | undefined): ResizeKernel {
  switch (resample) {
    case 0:
      return 'nearest';
    case 1:
      return 'lanczos3';
    case 3:
      return 'cubic';
    default:
      return 'linear'; // 2 = bilinear, PIL's and transformers' default
  }
}

let configured = false;
function configureSharp(): void {
  if (configured) return;
  configured = true;
  // One libvips thread per image: lookalike decodes several images at once instead (see ingest), which
  // scales better for the small images typical of photo collections. No operation cache: every image is new.
  sharp.concurrency(1);
  sharp.cache(false);
}

/**
 * Decode any supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF, …) into 8-bit sRGB RGB:
 * EXIF orientation applied, alpha flattened onto white, CMYK/greyscale/16-bit converted, first frame of
 * animations. Throws `IMAGE_DECODE_FAILED` or `IMAGE_TOO_LARGE` with the reason.
 */
export async function decodeImage(input: ImageInput, options: DecodeOptions): Promise<DecodedImage> {
  configureSharp();
  const decoded = isDecodedImage(input);
  if (!decoded && input.byteLength === 0) throw createError('IMAGE_DECODE_FAILED', 'empty file (0 bytes)');
  if (decoded && input.width * input.height > options.maxPixels) {
    throw createError('IMAGE_TOO_LARGE', `image has ${input.width * input.height} pixels, over the ${options.maxPixels} limit`);
  }
  try {
    let pipeline = (
      decoded
        ? sharp(input.data, { raw: { width: input.width, height: input.height, channels: 3 } })
        : sharp(input, { limitInputPixels: options.maxPixels, failOn: 'error', sequentialRead: true })
    )
      .rotate()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb');
    if (options.shrinkToCover) {
      const { minimum } = options.shrinkToCover;
      const shown = minimum && !decoded ? jpegShownSize(input) : undefined;
      const { width, height } = shown ? preShrinkTarget(shown, options.shrinkToCover, minimum) : options.shrinkToCover;
      pipeline = pipeline.resize(width, height, { fit: 'outside', withoutEnlargement: true });
    }
    if (options.resize) {
      const { width, height, fit, kernel } = options.resize;
      pipeline = pipeline.resize(width, height, { fit, kernel, position: 'centre' });
    }
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw createError('IMAGE_DECODE_FAILED', `unexpected channel count ${info.channels} after conversion to RGB`);
    }
    return { data, width: info.width, height: info.height, channels: 3 };
  } catch (e) {
    throw toDecodeError(e);
  }
}

function toDecodeError(e: unknown): LookalikeError {
  if (e instanceof LookalikeError) return e;
  const msg = reasonOf(e);
  if (/pixel limit/i.test(msg)) {
    return createError('IMAGE_TOO_LARGE', `image has more pixels than the limit (${msg})`, {}, e);
  }
  if (/unsupported image format/i.test(msg)) {
    return createError('IMAGE_DECODE_FAILED', 'not an image (unrecognised format)', {}, e);
  }
  return createError('IMAGE_DECODE_FAILED', `cannot decode image: ${msg}`, {}, e);
}
