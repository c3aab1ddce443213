/** Issue 15.3 from the command line: `serve --watch DIR` keeps the collection in sync while serving. */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES, tmpDir } from '../helpers.js';
import { cli, exitOf, firstEvent, requireBuiltCli, startCli } from './run.js';

describe('--watch on the command line (index, serve)', () => {
  beforeAll(requireBuiltCli);

  it('indexes files added while serving and removes deleted ones; usage errors', async () => {
    const db = path.join(tmpDir(), 'db');
    const dir = tmpDir('lookalike-watched-');
    const daisy = path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!);
    fs.copyFileSync(daisy, path.join(dir, 'one.jpg'));
    expect((await cli(['index', dir, '--db', db, '-c', 'w', '--model', 'color-histogram', '--json'])).code).toBe(0);
    const child = startCli(['serve', '--db', db, '-c', 'w', '--port', '0', '--quiet', '--json', '--watch', dir]);
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    try {
      const start = await firstEvent(child);
      const count = async () => ((await (await fetch(`${start.address as string}/v1/collections/w`)).json()) as { count: number }).count;
      await expect.poll(() => stderr, { timeout: 20_000 }).toMatch(/"log".*0 added, 0 updated, 0 moved, 0 removed/); // the catch-up
      await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c00' } }).png().toFile(path.join(dir, 'two.png'));
      await expect.poll(count, { timeout: 20_000, interval: 200 }).toBe(2);
      fs.rmSync(path.join(dir, 'one.jpg'));
      await expect.poll(count, { timeout: 20_000, interval: 200 }).toBe(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exitOf(child)).toBe(0);
    expect((await cli(['serve', '--db', db, '--watch', dir])).code).toBe(2); // no --collection
    expect((await cli(['serve', '--db', db, '-c', 'w', '--watch', path.join(dir, 'nope')])).code).toBe(2);
  }, 60_000);

  it('index --watch indexes, then follows the folder until Ctrl-C; not with --queue', async () => {
    const db = path.join(tmpDir(), 'db');
    const dir = tmpDir('lookalike-watched-');
    const daisy = path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!);
    fs.copyFileSync(daisy, path.join(dir, 'one.jpg'));
    const child = startCli(['index', dir, '--db', db, '-c', 'w', '--model', 'color-histogram', '--watch', '--json']);
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const count = async () => {
      const r = await cli(['info', '--db', db, '-c', 'w', '--json']);
      return r.code === 0 ? (JSON.parse(r.stdout) as { count: number }).count : -1;
    };
    try {
      await expect.poll(() => stderr, { timeout: 30_000 }).toMatch(/watching .* for changes/);
      await sharp({ create: { width: 32, height: 32, channels: 3, background: '#0c0' } }).png().toFile(path.join(dir, 'two.png'));
      await expect.poll(count, { timeout: 30_000, interval: 300 }).toBe(2);
      expect(stderr).toMatch(/"log".*1 added/);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exitOf(child)).toBe(0);
    expect((await cli(['index', dir, '--db', db, '--watch', '--queue', 'redis://127.0.0.1:1'])).code).toBe(2);
  }, 90_000);
});
