/**
 * Issue 10.12: every usage error exits 2 with one line naming the flag (never the whole help); under --json it is
 * one JSON object on stderr. Issue 11.6: `--m` became `--hnsw-m` (the old name still works, hidden from help).
 * None of these touch a store: they answer before anything is opened.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES, tmpDir } from '../helpers.js';
import { cli, CRASH, requireBuiltCli } from './run.js';

const db = path.join(tmpDir(), 'never-created');

/** [argv, what the one line must name] */
const USAGE_ERRORS: [string[], RegExp][] = [
  [['search', '--db', db, '--image', 'q.jpg', '-k', 'abc'], /-k\b.*abc/],
  [['search', '--db', db, '--image', 'q.jpg', '-k', '0'], /-k\b.*'0'/],
  [['search', '--db', db, '--image', 'q.jpg', '--bogus'], /unknown option '--bogus'/],
  [['search', '--db', db, '--image', 'q.jpg', '--min-score', 'NaN'], /--min-score.*NaN/],
  [['search', '--db', db, '--text', ''], /--text/],
  [['search', '--db', db, '--image'], /--image.*missing/],
  [['search', '--db', db], /give a query: --image FILE, --text TEXT or --id ID/],
  [['search', '--db', db, '--image', 'q.jpg', '--where', 'a\\=x'], /--where.*backslash/],
  [['search', '--db', db, '--image', 'q.jpg', '--where', 'novalue'], /--where "novalue"/],
  [['index', '--db', db], /missing required argument 'dir'/],
  [['index', SAMPLES, '--db', db, '--index', 'annoy'], /--index.*annoy/],
  [['index', SAMPLES, '--db', db, '--label-key', 'a.b'], /--label-key.*path characters/],
  [['index', SAMPLES, '--db', db, '--index', 'ivf', '--hnsw-m', '8'], /--hnsw-m applies to --index hnsw/],
  [['reindex', '--db', db, '--index', 'ivf', '--nlist', '100000'], /--nlist 100000.*65536/],
  [['eval', SAMPLES], /--model/],
  [['serve', '--db', db, '--port', '70000'], /--port.*70000/],
  [['serve', '--db', db, '--api-key', ''], /--api-key/],
  [['serve', '--db', db, '--api-key-required-for', 'reads'], /--api-key-required-for.*needs an API key/],
  [['serve', '--db', db, '--cors-origin', '*'], /--cors-origin/],
  [['serve', '--db', db, '--rate-limit', '-1'], /--rate-limit/],
  [['nosuchcommand'], /unknown command 'nosuchcommand'/],
];

describe('10.12 usage errors: exit 2, one line naming the flag, no help dump', () => {
  beforeAll(requireBuiltCli);

  const named = USAGE_ERRORS.map(([args, names]) => [args.map((a) => (a === db ? 'DB' : a === SAMPLES ? 'DIR' : a)).join(' '), args, names] as const);
  it.each(named)('10.12 `lookalike %s` → exit 2 with one line naming the flag', async (_shown, args, names) => {
    const r = await cli(args, {}, 30_000); // a usage error answers at once (old code: `serve --api-key ''` ran on)
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(names);
    expect(r.stderr).not.toMatch(/Usage:|Options:/);
    expect(r.stderr).not.toMatch(CRASH);
  });

  it('10.12 under --json a usage error is one JSON object on stderr: {"error":{"code","message"}}', async () => {
    for (const [args, names] of USAGE_ERRORS.slice(0, 5)) {
      const r = await cli([...args, '--json']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      const { error } = JSON.parse(lines[0]!) as { error: { code: string; message: string } };
      expect(Object.keys(error).sort()).toEqual(['code', 'message']);
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(names);
    }
  });

  it('10.12 a usage error opens nothing: the store named by --db was never created', () => {
    expect(fs.existsSync(db)).toBe(false);
  });

  it('10.12 --help still prints the help on stdout and exits 0', async () => {
    for (const args of [['--help'], ['search', '--help'], ['help', 'index']]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: lookalike/);
      expect(r.stderr).toBe('');
    }
    expect((await cli(['--version'])).code).toBe(0);
  });

  it('11.6 --hnsw-m replaces --m in help; --m still works as a hidden alias', async () => {
    for (const command of ['index', 'reindex']) {
      const help = (await cli([command, '--help'])).stdout;
      expect(help).toMatch(/--hnsw-m <n>/);
      expect(help).not.toMatch(/--m </);
      expect(help).toMatch(/-m, --model <model>|--index <type>/);
    }
    // the alias is parsed (a bad value is refused by its own name) and conflicts with the new name
    expect((await cli(['reindex', '--db', db, '--index', 'hnsw', '--m', 'x'])).stderr).toMatch(/--m\b.*'x'/);
    const both = await cli(['reindex', '--db', db, '--index', 'hnsw', '--m', '8', '--hnsw-m', '9']);
    expect(both.code, both.stderr).toBe(2);
    expect(both.stderr).toMatch(/--m.*cannot be used with.*--hnsw-m/);
  });
});
