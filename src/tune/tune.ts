/**
 * `tune`: learn a transform (PCA-whitening without labels, or LDA on labels) and/or calibrated scores for a
 * collection, and store them with it (see tune/store.ts for how). Re-learning replaces what was learnt before.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createError } from '../errors.js';
import { companionIndex, compileCompanion, tuneCollectionNames, TunedStore, type TuneCompanion } from './store.js';
import { learnCalibration, type CalibrateOptions } from './calibrate.js';
import { learnLda, type LabelledVector, type LdaOptions } from './lda.js';
import { TUNING_VERSION, type LinearTransformSpec, type TuningSpec } from './schema.js';
import { LinearTransform } from './transform.js';
import { learnWhitening, type WhitenOptions } from './whiten.js';
import type { ItemInput, StoreCollection } from '../store/types.js';

export interface TuneProgress {
  readonly phase: 'learn' | 'calibrate' | 'transform';
  readonly done: number;
  readonly total: number;
}

export interface TuneOptions {
  /** Learn centring + PCA-whitening from the collection's own vectors (`true`: the defaults, see `WhitenOptions`). */
  readonly whiten?: boolean | WhitenOptions;
  /**
   * Learn a linear discriminant projection (LDA) from labelled items: item id → label (e.g. the folder an image is
   * in). Only these items' labels are used; ids not in the collection are passed over.
   */
  readonly labels?: ReadonlyMap<string, string>;
  /**
   * The same, with labels from folders: every indexed image in a sub-folder of this folder is labelled with the name
   * of the folder it is in (`DIR/roses/a.jpg` → `roses`); images elsewhere are not used.
   */
  readonly labelsFromFolders?: string;
  readonly lda?: LdaOptions;
  /**
   * Learn calibrated scores (hits get a `confidence`; `minConfidence` filters by it). Also re-learnt automatically
   * when a new transform replaces one that had a calibration.
   */
  readonly calibrate?: boolean | CalibrateOptions;
  /**
   * Re-learn automatically, with the same settings, once the collection has grown to this many times the items it
   * had when tuned (checked after `indexFolder`, `indexFiles`, `syncFolder` and `addImages`). Default 2 for
   * whitening and calibration; `false` never. Not with labels (new items have none): tune again yourself.
   */
  readonly relearnGrowth?: number | false;
  /** Remove all tuning: the collection searches its raw vectors again. */
  readonly reset?: boolean;
  readonly onProgress?: (p: TuneProgress) => void;
}

