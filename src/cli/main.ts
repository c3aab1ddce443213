#!/usr/bin/env node
/**
 * The `lookalike` command: builds the program from the commands in `./commands/`, runs it, and turns whatever
 * ends it into an exit code (see `./output.ts` for the table). Commands are thin shells over the library.
 */
import { Command } from 'commander';
import { registerCollections } from './commands/collections.js';
import { registerCompare } from './commands/compare.js';
import { registerDrop } from './commands/drop.js';
import { registerDuplicates } from './commands/duplicates.js';
import { registerEvalText } from './commands/eval-text.js';
import { registerEval } from './commands/eval.js';
import { registerIndexCheck } from './commands/index-check.js';
import { registerIndex } from './commands/index.js';
import { registerInfo } from './commands/info.js';
import { registerMap } from './commands/map.js';
import { registerModels } from './commands/models.js';
import { registerReindex } from './commands/reindex.js';
import { registerSearch } from './commands/search.js';
import { registerTransfer } from './commands/transfer.js';
import { registerTune } from './commands/tune.js';
import { registerServe } from './commands/serve.js';
import { registerWorker } from './commands/worker.js';
import { endQuietlyOnClosedPipe, reportError, wantsJson } from './output.js';

const COMMANDS = [
  registerIndex,
  registerSearch,
  registerInfo,
  registerCollections,
  registerReindex,
  registerIndexCheck,
  registerTune,
  registerDrop,
  registerEval,
  registerEvalText,
  registerCompare,
  registerDuplicates,
  registerMap,
  registerServe,
  registerWorker,
  registerModels,
  registerTransfer,
];

export function buildProgram(): Command {
  const program = new Command('lookalike')
    .description('Image similarity search: index folders of images, search by image or text.')
    .version('0.1.0')
    // set before the commands are added, which inherit them: errors are thrown (not process.exit) and printed
    // once, by main(), as one line (or JSON) — never followed by the whole help
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  for (const register of COMMANDS) register(program);
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    const command = program.commands.find((c) => c.name() === argv[2]);
    return reportError(e, wantsJson(argv.slice(2)), command ? `lookalike ${command.name()}` : 'lookalike');
  }
}

process.exitCode = await main(process.argv);
