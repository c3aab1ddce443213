import fs from 'node:fs';
import path from 'node:path';
import { createError } from '../errors.js';
import { walkImages } from '../ingest/walk.js';
import { checkDir, checkEmbeddings, isInside, withCollection, type AtK, type EvalCommon, type EvalFailure } from './common.js';
import { folderLabel, matchLabels, readLabelCsv, type CsvLabels } from './labels.js';
import { averagePrecision, expectedAveragePrecision, expectedPrecisionAt, mean, precisionAt, tiedAtCutoff } from './metrics.js';
import { FeedbackMeter, type FeedbackOptions, type FeedbackResult } from './feedback.js';
import { breakTies, groupsOf, type TieKey } from './ties.js';
import { checkEvalTune, tuneForEvaluation, type EvalTuneOptions, type SplitSummary } from '../tune/eval.js';
import type { TuningInfo } from '../tune/tune.js';
import { Calibration, calibrationFromScores } from '../tune/calibrate.js';

export type { AtK, EvalCommon, EvalFailure, EvalProgress } from './common.js';
export { evaluateTextRetrieval, type TextEvalOptions, type TextEvalResult } from './text.js';

/** `whiten`, `lda`, `rerank`, `trainSplit`, `seed`: tuning measured through the same code (see docs/tuning.md). */
export interface RetrievalEvalOptions extends EvalCommon, EvalTuneOptions {
  /** Labels from a CSV instead of folder names. */
  readonly labels?: CsvLabels;
  /**
   * Folder of distractors: in the gallery, never queries, never relevant. Inside `dir` or anywhere else (absolute,
   * or relative: looked up in `dir` first, then from the current folder); it may not contain `dir`.
   */
  readonly distractors?: string;
  /** Return the top `sampleK` results of this many sample queries (one per label, for reports). */
  readonly samples?: number;
  readonly sampleK?: number;
  /** Also measure relevance feedback (simulated user, residual collection): see `FeedbackOptions`. */
  readonly feedback?: FeedbackOptions;
}

export interface SampleQuery {
  readonly path: string;
  readonly label: string;
  /** `confidence`: the share of the evaluation's pairs scoring below the hit (see `ScoreScale`). */
  readonly hits: { path: string; label: string | undefined; score: number; confidence: number; relevant: boolean }[];
}

/**
 * What a raw score means for this model on this data — raw scores are not comparable across models (with
 * mobilenet-v1 unrelated photos score 0.86–0.97, with a colour histogram far lower). Learnt from the evaluation's own
 * rankings: up to 200 evenly spaced ranks of every query's ranking (the distribution of all pairs), and each query's
 * best match. A hit's calibrated `confidence` is the share of those pairs scoring below it.
 */
export interface ScoreScale {
  /** Pairs sampled. */
  readonly pairs: number;
  /** Scores of pairs at these shares: half, 90 %, 99 % and 99.9 % of pairs score below. */
  readonly random: { readonly p50: number; readonly p90: number; readonly p99: number; readonly p999: number };
  /** Median score of a query's best match. */
  readonly bestMatchMedian: number;
  /** Confidence of that median best match. */
  readonly bestMatchConfidence: number;
}

/**
 * Tie-aware figures: expected values when the results inside each group of tied scores come in a uniformly random
 * order (computed exactly, not sampled). Where no tie straddles a cut-off they equal the plain figures.
 */
export interface TieAwareFigures {
  readonly precisionAt: AtK;
  readonly mapAt10: number;
  readonly map: number;
  /** Queries whose ranking has a group of tied scores straddling rank k (the order of ties decides P@k there). */
  readonly queriesTiedAtCutoff: AtK;
}

export interface RetrievalEvalResult {
  readonly model: string;
  /** Gallery size: every image indexed with a usable embedding (labelled, unlabelled and distractors). */
  readonly images: number;
  /** Labelled images, each of which queried the rest. */
  readonly queries: number;
  /** Distractor images in the gallery. */
  readonly distractors: number;
  /** Images in the gallery without a label (no matching CSV row): never queries, never relevant. */
  readonly unlabelled: number;
  /** Figures of the ranking with ties broken by a fixed, name-independent order (see docs/models.md). */
  readonly precisionAt: AtK;
  readonly mapAt10: number;
  readonly map: number;
  readonly tieAware: TieAwareFigures;
  /** Ingest throughput (decode + embed + store) while building the gallery. */
  readonly imagesPerSecond: number;
  /** Images left out of the evaluation (= `failures.length`). */
  readonly failed: number;
  readonly failures: EvalFailure[];
  readonly samples: SampleQuery[];
  /** With `feedback`: the first page, the next page without feedback, and the next page after feedback. */
  readonly feedback?: FeedbackResult;
  /** With `trainSplit`: the split (the training half is neither queries nor results). */
  readonly split?: SplitSummary;
  /** With `whiten` or `lda`: what was learnt. */
  readonly tuning?: TuningInfo;
  /** What a raw score means for this model (calibration from the evaluation's rankings). */
  readonly scoreScale: ScoreScale;
}

const DISTRACTOR = Symbol('distractor');

