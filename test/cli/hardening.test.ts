/**
 * Issue 10, CLI defects found by attacking it as a new user would — each test is named after its defect:
 * 10.11 read commands created stores; 10.13 crashes (exit 70 + stack trace) on ordinary mistakes and conditions;
 * 10.16 an empty API key meant "no auth".
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES, tmpDir } from '../helpers.js';
import { cli, CRASH, exitOf, requireBuiltCli, startCli } from './run.js';

/** A few sample photos in their class folders: enough for a store with one small, fast collection. */
function smallFolder(): string {
  const dir = tmpDir();
  for (const cls of fs.readdirSync(SAMPLES).sort().slice(0, 2)) {
    fs.mkdirSync(path.join(dir, cls));
    for (const f of fs.readdirSync(path.join(SAMPLES, cls)).sort().slice(0, 3)) fs.copyFileSync(path.join(SAMPLES, cls, f), path.join(dir, cls, f));
  }
  return dir;
}

describe('CLI hardening (issue 10)', () => {
  const photos = smallFolder();
  const query = path.join(photos, fs.readdirSync(photos)[0]!, fs.readdirSync(path.join(photos, fs.readdirSync(photos)[0]!))[0]!);
  const store = path.join(tmpDir(), 'db');

  beforeAll(async () => {
    requireBuiltCli();
    const r = await cli(['index', photos, '--db', store, '-c', 'small', '--model', 'color-histogram', '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ added: 6, failed: 0 });
  });

  it('10.11 read commands never create a store: --db ./typo → STORE_NOT_FOUND naming the path, nothing created', async () => {
    const typo = path.join(tmpDir(), 'typo');
    const reads = [
      ['search', '--db', typo, '-c', 'small', '--image', query],
      ['info', '--db', typo, '-c', 'small'],
      ['collections', '--db', typo],
      ['index-check', '--db', typo, '-c', 'small'],
      ['reindex', '--db', typo, '-c', 'small', '--index', 'flat'],
      ['drop', 'small', '--db', typo],
    ];
    for (const args of reads) {
      const r = await cli(args);
      expect(r.code, args[0]).toBe(1);
      expect(r.stderr).toContain('STORE_NOT_FOUND');
      expect(r.stderr).toContain(typo);
      expect(r.stderr).not.toMatch(CRASH);
      expect(fs.existsSync(typo), `${args[0]} created ${typo}`).toBe(false);
    }
    const json = await cli(['info', '--db', typo, '--json']);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'STORE_NOT_FOUND' } });
    expect(fs.existsSync(typo)).toBe(false);
  });

  it('10.11 index of a missing folder fails before the store is created', async () => {
    const fresh = path.join(tmpDir(), 'fresh');
    const nope = path.join(tmpDir(), 'nope');
    const r = await cli(['index', nope, '--db', fresh, '--model', 'color-histogram']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('FILE_NOT_FOUND');
    expect(r.stderr).toContain(nope);
    expect(fs.existsSync(fresh)).toBe(false);
  });

  it('10.13 reindex --index ivf --nlist 100000 is INVALID_ARGUMENT naming the field, not a ZodError', async () => {
    const r = await cli(['reindex', '--db', store, '-c', 'small', '--index', 'ivf', '--nlist', '100000', '--json']);
    expect(r.code).toBe(2);
    const { error } = JSON.parse(r.stderr) as { error: { code: string; message: string } };
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/--nlist/);
    expect(r.stderr).not.toMatch(/ZodError|unexpected error/);
  });

  it("10.13 a store whose schema_version is 0, -5 or 'abc' is STORE_CORRUPT, printed cleanly", async () => {
    for (const bad of ['0', '-5', 'abc']) {
      const copy = path.join(tmpDir(), 'corrupt');
      fs.cpSync(store, copy, { recursive: true });
      const sqlite = new Database(path.join(copy, 'lookalike.sqlite'));
      sqlite.prepare(`UPDATE meta SET value = ? WHERE key = 'schema_version'`).run(bad);
      sqlite.close();
      for (const args of [['collections', '--db', copy], ['info', '--db', copy, '-c', 'small']]) {
        const r = await cli(args);
        expect(r.code, `${bad}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toContain('STORE_CORRUPT');
        expect(r.stderr).not.toMatch(CRASH);
      }
      const json = await cli(['collections', '--db', copy, '--json']);
      expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'STORE_CORRUPT' } });
    }
  });

  it('10.15 one damaged collection definition: collections lists the others and the broken one apart; drop deletes it', async () => {
    const copy = path.join(tmpDir(), 'broken');
    fs.cpSync(store, copy, { recursive: true });
    const other = await cli(['index', photos, '--db', copy, '-c', 'other', '--model', 'pixels', '--json']);
    expect(other.code, other.stderr).toBe(0);
    const sqlite = new Database(path.join(copy, 'lookalike.sqlite'));
    sqlite.prepare(`UPDATE collections SET spec = '{"not": "a spec"' WHERE name = 'small'`).run();
    sqlite.close();
    const list = await cli(['collections', '--db', copy, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const { collections, broken } = JSON.parse(list.stdout) as { collections: { name: string }[]; broken: { name: string; error: string }[] };
    expect(collections.map((c) => c.name)).toEqual(['other']);
    expect(broken.map((b) => b.name)).toEqual(['small']);
    expect(JSON.parse(list.stderr.trim())).toMatchObject({ warning: { message: expect.stringContaining('lookalike drop small') } });
    const human = await cli(['collections', '--db', copy]);
    expect(human.stdout).toMatch(/^other\t/);
    expect(human.stderr).toMatch(/warning: collection "small" is unreadable/);
    const drop = await cli(['drop', 'small', '--db', copy, '--json']);
    expect(drop.code, drop.stderr).toBe(0);
    expect(JSON.parse(drop.stdout)).toEqual({ dropped: 'small' });
    expect(JSON.parse((await cli(['collections', '--db', copy, '--json'])).stdout)).toMatchObject({ collections: [{ name: 'other' }], broken: [] });
    const again = await cli(['drop', 'small', '--db', copy]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('COLLECTION_NOT_FOUND');
  });

  it('10.13 search … | head -1 (EPIPE): the reader closing stdout early ends the command quietly with exit 0', async () => {
    const child = startCli(['search', '--db', store, '-c', 'small', '--image', query, '-k', '5']);
    child.stdout.destroy(); // the reader is gone before the first result is written
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await exitOf(child)).toBe(0);
    expect(stderr).toBe('');
  });

  it('10.13 serve on a port in use: ADDRESS_IN_USE with the address, exit 1, no stack trace', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const r = await cli(['serve', '--db', store, '--port', String(port), '--quiet']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('ADDRESS_IN_USE');
      expect(r.stderr).toContain(`127.0.0.1:${port}`);
      expect(r.stderr).not.toMatch(CRASH);
      const json = await cli(['serve', '--db', store, '--port', String(port), '--quiet', '--json']);
      expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'ADDRESS_IN_USE' } });
    } finally {
      blocker.close();
    }
  });

  it('10.16 serve refuses an empty API key (--api-key "" and LOOKALIKE_API_KEY="") instead of running without auth', async () => {
    const never = path.join(tmpDir(), 'never');
    const flag = await cli(['serve', '--db', never, '--port', '0', '--api-key', ''], {}, 20_000);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--api-key/);
    const env = await cli(['serve', '--db', never, '--port', '0'], { LOOKALIKE_API_KEY: '' }, 20_000);
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/LOOKALIKE_API_KEY/);
    expect(fs.existsSync(never)).toBe(false);
  });
});
