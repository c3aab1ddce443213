/**
 * Sidecar metadata: a CSV (header row) or JSON Lines file whose rows are attached to the images they name — by path
 * relative to the indexed folder, by file name (when unique), by file stem (`1525` ↔ `1525.jpg`, when unique) or by
 * item id — with typed columns (numbers, booleans, ISO dates; detected per column or declared).
 */
import { parse } from 'csv-parse/sync';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createError } from '../errors.js';
import { dateOf } from '../image/facts.js';
import { MetadataKeySchema, metadataProblem } from '../schema.js';
import type { Metadata, StoreCollection } from '../store/types.js';

/** How a column's cells are stored: as text, numbers, booleans or dates (ISO 8601 UTC strings, like `taken`). */
export type ColumnType = 'string' | 'number' | 'boolean' | 'date';
export const COLUMN_TYPES: readonly ColumnType[] = ['string', 'number', 'boolean', 'date'];

export interface MetadataFileOptions {
  /** A CSV file with a header row, or a JSON Lines file (one object per line). */
  readonly path: string;
  /** Default: `jsonl` for `.jsonl` / `.ndjson` files, else `csv`. */
  readonly format?: 'csv' | 'jsonl';
  /**
   * The column that names each row's image: a path relative to the indexed folder (or to the metadata file's
   * folder, or absolute), a file name, a file stem or an item id. Default: the first of `path`, `file`, `filename`,
   * `image`, `id` the file has.
   */
  readonly keyColumn?: string;
  /** Column types that are not left to detection (`{ price: 'number', sku: 'string' }`). */
  readonly columnTypes?: Readonly<Record<string, ColumnType>>;
}

/** How each column of a metadata file is stored (`json`: JSON Lines values kept as they are). */
export type ColumnTypes = Record<string, ColumnType | 'json'>;

export interface MetadataRow {
  /** Line of the file (CSV: the line the row ends on). */
  readonly line: number;
  readonly key: string;
  /** The row's typed values, empty cells and the key column left out. */
  readonly values: Metadata;
}

export interface MetadataTable {
  readonly file: string;
  readonly keyColumn: string;
  readonly columns: ColumnTypes;
  readonly rows: MetadataRow[];
}

/** What attaching a metadata file did, in the index report. */
export interface MetadataFileReport {
  readonly file: string;
  readonly keyColumn: string;
  readonly columns: ColumnTypes;
  readonly rows: number;
  /** Images that got a row's values. */
  readonly matched: number;
  /** How the matched images were found. */
  readonly matchedBy: { readonly path: number; readonly name: number; readonly stem: number; readonly id: number };
  /** Already-indexed, unchanged images whose stored metadata was brought up to date (no re-embedding). */
  readonly updated: number;
  /** Rows no image matched (with why), the first few as examples. */
  readonly unmatchedRows: { readonly count: number; readonly examples: { line: number; key: string; reason: string }[] };
  /** Images no row matched (paths), the first few as examples. */
  readonly unmatchedImages: { readonly count: number; readonly examples: string[] };
}

const KEY_CANDIDATES = ['path', 'file', 'filename', 'image', 'id'];
const EXAMPLES = 5;

const NUMBER = /^[-+]?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/u;
/** Declared numbers may have leading zeros (`007`). */
const LOOSE_NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/u;
const BOOLEAN = /^(?:true|false)$/iu;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/u;

const fail = (message: string, details: Record<string, unknown> = {}) => createError('INVALID_ARGUMENT', message, { field: 'metadataFile', ...details });

/** Whether every value fits a type; the detected type of a CSV column (from its non-empty cells). */
export function detectType(values: readonly string[]): ColumnType {
  if (values.length === 0) return 'string';
  if (values.every((v) => NUMBER.test(v) && Number.isFinite(Number(v)))) return 'number';
  if (values.every((v) => BOOLEAN.test(v))) return 'boolean';
  if (values.every((v) => ISO_DATE.test(v) && dateOf(v) !== undefined)) return 'date';
  return 'string';
}

/** One cell as `type`, or an error message saying what was expected. */
function convert(v: string, type: ColumnType): { value: string | number | boolean } | { expected: string } {
  switch (type) {
    case 'string':
      return { value: v };
    case 'number': {
      const n = Number(v);
      return LOOSE_NUMBER.test(v) && Number.isFinite(n) ? { value: n } : { expected: 'a number' };
    }
    case 'boolean': {
      const b = v.toLowerCase();
      if (['true', 'yes', '1'].includes(b)) return { value: true };
      if (['false', 'no', '0'].includes(b)) return { value: false };
      return { expected: 'a boolean (true/false, yes/no, 1/0)' };
    }
    case 'date': {
      const d = dateOf(v);
      return d ? { value: d.taken } : { expected: 'a date (ISO 8601: 2019-05-01, 2019-05-01T10:00:00, 2019-05-01T10:00:00+02:00)' };
    }
  }
}

