import { parse } from 'csv-parse/sync';
import fs from 'node:fs';
import path from 'node:path';
import { createError } from '../errors.js';

export interface CsvLabels {
  /** CSV file with a header row. */
  readonly csv: string;
  /** Column holding the label (e.g. `articleType`). */
  readonly labelColumn: string;
  /**
   * Column holding the image's path: relative to the evaluated folder (`a/b.jpg`, `./a/b.jpg`, `a\b.jpg`),
   * relative to the CSV's own folder, absolute, or a bare file name (used only when it is unambiguous).
   */
  readonly pathColumn: string;
}

/** One usable CSV row (rows with an empty path or label are left out). */
export interface LabelRow {
  readonly path: string;
  readonly label: string;
}

/** Labels of the evaluated images. */
export interface LabelMatch {
  /** Absolute image path → label. */
  readonly labels: Map<string, string>;
  /** Images no row matched (absolute paths): they stay in the gallery but are never queries and never relevant. */
  readonly unlabelled: string[];
  /** How many images were matched by a unique bare file name rather than by path. */
  readonly byName: number;
}

/** The label of an image from its folder: the name of the folder it is in. */
export function folderLabel(absPath: string): string {
  return path.basename(path.dirname(absPath));
}

/** Read the label and path columns of a labels CSV (INVALID_ARGUMENT naming the columns it has when one is missing). */
export function readLabelCsv(src: CsvLabels): LabelRow[] {
  let rows: Record<string, string>[];
  try {
    rows = parse(fs.readFileSync(src.csv), { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<string, string>[];
  } catch (e) {
    throw createError('INVALID_ARGUMENT', `Cannot read labels from ${src.csv}: ${(e as Error).message}`, { field: 'labels' }, e);
  }
  const header = rows[0] ? Object.keys(rows[0]) : [];
  for (const [flag, col] of [
    ['--label-column', src.labelColumn],
    ['--path-column', src.pathColumn],
  ] as const) {
    if (!header.includes(col)) {
      throw createError('INVALID_ARGUMENT', `${src.csv} has no column "${col}" (${flag}); its columns: ${header.join(', ')}.`, {
        field: flag,
      });
    }
  }
  const out: LabelRow[] = [];
  for (const r of rows) {
    const p = r[src.pathColumn];
    const label = r[src.labelColumn];
    if (p && label) out.push({ path: p, label });
  }
  return out;
}

/** A CSV path with `/` separators, without leading `./`, normalised (`a/./b` → `a/b`); absolute paths stay absolute. */
function normalise(p: string): string {
  return path.posix.normalize(p.replace(/\\/g, '/'));
}

const isAbsolute = (p: string): boolean => p.startsWith('/') || /^[A-Za-z]:\//.test(p);

const relPosix = (root: string, abs: string): string => path.relative(root, abs).split(path.sep).join('/');

const quoteList = (xs: readonly string[], max = 10): string =>
  xs
    .slice(0, max)
    .map((x) => `"${x}"`)
    .join(', ') + (xs.length > max ? `, … (${xs.length} in all)` : '');

/**
 * Match CSV rows to the evaluated images (absolute paths under `root`). A row matches an image when its path,
 * normalised (`\` → `/`, leading `./` dropped), is the image's path relative to `root`, or resolves (relative to
 * `csvDir`, or as an absolute path) to the image. Only an image no row matches by path may be matched by its bare
 * file name, and only when that name belongs to exactly one image and exactly one row (of those not matched by
 * path); when it belongs to several, that is an INVALID_ARGUMENT error listing the names — a silent guess would give
 * images the wrong labels. Images nothing matches are returned as `unlabelled`.
 */
export function matchLabels(
  root: string,
  rows: readonly LabelRow[],
  images: readonly string[],
  opts: { csvDir?: string; source?: string; pathColumn?: string } = {},
): LabelMatch {
  const absRoot = path.resolve(root);
  const source = opts.source ?? 'the labels CSV';
  const column = opts.pathColumn ? `column "${opts.pathColumn}"` : 'paths';

  // Every row under the keys it can match: a path relative to the root, an absolute path.
  interface Entry {
    readonly labels: Set<string>;
    readonly rows: number[];
  }
  const byRel = new Map<string, Entry>();
  const byAbs = new Map<string, Entry>();
  const add = (map: Map<string, Entry>, key: string, row: number): void => {
    let e = map.get(key);
    if (!e) map.set(key, (e = { labels: new Set(), rows: [] }));
    e.labels.add(rows[row]!.label);
    e.rows.push(row);
  };
  for (const [i, r] of rows.entries()) {
    const p = normalise(r.path);
    if (isAbsolute(p)) add(byAbs, path.resolve(p), i);
    else {
      if (!p.startsWith('../') && p !== '..') add(byRel, p, i);
      if (opts.csvDir) add(byAbs, path.resolve(opts.csvDir, p), i);
    }
  }

  const labels = new Map<string, string>();
  const used = new Set<number>();
  const conflicts: string[] = [];
  const unmatched: string[] = [];
  for (const img of images) {
    const abs = path.resolve(img);
    const e = byRel.get(relPosix(absRoot, abs)) ?? byAbs.get(abs);
    if (!e) {
      unmatched.push(abs);
      continue;
    }
    for (const r of e.rows) used.add(r);
    if (e.labels.size > 1) conflicts.push(`${relPosix(absRoot, abs)} (${[...e.labels].join(' / ')})`);
    else labels.set(abs, [...e.labels][0]!);
  }
  if (conflicts.length > 0) {
    throw createError(
      'INVALID_ARGUMENT',
      `${source} gives ${conflicts.length} image(s) more than one label: ${quoteList(conflicts)}. Give each image one row.`,
      { field: 'labels' },
    );
  }

  // Bare-name fallback: only names that are unique among all images and among the rows not matched by path.
  const imagesByName = new Map<string, number>();
  for (const img of images) {
    const n = path.basename(img);
    imagesByName.set(n, (imagesByName.get(n) ?? 0) + 1);
  }
  const rowsByName = new Map<string, { rows: number; paths: Set<string>; labels: Set<string> }>();
  for (const [i, r] of rows.entries()) {
    if (used.has(i)) continue;
    const p = normalise(r.path);
    const n = path.posix.basename(p);
    let e = rowsByName.get(n);
    if (!e) rowsByName.set(n, (e = { rows: 0, paths: new Set(), labels: new Set() }));
    e.rows++;
    e.paths.add(p);
    e.labels.add(r.label);
  }
  const unlabelled: string[] = [];
  const ambiguous = new Map<string, { images: number; rows: number }>();
  let byName = 0;
  for (const abs of unmatched) {
    const n = path.basename(abs);
    const r = rowsByName.get(n);
    if (!r) {
      unlabelled.push(abs);
      continue;
    }
    const nImages = imagesByName.get(n) ?? 0;
    if (nImages === 1 && r.paths.size === 1 && r.labels.size === 1) {
      labels.set(abs, [...r.labels][0]!);
      byName++;
    } else ambiguous.set(n, { images: nImages, rows: r.rows });
  }
  if (ambiguous.size > 0) {
    const names = [...ambiguous].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([n, c]) => `${n} (${c.images} images, ${c.rows} rows)`);
    const exampleImage = unmatched.find((p) => ambiguous.has(path.basename(p)));
    const exampleRow = rows.find((r) => ambiguous.has(path.posix.basename(normalise(r.path))));
    throw createError(
      'INVALID_ARGUMENT',
      `The ${column} of ${source} do not match the images under ${absRoot}, and ${ambiguous.size} file ` +
        `name(s) are not unique, so they cannot be matched by name either: ${quoteList(names)}. ` +
        `Give each image's path relative to ${absRoot}` +
        (exampleImage ? ` (e.g. "${relPosix(absRoot, exampleImage)}")` : '') +
        (exampleRow ? `; the CSV has e.g. "${exampleRow.path}"` : '') +
        ` — or relative to the CSV's folder, or absolute — or evaluate the folder the CSV's paths are relative to.`,
      { field: 'labels', ambiguous: [...ambiguous.keys()].slice(0, 100) },
    );
  }
  if (labels.size === 0 && images.length > 0) {
    throw createError(
      'INVALID_ARGUMENT',
      `No image under ${absRoot} matches a row of ${source}: the ${column} are e.g. ${quoteList(
        rows.slice(0, 3).map((r) => r.path),
      )}, the images are e.g. ${quoteList(images.slice(0, 3).map((p) => relPosix(absRoot, path.resolve(p))))}. ` +
        `Give paths relative to ${absRoot} (or to the CSV's folder)` +
        (opts.pathColumn ? ', or choose the right column with --path-column.' : '.'),
      { field: 'labels' },
    );
  }
  return { labels, unlabelled, byName };
}
