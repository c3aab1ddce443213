import type { Command } from 'commander';
import { positiveInt, queryKnobOptions, queryKnobsFrom, storeOptions, type StoreOpts } from '../options.js';
import { Output } from '../output.js';
import { withCollection } from '../shared.js';

interface IndexCheckCliOpts extends StoreOpts {
  readonly sample: number;
  readonly k: number;
  readonly ef?: number;
  readonly nprobe?: number;
}

export function registerIndexCheck(program: Command): void {
  const cmd = program.command('index-check').description("recall@k of the collection's index against exact search");
  queryKnobOptions(storeOptions(cmd))
    .option('--sample <n>', 'stored vectors used as queries', positiveInt('--sample'), 200)
    .option('-k, --k <n>', 'k of recall@k', positiveInt('-k'), 10)
    .action(async (o: IndexCheckCliOpts) => {
      const out = new Output(o.json === true);
      const r = await withCollection(o, (col) => col.indexCheck(o.sample, o.k, queryKnobsFrom(o)));
      out.result(
        { collection: o.collection, ...r },
        () =>
          `${o.collection} (${JSON.stringify(r.index)}): recall@${r.k} = ${r.recallAtK.toFixed(4)} over ${r.sample} queries; ` +
          `${r.indexMsPerQuery.toFixed(2)} ms/query vs exact ${r.exactMsPerQuery.toFixed(2)} ms/query`,
      );
    });
}
