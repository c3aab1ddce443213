/**
 * The near-duplicate quality benchmark's pieces (used by `npm run bench:duplicates -- --images` and the tests):
 * edited copies of original images made with sharp (the edits people do to photos: resize, recompress, crop,
 * mirror, greyscale, rotate, brightness/contrast, a watermark, a border), and pair precision/recall of a grouping
 * against the planted truth.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';

export const EDITS = ['resize50', 'jpeg30', 'crop80', 'hflip', 'grey', 'rotate5', 'brighter', 'darker', 'text', 'border'] as const;
export type EditName = (typeof EDITS)[number];

/** One edited copy of `input` (encoded bytes or a file), as JPEG (quality 90 unless the edit is the quality). */
export async function applyEdit(input: string | Uint8Array, edit: EditName): Promise<Buffer> {
  // EXIF orientation applied first, as lookalike does; decoded once, every edit starts from the pixels
  const { data, info } = await sharp(input).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const w = info.width;
  const h = info.height;
  const raw = { raw: { width: w, height: h, channels: info.channels } };
  const img = sharp(data, raw);
  const jpeg = (s: Sharp, quality = 90) => s.jpeg({ quality }).toBuffer();
  switch (edit) {
    case 'resize50':
      return jpeg(img.resize(Math.max(1, Math.round(w / 2)), Math.max(1, Math.round(h / 2))));
    case 'jpeg30':
      return jpeg(img, 30);
    case 'crop80': {
      const cw = Math.max(1, Math.round(w * 0.8));
      const ch = Math.max(1, Math.round(h * 0.8));
      return jpeg(img.extract({ left: Math.floor((w - cw) / 2), top: Math.floor((h - ch) / 2), width: cw, height: ch }));
    }
    case 'hflip':
      return jpeg(img.flop());
    case 'grey':
      return jpeg(img.greyscale());
    case 'rotate5':
      return jpeg(img.rotate(5, { background: '#000000' }));
    case 'brighter':
      // +20 % brightness, then +20 % contrast around mid-grey
      return jpeg(sharp(await img.modulate({ brightness: 1.2 }).raw().toBuffer(), raw).linear(1.2, -0.2 * 128));
    case 'darker':
      return jpeg(sharp(await img.modulate({ brightness: 0.8 }).raw().toBuffer(), raw).linear(0.8, 0.2 * 128));
    case 'text': {
      const size = Math.max(8, Math.round(Math.min(w, h) * 0.09));
      const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
        `<text x="50%" y="${Math.round(h * 0.9)}" font-size="${size}" font-family="sans-serif" text-anchor="middle" ` +
        `fill="white" fill-opacity="0.75" stroke="black" stroke-opacity="0.5">© lookalike 2024</text>` +
        `<text x="50%" y="${Math.round(h * 0.2)}" font-size="${Math.round(size * 0.7)}" font-family="sans-serif" text-anchor="middle" ` +
        `fill="white" fill-opacity="0.45">SAMPLE</text></svg>`;
      return jpeg(img.composite([{ input: Buffer.from(svg) }]));
    }
    case 'border': {
      const bx = Math.max(1, Math.round(w * 0.1));
      const by = Math.max(1, Math.round(h * 0.1));
      return jpeg(img.extend({ left: bx, right: bx, top: by, bottom: by, background: '#ffffff' }));
    }
  }
}

/** One image of a benchmark set: an original with its edited copies share `group`; other images have none. */
export interface BenchmarkImage {
  readonly path: string;
  /** Index of the original this image is (or is a copy of); null for the other images. */
  readonly group: number | null;
  /** The edit that made it; null for originals and the other images. */
  readonly edit: EditName | null;
}

/**
 * Write a benchmark set under `dir`: each original (copied) and its edited copies, and the other images (copied),
 * in one folder. Files are named so that nothing about the truth shows in the order of a folder walk.
 */
export async function writeBenchmarkSet(
  dir: string,
  originals: readonly string[],
  others: readonly string[],
  edits: readonly EditName[] = EDITS,
): Promise<BenchmarkImage[]> {
  await fs.mkdir(dir, { recursive: true });
  const out: BenchmarkImage[] = [];
  const name = (n: number, ext: string) => path.join(dir, `${((n * 2654435761) >>> 0).toString(16).padStart(8, '0')}-${n}${ext}`);
  let n = 0;
  for (const [g, src] of originals.entries()) {
    const bytes = await fs.readFile(src);
    const p = name(n++, path.extname(src).toLowerCase() || '.jpg');
    await fs.writeFile(p, bytes);
    out.push({ path: p, group: g, edit: null });
    for (const e of edits) {
      const q = name(n++, '.jpg');
      await fs.writeFile(q, await applyEdit(bytes, e));
      out.push({ path: q, group: g, edit: e });
    }
  }
  for (const src of others) {
    const p = name(n++, path.extname(src).toLowerCase() || '.jpg');
    await fs.copyFile(src, p);
    out.push({ path: p, group: null, edit: null });
  }
  return out;
}

