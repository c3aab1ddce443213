/**
 * `lookalike map` as users run it (the built CLI): the summary, `--json` export, `--html` (screenshot of the page in
 * Chromium: test-artifacts/map-report.png), the cache between runs, and usage errors.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, requireBuiltCli } from '../cli/run.js';
import { SAMPLES, tmpDir } from '../helpers.js';
import { ARTIFACTS, CHROMIUM } from '../web/harness.js';

const dir = tmpDir('lookalike-map-cli-');
const db = path.join(dir, 'db');
const env = { LOOKALIKE_CACHE: path.join(dir, 'cache') };

beforeAll(async () => {
  requireBuiltCli();
  const r = await cli(['index', SAMPLES, '--db', db, '-c', 'flowers', '--model', 'mobilenet-v1', '--label-key', 'species'], env);
  expect(r.code, r.stderr).toBe(0);
}, 180_000);

describe('lookalike map', () => {
  it('prints the clusters, exports JSON, writes an HTML page of pictures, and reuses the cached map', async () => {
    const html = path.join(dir, 'map.html');
    const r = await cli(['map', '--db', db, '-c', 'flowers', '--clusters', '8', '--html', html], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^96 images of "flowers" mapped by UMAP \(seed 42; [\d.]+ s\) into 8 clusters/u);
    expect(r.stdout).toMatch(/cluster +1 +\d+ images/u);
    expect(r.stdout).toContain(`map: ${html}`);

    const page = fs.readFileSync(html, 'utf8');
    expect(page.match(/<circle /gu)).toHaveLength(96);
    expect(page.match(/<image href="data:image\/jpeg;base64,/gu)).toHaveLength(8);
    expect(page.match(/<section /gu)).toHaveLength(8);

    // the same map again, from the cache, as JSON
    const j = await cli(['map', '--db', db, '-c', 'flowers', '--clusters', '8', '--json'], env);
    expect(j.code, j.stderr).toBe(0);
    const map = JSON.parse(j.stdout) as { cached: boolean; items: number; points: { id: string; path: string; x: number; y: number; cluster: number }[]; clusters: unknown[] };
    expect(map.cached).toBe(true);
    expect(map.items).toBe(96);
    expect(map.points[0]).toEqual({ id: expect.any(String), path: expect.stringMatching(/\.jpg$/u), x: expect.any(Number), y: expect.any(Number), cluster: expect.any(Number) });
    expect(map.clusters).toHaveLength(8);

    // pictures, not tables: look at the page
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const p = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
      await p.goto(`file://${html}`);
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await p.screenshot({ path: path.join(ARTIFACTS, 'map-report.png') });
      expect(await p.$$eval('img', (imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth > 0))).toBe(true);
    } finally {
      await browser.close();
    }
  }, 180_000);

  it('refuses bad options with exit code 2', async () => {
    for (const args of [['--clusters', '0'], ['--clusters', 'many'], ['--method', 'tsne'], ['--seed', '-3']]) {
      const r = await cli(['map', '--db', db, '-c', 'flowers', ...args, '--json'], env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(JSON.parse(r.stderr).error.code).toBe('INVALID_ARGUMENT');
    }
    const missing = await cli(['map', '--db', db, '-c', 'nope'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope/u);
  }, 60_000);
});
