/** The CLI runs unchanged on PostgreSQL: index the sample flowers and search, as with the embedded store. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { CLI, freshPostgresDb, SAMPLES, tmpDir } from '../helpers.js';

const run = promisify(execFile);
const cli = async (args: string[]) => JSON.parse((await run(process.execPath, [CLI, ...args], { env: { ...process.env, LOOKALIKE_THREADS: '1' } })).stdout);

describe('CLI on PostgreSQL + pgvector', () => {
  it('index, re-index, info and search give the same answers as the embedded store', async () => {
    const pgDb = await freshPostgresDb(inject('pgUrl'), 'lookalike_cli');
    const fileDb = tmpDir();
    for (const db of [pgDb, fileDb]) {
      expect(await cli(['index', SAMPLES, '--db', db, '-c', 'flowers', '--model', 'color-histogram', '--label-key', 'species', '--json'])).toMatchObject({
        added: 96,
        failed: 0,
      });
      expect(await cli(['index', SAMPLES, '--db', db, '-c', 'flowers', '--json'])).toMatchObject({ added: 0, unchanged: 96 });
      expect(await cli(['info', '--db', db, '-c', 'flowers', '--json'])).toMatchObject({ count: 96, model: 'color-histogram', dimension: 128 });
    }
    const q = ['search', '-c', 'flowers', '--image', `${SAMPLES}/daisy/image_0801.jpg`, '-k', '8', '--where', 'species=daisy', '--json'];
    const a = (await cli([...q, '--db', pgDb])) as { results: { path: string; score: number }[] };
    const b = (await cli([...q, '--db', fileDb])) as { results: { path: string; score: number }[] };
    expect(a.results.map((h) => h.path)).toEqual(b.results.map((h) => h.path));
    a.results.forEach((h, i) => expect(h.score).toBeCloseTo(b.results[i]!.score, 5));
  }, 60_000);
});
