/**
 * The CLI's flag → library mappings and error → exit code table, in process (no store, no model).
 * Issue 11.1/11.6: `index --queue` dropped --prune, --pooling, --index, --vector-type.
 */
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { queueOptionsFrom, registerIndex, type IndexCliOpts } from '../../src/cli/commands/index.js';
import { apiKeyFrom, registerServe, serverOptionsFrom } from '../../src/cli/commands/serve.js';
import { indexSpecFrom, parseWhere } from '../../src/cli/options.js';
import { describeError, UsageError, wantsJson } from '../../src/cli/output.js';
import { createError } from '../../src/errors.js';
import { withIndexDefaults } from '../../src/store/spec.js';

/** Parse `index …` flags exactly as the CLI does and return what would go to submitIndexJobs. */
async function queueOptionsFor(args: string[]) {
  const program = new Command().exitOverride().configureOutput({ outputError: () => {} });
  registerIndex(program);
  let captured: ReturnType<typeof queueOptionsFrom> | undefined;
  program.commands[0]!.action((dir: string, o: IndexCliOpts) => {
    captured = queueOptionsFrom(dir, o);
  });
  await program.parseAsync(['node', 'lookalike', 'index', ...args]);
  return captured!;
}

describe('index --queue passes every flag to submitIndexJobs', () => {
  it('--prune, --pooling, --index (with its parameters), --vector-type, --batch-size (in config) and the rest are not dropped with --queue', async () => {
    const o = await queueOptionsFor([
      './photos', '--queue', 'redis://q:6379', '--db', 'postgres://db/x', '-c', 'photos', '--model', 'pixels',
      '--exclude', 'thumbs/**', '--prune', '--label-key', 'species', '--pooling', 'mean',
      '--index', 'hnsw', '--hnsw-m', '8', '--vector-type', 'int8', '--batch-size', '4', '--threads', '2', '--device', 'cpu',
    ]);
    expect(o).toMatchObject({
      queue: 'redis://q:6379',
      db: 'postgres://db/x',
      collection: 'photos',
      folder: './photos',
      model: 'pixels',
      exclude: ['thumbs/**'],
      prune: true,
      folderLabelKey: 'species',
      pooling: 'mean',
      index: withIndexDefaults({ type: 'hnsw', m: 8 }),
      vectorType: 'int8',
      config: { batchSize: 4, threads: 2, device: 'cpu' },
    });
  });

  it('--m (hidden old name of --hnsw-m) still sets the HNSW links', async () => {
    expect((await queueOptionsFor(['d', '--queue', 'redis://q', '--index', 'hnsw', '--m', '24'])).index).toMatchObject({ type: 'hnsw', m: 24 });
  });
});

describe('index flags → index spec (defaults from the library, never the CLI)', () => {
  it('fills what the flags leave out with withIndexDefaults', () => {
    expect(indexSpecFrom({ index: 'ivf' })).toEqual(withIndexDefaults({ type: 'ivf' }));
    expect(indexSpecFrom({ index: 'hnsw', ef: 99 })).toEqual(withIndexDefaults({ type: 'hnsw', ef: 99 }));
    expect(indexSpecFrom({})).toBeUndefined();
  });

  it("without --index, parameters change the collection's current index (reindex --nprobe 32)", () => {
    expect(indexSpecFrom({ nprobe: 32 }, { type: 'ivf', nlist: 100, nprobe: 8 })).toEqual({ type: 'ivf', nlist: 100, nprobe: 32 });
  });

  it('a parameter of another index type, or one without a type, is a usage error naming the flag', () => {
    expect(() => indexSpecFrom({ index: 'flat', nlist: 4 })).toThrow(/--nlist applies to --index ivf/);
    expect(() => indexSpecFrom({ hnswM: 4 })).toThrow(/--hnsw-m needs --index hnsw/);
    expect(() => indexSpecFrom({ index: 'ivf', nlist: 100_000 })).toThrow(UsageError);
  });
});

