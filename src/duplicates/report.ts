/**
 * What `lookalike duplicates` writes besides its table: a CSV (one row per image), an HTML report with the images of
 * each group side by side (thumbnails inlined as data: URIs, so the file stands alone), and a folder of symbolic links
 * per group for review in a file manager. Nothing is ever deleted or moved.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { createError } from '../errors.js';
import type { DuplicateGroup, DuplicateMember, DuplicatesResult } from './types.js';

const CSV_COLUMNS = ['group', 'role', 'id', 'path', 'score', 'verified', 'width', 'height', 'size', 'mtime'] as const;

/** A CSV field: quoted when needed; a leading = + - @ is defused so spreadsheets do not run it as a formula. */
function csvField(v: string | number | null): string {
  if (v === null) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/u.test(s)) s = `'${s}`;
  return /[",\n\r]/u.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function rows(groups: readonly DuplicateGroup[]): (string | number | null)[][] {
  const out: (string | number | null)[][] = [];
  groups.forEach((g, i) => {
    for (const [role, m] of [['keeper', g.keeper] as const, ...g.duplicates.map((d) => ['duplicate', d] as const)]) {
      out.push([i + 1, role, m.id, m.path, Number(m.score.toFixed(6)), m.verified, m.width, m.height, m.size, m.mtimeMs === null ? null : new Date(m.mtimeMs).toISOString()]);
    }
  });
  return out;
}

/** The groups as CSV: a header, then one row per image (the keeper first in each group). */
export function duplicatesCsv(result: Pick<DuplicatesResult, 'groups'>): string {
  return [CSV_COLUMNS.join(','), ...rows(result.groups).map((r) => r.map(csvField).join(','))].join('\n') + '\n';
}

const esc = (s: string): string => s.replace(/[&<>"']/gu, (c) => `&#${c.charCodeAt(0)};`);

/** A small JPEG of an image file as a data: URI, or null when it cannot be read. */
async function thumbnail(file: string | null, size: number): Promise<string | null> {
  if (!file) return null;
  try {
    const jpeg = await sharp(file, { failOn: 'none', limitInputPixels: 100_000_000 })
      .rotate()
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 75 })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return null;
  }
}

function describe(m: DuplicateMember): string {
  const px = m.width && m.height ? `${m.width}×${m.height}` : '';
  const kb = m.size !== null ? `${(m.size / 1024).toFixed(0)} KB` : '';
  const date = m.mtimeMs !== null ? new Date(m.mtimeMs).toISOString().slice(0, 10) : '';
  return [px, kb, date].filter(Boolean).join(' · ');
}

export interface HtmlReportOptions {
  readonly title?: string;
  /** Longest edge of the thumbnails (default 220). */
  readonly thumbnailSize?: number;
  /** Most groups shown (default 2000); the rest are counted. */
  readonly maxGroups?: number;
}

