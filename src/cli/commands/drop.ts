import type { Command } from 'commander';
import { nonEmpty, storeOptions, type StoreOpts } from '../options.js';
import { CliError, Output } from '../output.js';
import { withDb } from '../shared.js';

export function registerDrop(program: Command): void {
  storeOptions(program.command('drop').description('delete a collection: its vectors, index files and kept uploads (also a damaged one)'), {
    collection: false,
  })
    .argument('<collection>', 'collection name', nonEmpty('<collection>'))
    .action(async (name: string, o: Omit<StoreOpts, 'collection'>) => {
      const out = new Output(o.json === true);
      const dropped = await withDb(o, false, (db) => db.dropCollection(name));
      if (!dropped) throw new CliError('COLLECTION_NOT_FOUND', `No collection "${name}" to delete (see \`lookalike collections\`).`);
      out.result({ dropped: name }, () => `${name}: deleted`);
    });
}
