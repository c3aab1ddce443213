import type { Command } from 'commander';
import { indexOptions, indexSpecFrom, storeOptions, type IndexOpts, type StoreOpts } from '../options.js';
import { Output } from '../output.js';
import { withCollection } from '../shared.js';

export function registerReindex(program: Command): void {
  const cmd = program.command('reindex').description("change a collection's search index and rebuild it from the stored vectors");
  indexOptions(storeOptions(cmd)).action(async (o: StoreOpts & IndexOpts) => {
    const out = new Output(o.json === true);
    if (o.index) indexSpecFrom(o); // checked before the store is opened; without --index, once the current type is known
    const r = await withCollection(o, async (col) => {
      // no --index: keep the collection's index type; given parameters change it
      const index = indexSpecFrom(o, col.spec.index ?? { type: 'flat' })!;
      const t0 = performance.now();
      await col.setIndex(index, o.vectorType);
      const seconds = (performance.now() - t0) / 1000;
      return { collection: o.collection, index, vectorType: col.spec.vectorType, count: await col.count(), seconds };
    });
    out.result(r, () => `${r.collection}: ${JSON.stringify(r.index)} (${r.vectorType}) built over ${r.count} vectors in ${r.seconds.toFixed(1)} s`);
  });
}
