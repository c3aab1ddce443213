import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.js';
import { createError } from '../errors.js';
import { openDatabase, type Collection, type LookalikeDatabase } from '../lookalike.js';
import { csvLabels, folderLabels, type CsvLabels, type LabelOf } from './labels.js';
import { averagePrecision, hitAt, mean, precisionAt } from './metrics.js';

export interface EvalProgress {
  readonly phase: 'index' | 'query';
  readonly done: number;
  readonly total: number;
}

interface EvalCommon {
  /** Labelled image folder. */
  readonly dir: string;
  readonly model: string;
  readonly config?: Partial<Config>;
  readonly onProgress?: (p: EvalProgress) => void;
  /** Store directory to build the evaluation collection in (default: a temporary one, removed afterwards). */
  readonly workDir?: string;
}

export interface RetrievalEvalOptions extends EvalCommon {
  /** Labels from a CSV instead of folder names. */
  readonly labels?: CsvLabels;
  /** Folder (inside `dir`, or a path) of distractors: in the gallery, never queries, never relevant. */
  readonly distractors?: string;
  /** Return the top `sampleK` results of this many sample queries (one per label, for reports). */
  readonly samples?: number;
  readonly sampleK?: number;
}

export interface SampleQuery {
  readonly path: string;
  readonly label: string;
  readonly hits: { path: string; label: string | undefined; score: number; relevant: boolean }[];
}

export interface RetrievalEvalResult {
  readonly model: string;
  readonly images: number;
  readonly queries: number;
  readonly precisionAt: { '1': number; '5': number; '10': number };
  readonly mapAt10: number;
  readonly map: number;
  /** Ingest throughput (decode + embed + store) while building the gallery. */
  readonly imagesPerSecond: number;
  readonly failed: number;
  readonly samples: SampleQuery[];
}

const DISTRACTOR = Symbol('distractor');

