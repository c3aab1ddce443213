/**
 * Moving collections without re-embedding: export to Parquet / `.npy` / JSON Lines, import from those (and from
 * clip-retrieval's embedding folders), and copy between any two stores. Everything streams in batches.
 *
 * Formats (documented in docs/transfer.md):
 * - `parquet`: one file; columns id, path, metadata (JSON text), content_hash, size, mtime_ms, width, height, and
 *   vector (list<float>); the collection spec as JSON under the key-value metadata `lookalike.spec`.
 * - `npy`: a folder in clip-retrieval's layout: `img_emb/img_emb_0.npy` (float32, n × d) and
 *   `metadata/metadata_0.parquet` (the same columns but the vector, rows aligned), plus `lookalike-spec.json`.
 * - `jsonl`: one JSON object per line `{id, path, metadata, vector}`, and `<file>.spec.json` beside it.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { fileWriter, ParquetWriter, type SchemaElement } from 'hyparquet-writer';
import { createError, reasonOf } from '../errors.js';
import { normalize } from '../search/compose.js';
import { CollectionSpecSchema } from '../store/spec.js';
import { tilesCollectionName } from '../store/tiled.js';
import type { CollectionSpec, ItemInput, Metadata, StoreCollection, VectorStore } from '../store/types.js';
import { NpyWriter, readNpyInfo, readNpyRows } from './npy.js';

export type ExportFormat = 'parquet' | 'npy' | 'jsonl';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['parquet', 'npy', 'jsonl'];
export const SPEC_KEY = 'lookalike.spec';
const BATCH = 2000;

export interface TransferProgress {
  readonly done: number;
  readonly total: number;
}

export interface ExportResult {
  readonly format: ExportFormat;
  /** The files written. */
  readonly files: string[];
  readonly items: number;
  readonly dimension: number;
}

