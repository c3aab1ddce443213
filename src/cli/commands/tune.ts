import type { Command } from 'commander';
import { finiteNumber, integerIn, nonEmpty, storeOptions, type StoreOpts } from '../options.js';
import { Output, UsageError } from '../output.js';
import { withCollection } from '../shared.js';
import type { Reranker } from '../../tune/rerank.js';
import type { TuningInfo } from '../../tune/tune.js';

const RERANK_NAMES: readonly Reranker[] = ['aqe', 'alpha-qe', 'diffusion'];

/** `--rerank aqe|alpha-qe|diffusion` (search and eval). */
export function parseRerank(v: string): Reranker {
  if (!(RERANK_NAMES as readonly string[]).includes(v)) throw new UsageError(`--rerank must be one of ${RERANK_NAMES.join(', ')} (got "${v}").`);
  return v as Reranker;
}

/** `--train-split 0.5`: a share strictly between 0 and 1. */
export function parseShare(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !(n > 0 && n < 1)) throw new UsageError(`${flag} must be a share between 0 and 1, e.g. 0.5 (got "${v}").`);
    return n;
  };
}

interface TuneCliOpts extends StoreOpts {
  readonly whiten?: boolean;
  readonly labelsFromFolders?: string;
  readonly calibrate?: boolean;
  readonly reset?: boolean;
  readonly dims?: number;
  readonly shrinkage?: number;
  readonly power?: number;
  readonly regularization?: number;
  readonly pairs?: number;
  readonly seed?: number;
  readonly relearnGrowth?: number;
}

const fmt = (x: number): string => x.toFixed(4);

/** The tuning in a few lines. */
export function tuningLines(name: string, t: TuningInfo): string[] {
  const lines: string[] = [];
  const tr = t.transform;
  if (tr) {
    const what = tr.kind === 'lda' ? `LDA from ${tr.learnedFrom} labelled images (${tr.params['classes']} labels)` : `PCA-whitening learnt from ${tr.learnedFrom} vectors`;
    const params = Object.entries(tr.params)
      .filter(([k]) => k !== 'classes')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    lines.push(`${name}: ${what}; ${tr.inputDimension} → ${tr.outputDimension} dimensions, power ${tr.power}${params ? `, ${params}` : ''}`);
    if (t.transformedItems !== null && t.transformedItems !== t.items) {
      lines.push(`  warning: ${t.transformedItems} of ${t.items} items are transformed (written by a process that did not see the tuning): tune again`);
    }
  } else lines.push(`${name}: no transform (raw vectors)`);
  const c = t.calibration;
  if (c) {
    lines.push(`  calibrated scores from ${c.pairs} random pairs of ${c.learnedFrom} items (${c.space} cosine):`);
    lines.push(`    random pairs       median ${fmt(c.randomPairs.p50)}, 99% below ${fmt(c.randomPairs.p99)}, 99.9% below ${fmt(c.randomPairs.p999)}, max ${fmt(c.randomPairs.max)}`);
    lines.push(`    nearest neighbours 1% below ${fmt(c.nearestNeighbours.p1)}, median ${fmt(c.nearestNeighbours.p50)}`);
    lines.push(`    a hit's confidence = share of random pairs scoring below it; --min-confidence 0.99 ≈ --min-score ${fmt(c.randomPairs.p99)}`);
  } else lines.push('  no calibrated scores (tune --calibrate)');
  if (t.relearn) {
    lines.push(`  re-learnt automatically at ${t.relearn.nextAt} items (${t.relearn.growth}× the ${t.relearn.learnedAtItems} it was learnt on; --relearn-growth 0 turns it off)`);
  }
  if (!tr && !c) return [`${name}: not tuned (raw vectors, raw cosine scores)`];
  return lines;
}

export function registerTune(program: Command): void {
  const cmd = program
    .command('tune')
    .description("learn from a collection's own vectors (whitening), from labelled folders (LDA) and calibrated scores; stored with the collection")
    .option('--whiten', 'centring + PCA-whitening learnt from the collection (no labels)')
    .option('--labels-from-folders <dir>', 'learn a projection (LDA) from the indexed images in sub-folders of DIR, labelled by folder name', nonEmpty('--labels-from-folders'))
    .option('--calibrate', 'learn calibrated scores (hits get a confidence; search --min-confidence)')
    .option('--reset', 'remove all tuning: search the raw vectors again')
    .option('--dims <n>', 'output dimensions (whitening: default all; LDA: default labels − 1)', integerIn('--dims', 1))
    .option('--shrinkage <s>', 'whitening: added to the eigenvalues, times their mean (default 30)', finiteNumber('--shrinkage'))
    .option('--power <p>', 'signed power applied to each component first (default 0.5 = signed square root; 1 = none)', finiteNumber('--power'))
    .option('--regularization <r>', 'LDA: added to the within-class eigenvalues, times their mean (default 1)', finiteNumber('--regularization'))
    .option('--pairs <n>', 'calibration: random pairs sampled (default 20000)', integerIn('--pairs', 100, 10_000_000))
    .option('--seed <n>', 'calibration: seed of the sampling (default 1)', integerIn('--seed', 0))
    .option('--relearn-growth <g>', 'whitening/calibration: re-learn automatically once the collection has grown g× (default 2; 0 = never)', finiteNumber('--relearn-growth'));
  storeOptions(cmd).action(async (o: TuneCliOpts) => {
    const out = new Output(o.json === true);
    const common = { ...(o.dims !== undefined ? { dims: o.dims } : {}), ...(o.power !== undefined ? { power: o.power } : {}) };
    const tuning = await withCollection(o, async (col) => {
      if (!o.whiten && o.labelsFromFolders === undefined && !o.calibrate && !o.reset) return col.tuning(); // show
      return col.tune({
        ...(o.reset ? { reset: true } : {}),
        ...(o.whiten ? { whiten: { ...common, ...(o.shrinkage !== undefined ? { shrinkage: o.shrinkage } : {}) } } : {}),
        ...(o.labelsFromFolders !== undefined
          ? { labelsFromFolders: o.labelsFromFolders, lda: { ...common, ...(o.regularization !== undefined ? { regularization: o.regularization } : {}) } }
          : {}),
        ...(o.relearnGrowth !== undefined ? { relearnGrowth: o.relearnGrowth === 0 ? false : o.relearnGrowth } : {}),
        ...(o.calibrate ? { calibrate: { ...(o.pairs !== undefined ? { pairs: o.pairs } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) } } : {}),
      });
    });
    out.result({ collection: o.collection, ...tuning }, () => tuningLines(o.collection, tuning));
  });
}