/** Quantiles of a score distribution, for reading. */
export interface ScoreQuantiles {
  readonly p1: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** What tuning a collection has (`Collection.tuning()`, `lookalike tune` and `info`). */
export interface TuningInfo {
  readonly transform: {
    readonly kind: LinearTransformSpec['kind'];
    readonly inputDimension: number;
    readonly outputDimension: number;
    readonly power: number;
    readonly params: LinearTransformSpec['params'];
    readonly learnedFrom: number;
    /** Hash of the learnt numbers: equal fingerprints, equal transforms. */
    readonly fingerprint: string;
  } | null;
  readonly calibration: {
    readonly space: 'raw' | 'transformed';
    readonly pairs: number;
    readonly learnedFrom: number;
    /** Scores of random pairs of items. */
    readonly randomPairs: ScoreQuantiles;
    /** Scores of items' nearest neighbours. */
    readonly nearestNeighbours: ScoreQuantiles;
  } | null;
  readonly learnedAt: string | null;
  /** Automatic re-learning: the growth factor, the items when learnt, and the count that triggers the next one. */
  readonly relearn: { readonly growth: number; readonly learnedAtItems: number; readonly nextAt: number } | null;
  /** Items in the collection, and transformed vectors in its companion (they differ when writes bypassed the tuning). */
  readonly items: number;
  readonly transformedItems: number | null;
}

const BATCH = 256;
/** Default `relearnGrowth` of unsupervised tuning. */
export const DEFAULT_RELEARN_GROWTH = 2;
const nextRelearn = (r: { growth: number; items: number }): number => Math.max(r.items + 1, Math.ceil(r.items * r.growth));
/** Items calibration samples (its pairs are drawn among these). */
const CALIBRATION_SAMPLE = 4000;

const at = (q: readonly number[], p: number): number => q[Math.round(p * (q.length - 1))]!;
const quantilesOf = (q: readonly number[]): ScoreQuantiles => ({ p1: at(q, 0.01), p50: at(q, 0.5), p99: at(q, 0.99), p999: at(q, 0.999), max: at(q, 1) });

export async function tuningInfo(ts: TunedStore): Promise<TuningInfo> {
  const c = ts.companion;
  const t = c?.tuning.transform;
  const cal = c?.tuning.calibration;
  return {
    transform: t
      ? {
          kind: t.kind,
          inputDimension: t.inputDimension,
          outputDimension: t.outputDimension,
          power: t.power,
          params: t.params,
          learnedFrom: t.learnedFrom,
          fingerprint: createHash('sha256').update(t.mean).update(':').update(t.matrix).digest('hex').slice(0, 16),
        }
      : null,
    calibration: cal
      ? { space: cal.space, pairs: cal.pairs, learnedFrom: cal.learnedFrom, randomPairs: quantilesOf(cal.random), nearestNeighbours: quantilesOf(cal.neighbours) }
      : null,
    learnedAt: c?.tuning.learnedAt ?? null,
    relearn: c?.tuning.relearn ? { growth: c.tuning.relearn.growth, learnedAtItems: c.tuning.relearn.items, nextAt: nextRelearn(c.tuning.relearn) } : null,
    items: await ts.main.count(),
    transformedItems: c?.transform ? await c.collection.count() : null,
  };
}

function checkRequest(opts: TuneOptions): void {
  const asked = [opts.whiten, opts.labels, opts.labelsFromFolders, opts.calibrate].filter((x) => x !== undefined && x !== false).length;
  if (opts.reset) {
    if (asked) throw createError('INVALID_ARGUMENT', 'reset removes all tuning: give it alone, then tune again.', { field: 'reset' });
    return;
  }
  if (!asked) {
    throw createError('INVALID_ARGUMENT', 'Nothing to learn: ask for whitening (whiten), a projection learnt from labels (labels) and/or calibration (calibrate), or reset.', {
      field: 'whiten',
    });
  }
  if (opts.labels && opts.labelsFromFolders !== undefined) {
    throw createError('INVALID_ARGUMENT', 'Give labels or labelsFromFolders, not both.', { field: 'labelsFromFolders' });
  }
  const g = opts.relearnGrowth;
  if (g !== undefined && g !== false) {
    if (typeof g !== 'number' || !Number.isFinite(g) || g < 1.1 || g > 100) {
      throw createError('INVALID_ARGUMENT', `relearnGrowth must be a number from 1.1 to 100, or false (got ${String(g)}); 2 re-learns each time the collection doubles.`, {
        field: 'relearnGrowth',
      });
    }
    if (opts.labels || opts.labelsFromFolders !== undefined) {
      throw createError('INVALID_ARGUMENT', 'relearnGrowth applies to whitening and calibration: a projection learnt from labels is re-learnt by tuning again with the labels.', {
        field: 'relearnGrowth',
      });
    }
  }
  if (opts.whiten && (opts.labels || opts.labelsFromFolders !== undefined)) {
    throw createError('INVALID_ARGUMENT', 'Give either whiten or labels: both learn the collection\'s transform (labels: LDA, which centres and normalises too).', {
      field: 'labels',
    });
  }
}

async function labelledVectors(main: StoreCollection, labels: ReadonlyMap<string, string>): Promise<LabelledVector[]> {
  const ids = [...labels.keys()].sort();
  const out: LabelledVector[] = [];
  for (let i = 0; i < ids.length; i += BATCH) {
    const got = await main.getVectors(ids.slice(i, i + BATCH));
    for (const id of ids.slice(i, i + BATCH)) {
      const v = got.get(id);
      if (v) out.push({ vector: v, label: labels.get(id)! });
    }
  }
  return out;
}

/** Item id → the name of the folder its file is in, for files in sub-folders of `dir`. */
export async function labelsFromFolders(main: StoreCollection, dir: string): Promise<Map<string, string>> {
  const root = path.resolve(dir);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw createError('FILE_NOT_FOUND', `Label folder not found: ${root}. Give the folder whose sub-folders name the labels.`, { path: root });
  }
  const labels = new Map<string, string>();
  for (const f of (await main.fileStates()).values()) {
    const rel = path.relative(root, f.path);
    if (rel.startsWith('..') || path.isAbsolute(rel) || !rel.includes(path.sep)) continue;
    labels.set(f.id, path.basename(path.dirname(f.path)));
  }
  if (labels.size === 0) {
    throw createError(
      'INVALID_ARGUMENT',
      `No indexed image of collection "${main.spec.name}" is in a sub-folder of ${root}. Index the labelled folder first (\`lookalike index ${dir}\`), one sub-folder per label.`,
      { field: 'labelsFromFolders' },
    );
  }
  return labels;
}

