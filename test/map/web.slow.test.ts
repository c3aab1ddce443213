/**
 * The map page in Chromium at 10,000 points (CIFAR-10 test images, colour-histogram vectors): the map, frames per
 * second during a scripted pan (dots, then zoomed in with thumbnails), a lasso selection, its paths exported, the
 * selection driving a search on the main page, a click opening the detail view, keyboard use, axe-core. Screenshots
 * go to test-artifacts/web-map-*.png, the measurements to test-artifacts/map-web.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cifarSubset, tmpDir } from '../helpers.js';
import { ARTIFACTS, DESKTOP, expectAxeClean, openPage, startHarness, WAIT, waitForResults, type Harness } from '../web/harness.js';

// the map cache of this run's store goes to a temporary folder, not the user's cache
process.env.LOOKALIKE_CACHE = tmpDir('lookalike-map-cache-');

const N = 10_000;
let h: Harness;
const measured: Record<string, unknown> = {};

beforeAll(async () => {
  h = await startHarness(async (db) => {
    const c = await db.collection('cifar', { model: 'color-histogram' });
    let t0 = performance.now();
    await c.indexFolder(cifarSubset(N), {});
    measured.indexSeconds = Number(((performance.now() - t0) / 1000).toFixed(1));
    t0 = performance.now();
    const m = await c.map({});
    measured.mapSeconds = Number(((performance.now() - t0) / 1000).toFixed(1));
    measured.map = { items: m.items, method: m.method, clusters: m.clusters.length };
  });
}, 400_000);

afterAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, 'map-web.json'), JSON.stringify(measured, null, 2) + '\n');
  console.log('map page measurements:', JSON.stringify(measured));
  await h?.close();
});

/** Pan the map for `seconds` by pointer events sent on every animation frame; frames drawn per second and draw times. */
async function scriptedPan(page: Page, seconds: number): Promise<{ fps: number; frames: number; meanDrawMs: number; maxDrawMs: number }> {
  return page.evaluate(async (s) => {
    const c = document.querySelector<HTMLCanvasElement>('#map')!;
    const r = c.getBoundingClientRect();
    const x = r.left + r.width / 2;
    const y = r.top + r.height / 2;
    const f0 = Number(c.dataset.frames);
    const draws: number[] = [];
    let last = f0;
    const t0 = performance.now();
    c.dispatchEvent(new PointerEvent('pointerdown', { pointerId: 7, button: 0, clientX: x, clientY: y, bubbles: true }));
    await new Promise<void>((done) => {
      const step = (t: number) => {
        const k = (t - t0) / 1000;
        if (Number(c.dataset.frames) !== last) {
          last = Number(c.dataset.frames);
          draws.push(Number(c.dataset.drawMs));
        }
        if (k > s) return done();
        c.dispatchEvent(new PointerEvent('pointermove', { pointerId: 7, clientX: x + 220 * Math.sin(k * 3), clientY: y + 140 * Math.cos(k * 2), bubbles: true }));
        requestAnimationFrame(step);
      };
      requestAnimationFrame(step);
    });
    c.dispatchEvent(new PointerEvent('pointerup', { pointerId: 7, button: 0, clientX: x, clientY: y, bubbles: true }));
    const frames = Number(c.dataset.frames) - f0;
    const secs = (performance.now() - t0) / 1000;
    return { fps: frames / secs, frames, meanDrawMs: draws.reduce((a, b) => a + b, 0) / Math.max(1, draws.length), maxDrawMs: Math.max(0, ...draws) };
  }, seconds);
}

/** Save what the window shows as test-artifacts/web-map-<name>.png. */
async function view(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `web-map-${name}.png`) });
}

const round = <T extends Record<string, number>>(o: T): T => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Number(v.toFixed(2))])) as T;

