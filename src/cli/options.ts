/**
 * Option groups shared by the commands (each declared once here) and the pure mappings from parsed flags to library
 * arguments. Values are checked while parsing, so a bad one is a usage error (exit 2) naming the flag, before any
 * store is opened or model loaded.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Config } from '../config.js';
import { isLookalikeError } from '../errors.js';
import { MetadataKeySchema, validateWhere } from '../schema.js';
import { whereFromExpressions, type Where } from '../search/where.js';
import { withIndexDefaults } from '../store/spec.js';
import type { IndexSpec, MetadataValue, VectorType } from '../store/types.js';
import { evalProgress, UsageError } from './output.js';
import { POOLINGS, type Pooling } from '../embed/pooling.js';

export const DEFAULT_DB = process.env.LOOKALIKE_DB || './lookalike-db';
export const DEFAULT_COLLECTION = 'default';

// ── value parsers (commander calls them with the raw string; InvalidArgumentError → "option … is invalid") ──

export function integerIn(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `${flag} must be an integer ≥ ${min}.` : `${flag} must be an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

export const positiveInt = (flag: string) => integerIn(flag, 1);

export function finiteNumber(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a number.`);
    return n;
  };
}

export function nonEmpty(flag: string) {
  return (v: string): string => {
    if (v.trim() === '') throw new InvalidArgumentError(`${flag} must not be empty.`);
    return v;
  };
}

/** A metadata key (`--label-key`): the library's rule (no `.`, `$`, `[`, `]`, quotes, backslashes, control characters). */
export function metadataKey(flag: string) {
  return (v: string): string => {
    const r = MetadataKeySchema.safeParse(v);
    if (!r.success) throw new InvalidArgumentError(`${flag}: ${r.error.issues[0]?.message ?? 'not a valid metadata key'}.`);
    return v;
  };
}

const COLUMN_TYPE_NAMES = ['string', 'number', 'boolean', 'date'] as const;
export type ColumnTypeName = (typeof COLUMN_TYPE_NAMES)[number];

/** `col=type[,col=type…]` (repeatable): declared column types of a metadata file. */
export function columnTypes(flag: string) {
  return (v: string, prev: Record<string, ColumnTypeName> = {}): Record<string, ColumnTypeName> => {
    const out = { ...prev };
    for (const pair of v.split(',').map((x) => x.trim()).filter(Boolean)) {
      const eq = pair.lastIndexOf('=');
      const col = pair.slice(0, eq).trim();
      const type = pair.slice(eq + 1).trim();
      if (eq <= 0 || col === '') throw new InvalidArgumentError(`${flag} "${pair}": expected column=type (e.g. price=number).`);
      if (!(COLUMN_TYPE_NAMES as readonly string[]).includes(type)) {
        throw new InvalidArgumentError(`${flag} "${pair}": the type must be one of ${COLUMN_TYPE_NAMES.join(', ')}.`);
      }
      out[col] = type as ColumnTypeName;
    }
    return out;
  };
}

/** Repeatable option: each occurrence appended. */
export function collect(flag: string) {
  const check = nonEmpty(flag);
  return (v: string, prev: string[] = []): string[] => [...prev, check(v)];
}

// ── groups ──

export interface JsonOpts {
  readonly json?: boolean;
}

export function jsonOption(cmd: Command): Command {
  return cmd.option('--json', 'machine-readable: one JSON object on stdout; errors as {"error":{"code","message"}} on stderr');
}

export interface StoreOpts extends JsonOpts {
  readonly db: string;
  readonly collection: string;
}

