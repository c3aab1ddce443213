import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.js';
import { createError } from '../errors.js';
import { walkImages } from '../ingest/walk.js';
import { openDatabase, type Collection, type LookalikeDatabase } from '../lookalike.js';
import { folderLabel, matchLabels, readLabelCsv, type CsvLabels } from './labels.js';
import {
  averagePrecision,
  expectedAveragePrecision,
  expectedPrecisionAt,
  hitAt,
  mean,
  precisionAt,
  TIE_TOLERANCE,
  tiedAtCutoff,
  type TieGroup,
} from './metrics.js';

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
  /**
   * Folder of distractors: in the gallery, never queries, never relevant. Inside `dir` or anywhere else (absolute,
   * or relative: looked up in `dir` first, then from the current folder); it may not contain `dir`.
   */
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

/** An image that is not in the evaluation: it could not be read, decoded or embedded, or its embedding is empty. */
export interface EvalFailure {
  readonly path: string;
  readonly error: string;
}

/** Figures at the cut-offs 1, 5 and 10. */
export interface AtK {
  readonly '1': number;
  readonly '5': number;
  readonly '10': number;
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
}

const DISTRACTOR = Symbol('distractor');

type FileState = Awaited<ReturnType<Collection['files']>>[number];

async function withCollection<T>(
  opts: EvalCommon,
  fn: (col: Collection, db: LookalikeDatabase) => Promise<T>,
): Promise<T> {
  const dir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-eval-'));
  const db = await openDatabase(dir, opts.config ?? {});
  try {
    if (await db.hasCollection('eval')) await db.dropCollection('eval');
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

/** Whether `child` is strictly inside `parent` (both absolute). */
function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
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

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** MurmurHash3's finaliser: a well-mixed 32-bit permutation. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Seed of the tie-breaking order (fixed: the same data gives the same numbers). */
const TIE_SEED = 0x1005a11e;

/**
 * What orders tied results: derived from the image's content (its content hash, else its vector), never from its
 * path, so renaming files or class folders cannot change a figure.
 */
interface TieKey {
  readonly hash: number;
  readonly text: string;
}

function tieKeyOf(contentHash: string | null, vector: Float32Array): TieKey {
  const text =
    contentHash ?? createHash('sha256').update(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength)).digest('hex');
  return { hash: fnv1a(text), text };
}

/**
 * Order a ranking (scores best first) so that ties do not depend on names: results whose scores are tied (within
 * `TIE_TOLERANCE` of the first of their group) are ordered by a hash of (seed, query content, result content) —
 * a fixed pseudo-random order, different for each query. Returns the new order and the tie groups' sizes.
 */
function breakTies<H extends { score: number }>(
  hits: readonly H[],
  keyOf: (h: H) => TieKey,
  query: TieKey,
  tieBreakPath: (h: H) => string,
): { ranked: H[]; groupSizes: number[] } {
  const sorted = [...hits].sort((a, b) => b.score - a.score);
  const q = fmix32(query.hash ^ TIE_SEED);
  const ranked: H[] = [];
  const groupSizes: number[] = [];
  let start = 0;
  while (start < sorted.length) {
    const top = sorted[start]!.score;
    let end = start + 1;
    while (end < sorted.length && top - sorted[end]!.score <= TIE_TOLERANCE) end++;
    const group = sorted.slice(start, end);
    if (group.length > 1) {
      const keyed = group.map((h) => {
        const k = keyOf(h);
        return { h, k, r: fmix32(k.hash ^ q) };
      });
      const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
      // hash order; equal hashes: the full content hash; byte-identical images only: the path
      keyed.sort((a, b) => a.r - b.r || cmp(a.k.text, b.k.text) || cmp(tieBreakPath(a.h), tieBreakPath(b.h)));
      for (const x of keyed) ranked.push(x.h);
    } else ranked.push(group[0]!);
    groupSizes.push(end - start);
    start = end;
  }
  return { ranked, groupSizes };
}

/** Tie groups (size, relevant count) of a ranking ordered by `breakTies`. */
function groupsOf(groupSizes: readonly number[], relevant: readonly boolean[]): TieGroup[] {
  const out: TieGroup[] = [];
  let start = 0;
  for (const size of groupSizes) {
    let r = 0;
    for (let i = start; i < start + size; i++) if (relevant[i]) r++;
    out.push({ size, relevant: r });
    start += size;
  }
  return out;
}

/**
 * Items whose stored embedding is unusable (all zeros — e.g. `bovw-orb` on an image without keypoints — or not
 * finite): such a vector scores 0 against everything and would tie with every other result. They are reported as
 * failures and left out of the gallery. Returns the usable items' vectors' tie keys and the failures.
 */
async function checkEmbeddings(
  col: Collection,
  files: readonly FileState[],
): Promise<{ keys: Map<string, TieKey>; bad: Map<string, EvalFailure> }> {
  const keys = new Map<string, TieKey>();
  const bad = new Map<string, EvalFailure>();
  for (const f of files) {
    const v = await col.vector(f.id);
    let norm = 0;
    for (let i = 0; v && i < v.length; i++) norm += v[i]! * v[i]!;
    if (!v || !(norm > 0) || !Number.isFinite(norm)) {
      const why = !v ? 'no stored vector' : Number.isFinite(norm) ? 'all zeros' : 'not finite';
      bad.set(f.id, { path: f.path, error: `empty embedding (${why}): the model found nothing to describe in this image` });
    } else keys.set(f.id, tieKeyOf(f.contentHash, v));
  }
  return { keys, bad };
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
    for (const [i, [id, label]] of queries.entries()) {
      const found = (await col.search({ id }, { k, includeMetadata: false })).filter((h) => !bad.has(h.id));
      const { ranked: hits, groupSizes } = breakTies(found, (h) => keys.get(h.id)!, keys.get(id)!, (h) => h.path ?? '');
      const relevant = hits.map((h) => labels.get(h.id) === label);
      const groups = groupsOf(groupSizes, relevant);
      const total = counts.get(label)! - 1;
      for (const c of CUTOFFS) {
        p[c].push(precisionAt(relevant, Number(c)));
        ep[c].push(expectedPrecisionAt(groups, Number(c)));
        if (tiedAtCutoff(groups, Number(c))) tied[c]++;
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
            return { path: h.path ?? '', label: typeof l === 'string' ? l : undefined, score: h.score, relevant: relevant[j]! };
          }),
        });
      }
      if (i % 50 === 0 || i === queries.length - 1) opts.onProgress?.({ phase: 'query', done: i + 1, total: queries.length });
    }
    return {
      model: opts.model,
      images: files.length,
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
  /** Gallery size: every image indexed with a usable embedding. */
  readonly images: number;
  readonly queries: number;
  readonly recallAt: AtK;
  readonly imagesPerSecond: number;
  /** Images left out of the evaluation (= `failures.length`). */
  readonly failed: number;
  readonly failures: EvalFailure[];
}

