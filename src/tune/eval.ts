/**
 * Tuning inside `eval`: a train/test split that depends on nothing but the images' content and a seed, and the
 * learning steps of an evaluation (whitening on every vector, no labels; LDA on the training half's labels only).
 *
 * With a split, the training half is removed from the collection once the head is learnt: test images query the
 * test half (plus unlabelled images and distractors), so neither the queries nor the results they are judged on
 * were seen with their labels. Run without a head, the same split gives the baseline on the same held-out half.
 */
import { createHash } from 'node:crypto';
import type { Collection } from '../collection.js';
import { createError } from '../errors.js';
import type { LdaOptions } from './lda.js';
import type { RerankOptions, Reranker } from './rerank.js';
import type { TuningInfo } from './tune.js';
import type { WhitenOptions } from './whiten.js';

export interface EvalTuneOptions {
  /** Whiten the gallery (learnt from all its vectors, without labels). */
  readonly whiten?: boolean | WhitenOptions;
  /** Learn LDA from the training half's labels (needs `trainSplit`). */
  readonly lda?: boolean | LdaOptions;
  /** Re-rank every query (see `SearchOptions.rerank`). */
  readonly rerank?: Reranker | RerankOptions;
  /** Share of the labelled images (0 < f < 1) that train and are then left out; the rest are queries. */
  readonly trainSplit?: number;
  /** Seed of the split (default 1). */
  readonly seed?: number;
}

export interface SplitSummary {
  readonly fraction: number;
  readonly seed: number;
  /** Labelled images in the training half (their labels may be learnt from; never queries, never results). */
  readonly train: number;
  /** Labelled images in the test half (the queries). */
  readonly test: number;
}

export function checkEvalTune(o: EvalTuneOptions): void {
  const f = o.trainSplit;
  if (f !== undefined && (typeof f !== 'number' || !(f > 0 && f < 1))) {
    throw createError('INVALID_ARGUMENT', `trainSplit must be a share between 0 and 1, e.g. 0.5 (got ${String(f)}).`, { field: 'trainSplit' });
  }
  if (o.seed !== undefined && !Number.isInteger(o.seed)) {
    throw createError('INVALID_ARGUMENT', `seed must be an integer (got ${String(o.seed)}).`, { field: 'seed' });
  }
  if (o.lda && f === undefined) {
    throw createError('INVALID_ARGUMENT', 'Learning from labels in an evaluation needs a train/test split (e.g. --train-split 0.5): the head must not see the test labels.', {
      field: 'trainSplit',
    });
  }
  if (o.lda && o.whiten) throw createError('INVALID_ARGUMENT', 'Give either whiten or a labelled head (lda), not both.', { field: 'lda' });
}

/** Where in [0, 1) an image falls for a seed: a hash of the seed and its content, nothing else. */
export function splitPosition(contentKey: string, seed: number): number {
  return createHash('sha256').update(`${seed}:${contentKey}`).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * Split labelled items (id → content key) into train (position < fraction) and test. Deterministic; depends on the
 * content keys and the seed only — not on labels, paths or order.
 */
export function splitItems(items: ReadonlyMap<string, string>, fraction: number, seed: number): { train: Set<string>; test: Set<string> } {
  const train = new Set<string>();
  const test = new Set<string>();
  for (const [id, key] of items) (splitPosition(key, seed) < fraction ? train : test).add(id);
  return { train, test };
}

/**
 * The tuning steps of an evaluation, after ingest: split, learn (whitening from every vector; LDA from the training
 * labels only), then leave the training half out of the collection. Returns the test ids (undefined: no split).
 */
export async function tuneForEvaluation(
  col: Collection,
  o: EvalTuneOptions,
  labelled: ReadonlyMap<string, { label: string; key: string }>,
): Promise<{ test: Set<string> | undefined; split: SplitSummary | undefined; tuning: TuningInfo | undefined }> {
  let split: ReturnType<typeof splitItems> | undefined;
  if (o.trainSplit !== undefined) {
    split = splitItems(new Map([...labelled].map(([id, l]) => [id, l.key])), o.trainSplit, o.seed ?? 1);
    if (split.train.size === 0 || split.test.size === 0) {
      throw createError('INVALID_ARGUMENT', `The split left ${split.train.size} training and ${split.test.size} test images: use more images or another share.`, {
        field: 'trainSplit',
      });
    }
  }
  let tuning: TuningInfo | undefined;
  if (o.whiten) tuning = await col.tune({ whiten: o.whiten });
  if (o.lda && split) {
    const trainLabels = new Map([...split.train].map((id) => [id, labelled.get(id)!.label]));
    tuning = await col.tune({ labels: trainLabels, ...(o.lda === true ? {} : { lda: o.lda }) });
  }
  if (split) await col.delete([...split.train]);
  return {
    test: split?.test,
    split: split ? { fraction: o.trainSplit!, seed: o.seed ?? 1, train: split.train.size, test: split.test.size } : undefined,
    tuning,
  };
}
