import type { Command } from 'commander';
import { storeOptions, type StoreOpts } from '../options.js';
import { Output } from '../output.js';
import { withCollection } from '../shared.js';

export function registerInfo(program: Command): void {
  storeOptions(program.command('info').description("show a collection's size, model, dimension, metric and index")).action(async (o: StoreOpts) => {
    const out = new Output(o.json === true);
    const info = await withCollection(o, (col) => col.info());
    // --json: the library's CollectionInfo as it is, so new fields show without CLI changes
    out.result(info, () => [
      `collection  ${info.collection}`,
      `count       ${info.count}`,
      `model       ${info.model}`,
      `embedder    ${info.embedder} (${info.modalities.join(' + ')})`,
      `dimension   ${info.dimension}`,
      `metric      ${info.metric}`,
      `vectors     ${info.vectorType} in memory, ${info.bytesPerVector} bytes/vector`,
      `index       ${JSON.stringify(info.index)}`,
      ...(info.tiles
        ? [`tiles       ${info.tiles.join(',')}: ${info.vectorsPerImage} vectors, ${info.bytesPerImage} bytes per image (index memory)`]
        : []),
      `created     ${info.createdAt}`,
    ]);
  });
}
