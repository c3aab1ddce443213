/**
 * Colour checks of a candidate pair, for pictures that share their layout but not their colours (product photos of
 * one garment in several colours, the same bottle in another shade): a global one (hue histograms) before matching,
 * and a local one after it — the geometric match maps a grid of points of one image onto the other, and the colours
 * and brightness there must agree up to a global brightness/contrast change. A greyscale copy is compared by
 * brightness only.
 */
import type { DecodedImage } from '../image/decode.js';

export interface ColourFeatures {
  /** Hue histogram weighted by chroma, normalised to sum 1 (all zeros for an image without colour). */
  readonly hue: Float32Array;
  /** Mean chroma (0–255). */
  readonly chroma: number;
  /** Share of the thumbnail's pixels with some colour (chroma 12 or more): 0 for greyscale images. */
  readonly colourShare: number;
  /** RGB at a quarter of the working size (box filter), for the local check. */
  readonly thumb: Uint8Array;
  readonly thumbWidth: number;
  readonly thumbHeight: number;
}

const HUE_BINS = 24;
/** The thumbnail is the working image shrunk by this factor. */
export const THUMB_FACTOR = 4;
/**
 * Below this share of coloured pixels an image counts as having no colour (a greyscale copy). A share, not a mean:
 * a small red bottle on a white background is coloured, though its mean chroma is low.
 */
const GREY_SHARE = 0.002;
/** Least histogram intersection of the hues of two colour images. */
const MIN_HUE_OVERLAP = 0.45;

export function colourFeatures(img: DecodedImage): ColourFeatures {
  const hue = new Float32Array(HUE_BINS);
  let total = 0;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const r = img.data[3 * i]!;
    const g = img.data[3 * i + 1]!;
    const b = img.data[3 * i + 2]!;
    const max = Math.max(r, g, b);
    const c = max - Math.min(r, g, b);
    total += c;
    if (c < 16) continue; // near-grey pixels (and JPEG chroma noise) have no meaningful hue
    hue[Math.min(HUE_BINS - 1, Math.floor((hueOf(r, g, b, max, c) / 360) * HUE_BINS))]! += c;
  }
  const sum = hue.reduce((s, x) => s + x, 0);
  if (sum > 0) for (let i = 0; i < HUE_BINS; i++) hue[i]! /= sum;
  const tw = Math.max(1, Math.floor(img.width / THUMB_FACTOR));
  const th = Math.max(1, Math.floor(img.height / THUMB_FACTOR));
  const thumb = new Uint8Array(tw * th * 3);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      for (let ch = 0; ch < 3; ch++) {
        let s = 0;
        for (let dy = 0; dy < THUMB_FACTOR; dy++) {
          for (let dx = 0; dx < THUMB_FACTOR; dx++) s += img.data[3 * ((y * THUMB_FACTOR + dy) * img.width + x * THUMB_FACTOR + dx) + ch]!;
        }
        thumb[3 * (y * tw + x) + ch] = s / (THUMB_FACTOR * THUMB_FACTOR);
      }
    }
  }
  let coloured = 0;
  for (let i = 0; i < tw * th; i++) {
    const r = thumb[3 * i]!;
    const g = thumb[3 * i + 1]!;
    const b = thumb[3 * i + 2]!;
    if (Math.max(r, g, b) - Math.min(r, g, b) >= 12) coloured++;
  }
  return { hue, chroma: total / Math.max(1, n), colourShare: coloured / (tw * th), thumb, thumbWidth: tw, thumbHeight: th };
}

/** Hue angle in degrees (0–360) of a pixel with chroma `c` > 0 and maximum channel `max`. */
function hueOf(r: number, g: number, b: number, max: number, c: number): number {
  let h = max === r ? (g - b) / c : max === g ? 2 + (b - r) / c : 4 + (r - g) / c;
  if (h < 0) h += 6;
  return h * 60;
}

/** Histogram intersection of two hue histograms (1 = same hues). */
export function hueOverlap(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.min(a[i]!, b[i]!);
  return s;
}

const isGrey = (f: ColourFeatures) => f.colourShare < GREY_SHARE;

/** Whether two images' colours are compatible overall: always when one of them has none (a greyscale copy). */
export function coloursAgree(a: ColourFeatures, b: ColourFeatures): boolean {
  if (isGrey(a) || isGrey(b)) return true;
  return hueOverlap(a.hue, b.hue) >= MIN_HUE_OVERLAP;
}

const GRID = 24;
/** Share of the compared points whose colours disagree above which the pair is refused. */
export const MAX_LOCAL_MISMATCH = 0.08;
/** A channel this far (0–255) from what the pair's tone curve predicts is a disagreement. */
const TONE_RESIDUAL = 50;

/**
 * Compare the colours at a grid of points of `a` and where the homography `h` (a's working pixels → b's; b mirrored
 * when `mirrored`) puts them in `b`. b's colours are predicted from a's by the global tone change that fits most
 * points (`toneFit`: brightness, contrast, clipping, colour balance), so such edits are no disagreement, while a
 * garment or a bottle recoloured on the same photo is (its points leave the fit the rest follows). Greyscale pairs
 * are compared by brightness. Returns the share of the points with content (not white or black in both images)
 * that disagree; 0 when fewer than 20 points fall inside both images.
 */