/** The collection as a tunable store; tiled collections cannot be tuned. */
export function tunable(store: StoreCollection): TunedStore {
  if (store instanceof TunedStore) return store;
  throw createError(
    'INVALID_ARGUMENT',
    `Collection "${store.spec.name}" has tiles (region search); tuning does not support tiled collections. Index the images into a collection without --tiles to tune it.`,
    { field: 'collection' },
  );
}

/** What tuning any collection has (none for a tiled one). */
export async function describeTuning(store: StoreCollection): Promise<TuningInfo> {
  if (store instanceof TunedStore) return tuningInfo(store);
  return { transform: null, calibration: null, learnedAt: null, relearn: null, items: await store.count(), transformedItems: null };
}

async function* vectorBatches(main: StoreCollection): AsyncGenerator<Float32Array[]> {
  for await (const batch of main.scanVectors(BATCH)) yield batch.map((b) => b.vector);
}

/** Learn what `opts` asks for and store it with the collection; returns the tuning now in force. */
export async function tuneCollection(ts: TunedStore, opts: TuneOptions): Promise<TuningInfo> {
  checkRequest(opts);
  const main = ts.main;
  const names = tuneCollectionNames(main.spec.name);
  if (opts.reset) {
    for (const n of names) await ts.store.dropCollection(n);
    ts.setCompanion(undefined);
    return tuningInfo(ts);
  }
  const total = await main.count();
  const progress = (phase: TuneProgress['phase'], done: number) => opts.onProgress?.({ phase, done, total });
  const old = ts.companion;
  const dim = main.spec.dimension;

  let transform: LinearTransform | undefined;
  if (opts.whiten) {
    progress('learn', 0);
    transform = await learnWhitening(vectorBatches(main), dim, opts.whiten === true ? {} : opts.whiten);
  } else if (opts.labels || opts.labelsFromFolders !== undefined) {
    progress('learn', 0);
    const labels = opts.labels ?? (await labelsFromFolders(main, opts.labelsFromFolders!));
    transform = learnLda(await labelledVectors(main, labels), dim, opts.lda ?? {});
  } else if (old?.tuning.transform) {
    transform = new LinearTransform(old.tuning.transform); // re-calibrating only: the transform stays
  }
  const changed = transform !== undefined && transform.spec !== old?.tuning.transform;

  let calibration = changed ? undefined : old?.tuning.calibration;
  const calibrate = opts.calibrate ?? (changed && old?.tuning.calibration ? { pairs: old.tuning.calibration.pairs, seed: old.tuning.calibration.seed } : false);
  if (calibrate) {
    progress('calibrate', 0);
    const ids = await main.sampleIds(CALIBRATION_SAMPLE);
    const raw = await main.getVectors(ids);
    const sample = ids.flatMap((id) => {
      const v = raw.get(id);
      return v ? [transform ? transform.apply(v) : v] : [];
    });
    calibration = learnCalibration(sample, transform ? 'transformed' : 'raw', calibrate === true ? {} : calibrate);
  }

  const growth = opts.relearnGrowth ?? (transform?.spec.kind === 'lda' ? false : DEFAULT_RELEARN_GROWTH);
  const tuning: TuningSpec = {
    version: TUNING_VERSION,
    learnedAt: new Date().toISOString(),
    ...(transform ? { transform: transform.spec } : {}),
    ...(calibration ? { calibration } : {}),
    ...(growth !== false && transform?.spec.kind !== 'lda' ? { relearn: { growth, items: total } } : {}),
  };
  // build the other companion name from scratch, then drop the old one
  const inUse = old?.collection.spec.name;
  const next = inUse === names[0] ? names[1] : names[0];
  await ts.store.dropCollection(next);
  const { name: _n, createdAt: _c, uid: _u, tiles: _t, tuning: _tu, ...rest } = main.spec;
  const outDim = transform?.outputDimension ?? dim;
  const created = await ts.store.createCollection({
    ...rest,
    name: next,
    dimension: outDim,
    ...(main.spec.index ? { index: companionIndex(main.spec.index, outDim) } : {}),
    tuning,
  });
  const companion = compileCompanion(created)!;
  if (companion.transform) await fill(main, companion, progress);
  for (const n of names) if (n !== next) await ts.store.dropCollection(n);
  ts.setCompanion(companion);
  return tuningInfo(ts);
}

