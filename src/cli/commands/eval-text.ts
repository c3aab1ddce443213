import type { Command } from 'commander';
import { configFrom, inferenceOptions, jsonOption, nonEmpty, type InferenceOpts, type JsonOpts } from '../options.js';
import { evalProgress, Output } from '../output.js';
import { withoutSamples } from './eval.js';

export function registerEvalText(program: Command): void {
  const cmd = program
    .command('eval-text')
    .description('measure text → image retrieval (recall@1/5/10) with COCO-format captions')
    .argument('<dir>', 'image folder')
    .requiredOption('--captions <json>', 'COCO captions JSON (images[].file_name, annotations[].caption)', nonEmpty('--captions'))
    .requiredOption('-m, --model <model>', 'CLIP-family embedder', nonEmpty('--model'));
  inferenceOptions(jsonOption(cmd)).action(async (dir: string, o: JsonOpts & InferenceOpts & { captions: string; model: string }) => {
    const out = new Output(o.json === true);
    const { evaluateTextRetrieval } = await import('../../eval/evaluate.js');
    const r = await evaluateTextRetrieval({
      dir,
      captions: o.captions,
      model: o.model,
      config: configFrom(o),
      onProgress: evalProgress(!out.json),
    });
    out.result(
      withoutSamples(r),
      () =>
        `${r.model}: recall@1 ${r.recallAt['1'].toFixed(3)}, recall@5 ${r.recallAt['5'].toFixed(3)}, recall@10 ${r.recallAt['10'].toFixed(3)} ` +
        `(${r.queries} captions, ${r.images} images)`,
    );
  });
}