/** Labelled items with their content keys (what the train/test split depends on). */
function labelledKeys(labels: ReadonlyMap<string, unknown>, keys: ReadonlyMap<string, TieKey>): Map<string, { label: string; key: string }> {
  const out = new Map<string, { label: string; key: string }>();
  for (const [id, l] of labels) if (typeof l === 'string') out.set(id, { label: l, key: keys.get(id)!.text });
  return out;
}

const isDir = (p: string): boolean => fs.existsSync(p) && fs.statSync(p).isDirectory();

/** The distractor folder: a relative path is looked up in `root` first, then from the current folder. */
function resolveDistractors(root: string, given: string): { dir: string; inside: boolean } {
  const candidates = path.isAbsolute(given) ? [path.resolve(given)] : [...new Set([path.resolve(root, given), path.resolve(given)])];
  const dir = candidates.find(isDir);
  if (!dir) {
    throw createError('FILE_NOT_FOUND', `Distractor folder not found: ${given} (looked for ${candidates.join(' and ')}).`, {
      field: 'distractors',
      path: given,
    });
  }
  if (dir === root || isInside(dir, root)) {
    throw createError(
      'INVALID_ARGUMENT',
      `The distractor folder ${dir} contains the evaluated folder ${root}: every image would be a distractor. ` +
        'Give --distractors a folder that holds distractor images only (inside the evaluated folder or anywhere else).',
      { field: 'distractors', path: dir },
    );
  }
  return { dir, inside: isInside(root, dir) };
}

const CUTOFFS = ['1', '5', '10'] as const;
type Cutoff = (typeof CUTOFFS)[number];
const perCutoff = <T>(f: (c: Cutoff) => T): Record<Cutoff, T> => ({ '1': f('1'), '5': f('5'), '10': f('10') });

/**
 * Leave-one-out image retrieval on a labelled folder, through the same ingest and search code users run: every
 * labelled image queries the rest of the gallery ("more like this", itself excluded); results with its label are
 * relevant. Reports P@1/5/10, mAP@10 and full mAP, with ties broken by content (not names), and the same figures
 * as expectations under a random order of tied results.
 */
