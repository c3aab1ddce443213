/**
 * `lookalike map --html`: a standalone page that shows the map as pictures. The scatter (one dot per item, coloured
 * by cluster) carries a thumbnail of each cluster's most representative item at the cluster's centre; below it each
 * cluster is a row of its representatives with its size and words. Thumbnails are inlined as data: URIs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '../util/random.js';
import type { CollectionMap, MapCluster } from './types.js';

/** Colours of the first clusters (Tableau 10 and more); later ones are spread around the hue circle. */
const CLUSTER_COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#86bcb6', '#d37295', '#8cd17d'];

export function clusterColour(i: number): string {
  return CLUSTER_COLOURS[i] ?? `hsl(${Math.round((i * 137.508) % 360)} 60% 45%)`;
}

const esc = (s: string): string => s.replace(/[&<>"']/gu, (c) => `&#${c.charCodeAt(0)};`);

/** A JPEG of the image at `file`, `size` px (square crop for the scatter, whole picture for the rows), or null. */
async function inlineImage(file: string | null, size: number, square: boolean, maxPixels: number): Promise<string | null> {
  if (!file || (file.includes(':') && !path.isAbsolute(file))) return null; // lookalike-upload: URIs
  try {
    const buf = await sharp(file, { failOn: 'none', limitInputPixels: maxPixels })
      .rotate()
      .resize(size, size, square ? { fit: 'cover' } : { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 72, mozjpeg: true })
      .toBuffer();
    return `data:image/jpeg;base64,${buf.toString('base64')}`;
  } catch {
    return null;
  }
}

export interface MapHtmlOptions {
  readonly title?: string;
  /** Most dots drawn (an even sample beyond; default 20,000). */
  readonly maxDots?: number;
  /** Representatives shown per cluster (default 6, at most those in the map). */
  readonly perCluster?: number;
  readonly maxPixels?: number;
}

/** The page's look: the web page's colours, a card per cluster edged in its colour. */
const PAGE_STYLE = [
  'body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.2rem 1.5rem 3rem;color:#1d2430;background:#f6f7f9}',
  'h1{font-size:1.45rem;margin:0 0 .25rem}p.summary{color:#4f5a6b;margin:0 0 1rem}',
  'svg{display:block;width:min(100%,900px);height:auto;background:#fff;border:1px solid #c5ccd6;border-radius:8px}',
  'svg circle{opacity:.75}svg text{font:bold 12px system-ui,sans-serif;fill:#fff}',
  'section{background:#fff;border:1px solid #c5ccd6;border-left:6px solid var(--c);border-radius:8px;padding:.5rem .8rem;margin:1rem 0}',
  'h2{font-size:1rem;margin:0 0 .5rem}h2 small{color:#4f5a6b;font-weight:normal;margin-left:.4rem}',
  '.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:50%;background:var(--c);margin-right:.4rem;vertical-align:-1px}',
  '.row{display:flex;gap:.6rem;overflow-x:auto}figure{margin:0;flex:none;width:140px}',
  'figure img{display:block;width:140px;height:140px;object-fit:cover;border-radius:4px}',
  '.missing{width:140px;height:140px;display:flex;align-items:center;justify-content:center;background:#eef0f3;color:#4f5a6b}',
  'figcaption{font-size:11px;color:#4f5a6b;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}',
].join('\n');

const VIEW = 1000;
const THUMB = 72;
/** Margin around the points (thumbnails at the edge stay whole). */
const PAD = 48;
const at = (v: number): number => PAD + v * (VIEW - 2 * PAD);

function clusterName(c: MapCluster): string {
  return `Cluster ${c.id + 1}${c.labels?.length ? `: ${c.labels.join(', ')}` : ''}`;
}

/** The page as text. */
export async function mapHtml(map: CollectionMap, opts: MapHtmlOptions = {}): Promise<string> {
  const maxPixels = opts.maxPixels ?? 100_000_000;
  const paths = new Map(map.points.map((p) => [p.id, p.path]));
  const maxDots = opts.maxDots ?? 20_000;
  const step = Math.max(1, map.points.length / maxDots);
  const dots: string[] = [];
  for (let i = 0; i < map.points.length; i += step) {
    const p = map.points[Math.floor(i)]!;
    dots.push(`<circle cx="${at(p.x).toFixed(1)}" cy="${at(p.y).toFixed(1)}" r="2.4" fill="${clusterColour(p.cluster)}"/>`);
  }
  // thumbnails at cluster centres, nudged apart when two would cover each other
  const jitter = seededRandom(map.seed);
  const placed: { x: number; y: number }[] = [];
  const badges: string[] = [];
  for (const c of [...map.clusters].reverse()) {
    const src = await inlineImage(paths.get(c.representatives[0] ?? '') ?? null, THUMB * 2, true, maxPixels);
    let x = at(c.x);
    let y = at(c.y);
    for (let tries = 0; tries < 20 && placed.some((q) => Math.abs(q.x - x) < THUMB * 0.8 && Math.abs(q.y - y) < THUMB * 0.8); tries++) {
      x = Math.min(VIEW - THUMB / 2, Math.max(THUMB / 2, x + (jitter() - 0.5) * THUMB));
      y = Math.min(VIEW - THUMB / 2, Math.max(THUMB / 2, y + (jitter() - 0.5) * THUMB));
    }
    placed.push({ x, y });
    const colour = clusterColour(c.id);
    const img = src ? `<image href="${src}" x="${x - THUMB / 2}" y="${y - THUMB / 2}" width="${THUMB}" height="${THUMB}" preserveAspectRatio="xMidYMid slice"/>` : '';
    badges.push(
      `<g><title>${esc(`${clusterName(c)} (${c.size} images)`)}</title>` +
        `<rect x="${x - THUMB / 2 - 3}" y="${y - THUMB / 2 - 3}" width="${THUMB + 6}" height="${THUMB + 6}" rx="5" fill="${colour}"/>${img}` +
        `<rect x="${x - THUMB / 2 - 3}" y="${y + THUMB / 2 - 14}" width="26" height="17" rx="3" fill="${colour}"/>` +
        `<text x="${x - THUMB / 2 + 10}" y="${y + THUMB / 2}" text-anchor="middle">${c.id + 1}</text></g>`,
    );
  }
  const per = opts.perCluster ?? 6;
  const rows: string[] = [];
  for (const c of map.clusters) {
    const figures: string[] = [];
    for (const id of c.representatives.slice(0, per)) {
      const file = paths.get(id) ?? null;
      const src = await inlineImage(file, 240, false, maxPixels);
      const name = file ? path.basename(file) : id;
      figures.push(`<figure>${src ? `<img src="${src}" alt="${esc(name)}">` : '<div class="missing">no image</div>'}<figcaption title="${esc(file ?? id)}">${esc(name)}</figcaption></figure>`);
    }
    rows.push(
      `<section style="--c:${clusterColour(c.id)}"><h2><span class="swatch"></span>${esc(clusterName(c))} <small>${c.size} images</small></h2>` +
        `<div class="row">${figures.join('')}</div></section>`,
    );
  }
  const title = opts.title ?? `Map of ${map.collection}`;
  const head = [
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${PAGE_STYLE}</style>`,
  ].join('\n');
  return `<!doctype html>
<html lang="en">
<head>
${head}
</head>
<body>
<h1>${esc(title)}</h1>
<p class="summary">${map.items} images · ${map.method.toUpperCase()} layout (seed ${map.seed}) · ${map.clusters.length} clusters, each shown by its most central image · computed ${esc(map.computedAt)}</p>
<svg viewBox="0 0 ${VIEW} ${VIEW}" role="img" aria-label="${esc(`Scatter of ${map.items} images in ${map.clusters.length} clusters`)}">
<g>${dots.join('')}</g>
${badges.join('\n')}
</svg>
${rows.join('\n')}
</body></html>
`;
}

/** Write the page to `file`; returns its absolute path. */
export async function writeMapHtml(map: CollectionMap, file: string, opts: MapHtmlOptions = {}): Promise<string> {
  const target = path.resolve(file);
  await fs.writeFile(target, await mapHtml(map, opts));
  return target;
}