const show = (v: string): string => JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);

function checkColumnNames(file: string, names: readonly string[], opts: MetadataFileOptions): string {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw fail(`${file}: the column "${n}" appears twice in the header; give each column its own name.`);
    seen.add(n);
  }
  for (const [col, type] of Object.entries(opts.columnTypes ?? {})) {
    if (!seen.has(col)) throw fail(`${file} has no column "${col}" (--column-type ${col}=${type}); its columns: ${names.join(', ')}.`, { column: col });
    if (!COLUMN_TYPES.includes(type)) throw fail(`--column-type ${col}=${String(type)}: the type must be one of ${COLUMN_TYPES.join(', ')}.`, { column: col });
  }
  const key = opts.keyColumn ?? KEY_CANDIDATES.find((c) => seen.has(c));
  if (key === undefined) {
    throw fail(`${file}: which column names the images? Give --key-column (its columns: ${names.join(', ')}).`);
  }
  if (!seen.has(key)) throw fail(`${file} has no column "${key}" (--key-column); its columns: ${names.join(', ')}.`, { column: key });
  for (const n of names) {
    if (n === key) continue;
    const r = MetadataKeySchema.safeParse(n);
    if (!r.success) throw fail(`${file}: the column name ${show(n)} cannot be a metadata key (${r.error.issues[0]?.message ?? 'invalid'}); rename it.`, { column: n });
  }
  return key;
}

function checkRow(file: string, line: number, values: Metadata): Metadata {
  const problem = metadataProblem(values);
  if (problem) throw createError('INVALID_METADATA', `${file} line ${line}: the row's metadata ${problem}.`, { field: 'metadataFile', line });
  return values;
}

function readCsv(file: string, text: string, opts: MetadataFileOptions): MetadataTable {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, trim: true, skip_empty_lines: true, info: true }) as unknown as typeof records;
  } catch (e) {
    throw createError('INVALID_ARGUMENT', `Cannot read ${file} as CSV: ${(e as Error).message}`, { field: 'metadataFile' }, e);
  }
  const header = records[0]?.record ?? [];
  if (header.length === 0) throw fail(`${file} is empty: a CSV needs a header row naming its columns.`);
  const key = checkColumnNames(file, header, opts);
  const body = records.slice(1);
  const columns: ColumnTypes = {};
  header.forEach((name, c) => {
    if (name === key) return;
    columns[name] = opts.columnTypes?.[name] ?? detectType(body.map((r) => r.record[c] ?? '').filter((v) => v !== ''));
  });
  const rows: MetadataRow[] = body.map(({ record, info }) => {
    const values: Metadata = {};
    header.forEach((name, c) => {
      const cell = record[c] ?? '';
      if (name === key || cell === '') return;
      const type = columns[name] as ColumnType;
      const r = convert(cell, type);
      if ('expected' in r) {
        throw fail(`${file} line ${info.lines}, column "${name}": ${show(cell)} is not ${r.expected} (the column is declared ${type}).`, { line: info.lines, column: name });
      }
      values[name] = r.value;
    });
    return { line: info.lines, key: record[header.indexOf(key)] ?? '', values: checkRow(file, info.lines, values) };
  });
  return { file, keyColumn: key, columns, rows };
}

/** A JSON Lines value as its column's type: kept as it is (`json`), or a string converted / a scalar checked. */
function jsonValue(v: unknown, type: ColumnType | 'json'): { value: unknown } | { expected: string } {
  if (type === 'json') return { value: v };
  if (typeof v === 'string') return convert(v, type);
  if (type === 'string') return typeof v === 'number' || typeof v === 'boolean' ? { value: String(v) } : { value: v };
  if (type === 'number' || type === 'boolean') return typeof v === type ? { value: v } : { expected: `a ${type}` };
  return { expected: 'a date (an ISO 8601 string)' };
}

