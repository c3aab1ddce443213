/**
 * README command 2 is `bash scripts/setup-system.sh && …` (issue 10.23): on a root machine without sudo (CI,
 * containers) it must run as it is; a user with sudo gets it re-run under sudo; a user without sudo gets a clear
 * message instead of apt-get's permission errors. The scripts run here with a PATH holding only what they need
 * (and a stub `sudo` that records its arguments), so nothing is installed.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tmpDir } from '../helpers.js';

const isRoot = process.getuid?.() === 0;
const made: string[] = [];
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function which(cmd: string): string {
  const r = spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} not found`);
  return r.stdout.trim();
}

/** A world-readable copy of the scripts and a bin folder with only bash, id, dirname, basename (+ extras). */
function sandbox(extraBin: Record<string, string> = {}) {
  const dir = tmpDir('lookalike-setup-');
  made.push(dir);
  fs.chmodSync(dir, 0o777);
  const scripts = path.join(dir, 'scripts');
  fs.mkdirSync(path.join(scripts, 'ci'), { recursive: true });
  for (const f of ['setup-system.sh', 'ci/as-root.sh', 'ci/postgres.sh']) fs.copyFileSync(path.join(ROOT, 'scripts', f), path.join(scripts, f));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  for (const tool of ['bash', 'id', 'dirname', 'basename']) fs.symlinkSync(which(tool), path.join(bin, tool));
  for (const [name, body] of Object.entries(extraBin)) fs.writeFileSync(path.join(bin, name), body, { mode: 0o755 });
  for (const p of fs.readdirSync(dir, { recursive: true }) as string[]) fs.chmodSync(path.join(dir, p), fs.lstatSync(path.join(dir, p)).isDirectory() ? 0o777 : 0o755);
  return { dir, bin, script: path.join(scripts, 'setup-system.sh') };
}

/** Runs `bash <script>` with PATH = bin only, as user `nobody` when this process is root. */
function run(s: { bin: string; script: string }, asUser: 'nobody' | 'self') {
  const bash = path.join(s.bin, 'bash');
  const argv = asUser === 'nobody' && isRoot ? [which('setpriv'), '--reuid=65534', '--regid=65534', '--clear-groups', '--', bash, s.script] : [bash, s.script];
  return spawnSync(argv[0]!, argv.slice(1), { env: { PATH: s.bin, HOME: '/' }, encoding: 'utf8', timeout: 30_000 });
}

describe('setup-system.sh: root without sudo, user with sudo, user without sudo', () => {
  it('not root, sudo present: re-runs itself under sudo with its own path', () => {
    const s = sandbox({ sudo: `#!/bin/sh\necho "$@" > "$(dirname "$0")/../sudo-args"\n` });
    const r = run(s, isRoot ? 'nobody' : 'self');
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(s.dir, 'sudo-args'), 'utf8').trim()).toBe(`-- bash ${s.script}`);
    expect(r.stderr).toMatch(/re-running with sudo/);
  });

  it('not root, no sudo: exits 1 with a message that says to run it as root', () => {
    const s = sandbox();
    const r = run(s, isRoot ? 'nobody' : 'self');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/needs root/);
    expect(r.stderr).toMatch(/sudo is not installed/);
    expect(r.stderr).not.toMatch(/Permission denied|apt-get: command not found/);
  });

  it.runIf(isRoot)('root, no sudo: goes straight on (here it stops at the missing apt-get, never at sudo)', () => {
    const s = sandbox();
    const r = run(s, 'self');
    expect(r.stderr).not.toMatch(/sudo|needs root/);
    expect(r.stderr).toMatch(/needs Debian's apt-get/);
    expect(r.status).toBe(1);
  });

  it('README command 2 does not start with sudo', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const line = readme.split('\n').find((l) => l.includes('scripts/setup-system.sh') && l.includes('npm test'));
    expect(line, 'README command 2').toBeDefined();
    expect(line!.trim()).toMatch(/^bash scripts\/setup-system\.sh && /);
  });
});
