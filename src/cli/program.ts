/**
 * The `lookalike` program: builds it from the commands in `./commands/`, runs it, and turns whatever ends it into an
 * exit code (see `./output.ts` for the table). Commands are thin shells over the library.
 *
 * Cold start (issue 18.5): a run that names its command (`lookalike search …`, the usual case) imports only that
 * command's module; help, `help <command>`, unknown commands and typos get every command, as before. The
 * library itself is imported by the actions, when they run.
 */
import { Command } from 'commander';
import { endQuietlyOnClosedPipe, reportError, wantsJson } from './output.js';

type Register = (program: Command) => void;

/** Each command module, the commands it adds (in this order: `lookalike --help` lists them so), and its loader. */
export const COMMAND_MODULES: readonly { readonly names: readonly string[]; readonly load: () => Promise<Register> }[] = [
  { names: ['index'], load: async () => (await import('./commands/index.js')).registerIndex },
  { names: ['search'], load: async () => (await import('./commands/search.js')).registerSearch },
  { names: ['info'], load: async () => (await import('./commands/info.js')).registerInfo },
  { names: ['collections'], load: async () => (await import('./commands/collections.js')).registerCollections },
  { names: ['reindex'], load: async () => (await import('./commands/reindex.js')).registerReindex },
  { names: ['index-check'], load: async () => (await import('./commands/index-check.js')).registerIndexCheck },
  { names: ['tune'], load: async () => (await import('./commands/tune.js')).registerTune },
  { names: ['drop'], load: async () => (await import('./commands/drop.js')).registerDrop },
  { names: ['eval'], load: async () => (await import('./commands/eval.js')).registerEval },
  { names: ['eval-text'], load: async () => (await import('./commands/eval-text.js')).registerEvalText },
  { names: ['compare'], load: async () => (await import('./commands/compare.js')).registerCompare },
  { names: ['duplicates'], load: async () => (await import('./commands/duplicates.js')).registerDuplicates },
  { names: ['map'], load: async () => (await import('./commands/map.js')).registerMap },
  { names: ['serve'], load: async () => (await import('./commands/serve.js')).registerServe },
  { names: ['worker'], load: async () => (await import('./commands/worker.js')).registerWorker },
  { names: ['models'], load: async () => (await import('./commands/models.js')).registerModels },
  { names: ['export', 'import', 'copy'], load: async () => (await import('./commands/transfer.js')).registerTransfer },
];

/**
 * The program with the commands `argv` (without node and the script) needs: the one it names, none for
 * `--version`, all otherwise. Every option of a command is the same whichever others are there.
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const first = argv[0];
  const named = COMMAND_MODULES.filter((m) => first !== undefined && m.names.includes(first));
  const wanted = first === '-V' || first === '--version' ? [] : named.length ? named : COMMAND_MODULES;
  const registers = await Promise.all(wanted.map((m) => m.load()));
  const program = new Command('lookalike')
    .description('Image similarity search: index folders of images, search by image or text.')
    .version('0.1.0')
    // set before the commands are added, which inherit them: errors are thrown (not process.exit) and printed
    // once, by main(), as one line (or JSON) — never followed by the whole help
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  for (const register of registers) register(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  const program = await buildProgram(argv.slice(2));
  try {
    await program.parseAsync(argv as string[]);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    const command = program.commands.find((c) => c.name() === argv[2]);
    return reportError(e, wantsJson(argv.slice(2)), command ? `lookalike ${command.name()}` : 'lookalike');
  }
}
