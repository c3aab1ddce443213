/// <reference lib="dom" />
/**
 * SLOW (end-to-end): the web page in real headless Chromium (Debian's chromium + playwright-core) against a real
 * server on loopback, as a new user would use it at 1400×900, on a 390×844 phone and at 320 px: upload, result
 * cards, load more, more like this, the detail view, a text query on a CLIP collection, errors; thumbnails by device
 * pixel ratio; page weight and no third-party requests. Screenshots: test-artifacts/web-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES } from '../helpers.js';
import {
  DESKTOP,
  expectAxeClean,
  flowersAndColors,
  expectNoHorizontalOverflow,
  FIRST_TEXT_QUERY,
  ids,
  names,
  NARROW,
  openPage,
  pageWeight,
  PHONE,
  queryFile,
  shot,
  startHarness,
  WAIT,
  waitForResults,
  type Harness,
} from './harness.js';

describe('web page in Chromium (slow)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(
      flowersAndColors('mobilenet-v1'),
      { defaultCollection: 'flowers' },
    );
  }, 240_000);

  afterAll(async () => {
    await h?.close();
  });

  it('1400×900: upload → result cards → load more → more like this → detail view → text query → a clear error', async () => {
    const { page, errors, requests } = await openPage(h, DESKTOP);
    await expect.poll(() => page.textContent('#info'), WAIT).toContain('96 images');
    expect(await page.inputValue('#collection')).toBe('flowers');
    expect(await page.isDisabled('#text')).toBe(true); // mobilenet-v1 has no text tower
    expect(await page.getAttribute('#k', 'max')).toBe('1000'); // the server's max k, stated
    expect(await page.textContent('#k-note')).toContain('1 to 1000');
    await expectAxeClean(page);
    await shot(page, 'desktop-start');

    // upload a daisy that is not in the collection
    await page.setInputFiles('#file', queryFile('daisy'));
    await waitForResults(page, 12);
    expect(new URL(page.url()).searchParams.get('upload')).toMatch(/^[0-9a-f]{20}$/);
    await expect.poll(() => page.textContent('#query-preview'), WAIT).toMatch(/Images like daisy-image_0804\.jpg · 12 results/);
    // cards: the path below the collection's folder, whole; the score; metadata chips; alt text without server paths
    const first = await names(page);
    expect(first[0]).toMatch(/^daisy\/image_\d+\.jpg$/);
    expect(Number(await page.textContent('#results .hit .score'))).toBeGreaterThan(0.9);
    expect(await page.textContent('#results .hit .chips')).toBe('species: daisy');
    const alt = (await page.getAttribute('#results .hit img', 'alt'))!;
    expect(alt).toMatch(/^daisy\/image_\d+\.jpg \(species: daisy\)$/);
    expect(alt).not.toContain(SAMPLES);
    const fit = await page.$eval('#results .hit img', (img) => getComputedStyle(img).objectFit);
    expect(fit).toBe('contain');
    await expect.poll(() => page.$eval('#results .hit img', (img) => (img as HTMLImageElement).naturalWidth), WAIT).toBeGreaterThan(0);
    await expectAxeClean(page);
    await shot(page, 'desktop-results');

    // load more: the next 12 of the same ranking
    const firstPage = await ids(page);
    await page.click('#more');
    await waitForResults(page, 24);
    const both = await ids(page);
    expect(both.slice(0, 12)).toEqual(firstPage);
    expect(new Set(both).size).toBe(24);

    // "more like this": the clicked image is excluded from its own results
    const clickedId = (await page.getAttribute('#results .hit:nth-child(2)', 'data-id'))!;
    await page.click('#results .hit:nth-child(2) .thumb');
    await expect.poll(() => page.textContent('#query-preview'), WAIT).toMatch(/More like this: daisy\/image_\d+\.jpg/);
    await waitForResults(page, 12);
    expect(await ids(page)).not.toContain(clickedId);
    expect(new URL(page.url()).searchParams.get('id')).toBe(clickedId);

    // the detail view: the full image, everything stored, "more like this"
    const detailId = (await page.getAttribute('#results .hit:nth-child(3)', 'data-id'))!;
    await page.click('#results .hit:nth-child(3) .details');
    await page.waitForSelector('#detail[open]', WAIT);
    await expect.poll(() => page.$eval('#detail-img', (img) => (img as HTMLImageElement).naturalWidth), WAIT).toBeGreaterThan(100);
    await expect.poll(() => page.textContent('#detail-meta'), WAIT).toMatch(/Dimensions\d+ × \d+ px/);
    const meta = (await page.textContent('#detail-meta'))!;
    expect(meta).toContain('speciesdaisy');
    expect(meta).toContain(`Path${SAMPLES}`);
    expect(await page.getAttribute('#detail-open', 'href')).toBe(`/v1/collections/flowers/items/${detailId}/image`);
    await expectAxeClean(page);
    await shot(page, 'desktop-detail');
    await page.click('#detail-more');
    await expect.poll(() => page.isVisible('#detail'), WAIT).toBe(false);
    await expect.poll(() => new URL(page.url()).searchParams.get('id'), WAIT).toBe(detailId);
    await waitForResults(page, 12);
    expect(await ids(page)).not.toContain(detailId);

    // text query on the color-clip collection
    await page.selectOption('#collection', 'colors');
    await expect.poll(() => page.isDisabled('#text'), WAIT).toBe(false);
    expect(await page.isVisible('#query-preview')).toBe(false); // nothing of the flowers search is left
    expect(await page.locator('#results .hit').count()).toBe(0);
    await page.fill('#k', '5');
    await page.press('#k', 'Enter');
    await page.fill('#text', 'yellow');
    await page.click('#text-button');
    await expect.poll(() => page.textContent('#query-preview'), FIRST_TEXT_QUERY).toContain('“yellow”');
    await waitForResults(page, 5, FIRST_TEXT_QUERY);
    for (const n of await names(page)) expect(n).toMatch(/^(buttercup|colts-foot|dandelion|sunflower)\//);
    await shot(page, 'desktop-text');

    // a failing upload names the file, the accepted formats, and leaves nothing of the search before
    await page.selectOption('#collection', 'flowers');
    await page.setInputFiles('#file', { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not really a jpeg') });
    await expect.poll(() => page.textContent('#error'), WAIT).toMatch(/“broken\.jpg”.*Accepted formats: JPEG, PNG.*IMAGE_DECODE_FAILED/);
    expect(await page.isVisible('#error')).toBe(true);
    expect(await page.locator('#results .hit').count()).toBe(0);
    expect(await page.isVisible('#query-preview')).toBe(false);
    expect(await page.textContent('#status-text')).toBe('');
    await expectAxeClean(page);
    await shot(page, 'desktop-error');

    // the page asked nothing of any other origin (and its policy allows none), and weighs little
    expect(requests.filter((u) => !u.startsWith(h.base) && !u.startsWith('blob:') && !u.startsWith('data:'))).toEqual([]);
    const policy = (await fetch(h.base + '/')).headers.get('content-security-policy');
    expect(policy).toMatch(/default-src 'self'/);
    expect(policy).not.toMatch(/https?:|\*/);
    const weight = await pageWeight(h.base);
    expect(Object.keys(weight.files)).toEqual(expect.arrayContaining(['index.html', 'style.css', 'app.js', 'render.js', 'state.js']));
    expect(weight.gzipped).toBeLessThan(100 * 1024);
    expect(errors).toEqual([]);
  }, 240_000);

  it('390×844 phone and 320 px: one column of controls, nothing off-screen, no horizontal scrolling', async () => {
    const { page, errors } = await openPage(h, PHONE);
    await expect.poll(() => page.textContent('#info'), WAIT).toContain('96 images');
    await expectNoHorizontalOverflow(page);
    // the controls are stacked and each fits the screen
    const boxes = await page.$$eval(['#drop', '#text-form', '#knobs', '#text-button', '#k', '#min-score'].join(','), (els) =>
      els.map((e) => {
        const r = e.getBoundingClientRect();
        return { id: e.id, left: r.left, right: r.right, top: r.top };
      }),
    );
    for (const b of boxes) expect([b.id, b.left >= 0 && b.right <= 390]).toEqual([b.id, true]);
    const top = (id: string) => boxes.find((b) => b.id === id)!.top;
    expect(top('drop')).toBeLessThan(top('text-form'));
    expect(top('text-form')).toBeLessThan(top('knobs'));
    expect((await page.$eval('#drop', (e) => e.getBoundingClientRect().height)) < 160).toBe(true);
    await expectAxeClean(page);
    await shot(page, 'phone-start');

    await page.setInputFiles('#file', queryFile('sunflower'));
    await waitForResults(page, 12);
    await expectNoHorizontalOverflow(page);
    const columns = await page.$$eval('#results .hit', (els) => new Set(els.map((e) => Math.round(e.getBoundingClientRect().left))).size);
    expect(columns).toBeLessThanOrEqual(2);
    await expectAxeClean(page);
    await shot(page, 'phone-results');

    await page.click('#results .hit:nth-child(1) .details');
    await page.waitForSelector('#detail[open]', WAIT);
    await expect.poll(() => page.$eval('#detail-img', (img) => (img as HTMLImageElement).naturalWidth), WAIT).toBeGreaterThan(100);
    const dialog = await page.$eval('#detail', (e) => e.getBoundingClientRect().right);
    expect(dialog).toBeLessThanOrEqual(390);
    await expectAxeClean(page);
    await shot(page, 'phone-detail');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.isVisible('#detail'), WAIT).toBe(false);

    await page.setViewportSize(NARROW);
    await expect.poll(() => page.evaluate(() => document.documentElement.clientWidth), WAIT).toBe(320);
    await expectNoHorizontalOverflow(page);
    const narrowColumns = await page.$$eval('#results .hit', (els) => new Set(els.map((e) => Math.round(e.getBoundingClientRect().left))).size);
    expect(narrowColumns).toBe(1);
    await shot(page, '320-results');
    expect(errors).toEqual([]);
  }, 180_000);

  it('thumbnails keep their aspect ratio and are chosen for the device pixel ratio', async () => {
    const thumbFor = async (deviceScaleFactor: number) => {
      const { page } = await openPage(h, DESKTOP, '/', { deviceScaleFactor });
      await page.setInputFiles('#file', queryFile('bluebell'));
      await waitForResults(page, 12);
      await expect.poll(() => page.$eval('#results .hit img', (img) => (img as HTMLImageElement).currentSrc), WAIT).toMatch(/size=\d+/);
      const r = await page.$eval('#results .hit img', (img) => {
        const i = img as HTMLImageElement;
        return { src: i.currentSrc, w: i.naturalWidth, h: i.naturalHeight, id: i.closest<HTMLElement>('.hit')!.dataset.id! };
      });
      await page.context().close();
      return { ...r, size: Number(new URL(r.src).searchParams.get('size')) };
    };
    const one = await thumbFor(1);
    const two = await thumbFor(2);
    expect(two.size).toBeGreaterThan(one.size);
    expect(two.size).toBeGreaterThanOrEqual(2 * 190); // a ~190 px slot at 2× needs ≥ 380 px
    // not cropped to a square: the thumbnail has the original's proportions
    const item = (await (await fetch(`${h.base}/v1/collections/flowers/items/${one.id}`)).json()) as { width: number; height: number };
    expect(one.w / one.h).toBeCloseTo(item.width / item.height, 1);
  }, 120_000);
});