describe('the map page at 10,000 points', () => {
  it('shows the map, pans smoothly, zooms to thumbnails, selects by lasso, exports, searches and opens an image', async () => {
    const { page, errors } = await openPage(h, DESKTOP, '/map.html?collection=cifar', { acceptDownloads: true });
    await page.waitForSelector('#map[data-ready="true"]', { timeout: 120_000 });
    await expect.poll(() => page.textContent('#status-text'), WAIT).toMatch(/10,000 images · UMAP · \d+ clusters/);
    expect(await page.locator('#cluster-list > li').count()).toBeGreaterThan(10);
    await view(page, '10k');
    await expectAxeClean(page);

    measured.panDots = round(await scriptedPan(page, 3));
    expect((measured.panDots as { frames: number }).frames).toBeGreaterThan(10);
    await page.click('#zoom-fit');

    // zoomed in: thumbnails instead of dots
    for (let i = 0; i < 7; i++) await page.click('#zoom-in');
    await page.waitForTimeout(5000); // thumbnails load
    await view(page, 'zoomed');
    measured.panThumbnails = round(await scriptedPan(page, 3));
    await page.click('#zoom-fit');

    // lasso around the middle of the map
    await page.check('input[name="tool"][value="lasso"]');
    const box = (await page.locator('#map').boundingBox())!;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    await page.mouse.move(cx + 150, cy);
    await page.mouse.down();
    for (let a = 0; a <= 48; a++) await page.mouse.move(cx + 150 * Math.cos((a / 48) * 2 * Math.PI), cy + 110 * Math.sin((a / 48) * 2 * Math.PI));
    await page.mouse.up();
    await expect.poll(() => page.textContent('#selection-text'), WAIT).toMatch(/^\d+ images selected/);
    const selected = Number((await page.textContent('#selection-text'))!.match(/^(\d+)/)![1]);
    expect(selected).toBeGreaterThan(32);
    measured.lassoSelected = selected;
    await view(page, 'lasso');

    // export the selected paths: one existing file per line
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#selection-export')]);
    const lines = fs.readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(selected);
    expect(lines.every((l) => fs.existsSync(l))).toBe(true);
    expect(download.suggestedFilename()).toBe('cifar-selection.txt');

    // "search with these": the main page searches with the selection as positive id terms
    const href = (await page.getAttribute('#selection-search', 'href'))!;
    const terms = new URLSearchParams(href.slice(href.indexOf('?'))).getAll('t');
    const { maxQueryTerms } = (await (await fetch(`${h.base}/v1/limits`)).json()) as { maxQueryTerms: number };
    expect(terms.length).toBe(Math.min(selected, maxQueryTerms) - 1); // the first item is the query, the rest its terms
    expect(terms.every((t) => t.startsWith('+id*1:'))).toBe(true); // equal weights
    await page.click('#selection-search');
    await page.waitForURL(/\/\?collection=cifar&id=/u, WAIT);
    await waitForResults(page);
    await view(page, 'lasso-search');

    // the clusters as pictures
    await page.goBack();
    await page.waitForSelector('#map[data-ready="true"]', WAIT);
    await page.locator('#clusters').scrollIntoViewIfNeeded();
    await expect.poll(() => page.$$eval('#cluster-list > li:nth-child(-n+6) img', (imgs) => imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0)), WAIT).toBe(true);
    await view(page, 'clusters');

    // back on the map: a click on a point opens its detail view on the main page
    await page.goto(`${h.base}/map.html?collection=cifar`);
    await page.waitForSelector('#map[data-ready="true"]', WAIT);
    for (let i = 0; i < 4; i++) await page.click('#zoom-in');
    let found: { x: number; y: number } | null = null;
    for (let gy = 0; gy < 15 && !found; gy++) {
      for (let gx = 0; gx < 15 && !found; gx++) {
        const x = box.x + box.width * (0.3 + gx * 0.03);
        const y = box.y + box.height * (0.3 + gy * 0.03);
        await page.mouse.move(x, y);
        if (await page.isVisible('#hover')) found = { x, y };
      }
    }
    expect(found).not.toBeNull();
    await page.mouse.click(found!.x, found!.y);
    await page.waitForURL(/\/\?collection=cifar&item=/u, WAIT);
    await page.waitForSelector('#detail[open]', WAIT);

    // keyboard: focus the map, zoom and pan with keys, Space selects the image under the ring
    await page.goto(`${h.base}/map.html?collection=cifar`);
    await page.waitForSelector('#map[data-ready="true"]', WAIT);
    await page.focus('#map');
    const before = Number(await page.getAttribute('#map', 'data-frames'));
    for (const k of ['+', '+', 'ArrowLeft', 'ArrowUp', '-', '0']) await page.keyboard.press(k);
    await expect.poll(async () => Number(await page.getAttribute('#map', 'data-frames')), WAIT).toBeGreaterThan(before);
    expect(errors).toEqual([]);
  }, 300_000);
});
