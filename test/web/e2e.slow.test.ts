/// <reference lib="dom" />
/**
 * SLOW (end-to-end): the web page in real headless Chromium (Debian's chromium + playwright-core) against a real
 * server on loopback: upload an image, click "more like this", type a colour query on a color-clip collection.
 * Saves test-artifacts/web-e2e.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { buildServer } from '../../src/server/app.js';
import { COLOR_CLIP, QUERIES, requireShared, ROOT, SAMPLES, tmpDir } from '../helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
/**
 * Every wait is on a condition, with a generous explicit limit (never a fixed sleep, never vitest's 1 s
 * `expect.poll` default): on a loaded machine a search, a thumbnail or the first text query (the CLIP text tower)
 * can take seconds.
 */
const WAIT = { timeout: 30_000 } as const;
/** The first text query of a CLIP collection may load and warm the text model. */
const FIRST_TEXT_QUERY = { timeout: 60_000 } as const;

describe('web page in Chromium (slow)', () => {
  let db: LookalikeDatabase;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (.ci/run does).`);
    if (!fs.existsSync(path.join(ROOT, 'dist', 'web', 'app.js'))) throw new Error('dist/web missing: run npm run build first.');
    db = await openDatabase(tmpDir(), { threads: 1 });
    const flowers = await db.collection('flowers', { model: 'mobilenet-v1' });
    await flowers.indexFolder(SAMPLES, { folderLabelKey: 'species' });
    const colors = await db.collection('colors', { model: requireShared(COLOR_CLIP) });
    await colors.indexFolder(SAMPLES, { folderLabelKey: 'species' });
    app = await buildServer({ db, defaultCollection: 'flowers' });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await db?.close();
  });

  it('upload → results; click → more like this; text query on a CLIP collection; errors are shown', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(WAIT.timeout); // waitForSelector, click, fill, selectOption …
    const consoleErrors: string[] = [];
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.goto(base + '/', WAIT);
    await expect.poll(() => page.textContent('#info'), WAIT).toContain('96 images');
    expect(await page.inputValue('#collection')).toBe('flowers');
    expect(await page.isDisabled('#text')).toBe(true); // mobilenet-v1 has no text tower

    // upload a daisy that is not in the collection
    const query = path.join(QUERIES, fs.readdirSync(QUERIES).find((f) => f.startsWith('daisy'))!);
    await page.setInputFiles('#file', query);
    await page.waitForSelector('#results .hit', WAIT);
    await expect.poll(() => page.locator('#results .hit').count(), WAIT).toBe(12);
    const firstName = await page.textContent('#results .hit .name');
    expect(firstName).toContain('daisy/');
    const firstScore = Number(await page.textContent('#results .hit .score'));
    expect(firstScore).toBeGreaterThan(0.9);
    // thumbnails really load
    await expect
      .poll(() => page.evaluate(() => (document.querySelector('#results .hit img') as HTMLImageElement).naturalWidth), WAIT)
      .toBeGreaterThan(0);

    // "more like this": the clicked image is excluded from its own results
    const clickedId = await page.getAttribute('#results .hit:nth-child(2)', 'data-id');
    await page.click('#results .hit:nth-child(2)');
    await expect.poll(() => page.textContent('#query-preview'), WAIT).toContain('More like this');
    const ids = () => page.$$eval('#results .hit', (els) => els.map((e) => (e as HTMLElement).dataset.id));
    await expect.poll(ids, WAIT).toHaveLength(12);
    expect(await ids()).not.toContain(clickedId);

    // text query on the color-clip collection
    await page.selectOption('#collection', 'colors');
    await expect.poll(() => page.isDisabled('#text'), WAIT).toBe(false);
    await page.fill('#text', 'yellow');
    await page.fill('#k', '5');
    await page.click('#text-button');
    await expect.poll(() => page.textContent('#query-preview'), FIRST_TEXT_QUERY).toContain('“yellow”');
    await expect.poll(() => page.locator('#results .hit').count(), WAIT).toBe(5);
    const names = await page.$$eval('#results .hit .name', (els) => els.map((e) => e.textContent ?? ''));
    for (const n of names) expect(n).toMatch(/^(buttercup|colts-foot|dandelion|sunflower)\//);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-e2e.png'), fullPage: true });

    // a failing request shows a clear message
    await page.selectOption('#collection', 'flowers');
    await page.setInputFiles('#file', { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not really a jpeg') });
    await expect.poll(() => page.textContent('#error'), WAIT).toMatch(/IMAGE_DECODE_FAILED/);
    expect(await page.isVisible('#error')).toBe(true);
    expect(consoleErrors).toEqual([]);
  }, 240_000);
});
