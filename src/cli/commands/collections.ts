import type { Command } from 'commander';
import { storeOptions, type StoreOpts } from '../options.js';
import { Output } from '../output.js';
import { withDb } from '../shared.js';

export function registerCollections(program: Command): void {
  storeOptions(program.command('collections').description('list the collections in a store'), { collection: false }).action(
    async (o: Omit<StoreOpts, 'collection'>) => {
      const out = new Output(o.json === true);
      const { specs, broken } = await withDb(o, false, async (db) => ({
        specs: await db.listCollections(),
        broken: await db.listBrokenCollections(),
      }));
      // a damaged collection does not hide the others: listed apart, with how to get rid of it
      for (const b of broken) out.warn(`collection "${b.name}" is unreadable (${b.error}); delete it with \`lookalike drop ${b.name}\`.`);
      out.result(
        {
          collections: specs.map((s) => ({ name: s.name, model: s.embedder.model, dimension: s.dimension })),
          broken: broken.map((b) => ({ name: b.name, error: b.error })),
        },
        () => specs.map((s) => `${s.name}\t${s.embedder.id}\t${s.dimension}-d`),
      );
    },
  );
}
