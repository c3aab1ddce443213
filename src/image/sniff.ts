import { imageSize } from 'image-size';
import sharp, { type Metadata } from 'sharp';
import { createError, reasonOf } from '../errors.js';

/** Formats lookalike accepts (what libvips decodes, less vector and raw formats). */
export const ACCEPTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif'] as const;
const ACCEPTED = new Set<string>(ACCEPTED_FORMATS);
const ACCEPTED_TEXT = 'JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF';

/** What the header of an image says, before any pixel is decoded. */
export interface ImageFacts {
  readonly format: (typeof ACCEPTED_FORMATS)[number];
  /** Size as displayed: EXIF orientation applied. */
  readonly width: number;
  readonly height: number;
}

/** Formats whose header `image-size` reads (in microseconds, in JS) with everything needed, EXIF orientation included. */
const FAST: Readonly<Record<string, ImageFacts['format']>> = { jpg: 'jpeg', png: 'png', gif: 'gif' };

/**
 * Read an image's header (no pixel decoding): its format and displayed size. JPEG, PNG and GIF headers are parsed by
 * `image-size` (≈ 3 µs; a second libvips open per image cost ≈ 15% of ingest throughput on small images, measured
 * with bench:ingest); other formats, and anything `image-size` does not recognise, by sharp/libvips. Anything that
 * is not one of the accepted formats is `IMAGE_DECODE_FAILED` with a reason that names the accepted ones.
 */
export async function sniffImage(bytes: Uint8Array): Promise<ImageFacts> {
  if (bytes.byteLength === 0) throw createError('IMAGE_DECODE_FAILED', `empty file (0 bytes); accepted formats: ${ACCEPTED_TEXT}`);
  try {
    const r = imageSize(bytes);
    const format = r.type ? FAST[r.type] : undefined;
    if (format && r.width > 0 && r.height > 0) {
      const turned = r.orientation !== undefined && r.orientation >= 5; // EXIF 5–8: width and height swap when shown
      return { format, width: turned ? r.height : r.width, height: turned ? r.width : r.height };
    }
  } catch {
    // not a header image-size knows: libvips decides below
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (e) {
    const msg = reasonOf(e);
    const why = /unsupported image format/i.test(msg) ? 'not an image (unrecognised format)' : `cannot read the image header: ${msg}`;
    throw createError('IMAGE_DECODE_FAILED', `${why}; accepted formats: ${ACCEPTED_TEXT}`, {}, e);
  }
  if (!meta.format || !ACCEPTED.has(meta.format)) {
    throw createError('IMAGE_DECODE_FAILED', `not an image of an accepted format (${meta.format ?? 'unknown'}); accepted formats: ${ACCEPTED_TEXT}`);
  }
  const oriented = meta.autoOrient ?? { width: meta.width ?? 0, height: meta.height ?? 0 };
  return { format: meta.format as ImageFacts['format'], width: oriented.width, height: oriented.height };
}