export interface PairScores {
  readonly truePairs: number;
  readonly predictedPairs: number;
  readonly correctPairs: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

const pairKey = (a: string, b: string) => (a < b ? `${a}\n${b}` : `${b}\n${a}`);

/** Every unordered pair inside each group (groups of keys, e.g. paths). */
export function pairsOfGroups(groups: readonly (readonly string[])[]): Set<string> {
  const out = new Set<string>();
  for (const g of groups) for (let i = 0; i < g.length; i++) for (let j = i + 1; j < g.length; j++) out.add(pairKey(g[i]!, g[j]!));
  return out;
}

/** Pair precision / recall / F1 of predicted pairs (or groups: use `pairsOfGroups`) against the planted truth. */
export function scorePairs(predicted: ReadonlySet<string>, truth: readonly BenchmarkImage[]): PairScores {
  const groupOf = new Map(truth.map((t) => [t.path, t.group]));
  const truePairs = pairsOfGroups(groupsOfTruth(truth)).size;
  let correct = 0;
  for (const k of predicted) {
    const [a, b] = k.split('\n') as [string, string];
    const ga = groupOf.get(a);
    if (ga !== null && ga !== undefined && ga === groupOf.get(b)) correct++;
  }
  const precision = predicted.size === 0 ? 1 : correct / predicted.size;
  const recall = truePairs === 0 ? 1 : correct / truePairs;
  return { truePairs, predictedPairs: predicted.size, correctPairs: correct, precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) };
}

export function groupsOfTruth(truth: readonly BenchmarkImage[]): string[][] {
  const by = new Map<number, string[]>();
  for (const t of truth) if (t.group !== null) (by.get(t.group) ?? by.set(t.group, []).get(t.group)!).push(t.path);
  return [...by.values()];
}

/** Per edit: the share of originals whose copy with that edit was paired with the original. */
export function recallPerEdit(predicted: ReadonlySet<string>, truth: readonly BenchmarkImage[]): Record<string, number> {
  const original = new Map<number, string>();
  for (const t of truth) if (t.group !== null && t.edit === null) original.set(t.group, t.path);
  const found = new Map<string, [number, number]>();
  for (const t of truth) {
    if (t.group === null || t.edit === null) continue;
    const f = found.get(t.edit) ?? [0, 0];
    f[1]++;
    if (predicted.has(pairKey(t.path, original.get(t.group)!))) f[0]++;
    found.set(t.edit, f);
  }
  return Object.fromEntries([...found].map(([e, [hit, all]]) => [e, hit / all]));
}

export { pairKey };

/**
 * The images of `paths` that are not the same picture as an earlier one (byte-identical or re-encoded: 16x16 colour
 * thumbnails differing by less than 3 levels on average). Source datasets carry such copies of their own, which no
 * planted truth knows about; the pool of other images is cleaned of them before mixing.
 */
export async function distinctImages(paths: readonly string[]): Promise<string[]> {
  const S = 16 * 16 * 3;
  const thumbs: { path: string; px: Uint8Array; mean: number }[] = [];
  for (const p of paths) {
    try {
      const px = new Uint8Array(await sharp(p).rotate().removeAlpha().toColourspace('srgb').resize(16, 16, { fit: 'fill' }).raw().toBuffer());
      if (px.length !== S) continue;
      thumbs.push({ path: p, px, mean: px.reduce((s, x) => s + x, 0) / S });
    } catch {
      // not decodable: left out
    }
  }
  const kept: typeof thumbs = [];
  const limit = 3 * S;
  for (const t of thumbs) {
    let same = false;
    for (const k of kept) {
      if (Math.abs(k.mean - t.mean) > 3) continue; // the mean difference bounds the mean absolute difference
      let d = 0;
      for (let i = 0; i < S && d < limit; i++) d += Math.abs(k.px[i]! - t.px[i]!);
      if (d < limit) {
        same = true;
        break;
      }
    }
    if (!same) kept.push(t);
  }
  return kept.map((t) => t.path);
}