/**
 * Text → image retrieval: every caption searches the gallery; recall@k = share of captions whose image is in the top k.
 * A caption's image is found by its `file_name` relative to `dir` (or by a bare file name that is unique).
 */
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
  // image path → COCO image id, matched before anything is embedded.
  const cocoIdOf = matchLabels(
    root,
    coco.images.map((im) => ({ path: im.file_name, label: String(im.id) })),
    (await walkImages(root)).map((f) => f.path),
    { csvDir: path.dirname(path.resolve(opts.captions)), source: opts.captions },
  ).labels;
  return withCollection(opts, async (col) => {
    if (!col.spec.embedder.modalities.includes('text')) {
      throw createError('TEXT_NOT_SUPPORTED', `Model "${opts.model}" embeds images only; eval-text needs a CLIP-family model.`);
    }
    const report = await col.indexFolder(root, { onProgress: (p) => opts.onProgress?.({ phase: 'index', ...p }) });
    const allFiles = await col.files();
    const { bad } = await checkEmbeddings(col, allFiles);
    const failures: EvalFailure[] = [...report.failures, ...bad.values()];
    const itemOfImage = new Map<string, string>();
    for (const f of allFiles) {
      const cocoId = cocoIdOf.get(f.path);
      if (cocoId !== undefined && !bad.has(f.id)) itemOfImage.set(cocoId, f.id);
    }
    const queries = coco.annotations
      .map((a) => ({ caption: a.caption, target: itemOfImage.get(String(a.image_id)) }))
      .filter((q): q is { caption: string; target: string } => q.target !== undefined);
    if (queries.length === 0) throw createError('INVALID_ARGUMENT', `No caption in ${opts.captions} refers to an image under ${root}.`);
    const r1: number[] = [];
    const r5: number[] = [];
    const r10: number[] = [];
    for (const [i, q] of queries.entries()) {
      const hits = (await col.search({ text: q.caption }, { k: 10 + bad.size, includeMetadata: false })).filter((h) => !bad.has(h.id));
      const rank = hits.findIndex((h) => h.id === q.target);
      const r = rank < 0 ? undefined : rank;
      r1.push(hitAt(r, 1) ? 1 : 0);
      r5.push(hitAt(r, 5) ? 1 : 0);
      r10.push(hitAt(r, 10) ? 1 : 0);
      if (i % 50 === 0 || i === queries.length - 1) opts.onProgress?.({ phase: 'query', done: i + 1, total: queries.length });
    }
    return {
      model: opts.model,
      images: allFiles.length - bad.size,
      queries: queries.length,
      recallAt: { '1': mean(r1), '5': mean(r5), '10': mean(r10) },
      imagesPerSecond: (report.added + report.updated) / Math.max(report.seconds, 1e-3),
      failed: failures.length,
      failures,
    };
  });
}
