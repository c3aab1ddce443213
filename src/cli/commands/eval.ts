import type { Command } from 'commander';
import { evalArgsFrom, evalOptions, nonEmpty, type EvalOpts } from '../options.js';
import { Output } from '../output.js';

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
    .requiredOption('-m, --model <model>', 'embedder to evaluate', nonEmpty('--model'));
  evalOptions(cmd).action(async (dir: string, o: EvalOpts & { model: string }) => {
    const out = new Output(o.json === true);
    const { evaluateRetrieval } = await import('../../eval/evaluate.js');
    const { formatTable } = await import('../../eval/compare.js');
    const r = await evaluateRetrieval({ ...evalArgsFrom(dir, o), model: o.model });
    out.result(withoutSamples(r), () => [
      formatTable([r]),
      `${r.queries} queries over ${r.images} images${r.failed ? `, ${r.failed} images failed to index` : ''}`,
    ]);
  });
}