/** A self-contained HTML page: one row per group, the keeper first and marked, each image with its score and facts. */
export async function duplicatesHtml(result: DuplicatesResult, opts: HtmlReportOptions = {}): Promise<string> {
  const size = opts.thumbnailSize ?? 220;
  const shown = result.groups.slice(0, opts.maxGroups ?? 2000);
  const title = opts.title ?? `Near-duplicates in ${result.collection}`;
  const cards: string[] = [];
  for (const [i, g] of shown.entries()) {
    const figures: string[] = [];
    for (const m of [g.keeper, ...g.duplicates]) {
      const keeper = m === g.keeper;
      const src = await thumbnail(m.path, size);
      const name = m.path ? path.basename(m.path) : m.id;
      const img = src ? `<img src="${src}" alt="${esc(name)}">` : `<div class="missing">no image</div>`;
      const badge = keeper ? '<span class="badge keep">keep</span>' : `<span class="badge">${m.score.toFixed(4)}</span>`;
      const how = m.verified ? ` <span class="how">${esc(m.verified)}</span>` : '';
      figures.push(
        `<figure class="${keeper ? 'keeper' : ''}">${img}<figcaption>${badge}${how}<br><span class="facts">${esc(describe(m))}</span>` +
          `<br><span class="path" title="${esc(m.path ?? m.id)}">${esc(m.path ?? `id ${m.id}`)}</span></figcaption></figure>`,
      );
    }
    cards.push(`<section><h2>Group ${result.offset + i + 1} <small>${g.duplicates.length + 1} images</small></h2><div class="row">${figures.join('')}</div></section>`);
  }
  const more = result.groups.length - shown.length;
  const rule = result.verified ? 'verified geometrically (ORB + RANSAC, mirrored too)' : `threshold ${result.threshold.toFixed(4)}${result.auto ? ' (auto)' : ''}, margin ${result.margin}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 .3rem}p.summary{color:#555;margin:0 0 1.2rem}
section{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.6rem .8rem;margin:0 0 1rem}
h2{font-size:1rem;margin:0 0 .5rem}h2 small{color:#777;font-weight:normal}
.row{display:flex;gap:.8rem;overflow-x:auto;align-items:flex-start}
figure{margin:0;width:${size}px;flex:none;border:3px solid transparent;border-radius:6px;padding:3px}
figure.keeper{border-color:#2e7d32;background:#f1f8f1}
figure img{max-width:100%;max-height:${size}px;display:block;margin:0 auto}
.missing{height:${Math.round(size / 2)}px;display:flex;align-items:center;justify-content:center;background:#eee;color:#888}
figcaption{font-size:12px;margin-top:.3rem;word-break:break-all}
.badge{display:inline-block;background:#555;color:#fff;border-radius:3px;padding:0 .35rem;font-weight:600}
.badge.keep{background:#2e7d32}.how{color:#1565c0}.facts{color:#555}.path{color:#777}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="summary">${result.items} images · ${result.totalGroups} groups · ${result.totalDuplicates} duplicates · ${esc(rule)} · k ${result.k}. The suggested keeper of each group (most pixels, then largest file, then oldest) is outlined in green; nothing has been deleted.</p>
${cards.join('\n')}
${more > 0 ? `<p>… and ${more} more groups (see the JSON or CSV output).</p>` : ''}
</body></html>
`;
}

/** The link folder must be missing or empty (checked before the work, and again before the links are made). */
export async function checkLinkDir(dir: string): Promise<string> {
  const target = path.resolve(dir);
  const existing = await fs.readdir(target).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw createError('FILE_NOT_FOUND', `Cannot use ${target} for the links: ${e.code ?? e.message}.`, { field: 'linkDir' });
  });
  if (existing.length > 0) {
    throw createError('INVALID_ARGUMENT', `The link folder ${target} is not empty: give a new or empty folder (nothing in it is replaced).`, { field: 'linkDir' });
  }
  return target;
}

/** Characters a file name may not carry over from a path. */
const unsafe = (s: string) => s.replace(/[/\\\0]/gu, '_');

/**
 * Symbolic links for review: `dir/group-0001/keep-<name>`, `dup-1-<name>`, … pointing at the images (nothing is
 * moved). `dir` must be missing or empty. Returns how many links were made.
 */
export async function linkDuplicates(result: Pick<DuplicatesResult, 'groups' | 'offset'>, dir: string): Promise<number> {
  const target = await checkLinkDir(dir);
  await fs.mkdir(target, { recursive: true });
  const width = String(result.offset + result.groups.length).length;
  let made = 0;
  for (const [i, g] of result.groups.entries()) {
    const folder = path.join(target, `group-${String(result.offset + i + 1).padStart(Math.max(4, width), '0')}`);
    await fs.mkdir(folder);
    const members = [g.keeper, ...g.duplicates];
    for (const [j, m] of members.entries()) {
      if (!m.path) continue;
      const name = `${j === 0 ? 'keep' : `dup-${j}`}-${unsafe(path.basename(m.path))}`;
      await fs.symlink(path.resolve(m.path), path.join(folder, name));
      made++;
    }
  }
  return made;
}

export interface ReportFiles {
  readonly csv?: string;
  readonly html?: string;
  readonly linkDir?: string;
}

/** Write the reports asked for (absolute paths in the answer), links last. */
export async function writeDuplicateReports(result: DuplicatesResult, files: ReportFiles): Promise<{ csv?: string; html?: string; linkDir?: string; links?: number }> {
  const out: { csv?: string; html?: string; linkDir?: string; links?: number } = {};
  if (files.csv) {
    out.csv = path.resolve(files.csv);
    await fs.writeFile(out.csv, duplicatesCsv(result));
  }
  if (files.html) {
    out.html = path.resolve(files.html);
    await fs.writeFile(out.html, await duplicatesHtml(result));
  }
  if (files.linkDir) {
    out.linkDir = path.resolve(files.linkDir);
    out.links = await linkDuplicates(result, files.linkDir);
  }
  return out;
}