describe('--where is checked by the library rule before anything is opened (10.5)', () => {
  it('accepts key=value pairs and refuses bad keys and too many conditions as usage errors', () => {
    expect(parseWhere(['species=daisy', 'n=1=2'])).toEqual({ species: 'daisy', n: '1=2' });
    expect(parseWhere([])).toBeUndefined();
    for (const bad of [['a\\=x'], ['a"b=x'], ['a.b=x'], ['$x=1'], ['nul\u0000=1'], Array.from({ length: 33 }, (_, i) => `k${i}=v`)]) {
      expect(() => parseWhere(bad)).toThrow(UsageError);
    }
  });
});

describe('errors → exit codes (10.12, 10.13)', () => {
  it('usage errors exit 2, runtime errors 1, only the unexpected 70', () => {
    expect(describeError(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'\n(Did you mean --y?)"))).toMatchObject({
      exitCode: 2,
      code: 'INVALID_ARGUMENT',
      message: "unknown option '--x' (Did you mean --y?)",
    });
    expect(describeError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toMatchObject({ exitCode: 0, silent: true });
    expect(describeError(new UsageError('--k: bad')).exitCode).toBe(2);
    expect(describeError(createError('INVALID_ARGUMENT', 'x')).exitCode).toBe(2);
    expect(describeError(createError('STORE_CORRUPT', 'x'))).toMatchObject({ exitCode: 1, code: 'STORE_CORRUPT' });
    expect(describeError(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }))).toMatchObject({ exitCode: 1, code: 'ADDRESS_IN_USE' });
    const zod = Object.assign(new Error('[]'), { name: 'ZodError', issues: [{ path: ['nlist'], message: 'Too big' }] });
    expect(describeError(zod)).toMatchObject({ exitCode: 2, code: 'INVALID_ARGUMENT', message: expect.stringContaining('nlist: Too big') });
    expect(describeError(new TypeError('x is undefined'))).toMatchObject({ exitCode: 70, code: 'INTERNAL' });
  });

  it('--json is seen before parsing (so usage errors are JSON too), but not after --', () => {
    expect(wantsJson(['search', '-k', 'abc', '--json'])).toBe(true);
    expect(wantsJson(['search', '--', '--json'])).toBe(false);
  });
});

describe('serve API key (10.16)', () => {
  it('an empty LOOKALIKE_API_KEY is refused; the flag wins over the variable', () => {
    expect(() => apiKeyFrom(undefined, '')).toThrow(/LOOKALIKE_API_KEY/);
    expect(() => apiKeyFrom(undefined, '  ')).toThrow(UsageError);
    expect(apiKeyFrom(undefined, undefined)).toBeUndefined();
    expect(apiKeyFrom('k', '')).toBe('k');
    expect(apiKeyFrom(undefined, 'env')).toBe('env');
  });
});

describe('serve flags → server options (10.4, 10.24)', () => {
  it('passes the Host allow-list, CORS origins, key scope and rate limit, and warms the model up', async () => {
    const program = new Command().exitOverride().configureOutput({ outputError: () => {} });
    registerServe(program);
    let captured: ReturnType<typeof serverOptionsFrom> | undefined;
    program.commands[0]!.action((o: Parameters<typeof serverOptionsFrom>[0]) => {
      captured = serverOptionsFrom(o, apiKeyFrom(o.apiKey, undefined));
    });
    await program.parseAsync([
      'node', 'lookalike', 'serve', '--api-key', 'k', '--api-key-required-for', 'reads', '--allowed-host', 'a.example',
      '--allowed-host', 'b.example:81', '--cors-origin', 'https://app.example.com', '--rate-limit', '0', '--host', '0.0.0.0', '-c', 'photos',
    ]);
    expect(captured).toMatchObject({
      apiKey: 'k',
      apiKeyRequiredFor: 'reads',
      allowedHosts: ['a.example', 'b.example:81'],
      corsOrigins: ['https://app.example.com'],
      rateLimit: false,
      host: '0.0.0.0',
      defaultCollection: 'photos',
      maxUploadBytes: 20 * 1024 * 1024,
      warmUp: true,
    });
  });
});