function readJsonl(file: string, text: string, opts: MetadataFileOptions): MetadataTable {
  const objects: { line: number; value: Record<string, unknown> }[] = [];
  text.split(/\r?\n/u).forEach((raw, i) => {
    const line = i + 1;
    const s = i === 0 ? raw.replace(/^\uFEFF/u, '') : raw;
    if (s.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      throw fail(`${file} line ${line} is not JSON: ${(e as Error).message}. Each line must be one JSON object.`, { line });
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(`${file} line ${line}: expected a JSON object (one per line).`, { line });
    objects.push({ line, value: v as Record<string, unknown> });
  });
  const names = [...new Set(objects.flatMap((o) => Object.keys(o.value)))];
  if (names.length === 0) throw fail(`${file} has no rows: JSON Lines needs one object per line.`);
  const key = checkColumnNames(file, names, opts);
  const columns: ColumnTypes = {};
  for (const n of names) if (n !== key) columns[n] = opts.columnTypes?.[n] ?? 'json';
  const rows = objects.map(({ line, value }) => {
    const values: Metadata = {};
    for (const [name, v] of Object.entries(value)) {
      if (name === key || v === null || v === '') continue;
      const r = jsonValue(v, columns[name]!);
      if ('expected' in r) throw fail(`${file} line ${line}, field "${name}": ${show(JSON.stringify(v))} is not ${r.expected} (declared ${columns[name]}).`, { line, column: name });
      values[name] = r.value;
    }
    const k = value[key];
    return { line, key: typeof k === 'string' ? k.trim() : typeof k === 'number' ? String(k) : '', values: checkRow(file, line, values) };
  });
  return { file, keyColumn: key, columns, rows };
}

/** Read and type a metadata file (INVALID_ARGUMENT naming the file, line and column of anything wrong). */
export async function readMetadataFile(opts: MetadataFileOptions): Promise<MetadataTable> {
  const file = path.resolve(opts.path);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw createError('FILE_NOT_FOUND', `Cannot read the metadata file ${file}: ${code === 'ENOENT' ? 'it does not exist' : String(code ?? e)}.`, { path: file });
  }
  const format = opts.format ?? (/\.(?:jsonl|ndjson)$/iu.test(file) ? 'jsonl' : 'csv');
  return format === 'jsonl' ? readJsonl(file, text, opts) : readCsv(file, text, opts);
}

// ── matching rows to images ──

export interface MetadataMatch {
  /** Absolute image path → the values of the row that names it. */
  readonly byPath: Map<string, Metadata>;
  /** The report, less `updated` (known once the run is over). */
  readonly report: Omit<MetadataFileReport, 'updated'>;
}

const normalise = (p: string): string => path.posix.normalize(p.replace(/\\/gu, '/'));
const isAbsolute = (p: string): boolean => p.startsWith('/') || /^[A-Za-z]:\//u.test(p);
const stemOf = (name: string): string => {
  const ext = path.extname(name);
  return ext ? name.slice(0, -ext.length) : name;
};

