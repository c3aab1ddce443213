/**
 * lookalike as a library dependency, the way a new user gets it (issue 10.26): `npm pack`, the tarball installed into
 * a fresh TypeScript project (`strict`, `skipLibCheck: false`), README's library example compiled and run against a
 * few sample photos with `mobilenet-v1` (shipped in the package).
 *
 * The install runs from the local npm cache where it can (`--prefer-offline`) with only the environment variables
 * the README documents for offline / air-gapped machines: the project's own .npmrc and `allowScripts` do not apply
 * to a consumer, so without them onnxruntime-node's install script tries to download CUDA libraries and the install
 * fails. Inherited `npm_*` and `ONNXRUNTIME_*` variables (npm test sets them from the project's .npmrc, CI exports
 * them) are removed first, so the test shows the documented variables are enough. `npm_config_nodedir` is kept:
 * scripts/ci/test-node.sh sets it so that better-sqlite3 is built for the Node it tests.
 *
 * Uses dist/ as built by `npm test` (`npm run build`); `npm pack --ignore-scripts` does not rebuild it, so other
 * tests reading dist/ at the same time are not disturbed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ROOT, SAMPLES, QUERIES, tmpDir } from '../helpers.js';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

/** The body of a level-2/3 section (up to the next heading of the same or a higher level). */
function section(title: RegExp): string {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => /^#{2,3} /.test(l) && title.test(l));
  if (start < 0) throw new Error(`README has no section matching ${title}`);
  const level = lines[start]!.match(/^#+/)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.match(/^#+/)![0].length <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** README's library example: the first ```ts block of "## Library". */
function libraryExample(): string {
  const m = section(/^## Library\b/).match(/```ts\n([\s\S]*?)```/);
  if (!m) throw new Error('README "## Library" has no ```ts example');
  return m[1]!;
}

/** The install variables README documents for offline machines: NAME=value pairs of ONNXRUNTIME_NODE_INSTALL*. */
function documentedInstallEnv(): Record<string, string> {
  const text = section(/Installing as a dependency/i);
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/\b(ONNXRUNTIME_NODE_INSTALL(?:_CUDA)?)=(skip)\b/g)) env[m[1]!] = m[2]!;
  return env;
}

/** The environment of a user's shell: no npm_* / ONNXRUNTIME_* inherited from the npm that runs the tests. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    const key = k.toLowerCase();
    if (key.startsWith('onnxruntime_')) continue;
    if (key.startsWith('npm_') && key !== 'npm_config_nodedir' && key !== 'npm_config_cache') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs a command without blocking the event loop (a long spawnSync starves vitest's worker RPC). */
function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeout?: number }) {
  return new Promise<{ status: number | null; out: string; stdout: string }>((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeout ? setTimeout(() => child.kill('SIGKILL'), opts.timeout) : undefined;
    const done = (status: number | null, extra = '') => {
      clearTimeout(timer);
      resolve({ status, stdout, out: `${stdout}\n${stderr}${extra}` });
    };
    child.on('error', (e) => done(null, `\n${String(e)}`));
    child.on('close', (code, signal) => done(code, signal ? `\n(killed by ${signal})` : ''));
  });
}

describe('the packed tarball as a dependency of a strict TypeScript project', () => {
  it('installs offline with the documented variable, type-checks with skipLibCheck false, runs the README example', async () => {
    expect(fs.existsSync(path.join(ROOT, 'dist', 'index.d.ts')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true);
    const installEnv = documentedInstallEnv();
    expect(installEnv, 'README "Installing as a dependency / offline" documents ONNXRUNTIME_NODE_INSTALL=skip').toHaveProperty('ONNXRUNTIME_NODE_INSTALL', 'skip');

    const tmp = tmpDir('lookalike-pack-');
    onTestFinished(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const env = cleanEnv({ ...installEnv, LOOKALIKE_OFFLINE: '1' });

    // 1. npm pack (dist/ as built; no prepare → no rebuild under other tests' feet)
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT, env });
    expect(pack.status, pack.out).toBe(0);
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/cli/main.js');
    expect(files.some((f) => f.startsWith('models/mobilenet-v1'))).toBe(true);
    expect(files.filter((f) => /^(src|test|scripts|samples)\//.test(f))).toEqual([]);
    const tarball = path.join(tmp, info!.filename);

    // 2. a fresh project: ESM, strict, skipLibCheck false
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'lookalike-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            skipLibCheck: false,
            lib: ['ES2023'],
            types: ['node'],
            rootDir: '.',
            outDir: 'out',
          },
          files: ['example.ts'],
        },
        null,
        2,
      ),
    );
    const install = await run(
      'npm',
      ['install', tarball, `@types/node@${PKG.devDependencies['@types/node']}`, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'],
      { cwd: app, env, timeout: 540_000 },
    );
    expect(install.status, `npm install of the tarball failed:\n${install.out.slice(-6000)}`).toBe(0);

    // 3. the README example, verbatim, plus two lines that print what it computed as JSON
    fs.writeFileSync(
      path.join(app, 'example.ts'),
      `${libraryExample()}\n// appended by test/pack: the example's results, machine-readable\nconsole.log('REPORT ' + JSON.stringify(report));\nconsole.log('HITS ' + JSON.stringify(hits));\n`,
    );
    const tsc = await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(app, 'tsconfig.json')], { cwd: app, env });
    expect(tsc.status, `the README example does not type-check against the published declarations:\n${tsc.out}`).toBe(0);

    // 4. run it: ./photos (two classes, three each, and a thumbs/ folder the example excludes), query.jpg a daisy
    const photos = path.join(app, 'photos');
    for (const cls of ['daisy', 'sunflower']) {
      fs.mkdirSync(path.join(photos, cls), { recursive: true });
      for (const f of fs.readdirSync(path.join(SAMPLES, cls)).sort().slice(0, 3)) fs.copyFileSync(path.join(SAMPLES, cls, f), path.join(photos, cls, f));
    }
    fs.mkdirSync(path.join(photos, 'thumbs'));
    fs.copyFileSync(path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy')).sort()[0]!), path.join(photos, 'thumbs', 'small.jpg'));
    fs.copyFileSync(path.join(QUERIES, 'daisy-image_0804.jpg'), path.join(app, 'query.jpg'));

    const ex = await run(process.execPath, [path.join(app, 'out', 'example.js')], { cwd: app, env: { ...env, LOOKALIKE_THREADS: '1' }, timeout: 180_000 });
    expect(ex.status, ex.out).toBe(0);
    const line = (tag: string) => JSON.parse(ex.stdout.split('\n').find((l) => l.startsWith(`${tag} `))!.slice(tag.length + 1));
    const report = line('REPORT') as { added: number; failed: number };
    const hits = line('HITS') as { path: string; score: number }[];
    expect(report.added).toBe(6);
    expect(report.failed).toBe(0);
    expect(hits).toHaveLength(6);
    expect(hits.every((h) => h.path.startsWith(photos) && !h.path.includes('thumbs'))).toBe(true);
    expect(path.basename(path.dirname(hits[0]!.path))).toBe('daisy');
    for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score);
  }, 900_000);
});
