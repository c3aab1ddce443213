#!/usr/bin/env node
// npm run bench:web [-- --model color-histogram] [--images 10000] [--runs 20] [--db DIR] [--json]
//
// The web page's own overhead, measured in real headless Chromium (Debian's chromium, playwright-core): indexes
// ../shared/datasets/cifar10-test (10,000 images) into a temporary store (or --db DIR: kept, and reused by the next
// run with the same --db and --images), starts
// `buildServer` on 127.0.0.1, opens the page, and times, in the page's clock, the median of --runs of
//   upload → results painted   (an image pasted into the page → the new results in the DOM and the next frame drawn)
//   "more like this" → painted (a click on a result's thumbnail → the same)
// next to the API time of the very same request as the page saw it (its Resource Timing entry: request start →
// response end), and when the thumbnails of the new results had all loaded. Needs `npm run build` first.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { openDatabase } from '../dist/index.js';
import { buildServer } from '../dist/server/app.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    folder: { type: 'string', default: path.join(root, '..', 'shared', 'datasets', 'cifar10-test', 'test') },
    model: { type: 'string', default: 'color-histogram' },
    images: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '20' },
    k: { type: 'string', default: '12' },
    db: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
    json: { type: 'boolean', default: false },
  },
});
const log = values.json ? () => {} : (...a) => console.error(...a);
const runs = Number(values.runs);
const k = Number(values.k);
for (const [what, p] of [
  ['the cifar10-test folder (../shared/datasets/cifar10-test)', values.folder],
  ['Chromium (apt install chromium, or --chromium PATH)', values.chromium],
  ['the built page (npm run build)', path.join(root, 'dist', 'web', 'app.js')],
]) {
  if (!fs.existsSync(p)) {
    console.error(`bench:web: ${what} not found at ${p}`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------- the collection
const temp = values.db ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-web-'));
const dbDir = values.db ?? temp;
const images = fs
  .readdirSync(values.folder)
  .sort()
  .flatMap((c) => fs.readdirSync(path.join(values.folder, c)).sort().map((f) => path.join(values.folder, c, f)))
  .slice(0, Number(values.images));
// the images as links in one folder (a stable one next to a kept --db, so that a second run finds them unchanged)
const folder = values.db ? `${path.resolve(values.db)}.images-${images.length}` : fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-web-images-'));
fs.mkdirSync(folder, { recursive: true });
images.forEach((f, i) => {
  const link = path.join(folder, `${path.basename(path.dirname(f))}-${String(i).padStart(5, '0')}.jpg`);
  if (!fs.existsSync(link)) fs.symlinkSync(f, link);
});

const db = await openDatabase(dbDir);
const col = await db.collection('bench', { model: values.model });
log(`bench:web — indexing ${images.length} images with ${values.model} into ${dbDir}${values.db ? ' (skipped when done)' : ''}…`);
const t0 = performance.now();
const report = await col.indexFolder(folder);
const count = await col.count();
log(`collection: ${count} images (${report.added} added in ${((performance.now() - t0) / 1000).toFixed(1)} s), ${col.spec.dimension}-d ${col.spec.embedder.id}`);

const app = await buildServer({ db, defaultCollection: 'bench', rateLimit: false });
const base = await app.listen({ host: '127.0.0.1', port: 0 });
const browser = await chromium.launch({
  executablePath: values.chromium,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// ---------------------------------------------------------------------------------------------- in the page
/**
 * Runs in the page: start a search with `act` (a paste or a click), then resolve with the times (page clock, ms from
 * the action): the new results in the DOM, the next frame drawn, all their thumbnails loaded, and the search
 * request's own Resource Timing duration.
 */
const measureInPage = async ({ how, b64, nth }) => {
  performance.clearResourceTimings();
  const status = document.querySelector('#status-text');
  const results = document.querySelector('#results');
  const done = new Promise((resolve) => {
    const mo = new MutationObserver(() => {
      if (/^\d+ results? in/u.test(status.textContent ?? '') && results.getAttribute('aria-busy') === 'false') {
        mo.disconnect();
        resolve(performance.now());
      }
    });
    mo.observe(status, { childList: true, characterData: true, subtree: true });
  });
  const t0 = performance.now();
  if (how === 'upload') {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'query.jpg', { type: 'image/jpeg' }));
    document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  } else {
    document.querySelector(`#results .hit:nth-child(${nth}) .thumb`).click();
  }
  const dom = await done;
  // the frame that shows them: a task queued from requestAnimationFrame runs after that frame is drawn
  const painted = await new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(performance.now()), 0)));
  // (thumbnails load lazily: those in the viewport)
  const imgs = [...results.querySelectorAll('img')].filter((i) => i.getBoundingClientRect().top < innerHeight);
  const loaded = (i) =>
    new Promise((r) => {
      if (i.complete) return r();
      i.addEventListener('load', r, { once: true });
      i.addEventListener('error', r, { once: true });
    });
  await Promise.all(imgs.map(loaded));
  const thumbs = performance.now();
  const search = performance.getEntriesByType('resource').filter((e) => /\/search$/u.test(e.name));
  const e = search[search.length - 1];
  return {
    dom: dom - t0,
    painted: painted - t0,
    thumbs: thumbs - t0,
    api: e ? e.duration : NaN,
    requestStart: e ? e.startTime - t0 : NaN,
    responseEnd: e ? e.responseEnd - t0 : NaN,
    hits: results.children.length,
  };
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(60_000);
await page.goto(`${base}/?collection=bench${k !== 12 ? `&k=${k}` : ''}`);
await page.waitForSelector('html[data-boot="ready"]', { state: 'attached' });

const queries = Array.from({ length: runs + 2 }, (_, i) => images[Math.floor(((i + 0.5) * images.length) / (runs + 2))]);
const rows = { upload: [], more: [] };
for (let i = 0; i < queries.length; i++) {
  const up = await page.evaluate(measureInPage, { how: 'upload', b64: fs.readFileSync(queries[i]).toString('base64'), nth: 0 });
  const more = await page.evaluate(measureInPage, { how: 'more', b64: '', nth: 2 + (i % 6) });
  if (up.hits < 1 || more.hits < 1) throw new Error('bench:web: a search showed no results');
  if (i >= 2) {
    // the first two warm the server (index, model) and the browser
    rows.upload.push(up);
    rows.more.push(more);
  }
}
await browser.close();
await app.close();
await col.close();
await db.close();
if (temp) {
  fs.rmSync(temp, { recursive: true, force: true });
  fs.rmSync(folder, { recursive: true, force: true });
}

const summary = (xs) => {
  const m = (key) => +median(xs.map((x) => x[key])).toFixed(1);
  const painted = m('painted');
  const api = m('api');
  return { paintedMs: painted, requestStartMs: m('requestStart'), responseEndMs: m('responseEnd'), domMs: m('dom'), apiMs: api, pageOverheadMs: +(painted - api).toFixed(1), ratio: +(painted / api).toFixed(2), thumbnailsLoadedMs: m('thumbs') };
};
const out = { images: count, model: col.spec.embedder.id, dimension: col.spec.dimension, k, runs, upload: summary(rows.upload), moreLikeThis: summary(rows.more) };
if (values.json) console.log(JSON.stringify(out));
else {
  const pad = (s, n) => String(s).padStart(n);
  console.log(`\nbench:web — ${out.images} images, ${out.model} (${out.dimension}-d), k=${k}, headless Chromium 1400×900; median of ${runs}, ms`);
  console.log(`${''.padEnd(28)}${pad('painted', 9)}${pad('API', 9)}${pad('page', 9)}${pad('ratio', 8)}${pad('thumbs', 9)}`);
  for (const [name, r] of [
    ['upload → results painted', out.upload],
    ['more like this → painted', out.moreLikeThis],
  ]) {
    console.log(`${name.padEnd(28)}${pad(r.paintedMs, 9)}${pad(r.apiMs, 9)}${pad(r.pageOverheadMs, 9)}${pad(`${r.ratio}×`, 8)}${pad(r.thumbnailsLoadedMs, 9)}`);
  }
  console.log('painted: action → new results in the DOM and the next frame drawn · API: the search request as the page saw it');
  console.log('(Resource Timing: request start → response end) · page: painted − API · thumbs: all thumbnails of the new results loaded');
}
