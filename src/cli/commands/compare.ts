import type { Command } from 'commander';
import fs from 'node:fs/promises';
import path from 'node:path';
import { evalArgsFrom, evalOptions, nonEmpty, positiveInt, type EvalOpts } from '../options.js';
import { Output, UsageError } from '../output.js';
import { withoutSamples } from './eval.js';

interface CompareCliOpts extends EvalOpts {
  readonly models: string;
  readonly out?: string;
  readonly samples: number;
}

export function registerCompare(program: Command): void {
  const cmd = program
    .command('compare')
    .description('evaluate several models side by side: a metrics table and an HTML report of sample queries')
    .argument('<dir>', 'labelled image folder')
    .requiredOption('--models <list>', 'comma-separated embedders, e.g. color-histogram,pixels,phash,mobilenet-v1')
    .option('--out <file>', 'write the HTML report here', nonEmpty('--out'))
    .option('--samples <n>', 'sample queries in the report (one per label)', positiveInt('--samples'), 6);
  evalOptions(cmd).action(async (dir: string, o: CompareCliOpts) => {
    const out = new Output(o.json === true);
    const models = o.models.split(',').map((m) => m.trim()).filter(Boolean);
    if (models.length === 0) throw new UsageError('--models: give at least one model.');
    const { compareModels, formatTable, renderReport } = await import('../../eval/compare.js');
    const results = await compareModels({
      ...evalArgsFrom(dir, o),
      models,
      samples: o.samples,
      onModel: (m, i) => out.note(`[${i + 1}/${models.length}] ${m}`),
    });
    const report = o.out ? path.resolve(o.out) : undefined;
    if (report) await fs.writeFile(report, await renderReport(results, `lookalike compare — ${path.resolve(dir)}`));
    out.result({ results: results.map(withoutSamples), ...(report ? { report } : {}) }, () => [
      formatTable(results),
      ...(report ? [`report: ${report}`] : []),
    ]);
  });
}