async function withCollection<T>(
  opts: EvalCommon,
  fn: (col: Collection, db: LookalikeDatabase) => Promise<T>,
): Promise<T> {
  const dir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-eval-'));
  const db = await openDatabase(dir, opts.config ?? {});
  try {
    if (await db.store.hasCollection('eval')) await db.dropCollection('eval');
    const col = await db.createCollection('eval', { model: opts.model, trainingFolder: path.resolve(opts.dir) });
    try {
      return await fn(col, db);
    } finally {
      await col.close();
    }
  } finally {
    await db.close();
    if (!opts.workDir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function checkDir(dir: string): string {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw createError('FILE_NOT_FOUND', `Evaluation folder not found: ${abs}`, { path: abs });
  }
  return abs;
}

/**
 * Leave-one-out image retrieval on a labelled folder, through the same ingest and search code users run: every
 * labelled image queries the rest of the gallery ("more like this", itself excluded); results with its label are
 * relevant. Reports P@1/5/10, mAP@10 and full mAP.
 */
export async function evaluateRetrieval(opts: RetrievalEvalOptions): Promise<RetrievalEvalResult> {
  const root = checkDir(opts.dir);
  let distractorDir: string | undefined;
  let distractorInside = false;
  if (opts.distractors) {
    const inside = path.resolve(root, opts.distractors);
    distractorInside = fs.existsSync(inside);
    distractorDir = distractorInside ? inside : path.resolve(opts.distractors);
    if (!fs.existsSync(distractorDir)) {
      throw createError('FILE_NOT_FOUND', `Distractor folder not found: ${opts.distractors} (looked in ${inside} and ${distractorDir})`);
    }
  }
  const labelOf: LabelOf = opts.labels ? csvLabels(root, opts.labels) : folderLabels();

  return withCollection(opts, async (col) => {
    const progress = (p: { done: number; total: number }) => opts.onProgress?.({ phase: 'index', ...p });
    const report = await col.indexFolder(root, { onProgress: progress });
    let failed = report.failed;
    let seconds = report.seconds;
    let embedded = report.added;
    if (distractorDir && !distractorInside) {
      const r2 = await col.indexFolder(distractorDir, { onProgress: progress });
      failed += r2.failed;
      seconds += r2.seconds;
      embedded += r2.added;
    }

    const files = await col.store.fileStates();
    const labels = new Map<string, string | typeof DISTRACTOR | undefined>();
    const pathOf = new Map<string, string>();
    const prefix = distractorDir ? distractorDir + path.sep : undefined;
    for (const f of files.values()) {
      pathOf.set(f.id, f.path);
      labels.set(f.id, prefix && f.path.startsWith(prefix) ? DISTRACTOR : labelOf(f.path));
    }
    const counts = new Map<string, number>();
    for (const l of labels.values()) if (typeof l === 'string') counts.set(l, (counts.get(l) ?? 0) + 1);
    const queries = [...labels].filter(([, l]) => typeof l === 'string').sort((a, b) => (pathOf.get(a[0])! < pathOf.get(b[0])! ? -1 : 1));
    if (queries.length === 0) {
      throw createError('INVALID_ARGUMENT', `No labelled images in ${root}: check the folder layout or the --labels CSV.`);
    }

    const sampleLabels = new Set([...counts.keys()].sort().slice(0, opts.samples ?? 0));
    const samples: SampleQuery[] = [];
    const p1: number[] = [];
    const p5: number[] = [];
    const p10: number[] = [];
    const ap10: number[] = [];
    const ap: number[] = [];
    const k = Math.max(1, files.size - 1);
    for (const [i, [id, label]] of queries.entries()) {
      const hits = await col.search({ id }, { k, includeMetadata: false });
      const relevant = hits.map((h) => labels.get(h.id) === label);
      const total = counts.get(label as string)! - 1;
      p1.push(precisionAt(relevant, 1));
      p5.push(precisionAt(relevant, 5));
      p10.push(precisionAt(relevant, 10));
      ap10.push(averagePrecision(relevant, total, 10));
      ap.push(averagePrecision(relevant, total));
      if (sampleLabels.delete(label as string)) {
        samples.push({
          path: pathOf.get(id)!,
          label: label as string,
          hits: hits.slice(0, opts.sampleK ?? 5).map((h, j) => {
            const l = labels.get(h.id);
            return { path: h.path ?? '', label: typeof l === 'string' ? l : undefined, score: h.score, relevant: relevant[j]! };
          }),
        });
      }
      if (i % 50 === 0 || i === queries.length - 1) opts.onProgress?.({ phase: 'query', done: i + 1, total: queries.length });
    }
    return {
      model: opts.model,
      images: files.size,
      queries: queries.length,
      precisionAt: { '1': mean(p1), '5': mean(p5), '10': mean(p10) },
      mapAt10: mean(ap10),
      map: mean(ap),
      imagesPerSecond: embedded / Math.max(seconds, 1e-3),
      failed,
      samples,
    };
  });
}

const CocoCaptions = z.object({
  images: z.array(z.object({ id: z.number(), file_name: z.string() })),
  annotations: z.array(z.object({ image_id: z.number(), caption: z.string() })),
});

export interface TextEvalOptions extends EvalCommon {
  /** COCO-format captions JSON (`images[].file_name`, `annotations[].image_id/caption`). */
  readonly captions: string;
}

export interface TextEvalResult {
  readonly model: string;
  readonly images: number;
  readonly queries: number;
  readonly recallAt: { '1': number; '5': number; '10': number };
  readonly imagesPerSecond: number;
  readonly failed: number;
}

/** Text → image retrieval: every caption searches the gallery; recall@k = share of captions whose image is in the top k. */
export async function evaluateTextRetrieval(opts: TextEvalOptions): Promise<TextEvalResult> {
  const root = checkDir(opts.dir);
  let coco: z.infer<typeof CocoCaptions>;
  try {
    coco = CocoCaptions.parse(JSON.parse(fs.readFileSync(opts.captions, 'utf8')));
  } catch (e) {
    throw createError('INVALID_ARGUMENT', `${opts.captions} is not COCO captions JSON (images[], annotations[]): ${(e as Error).message.split('\n')[0]}`, {
      field: 'captions',
    });
  }
  return withCollection(opts, async (col) => {
    if (!col.spec.embedder.modalities.includes('text')) {
      throw createError('TEXT_NOT_SUPPORTED', `Model "${opts.model}" embeds images only; eval-text needs a CLIP-family model.`);
    }
    const report = await col.indexFolder(root, { onProgress: (p) => opts.onProgress?.({ phase: 'index', ...p }) });
    const files = await col.store.fileStates();
    const idByName = new Map<string, string>();
    for (const f of files.values()) idByName.set(path.basename(f.path), f.id);
    const nameOfImage = new Map(coco.images.map((im) => [im.id, path.basename(im.file_name)]));
    const queries = coco.annotations
      .map((a) => ({ caption: a.caption, target: idByName.get(nameOfImage.get(a.image_id) ?? '') }))
      .filter((q): q is { caption: string; target: string } => q.target !== undefined);
    if (queries.length === 0) throw createError('INVALID_ARGUMENT', `No caption in ${opts.captions} refers to an image under ${root}.`);
    const r1: number[] = [];
    const r5: number[] = [];
    const r10: number[] = [];
    for (const [i, q] of queries.entries()) {
      const hits = await col.search({ text: q.caption }, { k: 10, includeMetadata: false });
      const rank = hits.findIndex((h) => h.id === q.target);
      const r = rank < 0 ? undefined : rank;
      r1.push(hitAt(r, 1) ? 1 : 0);
      r5.push(hitAt(r, 5) ? 1 : 0);
      r10.push(hitAt(r, 10) ? 1 : 0);
      if (i % 50 === 0 || i === queries.length - 1) opts.onProgress?.({ phase: 'query', done: i + 1, total: queries.length });
    }
    return {
      model: opts.model,
      images: files.size,
      queries: queries.length,
      recallAt: { '1': mean(r1), '5': mean(r5), '10': mean(r10) },
      imagesPerSecond: report.added / Math.max(report.seconds, 1e-3),
      failed: report.failed,
    };
  });
}

