import type { Command } from 'commander';
import type { Strategy } from '../../search/search.js';
import { evalArgsFrom, evalOptions, finiteNumber, integerIn, nonEmpty, type EvalOpts } from '../options.js';
import type { Reranker } from '../../tune/rerank.js';
import { tuningLines, parseRerank, parseShare } from './tune.js';
import { Output, UsageError } from '../output.js';

interface TuneEvalCliOpts {
  readonly whiten?: boolean;
  readonly dims?: number;
  readonly power?: number;
  readonly lda?: boolean;
  readonly rerank?: Reranker;
  readonly trainSplit?: number;
  readonly seed?: number;
}

/** The tuning flags of `eval` as library options. */
function tuneFrom(o: TuneEvalCliOpts) {
  const common = { ...(o.dims !== undefined ? { dims: o.dims } : {}), ...(o.power !== undefined ? { power: o.power } : {}) };
  return {
    ...(o.whiten ? { whiten: common } : {}),
    ...(o.lda ? { lda: common } : {}),
    ...(o.rerank ? { rerank: o.rerank } : {}),
    ...(o.trainSplit !== undefined ? { trainSplit: o.trainSplit } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
}

interface FeedbackCliOpts {
  readonly feedbackRounds?: number;
  readonly feedbackK: number;
  readonly feedbackStrategy: 'average' | 'best-score' | 'both';
  readonly feedbackWeights?: { alpha: number; beta: number; gamma: number };
}

function parseWeights(v: string): { alpha: number; beta: number; gamma: number } {
  const parts = v.split(',').map(Number);
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x) || x < 0)) {
    throw new UsageError(`--feedback-weights must be α,β,γ (three numbers ≥ 0, e.g. 1,3,2; got "${v}").`);
  }
  return { alpha: parts[0]!, beta: parts[1]!, gamma: parts[2]! };
}

/** An evaluation result for `--json`: every field the library reports (new ones included) but the sample queries. */
export function withoutSamples<T extends object>(r: T): Omit<T, 'samples'> {
  const { samples: _samples, ...rest } = r as T & { samples?: unknown };
  return rest;
}

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('measure retrieval quality of a model on a labelled folder (leave-one-out P@k, mAP)')
    .argument('<dir>', 'labelled image folder (labels = folder names unless --labels)')
    .requiredOption('-m, --model <model>', 'embedder to evaluate', nonEmpty('--model'))
    .option('--feedback-rounds <n>', 'also measure relevance feedback: rounds of judging a page (simulated user) and asking again', integerIn('--feedback-rounds', 1, 3))
    .option('--feedback-k <n>', 'page size judged per feedback round', integerIn('--feedback-k', 1, 31), 10)
    .option('--feedback-strategy <name>', 'average, best-score or both', (v: string) => {
      if (v !== 'average' && v !== 'best-score' && v !== 'both') throw new UsageError(`--feedback-strategy must be average, best-score or both (got "${v}").`);
      return v;
    }, 'both')
    .option('--feedback-weights <a,b,g>', 'Rocchio weights of the average strategy: query, liked, disliked (default 1,3,2)', parseWeights)
    .option('--whiten', 'whiten the gallery first (PCA-whitening learnt from its vectors; see docs/tuning.md)')
    .option('--lda', 'learn a projection from the training half\'s labels (LDA; needs --train-split)')
    .option('--dims <n>', 'output dimensions of --whiten / --lda', integerIn('--dims', 1))
    .option('--power <p>', 'signed power of --whiten / --lda (default 0.5; 1 = none)', finiteNumber('--power'))
    .option('--rerank <method>', 'query expansion / re-ranking: aqe, alpha-qe or diffusion', parseRerank)
    .option('--train-split <f>', 'share of labelled images that train (and are then left out); the rest are the queries', parseShare('--train-split'))
    .option('--seed <n>', 'seed of the train/test split (default 1)', integerIn('--seed', 0));
  evalOptions(cmd).action(async (dir: string, o: EvalOpts & FeedbackCliOpts & TuneEvalCliOpts & { model: string }) => {
    const out = new Output(o.json === true);
    const { evaluateRetrieval } = await import('../../eval/evaluate.js');
    const { formatTable } = await import('../../eval/compare.js');
    const { formatFeedbackTable } = await import('../../eval/feedback.js');
    const strategies: Strategy[] = o.feedbackStrategy === 'both' ? ['average', 'best-score'] : [o.feedbackStrategy];
    const feedback =
      o.feedbackRounds !== undefined
        ? { rounds: o.feedbackRounds, k: o.feedbackK, strategies, ...(o.feedbackWeights ? { weights: o.feedbackWeights } : {}) }
        : undefined;
    const r = await evaluateRetrieval({ ...evalArgsFrom(dir, o), model: o.model, ...(feedback ? { feedback } : {}), ...tuneFrom(o) });
    out.result(withoutSamples(r), () => [
      formatTable([r]),
      `${r.queries} queries over ${r.images} images${r.failed ? `, ${r.failed} images failed to index` : ''}`,
      ...(r.split ? [`held-out half: ${r.split.test} test images (queries and gallery), ${r.split.train} training images left out (share ${r.split.fraction}, seed ${r.split.seed})`] : []),
      ...(r.tuning ? tuningLines('eval', r.tuning) : []),
      ...(r.feedback ? ['', formatFeedbackTable(r.model, r.feedback)] : []),
    ]);
  });
}