export async function evaluateRetrieval(opts: RetrievalEvalOptions): Promise<RetrievalEvalResult> {
  const root = checkDir(opts.dir);
  checkEvalTune(opts);
  const distractors = opts.distractors ? resolveDistractors(root, opts.distractors) : undefined;
  const distractorPrefix = distractors ? distractors.dir + path.sep : undefined;
  const isDistractor = (p: string): boolean => distractorPrefix !== undefined && p.startsWith(distractorPrefix);

  // Labels are matched before anything is embedded, so a CSV that does not fit fails at once.
  let csv: Map<string, string> | undefined;
  if (opts.labels) {
    const rows = readLabelCsv(opts.labels);
    const images = (await walkImages(root)).map((f) => f.path).filter((p) => !isDistractor(p));
    csv = matchLabels(root, rows, images, {
      csvDir: path.dirname(path.resolve(opts.labels.csv)),
      source: opts.labels.csv,
      pathColumn: opts.labels.pathColumn,
    }).labels;
  }
  const labelOf = (p: string): string | undefined => (csv ? csv.get(p) : isInside(root, p) ? folderLabel(p) : undefined);

  return withCollection(opts, async (col) => {
    const progress = (p: { done: number; total: number }) => opts.onProgress?.({ phase: 'index', ...p });
    const report = await col.indexFolder(root, { onProgress: progress });
    const failures: EvalFailure[] = [...report.failures];
    let seconds = report.seconds;
    let embedded = report.added + report.updated;
    if (distractors && !distractors.inside) {
      const r2 = await col.indexFolder(distractors.dir, { onProgress: progress });
      failures.push(...r2.failures);
      seconds += r2.seconds;
      embedded += r2.added + r2.updated;
    }

    const allFiles = await col.files();
    const { keys, bad } = await checkEmbeddings(col, allFiles);
    failures.push(...bad.values());
    const files = allFiles.filter((f) => !bad.has(f.id));

    const labels = new Map<string, string | typeof DISTRACTOR | undefined>();
    const pathOf = new Map<string, string>();
    let nDistractors = 0;
    let unlabelled = 0;
    for (const f of files) {
      pathOf.set(f.id, f.path);
      const l = isDistractor(f.path) ? DISTRACTOR : labelOf(f.path);
      labels.set(f.id, l);
      if (l === DISTRACTOR) nDistractors++;
      else if (l === undefined) unlabelled++;
    }
    const tuned = await tuneForEvaluation(col, opts, labelledKeys(labels, keys));
    for (const [id, l] of labels) if (tuned.test && typeof l === 'string' && !tuned.test.has(id)) labels.delete(id);
    const counts = new Map<string, number>();
    for (const l of labels.values()) if (typeof l === 'string') counts.set(l, (counts.get(l) ?? 0) + 1);
    const queries = [...labels]
      .filter((e): e is [string, string] => typeof e[1] === 'string')
      .sort((a, b) => (pathOf.get(a[0])! < pathOf.get(b[0])! ? -1 : 1));
    if (queries.length === 0) {
      throw createError('INVALID_ARGUMENT', `No labelled images in ${root}: check the folder layout or the --labels CSV.`);
    }

    const sampleLabels = new Set([...counts.keys()].sort().slice(0, opts.samples ?? 0));
    const samples: SampleQuery[] = [];
    const p = perCutoff((): number[] => []);
    const ep = perCutoff((): number[] => []);
    const tied = perCutoff(() => 0);
    const ap10: number[] = [];
    const ap: number[] = [];
    const eap10: number[] = [];
    const eap: number[] = [];
    const k = Math.max(1, allFiles.length - 1);
    const feedback = opts.feedback ? new FeedbackMeter(opts.feedback) : undefined;
    const pairScores: number[] = [];
    const bestScores: number[] = [];
    for (const [i, [id, label]] of queries.entries()) {
      const found = (await col.search({ id }, { k, includeMetadata: false, ...(opts.rerank ? { rerank: opts.rerank } : {}) })).filter((h) => !bad.has(h.id));
      if (found.length > 0) {
        bestScores.push(found[0]!.score);
        const take = Math.min(SCALE_RANKS, found.length);
        for (let j = 0; j < take; j++) pairScores.push(found[Math.floor(((j + 0.5) * found.length) / take)]!.score);
      }
      const { ranked: hits, groupSizes } = breakTies(found, (h) => keys.get(h.id)!, keys.get(id)!, (h) => h.path ?? '');
      const relevant = hits.map((h) => labels.get(h.id) === label);
      const groups = groupsOf(groupSizes, relevant);
      const total = counts.get(label)! - 1;
      for (const c of CUTOFFS) {
        p[c].push(precisionAt(relevant, Number(c)));
        ep[c].push(expectedPrecisionAt(groups, Number(c)));
        if (tiedAtCutoff(groups, Number(c))) tied[c]++;
      }
      if (feedback) {
        await feedback.measure(col, id, hits.map((h) => h.id), (x) => labels.get(x) === label, total);
      }
      ap10.push(averagePrecision(relevant, total, 10));
      ap.push(averagePrecision(relevant, total));
      eap10.push(expectedAveragePrecision(groups, total, 10));
      eap.push(expectedAveragePrecision(groups, total));
      if (sampleLabels.delete(label)) {
        samples.push({
          path: pathOf.get(id)!,
          label,
          hits: hits.slice(0, opts.sampleK ?? 5).map((h, j) => {
            const l = labels.get(h.id);
            return { path: h.path ?? '', label: typeof l === 'string' ? l : undefined, score: h.score, confidence: 0, relevant: relevant[j]! };
          }),
        });
      }
      if (i % 50 === 0 || i === queries.length - 1) opts.onProgress?.({ phase: 'query', done: i + 1, total: queries.length });
    }
    const scoreScale = scoreScaleOf(pairScores, bestScores, files.length);
    for (const s of samples) for (const h of s.hits) h.confidence = scoreScale.calibration.confidence(h.score);
    return {
      model: opts.model,
      images: files.length - (tuned.split?.train ?? 0),
      queries: queries.length,
      distractors: nDistractors,
      unlabelled,
      precisionAt: perCutoff((c) => mean(p[c])),
      mapAt10: mean(ap10),
      map: mean(ap),
      tieAware: {
        precisionAt: perCutoff((c) => mean(ep[c])),
        mapAt10: mean(eap10),
        map: mean(eap),
        queriesTiedAtCutoff: tied,
      },
      imagesPerSecond: embedded / Math.max(seconds, 1e-3),
      failed: failures.length,
      failures,
      samples,
      ...(feedback ? { feedback: feedback.result() } : {}),
      ...(tuned.split ? { split: tuned.split } : {}),
      ...(tuned.tuning ? { tuning: tuned.tuning } : {}),
      scoreScale: scoreScale.scale,
    };
  });
}

/** Ranks of each query's ranking sampled for the score scale. */
const SCALE_RANKS = 200;

function scoreScaleOf(pairs: number[], best: number[], items: number): { scale: ScoreScale; calibration: Calibration } {
  if (pairs.length < 2 || best.length < 2) {
    const none = { pairs: pairs.length, random: { p50: NaN, p90: NaN, p99: NaN, p999: NaN }, bestMatchMedian: NaN, bestMatchConfidence: NaN };
    return { scale: none, calibration: new Calibration({ space: 'raw', pairs: 1, random: [0, 0], neighbours: [0, 0], learnedFrom: items, seed: 0 }) };
  }
  const calibration = new Calibration(calibrationFromScores(Float64Array.from(pairs), Float64Array.from(best), items));
  const median = calibration.spec.neighbours[Math.floor((calibration.spec.neighbours.length - 1) / 2)]!;
  const r = (c: number) => calibration.scoreAt(c);
  return {
    scale: {
      pairs: pairs.length,
      random: { p50: r(0.5), p90: r(0.9), p99: r(0.99), p999: r(0.999) },
      bestMatchMedian: median,
      bestMatchConfidence: calibration.confidence(median),
    },
    calibration,
  };
}

