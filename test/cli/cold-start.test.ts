/**
 * Cold start (issues 16.2 and 18.5): a command loads only what it uses. `search --id` on an embedded collection must
 * not import the image decoder (sharp), the model runtimes (onnxruntime-node, transformers.js), the HTTP server,
 * the queue, PostgreSQL's driver or the ingest libraries — each costs a good part of a second at start-up. A command
 * named on the command line loads only its own module of src/cli/commands/ (help loads them all).
 * Recorded at run time (an ESM resolve hook), so dynamic imports on the path count too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/lookalike.js';
import { ROOT, SAMPLES, tmpDir } from '../helpers.js';
import { cli } from './run.js';

const HEAVY = ['sharp', '@huggingface/transformers', 'onnxruntime-node', 'fastify', 'bullmq', 'ioredis', 'pg', 'exifr', 'chokidar', 'hyparquet', 'hyparquet-writer', 'image-size', 'csv-parse', '@techstark/opencv-js', 'umap-js'];
const RECORDER = path.join(ROOT, 'test', 'fixtures', 'record-imports.mjs');

/** The packages a CLI run imported (and its command modules, as `lookalike:cli/commands/<file>`). */
async function importsOf(args: string[]): Promise<{ packages: Set<string>; commands: string[]; stdout: string }> {
  const file = path.join(tmpDir('lookalike-imports-'), 'imports.txt');
  fs.writeFileSync(file, '');
  const r = await cli(args, { NODE_OPTIONS: `--import ${RECORDER}`, LOOKALIKE_RECORD_IMPORTS: file });
  expect(r.code, r.stderr).toBe(0);
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const packages = new Set(lines.filter((s) => !s.startsWith('lookalike:')).map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!)));
  const commands = [...new Set(lines.filter((s) => s.startsWith('lookalike:cli/commands/')).map((s) => s.slice('lookalike:cli/commands/'.length)))].sort();
  return { packages, commands, stdout: r.stdout };
}

describe('cold start: commands import only what they use', () => {
  let db: string;
  let id: string;
  beforeAll(async () => {
    db = tmpDir();
    const d = await openDatabase(db, { threads: 1 });
    const col = await d.createCollection('flowers', { model: 'color-histogram' });
    await col.indexFolder(path.join(SAMPLES, 'daisy'));
    id = (await col.files())[0]!.id;
    await d.close();
  }, 60_000);

  it('search --id, info and collections load no image decoder, model runtime, server, queue or driver', async () => {
    for (const args of [
      ['search', '--db', db, '-c', 'flowers', '--id', id, '-k', '3', '--json'],
      ['info', '--db', db, '-c', 'flowers', '--json'],
      ['collections', '--db', db, '--json'],
    ]) {
      const { packages, stdout } = await importsOf(args);
      expect(packages.size, `${args[0]}: nothing recorded — is the hook loaded?`).toBeGreaterThan(0);
      expect(HEAVY.filter((p) => packages.has(p)), `${args[0]} imported`).toEqual([]);
      expect(stdout.length).toBeGreaterThan(0);
    }
  });

  it('a command loads only its own command module; --version none, help all of them', async () => {
    const all = fs.readdirSync(path.join(ROOT, 'src', 'cli', 'commands')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '.js')).sort();
    const cases: [string[], string[]][] = [
      [['search', '--db', db, '-c', 'flowers', '--id', id, '-k', '3', '--json'], ['search.js', 'tune.js']], // search takes --rerank's parser from tune
      [['info', '--db', db, '-c', 'flowers', '--json'], ['info.js']],
      [['collections', '--db', db, '--json'], ['collections.js']],
      [['import', '--help'], ['transfer.js']],
      [['--version'], []],
      [['--help'], all],
    ];
    for (const [args, want] of cases) expect((await importsOf(args)).commands, args.join(' ')).toEqual(want);
  });

  it('search --timings says where the time went (no model for an id query; the model apart from the search for an image)', async () => {
    type T = { processAndModulesMs: number; nodeStartMs: number; modulesMs: number; storeOpenMs: number; modelLoadMs: number; searchMs: number; totalMs: number };
    const byId = JSON.parse((await cli(['search', '--db', db, '-c', 'flowers', '--id', id, '--timings', '--json'])).stdout) as { timings: T; results: unknown[] };
    expect(byId.results.length).toBeGreaterThan(0);
    expect(byId.timings.modelLoadMs).toBeLessThan(5); // nothing to load
    const img = path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy')).sort()[2]!);
    const byImage = JSON.parse((await cli(['search', '--db', db, '-c', 'flowers', '--image', img, '--timings', '--json'])).stdout) as { timings: T };
    for (const t of [byId.timings, byImage.timings]) {
      for (const v of Object.values(t)) expect(v).toBeGreaterThanOrEqual(0);
      expect(t.totalMs).toBeCloseTo(t.processAndModulesMs + t.storeOpenMs + t.modelLoadMs + t.searchMs, 0);
      // Node.js's own start (to the end of its bootstrap), then the modules (the CLI's and the library's)
      expect(t.nodeStartMs).toBeGreaterThan(0);
      expect(t.modulesMs).toBeGreaterThan(0);
      expect(t.processAndModulesMs).toBeCloseTo(t.nodeStartMs + t.modulesMs, 0);
    }
    expect(byImage.timings.modelLoadMs).toBeGreaterThan(0);
    const text = await cli(['search', '--db', db, '-c', 'flowers', '--id', id, '--timings']);
    expect(text.stderr).toMatch(/^timings: [\d.]+ ms Node\.js start \+ modules, [\d.]+ ms store open, [\d.]+ ms model load, [\d.]+ ms search; [\d.]+ ms from process start$/m);
  });

  it('the hook does see them when a command needs them (search by image loads sharp)', async () => {
    const img = path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy')).sort()[1]!);
    const { packages } = await importsOf(['search', '--db', db, '-c', 'flowers', '--image', img, '-k', '3', '--json']);
    expect(packages.has('sharp')).toBe(true);
  });
});