export function localMismatch(a: ColourFeatures, b: ColourFeatures, bWidth: number, h: Float64Array, mirrored: boolean): number {
  const grey = isGrey(a) || isGrey(b);
  const channels = grey ? 1 : 3;
  const pa: number[][] = Array.from({ length: channels }, () => []);
  const pb: number[][] = Array.from({ length: channels }, () => []);
  const content: boolean[] = [];
  for (let gy = 0; gy < GRID; gy++) {
    for (let gx = 0; gx < GRID; gx++) {
      const u = 1 + ((gx + 0.5) / GRID) * (a.thumbWidth - 2);
      const v = 1 + ((gy + 0.5) / GRID) * (a.thumbHeight - 2);
      // thumbnail pixel centres ↔ working pixel centres
      const x = (u + 0.5) * THUMB_FACTOR - 0.5;
      const y = (v + 0.5) * THUMB_FACTOR - 0.5;
      const w = h[6]! * x + h[7]! * y + h[8]!;
      let bx = (h[0]! * x + h[1]! * y + h[2]!) / w;
      const by = (h[3]! * x + h[4]! * y + h[5]!) / w;
      if (mirrored) bx = bWidth - 1 - bx;
      const p = sample(a, u, v);
      const q = sample(b, (bx + 0.5) / THUMB_FACTOR - 0.5, (by + 0.5) / THUMB_FACTOR - 0.5);
      if (!p || !q) continue;
      const [ap, bq] = grey ? [[luma(p)], [luma(q)]] : [p, q];
      for (let c = 0; c < channels; c++) {
        pa[c]!.push(ap[c]!);
        pb[c]!.push(bq[c]!);
      }
      const flat = (t: readonly number[], lo: boolean) => t.every((z) => (lo ? z < 25 : z > 235));
      content.push(!((flat(p, false) && flat(q, false)) || (flat(p, true) && flat(q, true))));
    }
  }
  const n = content.length;
  if (n < 20) return 0;
  const { gain, offsets } = toneFit(pa, pb);
  let considered = 0;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    if (!content[i]) continue;
    considered++;
    for (let c = 0; c < channels; c++) {
      if (Math.abs(pb[c]![i]! - clamp(gain * pa[c]![i]! + offsets[c]!)) > TONE_RESIDUAL) {
        bad++;
        break;
      }
    }
  }
  return considered < 20 ? 0 : bad / considered;
}

const clamp = (x: number) => Math.min(255, Math.max(0, x));

/**
 * The global tone change from a to b: b = clamp(gain · a + offset), one gain for all channels (brightness and contrast
 * act on all of them alike) and an offset per channel (colour balance), fitted by least squares on the points b did
 * not clip, twice more on the points that fit (a recoloured region does not pull the fit).
 */
function toneFit(pa: readonly number[][], pb: readonly number[][]): { gain: number; offsets: number[] } {
  const channels = pa.length;
  const n = pa[0]!.length;
  let gain = 1;
  let offsets = new Array<number>(channels).fill(0);
  let use = (c: number, i: number) => pb[c]![i]! > 4 && pb[c]![i]! < 251;
  for (let round = 0; round < 3; round++) {
    // per-channel means, then one slope over the centred values of all channels
    const mean = (c: number, v: readonly number[][]) => {
      let s = 0;
      let k = 0;
      for (let i = 0; i < n; i++) {
        if (use(c, i)) {
          s += v[c]![i]!;
          k++;
        }
      }
      return k > 0 ? s / k : 0;
    };
    const ma = Array.from({ length: channels }, (_, c) => mean(c, pa));
    const mb = Array.from({ length: channels }, (_, c) => mean(c, pb));
    let sab = 0;
    let saa = 0;
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < n; i++) {
        if (!use(c, i)) continue;
        sab += (pa[c]![i]! - ma[c]!) * (pb[c]![i]! - mb[c]!);
        saa += (pa[c]![i]! - ma[c]!) ** 2;
      }
    }
    gain = saa > 0 ? Math.max(0.25, Math.min(4, sab / saa)) : 1;
    offsets = mb.map((m, c) => m - gain * ma[c]!);
    const g = gain;
    const o = offsets;
    use = (c, i) => pb[c]![i]! > 4 && pb[c]![i]! < 251 && Math.abs(pb[c]![i]! - clamp(g * pa[c]![i]! + o[c]!)) <= TONE_RESIDUAL;
  }
  return { gain, offsets };
}

const luma = (p: readonly number[]) => 0.299 * p[0]! + 0.587 * p[1]! + 0.114 * p[2]!;

/** Mean RGB of the 3x3 thumbnail pixels around (x, y), or null outside the thumbnail (one pixel of margin). */
function sample(f: ColourFeatures, x: number, y: number): [number, number, number] | null {
  const cx = Math.round(x);
  const cy = Math.round(y);
  if (!(cx >= 1 && cy >= 1 && cx < f.thumbWidth - 1 && cy < f.thumbHeight - 1)) return null;
  const out: [number, number, number] = [0, 0, 0];
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const i = 3 * ((cy + dy) * f.thumbWidth + cx + dx);
      out[0] += f.thumb[i]!;
      out[1] += f.thumb[i + 1]!;
      out[2] += f.thumb[i + 2]!;
    }
  }
  return [out[0] / 9, out[1] / 9, out[2] / 9];
}