const recordSchema = (withVector: boolean): SchemaElement[] => [
  { name: 'root', num_children: withVector ? 9 : 8 },
  { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'metadata', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'content_hash', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'size', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'mtime_ms', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'width', type: 'INT32', repetition_type: 'OPTIONAL' },
  { name: 'height', type: 'INT32', repetition_type: 'OPTIONAL' },
  ...(withVector
    ? ([
        { name: 'vector', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
      ] satisfies SchemaElement[])
    : []),
];

function recordColumns(items: readonly ItemInput[], withVector: boolean) {
  return [
    { name: 'id', data: items.map((i) => i.id) },
    { name: 'path', data: items.map((i) => i.path ?? null) },
    { name: 'metadata', data: items.map((i) => JSON.stringify(i.metadata ?? {})) },
    { name: 'content_hash', data: items.map((i) => i.contentHash ?? null) },
    { name: 'size', data: items.map((i) => (i.size === null || i.size === undefined ? null : BigInt(i.size))) },
    { name: 'mtime_ms', data: items.map((i) => i.mtimeMs ?? null) },
    { name: 'width', data: items.map((i) => i.width ?? null) },
    { name: 'height', data: items.map((i) => i.height ?? null) },
    ...(withVector ? [{ name: 'vector', data: items.map((i) => Array.from(i.vector)) }] : []),
  ];
}

const specJson = (spec: CollectionSpec): string => JSON.stringify(spec);

/** Export every item of `collection` (a store collection) to `out`. */
export async function exportCollection(
  collection: StoreCollection,
  format: ExportFormat,
  out: string,
  onProgress?: (p: TransferProgress) => void,
): Promise<ExportResult> {
  const spec = collection.spec;
  const total = await collection.count();
  let done = 0;
  const progress = (n: number) => {
    done += n;
    onProgress?.({ done, total });
  };
  if (format === 'parquet') {
    const pw = new ParquetWriter({ writer: fileWriter(out), schema: recordSchema(true), kvMetadata: [{ key: SPEC_KEY, value: specJson(spec) }] });
    for await (const batch of collection.scanItems(BATCH)) {
      await pw.write({ columnData: recordColumns(batch, true), rowGroupSize: batch.length });
      progress(batch.length);
    }
    await pw.finish();
    return { format, files: [out], items: done, dimension: spec.dimension };
  }
  if (format === 'npy') {
    fs.mkdirSync(path.join(out, 'img_emb'), { recursive: true });
    fs.mkdirSync(path.join(out, 'metadata'), { recursive: true });
    const npyFile = path.join(out, 'img_emb', 'img_emb_0.npy');
    const metaFile = path.join(out, 'metadata', 'metadata_0.parquet');
    const specFile = path.join(out, 'lookalike-spec.json');
    const npy = new NpyWriter(npyFile, spec.dimension);
    const pw = new ParquetWriter({ writer: fileWriter(metaFile), schema: recordSchema(false), kvMetadata: [{ key: SPEC_KEY, value: specJson(spec) }] });
    for await (const batch of collection.scanItems(BATCH)) {
      npy.write(batch.map((i) => i.vector));
      await pw.write({ columnData: recordColumns(batch, false), rowGroupSize: batch.length });
      progress(batch.length);
    }
    npy.close();
    await pw.finish();
    fs.writeFileSync(specFile, `${JSON.stringify(spec, null, 2)}\n`);
    return { format, files: [npyFile, metaFile, specFile], items: done, dimension: spec.dimension };
  }
  const fd = fs.openSync(out, 'w');
  try {
    for await (const batch of collection.scanItems(BATCH)) {
      const lines = batch.map((i) =>
        JSON.stringify({
          id: i.id,
          path: i.path ?? null,
          metadata: i.metadata ?? {},
          content_hash: i.contentHash ?? null,
          size: i.size ?? null,
          mtime_ms: i.mtimeMs ?? null,
          width: i.width ?? null,
          height: i.height ?? null,
          vector: Array.from(i.vector),
        }),
      );
      fs.writeSync(fd, `${lines.join('\n')}\n`);
      progress(batch.length);
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.writeFileSync(`${out}.spec.json`, `${JSON.stringify(spec, null, 2)}\n`);
  return { format, files: [out, `${out}.spec.json`], items: done, dimension: spec.dimension };
}

// ───────────────────────────────────────────── import

/** A source of items to import, with the spec it was exported with (absent: embeddings made elsewhere). */
export interface ImportSource {
  readonly spec: CollectionSpec | undefined;
  readonly dimension: number;
  readonly total: number;
  readonly describe: string;
  batches(): AsyncGenerator<ItemInput[]>;
}

const asString = (v: unknown): string | null => (typeof v === 'string' ? v : v === null || v === undefined ? null : String(v));
const asNumber = (v: unknown): number | null => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' && Number.isFinite(v) ? v : null);

function parseSpec(json: string, source: string): CollectionSpec {
  try {
    return CollectionSpecSchema.parse(JSON.parse(json));
  } catch (e) {
    throw createError('INVALID_ARGUMENT', `${source}: the lookalike collection spec in it cannot be read (${reasonOf(e)}).`, { path: source });
  }
}

/** A parquet row as an item: our own columns, or clip-retrieval's (`image_path`/`url`, `caption`, … as metadata). */
function rowToItem(row: Record<string, unknown>, vector: Float32Array, index: number): ItemInput {
  const own = typeof row.metadata === 'string' && typeof row.id === 'string';
  if (own) {
    let metadata: Metadata = {};
    try {
      const m: unknown = JSON.parse(row.metadata as string);
      if (m && typeof m === 'object' && !Array.isArray(m)) metadata = m as Metadata;
    } catch {
      // left empty
    }
    return {
      id: row.id as string,
      path: asString(row.path),
      contentHash: asString(row.content_hash),
      size: asNumber(row.size),
      mtimeMs: asNumber(row.mtime_ms),
      width: asNumber(row.width),
      height: asNumber(row.height),
      metadata,
      vector,
    };
  }
  const p = asString(row.image_path) ?? asString(row.path) ?? asString(row.url);
  const metadata: Metadata = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === 'vector' || k === 'embedding' || /[.$[\]"'`\\]/u.test(k)) continue;
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) metadata[k] = v;
    else if (typeof v === 'bigint') metadata[k] = Number(v);
  }
  const id = asString(row.id) ?? (p ? createHash('sha256').update(p).digest('hex').slice(0, 20) : `row-${index}`);
  return { id, path: p, metadata, vector };
}

async function parquetSource(file: string): Promise<ImportSource> {
  const buffer = await asyncBufferFromFile(file);
  const meta = await parquetMetadataAsync(buffer);
  const kv = meta.key_value_metadata?.find((x) => x.key === SPEC_KEY)?.value;
  const spec = kv ? parseSpec(kv, file) : undefined;
  const total = Number(meta.num_rows);
  const columns = meta.schema.map((s) => s.name);
  const vectorColumn = ['vector', 'embedding'].find((c) => columns.includes(c));
  if (!vectorColumn) throw createError('INVALID_ARGUMENT', `${file}: no "vector" or "embedding" column (columns: ${columns.slice(1).join(', ')}).`, { path: file });
  const first = total > 0 ? await parquetReadObjects({ file: buffer, rowStart: 0, rowEnd: 1, columns: [vectorColumn] }) : [];
  const dimension = spec?.dimension ?? (first[0] ? (first[0][vectorColumn] as ArrayLike<number>).length : 0);
  return {
    spec,
    dimension,
    total,
    describe: file,
    async *batches() {
      for (let start = 0; start < total; start += BATCH) {
        const rows = await parquetReadObjects({ file: buffer, rowStart: start, rowEnd: Math.min(total, start + BATCH) });
        yield rows.map((r, i) => rowToItem(r, Float32Array.from(r[vectorColumn] as ArrayLike<number>), start + i));
      }
    },
  };
}

/** A folder in clip-retrieval's layout (`img_emb/*.npy` + `metadata/*.parquet`, aligned by row), ours included. */
async function embeddingFolderSource(dir: string): Promise<ImportSource> {
  const list = (sub: string, ext: string) =>
    fs.existsSync(path.join(dir, sub))
      ? fs.readdirSync(path.join(dir, sub)).filter((f) => f.endsWith(ext)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).map((f) => path.join(dir, sub, f))
      : [];
  const npys = list('img_emb', '.npy');
  const metas = list('metadata', '.parquet');
  if (npys.length === 0) throw createError('INVALID_ARGUMENT', `${dir}: no img_emb/*.npy files (expected clip-retrieval's layout: img_emb/ and metadata/).`, { path: dir });
  if (metas.length && metas.length !== npys.length) {
    throw createError('INVALID_ARGUMENT', `${dir}: ${npys.length} .npy files but ${metas.length} metadata parquet files; they must pair up.`, { path: dir });
  }
  const specFile = path.join(dir, 'lookalike-spec.json');
  const spec = fs.existsSync(specFile) ? parseSpec(fs.readFileSync(specFile, 'utf8'), specFile) : undefined;
  const infos = npys.map(readNpyInfo);
  const dims = new Set(infos.map((i) => i.dim));
  if (dims.size !== 1) throw createError('INVALID_ARGUMENT', `${dir}: the .npy files have different dimensions (${[...dims].join(', ')}).`, { path: dir });
  return {
    spec,
    dimension: infos[0]!.dim,
    total: infos.reduce((n, i) => n + i.rows, 0),
    describe: dir,
    async *batches() {
      let index = 0;
      for (const [f, npy] of npys.entries()) {
        const info = infos[f]!;
        const buffer = metas[f] ? await asyncBufferFromFile(metas[f]) : undefined;
        if (buffer) {
          const rows = Number((await parquetMetadataAsync(buffer)).num_rows);
          if (rows !== info.rows) {
            throw createError('INVALID_ARGUMENT', `${metas[f]}: ${rows} rows, but ${npy} has ${info.rows} vectors; they must be aligned.`, { path: metas[f] });
          }
        }
        for (let start = 0; start < info.rows; start += BATCH) {
          const end = Math.min(info.rows, start + BATCH);
          const vectors = readNpyRows(npy, info, start, end - start);
          const rows = buffer ? await parquetReadObjects({ file: buffer, rowStart: start, rowEnd: end }) : vectors.map(() => ({}));
          yield rows.map((r, i) => rowToItem(r, vectors[i]!, index + start + i));
        }
        index += info.rows;
      }
    },
  };
}

async function jsonlSource(file: string): Promise<ImportSource> {
  const specFile = `${file}.spec.json`;
  const spec = fs.existsSync(specFile) ? parseSpec(fs.readFileSync(specFile, 'utf8'), specFile) : undefined;
  let total = 0;
  let dimension = spec?.dimension ?? 0;
  for await (const line of readline.createInterface({ input: fs.createReadStream(file) })) {
    if (line.trim() === '') continue;
    if (total === 0 && !dimension) dimension = ((JSON.parse(line) as { vector?: unknown[] }).vector ?? []).length;
    total++;
  }
  return {
    spec,
    dimension,
    total,
    describe: file,
    async *batches() {
      let batch: ItemInput[] = [];
      let n = 0;
      for await (const line of readline.createInterface({ input: fs.createReadStream(file) })) {
        if (line.trim() === '') continue;
        n++;
        let row: Record<string, unknown>;
        try {
          row = JSON.parse(line) as Record<string, unknown>;
        } catch (e) {
          throw createError('INVALID_ARGUMENT', `${file} line ${n}: not JSON (${reasonOf(e)}).`, { path: file, line: n });
        }
        if (!Array.isArray(row.vector)) throw createError('INVALID_ARGUMENT', `${file} line ${n}: no "vector" list.`, { path: file, line: n });
        const vector = Float32Array.from(row.vector as number[]);
        batch.push(rowToItem({ ...row, metadata: JSON.stringify(row.metadata ?? {}) }, vector, n - 1));
        if (batch.length === BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    },
  };
}

/** What `import` reads: a parquet file, a JSON Lines file, or an embeddings folder (clip-retrieval's layout). */
export async function openImportSource(file: string): Promise<ImportSource> {
  if (!fs.existsSync(file)) throw createError('FILE_NOT_FOUND', `Nothing to import at ${file}.`, { path: file });
  if (fs.statSync(file).isDirectory()) return embeddingFolderSource(file);
  if (file.endsWith('.parquet')) return parquetSource(file);
  if (file.endsWith('.jsonl') || file.endsWith('.ndjson')) return jsonlSource(file);
  throw createError('INVALID_ARGUMENT', `${file}: import reads .parquet, .jsonl files or an embeddings folder (img_emb/*.npy + metadata/*.parquet).`, { path: file });
}

/** The spec of a collection holding vectors made elsewhere (no model: searched by id or vector only). */
export function vectorsOnlySpec(name: string, dimension: number, source: string): Omit<CollectionSpec, 'createdAt' | 'uid'> {
  return {
    name,
    embedder: { id: 'vectors-only', kind: 'vectors-only', model: `vectors-only:${path.basename(source)}`, revision: '0', dimension, modalities: [], preprocessing: {} },
    dimension,
    metric: 'cosine',
    vectorType: 'float32',
    index: { type: 'flat' },
  };
}

/** A vector scaled to unit length, unless it is already (so that exported unit vectors come back bit for bit). */
function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
  return Math.abs(Math.sqrt(n) - 1) < 1e-4 ? v : normalize(v);
}

export interface ImportResult {
  readonly collection: string;
  readonly created: boolean;
  readonly items: number;
  readonly vectorsOnly: boolean;
}

/**
 * Import into `name` of `store`: created with the source's spec (or as a vectors-only collection when the source has
 * none), or checked against an existing collection (same embedder and dimension). Vectors are L2-normalised;
 * upserts are idempotent, so an interrupted import can simply be run again.
 */
export async function importInto(store: VectorStore, name: string, source: ImportSource, onProgress?: (p: TransferProgress) => void): Promise<ImportResult> {
  let target: StoreCollection;
  let created = false;
  if (await store.hasCollection(name)) {
    target = await store.getCollection(name);
    const want = source.spec?.embedder.id ?? 'vectors-only';
    if (target.spec.dimension !== source.dimension || (source.spec && target.spec.embedder.id !== want)) {
      throw createError(
        'EMBEDDER_MISMATCH',
        `Collection "${name}" holds ${target.spec.embedder.id} vectors of dimension ${target.spec.dimension}; ${source.describe} has ` +
          `${want} vectors of dimension ${source.dimension}. Import into a new collection (--collection another-name).`,
        { name },
      );
    }
  } else {
    // the exported spec without its identity (uid, creation time) and without tiles (exports hold global vectors)
    const base: Omit<CollectionSpec, 'createdAt' | 'uid'> = source.spec ?? vectorsOnlySpec(name, source.dimension, source.describe);
    const { embedder, dimension, metric, vectorType, index } = base;
    target = await store.createCollection({ name, embedder, dimension, metric, vectorType, ...(index ? { index } : {}) });
    created = true;
  }
  let done = 0;
  for await (const batch of source.batches()) {
    await target.upsert(batch.map((i) => ({ ...i, vector: unit(i.vector) })));
    done += batch.length;
    onProgress?.({ done, total: source.total });
  }
  return { collection: name, created, items: done, vectorsOnly: (source.spec?.embedder.kind ?? 'vectors-only') === 'vectors-only' };
}

// ───────────────────────────────────────────── copy

/** An order-independent checksum of a collection's ids and vectors (sum of per-item hashes mod 2⁶⁴) and its count. */
export async function checksum(collection: StoreCollection): Promise<{ count: number; checksum: string }> {
  let sum = 0n;
  let count = 0;
  for await (const batch of collection.scanVectors(BATCH)) {
    for (const { id, vector } of batch) {
      const h = createHash('sha256').update(id).update('\0').update(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength)).digest();
      sum = (sum + h.readBigUInt64LE(0)) & 0xffffffffffffffffn;
      count++;
    }
  }
  return { count, checksum: sum.toString(16).padStart(16, '0') };
}

export interface CopyResult {
  readonly collection: string;
  readonly created: boolean;
  readonly copied: number;
  /** Items already in the target with the same vector (a resumed copy skips them). */
  readonly skipped: number;
  readonly source: { count: number; checksum: string };
  readonly target: { count: number; checksum: string };
  readonly equal: boolean;
}

const sameVector = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

async function copyOne(from: StoreCollection, to: VectorStore, name: string, onProgress?: (p: TransferProgress) => void) {
  let target: StoreCollection;
  let created = false;
  if (await to.hasCollection(name)) {
    target = await to.getCollection(name);
    if (target.spec.embedder.id !== from.spec.embedder.id || target.spec.dimension !== from.spec.dimension) {
      throw createError(
        'EMBEDDER_MISMATCH',
        `The target's "${name}" holds ${target.spec.embedder.id} vectors (dimension ${target.spec.dimension}), the source's ${from.spec.embedder.id} (${from.spec.dimension}): copy into another name.`,
        { name },
      );
    }
  } else {
    const { createdAt: _c, uid: _u, ...spec } = from.spec;
    target = await to.createCollection({ ...spec, name });
    created = true;
  }
  const total = await from.count();
  let copied = 0;
  let skipped = 0;
  for await (const batch of from.scanItems(BATCH)) {
    const have = await target.getVectors(batch.map((i) => i.id));
    const todo = batch.filter((i) => !(have.has(i.id) && sameVector(have.get(i.id)!, i.vector)));
    if (todo.length) await target.upsert(todo);
    copied += todo.length;
    skipped += batch.length - todo.length;
    onProgress?.({ done: copied + skipped, total });
  }
  return { target, created, copied, skipped };
}

/**
 * Copy collection `name` from one store to another (`as` names it in the target), in batches; the tiles of a tiled
 * collection go with it. Resumable: items already in the target with the same vector are skipped. Verified at the
 * end by count and checksum of ids and vectors on both sides.
 */
export async function copyCollection(
  from: VectorStore,
  to: VectorStore,
  name: string,
  opts: { as?: string; onProgress?: (p: TransferProgress) => void } = {},
): Promise<CopyResult> {
  const as = opts.as ?? name;
  const source = await from.getCollection(name);
  const r = await copyOne(source, to, as, opts.onProgress);
  const tiles = tilesCollectionName(name);
  if (source.spec.tiles?.length && (await from.hasCollection(tiles))) await copyOne(await from.getCollection(tiles), to, tilesCollectionName(as));
  const [a, b] = await Promise.all([checksum(source), checksum(r.target)]);
  return { collection: as, created: r.created, copied: r.copied, skipped: r.skipped, source: a, target: b, equal: a.count === b.count && a.checksum === b.checksum };
}
