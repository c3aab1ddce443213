/// <reference lib="dom" />
/**
 * Shared by the web page's end-to-end tests: a real server on loopback over a real store, Debian's Chromium driven by
 * playwright-core, and what the tests look at (screenshots under test-artifacts/, axe-core, overflow, focus, page
 * weight). Every wait is on a condition with a generous explicit limit, never a fixed sleep.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { buildServer, type ServerOptions } from '../../src/server/app.js';
import { COLOR_CLIP, QUERIES, requireShared, ROOT, SAMPLES, tmpDir } from '../helpers.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');
/** On a loaded machine a search, a thumbnail or the first text query (the CLIP text tower) can take seconds. */
export const WAIT = { timeout: 30_000 } as const;
export const FIRST_TEXT_QUERY = { timeout: 60_000 } as const;

export const DESKTOP = { width: 1400, height: 900 } as const;
export const PHONE = { width: 390, height: 844 } as const;
export const NARROW = { width: 320, height: 640 } as const;

export const queryFile = (prefix: string): string => path.join(QUERIES, fs.readdirSync(QUERIES).find((f) => f.startsWith(prefix))!);

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface Harness {
  db: LookalikeDatabase;
  app: FastifyInstance;
  browser: Browser;
  base: string;
  close(): Promise<void>;
}

/**
 * The usual store: `flowers` (the 96 sample photos with `model`, labelled by folder as `species`), `colors` (the same
 * photos with the color-clip test model, for text queries) and the collections of `more`.
 */
export function flowersAndColors(model: string, more: (db: LookalikeDatabase) => Promise<void> = async () => undefined) {
  return async (db: LookalikeDatabase): Promise<void> => {
    const flowers = await db.collection('flowers', { model });
    await flowers.indexFolder(SAMPLES, { folderLabelKey: 'species' });
    const colors = await db.collection('colors', { model: requireShared(COLOR_CLIP) });
    await colors.indexFolder(SAMPLES, { folderLabelKey: 'species' });
    await more(db);
  };
}

/** A store filled by `fill`, a server over it and a browser. */
export async function startHarness(fill: (db: LookalikeDatabase) => Promise<void>, opts: Partial<Omit<ServerOptions, 'db'>> = {}): Promise<Harness> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (.ci/run does).`);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'web', 'app.js'))) throw new Error('dist/web missing: run npm run build first.');
  const db = await openDatabase(tmpDir(), { threads: 1 });
  await fill(db);
  const app = await buildServer({ db, rateLimit: false, ...opts });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    db,
    app,
    browser,
    base,
    async close() {
      await browser.close();
      await app.close();
      await db.close();
    },
  };
}

export interface Opened {
  page: Page;
  /** Uncaught errors of the page (must stay empty). */
  errors: string[];
  /** Every URL the page requested. */
  requests: string[];
}

/** A new page (own context) at `viewport`; fails the test on uncaught page errors via `errors`. */
export async function openPage(h: Harness, viewport: { width: number; height: number }, path = '/', extra: BrowserContextOptions = {}): Promise<Opened> {
  const context = await h.browser.newContext({ viewport, ...extra });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(h.base + path, WAIT);
  await page.waitForSelector('html[data-boot="ready"], html[data-boot="failed"], html[data-boot="key"]', { ...WAIT, state: 'attached' });
  return { page, errors, requests };
}

/** Save a screenshot as test-artifacts/web-<name>.png (the whole page). */
export async function shot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `web-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** axe-core's serious and critical violations on the page as it is now (rule id and the first offending nodes). */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE); // evaluated through the debugging protocol: the page's CSP does not apply
  const found = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown[] }[] }[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.targets.join(' ')}`);
}

export async function expectAxeClean(page: Page): Promise<void> {
  expect(await axeViolations(page)).toEqual([]);
}

/** The page is no wider than the viewport (no horizontal scrolling). */
export async function expectNoHorizontalOverflow(page: Page): Promise<void> {
  const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  expect(scroll).toBeLessThanOrEqual(client);
}

/** Press Tab until `selector` has the focus (at most `max` presses); fails when it never does. */
export async function tabTo(page: Page, selector: string, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The focused element shows a focus ring. */
export async function expectVisibleFocus(page: Page): Promise<void> {
  const ring = await page.evaluate(() => {
    const el = document.activeElement as HTMLElement;
    const cs = getComputedStyle(el);
    return { style: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
  });
  expect(ring.style).not.toBe('none');
  expect(ring.width).toBeGreaterThanOrEqual(2);
}

export const ids = (page: Page): Promise<string[]> => page.$$eval('#results .hit', (els) => els.map((e) => (e as HTMLElement).dataset.id ?? ''));
export const names = (page: Page): Promise<string[]> => page.$$eval('#results .hit .name', (els) => els.map((e) => e.textContent ?? ''));

/** Results of the page are painted (not loading) and there are `n` of them. */
export async function waitForResults(page: Page, n?: number, wait: { timeout: number } = WAIT): Promise<void> {
  await expect.poll(() => page.evaluate(() => document.querySelector('#results')?.getAttribute('aria-busy')), wait).toBe('false');
  await expect.poll(() => page.evaluate(() => document.querySelector('#status-text')?.textContent ?? ''), wait).toMatch(/result/);
  if (n !== undefined) await expect.poll(() => page.locator('#results .hit').count(), wait).toBe(n);
}

/** Sizes of the page's own files (HTML, scripts, styles), gzipped. */
export async function pageWeight(base: string): Promise<{ files: Record<string, number>; gzipped: number }> {
  const html = await (await fetch(base + '/')).text();
  const files: Record<string, number> = { 'index.html': zlib.gzipSync(html).length };
  const queue = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/gu)].map((m) => m[1]!);
  for (let i = 0; i < queue.length; i++) {
    const name = queue[i]!;
    const body = await (await fetch(`${base}/${name}`)).text();
    files[name] = zlib.gzipSync(body).length;
    for (const m of body.matchAll(/from ["']\.\/([\w-]+\.js)["']/gu)) if (!queue.includes(m[1]!)) queue.push(m[1]!);
  }
  return { files, gzipped: Object.values(files).reduce((a, b) => a + b, 0) };
}