/** `--db` and (unless `collection: false`) `-c, --collection`, plus `--json`. */
export function storeOptions(cmd: Command, { collection = true }: { collection?: boolean } = {}): Command {
  cmd.addOption(new Option('--db <location>', 'store: a directory, or postgres://… (env LOOKALIKE_DB)').default(DEFAULT_DB).argParser(nonEmpty('--db')));
  if (collection) cmd.addOption(new Option('-c, --collection <name>', 'collection name').default(DEFAULT_COLLECTION).argParser(nonEmpty('--collection')));
  cmd.addOption(new Option('--read-db <url>', 'PostgreSQL streaming replica that answers searches (repeatable; env LOOKALIKE_READ_DB)').argParser(collect('--read-db')));
  cmd.addOption(new Option('--shard <url>', 'PostgreSQL shard server new collections are hash-partitioned over; --db is the coordinator (repeatable; env LOOKALIKE_SHARDS)').argParser(collect('--shard')));
  return jsonOption(cmd);
}

export interface InferenceOpts {
  readonly device?: 'cpu' | 'cuda';
  readonly threads?: number;
  readonly batchSize?: number;
  /** `--read-db` (store options): PostgreSQL replicas for searches. */
  readonly readDb?: string[];
  /** `--shard` (store options): PostgreSQL shard servers for new collections. */
  readonly shard?: string[];
}

/** Where and how models run. */
export function inferenceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--device <device>', 'ONNX Runtime execution provider (env LOOKALIKE_DEVICE)').choices(['cpu', 'cuda']))
    .option('--threads <n>', 'inference threads (env LOOKALIKE_THREADS; default: CPU cores)', positiveInt('--threads'))
    .option('--batch-size <n>', 'images per inference call (env LOOKALIKE_BATCH_SIZE)', positiveInt('--batch-size'));
}

export function configFrom(o: InferenceOpts): Partial<Config> {
  return {
    ...(o.readDb?.length ? { readReplicas: o.readDb } : {}),
    ...(o.shard?.length ? { shards: o.shard } : {}),
    ...(o.device ? { device: o.device } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.batchSize ? { batchSize: o.batchSize } : {}),
  };
}

export interface IndexOpts {
  readonly index?: IndexSpec['type'];
  readonly projection?: number;
  readonly nlist?: number;
  readonly nprobe?: number;
  readonly hnswM?: number;
  /** Old name of `--hnsw-m` (hidden). */
  readonly m?: number;
  readonly efConstruction?: number;
  readonly ef?: number;
  readonly vectorType?: VectorType;
}

/** The search index and how it holds vectors; parameters left out take the library's defaults. */
export function indexOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--index <type>', 'search index: flat (exact), hnsw or ivf (approximate)').choices(['flat', 'hnsw', 'ivf']))
    .option('--projection <dims>', 'flat: scan random projections to this many dimensions, re-score exactly', positiveInt('--projection'))
    .option('--nlist <n>', 'ivf: lists (k-means centroids)', positiveInt('--nlist'))
    .option('--nprobe <n>', 'ivf: lists scanned per query by default', positiveInt('--nprobe'))
    .option('--hnsw-m <n>', 'hnsw: links per node', positiveInt('--hnsw-m'))
    .addOption(new Option('--m <n>', 'old name of --hnsw-m').argParser(positiveInt('--m')).hideHelp().conflicts('hnswM'))
    .option('--ef-construction <n>', 'hnsw: candidate list while building', positiveInt('--ef-construction'))
    .option('--ef <n>', 'hnsw: default candidate list while searching', positiveInt('--ef'))
    .addOption(new Option('--vector-type <type>', 'vectors in memory: float32, float16 or int8 (re-scored with float32)').choices(['float32', 'float16', 'int8']));
}

/** Which flag sets each index parameter, and for which index type. */
const INDEX_PARAMS = [
  { key: 'projection', flag: '--projection', type: 'flat' },
  { key: 'nlist', flag: '--nlist', type: 'ivf' },
  { key: 'nprobe', flag: '--nprobe', type: 'ivf' },
  { key: 'm', flag: '--hnsw-m', type: 'hnsw' },
  { key: 'efConstruction', flag: '--ef-construction', type: 'hnsw' },
  { key: 'ef', flag: '--ef', type: 'hnsw' },
] as const;

/**
 * The complete index spec the flags ask for (library defaults for what they leave out), or undefined when they ask
 * for none. Without `--index`, parameters change `current` (the collection's index). A parameter of another index
 * type, or a value the library refuses, is a usage error naming the flag.
 */
