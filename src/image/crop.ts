import type { OutputInfo } from 'sharp';
import { loadSharp } from './sharp.js';
import { createError, reasonOf } from '../errors.js';
import type { DecodedImage } from './decode.js';

/**
 * A region of an image: `x`, `y` (top-left corner), `w`, `h`. In pixels of the image as displayed (EXIF orientation
 * applied), or — when all four are at most 1 — as fractions of its width and height (`{x: 0.5, y: 0, w: 0.5, h: 1}`
 * is the right half).
 */
export interface Crop {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** A crop is given in fractions when every value is at most 1 (a 1-pixel crop is never a useful query). */
export const isFractionalCrop = (c: Crop): boolean => c.x <= 1 && c.y <= 1 && c.w <= 1 && c.h <= 1;

/** Checks the numbers of a crop (not yet against an image): finite, x/y ≥ 0, w/h > 0. */
export function checkCrop(c: Crop, field = 'crop'): Crop {
  for (const k of ['x', 'y', 'w', 'h'] as const) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || ((k === 'w' || k === 'h') && v === 0)) {
      throw createError(
        'INVALID_ARGUMENT',
        `${field}.${k} must be a finite number ${k === 'w' || k === 'h' ? 'above 0' : 'of at least 0'} (got ${v}); a crop is ` +
          '{x, y, w, h} in pixels, or fractions of the image when all four are at most 1.',
        { field: `${field}.${k}` },
      );
    }
  }
  if (isFractionalCrop(c) && (c.x + c.w > 1 + 1e-9 || c.y + c.h > 1 + 1e-9)) {
    throw createError('INVALID_ARGUMENT', `${field} ${describe(c)} (fractions) reaches past the image: x + w and y + h must be at most 1.`, {
      field,
    });
  }
  return c;
}

const describe = (c: Crop): string => `${c.x},${c.y},${c.w},${c.h}`;

/**
 * Cut `crop` out of an encoded image (EXIF orientation applied first) and return it as PNG bytes, ready for an
 * embedder. A crop reaching past the image is an `INVALID_ARGUMENT` naming both sizes.
 */
export async function cropImage(bytes: Uint8Array, crop: Crop, source = 'image'): Promise<Uint8Array> {
  checkCrop(crop);
  let oriented: { data: Buffer; info: OutputInfo };
  try {
    oriented = await (await loadSharp())(bytes, { failOn: 'error' }).rotate().raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw createError('IMAGE_DECODE_FAILED', `${source}: cannot decode the image to crop it (${reasonOf(e)}).`, { path: source });
  }
  const { width, height } = oriented.info;
  const frac = isFractionalCrop(crop);
  const left = Math.round(frac ? crop.x * width : crop.x);
  const top = Math.round(frac ? crop.y * height : crop.y);
  const w = Math.max(1, Math.round(frac ? crop.w * width : crop.w));
  const h = Math.max(1, Math.round(frac ? crop.h * height : crop.h));
  if (left + w > width || top + h > height) {
    throw createError(
      'INVALID_ARGUMENT',
      `crop ${describe(crop)} reaches past ${source} (${width}×${height} pixels): x + w must be at most ${width} and y + h at most ${height}.`,
      { field: 'crop', width, height },
    );
  }
  const { channels } = oriented.info;
  const out = await (await loadSharp())(oriented.data, { raw: { width, height, channels } })
    .extract({ left, top, width: w, height: h })
    .png({ compressionLevel: 1 })
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * The regions `boxes` (fractions of the image) of an encoded image as decoded RGB pixels, ready for
 * `Embedder.prepareImage`: decoded once (EXIF orientation applied), each region cut from the pixels.
 */
export async function regionsOf(bytes: Uint8Array, boxes: readonly Crop[]): Promise<DecodedImage[]> {
  const sharp = await loadSharp();
  const { data, info } = await sharp(bytes, { failOn: 'error' }).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  return Promise.all(
    boxes.map(async (b) => {
      const left = Math.min(width - 1, Math.round(b.x * width));
      const top = Math.min(height - 1, Math.round(b.y * height));
      const w = Math.max(1, Math.min(width - left, Math.round(b.w * width)));
      const h = Math.max(1, Math.min(height - top, Math.round(b.h * height)));
      const out = await sharp(data, { raw: { width, height, channels: 3 } }).extract({ left, top, width: w, height: h }).raw().toBuffer();
      return { data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), width: w, height: h, channels: 3 as const };
    }),
  );
}