/**
 * Re-learn the collection's unsupervised tuning with the same settings when it has grown past `relearn.growth` ×
 * the items it had when learnt (see `TuneOptions.relearnGrowth`); the new tuning, or undefined when nothing was due.
 */
export async function relearnIfGrown(store: StoreCollection, onProgress?: (p: TuneProgress) => void): Promise<TuningInfo | undefined> {
  if (!(store instanceof TunedStore)) return undefined;
  const tuning = store.companion?.tuning;
  const r = tuning?.relearn;
  if (!tuning || !r || (await store.main.count()) < nextRelearn(r)) return undefined;
  const t = tuning.transform;
  const cal = tuning.calibration;
  if (t?.kind === 'lda') return undefined;
  return tuneCollection(store, {
    ...(t ? { whiten: { dims: t.outputDimension, shrinkage: Number(t.params.shrinkage), exponent: Number(t.params.exponent), power: t.power } } : {}),
    ...(cal ? { calibrate: { pairs: cal.pairs, seed: cal.seed } } : {}),
    relearnGrowth: r.growth,
    ...(onProgress ? { onProgress } : {}),
  });
}

/** Every item of `main` into the companion, transformed; then whatever changed meanwhile is reconciled. */
async function fill(main: StoreCollection, c: TuneCompanion, progress: (phase: TuneProgress['phase'], done: number) => void): Promise<void> {
  const t = c.transform!;
  const transformed = (items: readonly ItemInput[]): ItemInput[] => items.map((it) => ({ ...it, vector: t.apply(it.vector) }));
  let done = 0;
  for await (const batch of main.scanItems(BATCH)) {
    await c.collection.upsert(transformed(batch));
    done += batch.length;
    progress('transform', done);
  }
  if ((await main.count()) === (await c.collection.count())) return;
  // items added or deleted while copying
  const inMain = new Set<string>();
  for await (const batch of main.scanItems(BATCH)) {
    batch.forEach((it) => inMain.add(it.id));
    const have = await c.collection.getVectors(batch.map((it) => it.id));
    const missing = batch.filter((it) => !have.has(it.id));
    if (missing.length) await c.collection.upsert(transformed(missing));
  }
  const extra: string[] = [];
  for await (const batch of c.collection.scanVectors(BATCH)) for (const b of batch) if (!inMain.has(b.id)) extra.push(b.id);
  if (extra.length) await c.collection.delete(extra);
}
