import type { Command } from 'commander';
import { jsonOption, type JsonOpts } from '../options.js';
import { Output } from '../output.js';

export function registerModels(program: Command): void {
  jsonOption(program.command('models').description('list the built-in model names')).action(async (o: JsonOpts) => {
    const { listModels } = await import('../../embed/registry.js');
    const models = listModels().map(({ name, description }) => ({ name, description }));
    new Output(o.json === true).result({ models }, () => models.map((m) => `${m.name.padEnd(24)} ${m.description}`));
  });
}