function group<T>(items: readonly T[], keyOf: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = keyOf(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/**
 * Match the rows of `table` to `images` (absolute paths under `root`, with their item ids). A row's key matches an
 * image by, in this order: its path relative to `root` (`a/b.jpg`, `./a/b.jpg`, `a\b.jpg`), relative to the metadata
 * file's folder or absolute; its file name (`b.jpg`) or stem (`b`) when exactly one image has it; its item id. Two
 * rows naming the same image is an error (INVALID_ARGUMENT naming both lines); so is a file none of whose rows
 * match any image (the key column is probably the wrong one).
 */
export function matchMetadata(table: MetadataTable, root: string, images: readonly { path: string; id: string }[]): MetadataMatch {
  const absRoot = path.resolve(root);
  const rel = (p: string): string => path.relative(absRoot, p).split(path.sep).join('/');
  const byRel = new Map(images.map((im) => [rel(im.path), im.path]));
  const byAbs = new Map(images.map((im) => [path.resolve(im.path), im.path]));
  const byName = group(images, (im) => path.basename(im.path));
  const byStem = group(images, (im) => stemOf(path.basename(im.path)));
  const byId = new Map(images.map((im) => [im.id, im.path]));
  const csvDir = path.dirname(table.file);

  const byPath = new Map<string, Metadata>();
  const lineOf = new Map<string, number>();
  const matchedBy = { path: 0, name: 0, stem: 0, id: 0 };
  const unmatched: { line: number; key: string; reason: string }[] = [];
  for (const row of table.rows) {
    const key = row.key;
    let hit: string | undefined;
    let how: keyof typeof matchedBy = 'path';
    let reason = 'no image has this path, file name, stem or id';
    if (key === '') reason = `empty ${table.keyColumn}`;
    else {
      const p = normalise(key);
      hit = isAbsolute(p) ? byAbs.get(path.resolve(p)) : (byRel.get(p) ?? byAbs.get(path.resolve(csvDir, p)));
      if (hit === undefined && !p.includes('/')) {
        for (const [kind, map] of [
          ['name', byName],
          ['stem', byStem],
        ] as const) {
          const found = map.get(p);
          if (found?.length === 1) {
            hit = found[0]!.path;
            how = kind;
            break;
          }
          if (found && found.length > 1) {
            reason = `${found.length} images have this file ${kind} (e.g. ${found.slice(0, 2).map((f) => rel(f.path)).join(', ')}): give the path`;
            break;
          }
        }
      }
      if (hit === undefined && byId.has(key)) {
        hit = byId.get(key)!;
        how = 'id';
      }
    }
    if (hit === undefined) {
      unmatched.push({ line: row.line, key, reason });
      continue;
    }
    const before = lineOf.get(hit);
    if (before !== undefined) {
      throw fail(`${table.file}: lines ${before} and ${row.line} both name the image ${rel(hit)} (${table.keyColumn} ${show(key)}); give each image one row.`, {
        lines: [before, row.line],
      });
    }
    lineOf.set(hit, row.line);
    byPath.set(hit, row.values);
    matchedBy[how]++;
  }
  if (byPath.size === 0 && table.rows.length > 0 && images.length > 0) {
    throw fail(
      `No image under ${absRoot} matches a row of ${table.file}: its ${table.keyColumn} column has e.g. ` +
        `${table.rows.slice(0, 3).map((r) => show(r.key)).join(', ')}, the images are e.g. ` +
        `${images.slice(0, 3).map((im) => show(rel(im.path))).join(', ')}. Choose the column that names the images with --key-column ` +
        '(paths relative to the indexed folder, file names, file stems or item ids).',
    );
  }
  const unmatchedImages = images.filter((im) => !byPath.has(im.path));
  return {
    byPath,
    report: {
      file: table.file,
      keyColumn: table.keyColumn,
      columns: table.columns,
      rows: table.rows.length,
      matched: byPath.size,
      matchedBy,
      unmatchedRows: { count: unmatched.length, examples: unmatched.slice(0, EXAMPLES) },
      unmatchedImages: { count: unmatchedImages.length, examples: unmatchedImages.slice(0, EXAMPLES).map((im) => im.path) },
    },
  };
}

/**
 * `matchMetadata` for a folder run: `root` is the indexed folder (or a single image, whose folder the paths are then
 * relative to); images are walked files, with the id their record has (or will have: `idOf`).
 */
export function matchFolder(table: MetadataTable, root: string, files: readonly { path: string }[], idOf: (p: string) => string): MetadataMatch {
  const abs = path.resolve(root);
  const base = files.length === 1 && files[0]!.path === abs ? path.dirname(abs) : abs;
  return matchMetadata(table, base, files.map((f) => ({ path: f.path, id: idOf(f.path) })));
}

/**
 * Overlay `updates` (item id → keys) on the stored metadata of those items, without re-embedding: an item is
 * rewritten (with its stored vector) only when a value differs. Returns how many were rewritten and, per item whose
 * merged metadata would be over the limits (left as it was), why.
 */
export async function mergeStoredMetadata(
  store: StoreCollection,
  updates: ReadonlyMap<string, Metadata>,
): Promise<{ updated: number; problems: { id: string; path: string | null; problem: string }[] }> {
  const ids = [...updates.keys()];
  const problems: { id: string; path: string | null; problem: string }[] = [];
  let updated = 0;
  for (let i = 0; i < ids.length; i += 256) {
    const chunk = ids.slice(i, i + 256);
    const items = (await Promise.all(chunk.map((id) => store.get(id)))).filter((it) => it !== undefined);
    const changed = items.filter((it) => Object.entries(updates.get(it.id)!).some(([k, v]) => JSON.stringify(it.metadata[k]) !== JSON.stringify(v)));
    if (changed.length === 0) continue;
    const vectors = await store.getVectors(changed.map((it) => it.id));
    const rows = changed.flatMap((it) => {
      const vector = vectors.get(it.id);
      if (!vector) return [];
      const metadata = { ...it.metadata, ...updates.get(it.id)! };
      const problem = metadataProblem(metadata);
      if (problem) {
        problems.push({ id: it.id, path: it.path, problem });
        return [];
      }
      const { updatedAt: _, ...rest } = it;
      return [{ ...rest, metadata, vector }];
    });
    if (rows.length > 0) updated += (await store.upsert(rows)).updated;
  }
  return { updated, problems };
}