export function indexSpecFrom(o: IndexOpts, current?: IndexSpec): IndexSpec | undefined {
  const given: Record<(typeof INDEX_PARAMS)[number]['key'], number | undefined> = {
    projection: o.projection,
    nlist: o.nlist,
    nprobe: o.nprobe,
    m: o.hnswM ?? o.m,
    efConstruction: o.efConstruction,
    ef: o.ef,
  };
  const params = INDEX_PARAMS.filter((p) => given[p.key] !== undefined);
  const type = o.index ?? current?.type;
  if (type === undefined) {
    if (params.length === 0) return undefined;
    throw new UsageError(`${params[0]!.flag} needs --index ${params[0]!.type}.`);
  }
  const foreign = params.find((p) => p.type !== type);
  if (foreign) throw new UsageError(`${foreign.flag} applies to --index ${foreign.type}, not ${type}.`);
  const base: Record<string, unknown> = o.index === undefined && current ? { ...current } : { type };
  for (const p of params) base[p.key] = given[p.key];
  try {
    return withIndexDefaults(base as Parameters<typeof withIndexDefaults>[0]) as IndexSpec;
  } catch (e) {
    if (!isLookalikeError(e, 'INVALID_ARGUMENT')) throw e;
    const param = INDEX_PARAMS.find((p) => p.key === e.details.field);
    throw new UsageError(param ? `${param.flag} ${String(given[param.key])}: ${e.message}` : e.message);
  }
}

/** Query-time knobs of approximate indexes (search, index-check). */
export function queryKnobOptions(cmd: Command): Command {
  return cmd
    .option('--ef <n>', 'hnsw collections: candidate list size for this search', positiveInt('--ef'))
    .option('--nprobe <n>', 'ivf collections: lists scanned for this search', positiveInt('--nprobe'));
}

export function queryKnobsFrom(o: { ef?: number; nprobe?: number }): { ef?: number; nprobe?: number } {
  return { ...(o.ef ? { ef: o.ef } : {}), ...(o.nprobe ? { nprobe: o.nprobe } : {}) };
}

/** `key=value` pairs (all must match), checked by the library's rules for keys and their number. */
/** `--where` expressions (see `parseWhereExpression`) as one validated filter. */
export function parseWhere(exprs: readonly string[]): Where | undefined {
  try {
    const w = whereFromExpressions(exprs);
    return w === undefined ? undefined : validateWhere(w, '--where');
  } catch (e) {
    if (isLookalikeError(e)) throw new UsageError(e.message);
    throw e;
  }
}

export interface EvalOpts extends JsonOpts, InferenceOpts {
  readonly labels?: string;
  readonly labelColumn: string;
  readonly pathColumn: string;
  readonly distractors?: string;
  readonly pooling?: Pooling;
}

/** Labelled-folder evaluation (eval, compare). */
export function evalOptions(cmd: Command): Command {
  return inferenceOptions(jsonOption(cmd))
    .option('--labels <csv>', "labels from a CSV (default: each image's folder name)")
    .option('--label-column <name>', 'CSV column with the label', 'label')
    .option('--path-column <name>', 'CSV column with the image path (relative to <dir>) or file name', 'path')
    .option('--distractors <dir>', 'folder of distractors: in the gallery, never queries, never relevant')
    .addOption(new Option('--pooling <how>', 'CNN feature maps: average (default), gem or max; ViT tokens: cls or mean').choices([...POOLINGS]));
}

/** What every evaluation takes from the command line. */
export function evalArgsFrom(dir: string, o: EvalOpts) {
  return {
    dir,
    config: configFrom(o),
    ...(o.labels ? { labels: { csv: o.labels, labelColumn: o.labelColumn, pathColumn: o.pathColumn } } : {}),
    ...(o.distractors ? { distractors: o.distractors } : {}),
    ...(o.pooling ? { pooling: o.pooling } : {}),
    onProgress: evalProgress(o.json !== true),
  };
}
