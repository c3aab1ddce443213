import { parse } from 'csv-parse/sync';
import fs from 'node:fs';
import path from 'node:path';
import { createError } from '../errors.js';

export interface CsvLabels {
  /** CSV file with a header row. */
  readonly csv: string;
  /** Column holding the label (e.g. `articleType`). */
  readonly labelColumn: string;
  /** Column holding the image's path relative to the evaluated folder, or its file name (e.g. `image`). */
  readonly pathColumn: string;
}

/** label lookup: by path relative to the root, else by file name. */
export type LabelOf = (absPath: string) => string | undefined;

export function folderLabels(): LabelOf {
  return (p) => path.basename(path.dirname(p));
}

export function csvLabels(root: string, src: CsvLabels): LabelOf {
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
  const byRel = new Map<string, string>();
  const byName = new Map<string, string>();
  for (const r of rows) {
    const p = r[src.pathColumn];
    const label = r[src.labelColumn];
    if (!p || !label) continue;
    byRel.set(path.normalize(p), label);
    byName.set(path.basename(p), label);
  }
  return (abs) => byRel.get(path.relative(root, abs)) ?? byName.get(path.basename(abs));
}
