/// <reference lib="dom" />
/**
 * SLOW (end-to-end): the web page's one state model in Chromium — only the latest search is rendered (a response
 * delayed on purpose loses to a later query), no view outlives the state it came from (collection switch, errors,
 * the text box), the URL holds the whole query (Back/Forward, shared links), paging up to the server's k limit,
 * zero-result suggestions and metadata filters. The server here ranks at most 20 results per query.
 */
import fs from 'node:fs';
import type { Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, flowersAndColors, ids, openPage, queryFile, shot, startHarness, WAIT, waitForResults, type Harness } from './harness.js';

const MAX_K = 20;

describe('web page state, history and paging in Chromium (slow)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(
      flowersAndColors('color-histogram'),
      { defaultCollection: 'flowers', maxK: MAX_K },
    );
  }, 240_000);

  afterAll(async () => {
    await h?.close();
  });

  /** The API's answer for an uploaded image (what the page must show). */
  async function apiUpload(file: string, k = 12): Promise<{ ids: string[]; upload: string }> {
    const form = new FormData();
    form.append('image', new Blob([fs.readFileSync(file)]), 'q.jpg');
    form.append('k', String(k));
    const r = (await (await fetch(`${h.base}/v1/collections/flowers/search`, { method: 'POST', body: form })).json()) as { results: { id: string }[]; upload: string };
    return { ids: r.results.map((x) => x.id), upload: r.upload };
  }

  it('a response delayed on purpose never overwrites a later query (the later query wins); results are dimmed while loading', async () => {
    const { page, errors } = await openPage(h, DESKTOP);
    await page.setInputFiles('#file', queryFile('bluebell'));
    await waitForResults(page, 12);

    // hold the next search's response until the one after it has been painted
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let routed = 0;
    let delayedDone!: () => void;
    const delayedHandled = new Promise<void>((r) => (delayedDone = r));
    await page.route('**/v1/collections/*/search', async (route: Route) => {
      if (++routed > 1) return route.continue();
      try {
        const response = await route.fetch();
        await gate;
        await route.fulfill({ response });
      } catch {
        // the page aborted it (AbortController): exactly what should happen to a superseded search
      } finally {
        delayedDone();
      }
    });
    await page.setInputFiles('#file', queryFile('sunflower'));
    await expect.poll(() => routed, WAIT).toBe(1);
    // the loading state: the old results dimmed, a spinner, the query controls busy
    expect(await page.getAttribute('#results', 'aria-busy')).toBe('true');
    await expect.poll(() => page.$eval('#results', (e) => Number(getComputedStyle(e).opacity)), WAIT).toBeLessThan(0.6); // fades in .15 s
    expect(await page.isVisible('#spinner')).toBe(true);
    expect(await page.textContent('#status-text')).toBe('Searching…');
    expect(await page.getAttribute('#query', 'aria-busy')).toBe('true');
    await shot(page, 'desktop-loading');

    await page.setInputFiles('#file', queryFile('daisy'));
    const daisy = await apiUpload(queryFile('daisy'));
    await expect.poll(() => ids(page), WAIT).toEqual(daisy.ids);
    release();
    await delayedHandled;
    // whatever became of the delayed response, the page still shows the daisy query, everywhere
    await waitForResults(page, 12);
    expect(await ids(page)).toEqual(daisy.ids);
    expect(await page.textContent('#query-preview')).toMatch(/Images like daisy-image_0804\.jpg/);
    expect(new URL(page.url()).searchParams.get('upload')).toBe(daisy.upload);
    expect(errors).toEqual([]);
  }, 120_000);

  it('no view outlives its state: collection switch, errors, the disabled text box', async () => {
    const { page, errors } = await openPage(h, DESKTOP, '/?collection=colors');
    await page.fill('#text', 'red');
    await page.click('#text-button');
    await waitForResults(page, 12, { timeout: 60_000 });
    await page.selectOption('#collection', 'flowers');
    await expect.poll(() => page.isDisabled('#text'), WAIT).toBe(true);
    expect(await page.inputValue('#text')).toBe(''); // a disabled box keeps no text
    expect(await page.isVisible('#query-preview')).toBe(false);
    expect(await page.locator('#results .hit').count()).toBe(0);
    expect(await page.textContent('#status-text')).toBe('');
    expect(new URL(page.url()).search).toBe('?collection=flowers');

    // a file that is not an image: said at once, with its name and the accepted formats
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await expect.poll(() => page.textContent('#error'), WAIT).toBe('“notes.txt” is not an image (text/plain). Accepted formats: JPEG, PNG, WebP, GIF, TIFF, AVIF, HEIF.');
    // the error does not survive a collection switch
    await page.selectOption('#collection', 'colors');
    await expect.poll(() => page.isVisible('#error'), WAIT).toBe(false);

    // after an error, nothing of the search before it stays
    await page.fill('#text', 'red');
    await page.click('#text-button');
    await waitForResults(page, 12);
    await page.setInputFiles('#file', { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
    await expect.poll(() => page.isVisible('#error'), WAIT).toBe(true);
    expect(await page.textContent('#error')).toMatch(/“broken\.png”/);
    expect(await page.locator('#results .hit').count()).toBe(0);
    expect(await page.isVisible('#query-preview')).toBe(false);
    expect(await page.textContent('#status-text')).toBe('');
    expect(errors).toEqual([]);
  }, 120_000);

  it('the URL holds the whole query: Back/Forward restore it, and a shared link reproduces it in a new page', async () => {
    const { page, errors } = await openPage(h, DESKTOP);
    await page.fill('#k', '8');
    await page.press('#k', 'Enter');
    await page.setInputFiles('#file', queryFile('daisy'));
    await waitForResults(page, 8);
    const upload = new URL(page.url()).searchParams.get('upload');
    expect(new URL(page.url()).searchParams.get('k')).toBe('8');
    // a filter from the collection's metadata reruns the query
    await page.selectOption('#filters select[data-key="species"]', 'daisy');
    await expect.poll(() => new URL(page.url()).searchParams.get('f.species'), WAIT).toBe('daisy');
    await waitForResults(page, 8);
    expect(await page.$$eval('#results .hit .chips', (els) => els.every((e) => e.textContent === 'species: daisy'))).toBe(true);
    const uploadIds = await ids(page);
    const uploadUrl = page.url();

    await page.click('#results .hit:nth-child(2) .thumb');
    await expect.poll(() => new URL(page.url()).searchParams.get('id'), WAIT).toBe(uploadIds[1]);
    await waitForResults(page);
    const idIds = await ids(page);
    expect(idIds).not.toEqual(uploadIds);

    await page.goBack();
    await expect.poll(() => ids(page), WAIT).toEqual(uploadIds);
    expect(new URL(page.url()).searchParams.get('upload')).toBe(upload);
    expect(await page.textContent('#query-preview')).toMatch(/Images like daisy-image_0804\.jpg/);
    await page.goForward();
    await expect.poll(() => ids(page), WAIT).toEqual(idIds);
    expect(await page.inputValue('#filters select[data-key="species"]')).toBe('daisy');

    // the detail view is in the URL too: Back closes it
    await page.click('#results .hit:nth-child(1) .details');
    await page.waitForSelector('#detail[open]', WAIT);
    expect(new URL(page.url()).searchParams.get('item')).toBe(idIds[0]);
    await page.goBack();
    await expect.poll(() => page.isVisible('#detail'), WAIT).toBe(false);
    expect(await ids(page)).toEqual(idIds);

    // shared links, opened in fresh pages: the same results, controls and preview
    const shared = await openPage(h, DESKTOP, new URL(page.url()).search);
    await expect.poll(() => ids(shared.page), WAIT).toEqual(idIds);
    expect(await shared.page.inputValue('#k')).toBe('8');
    expect(await shared.page.inputValue('#filters select[data-key="species"]')).toBe('daisy');
    expect(await shared.page.textContent('#query-preview')).toMatch(/More like this: daisy\/image_\d+\.jpg/);
    const sharedUpload = await openPage(h, DESKTOP, new URL(uploadUrl).search);
    await expect.poll(() => ids(sharedUpload.page), WAIT).toEqual(uploadIds);
    await expect.poll(() => sharedUpload.page.$eval('#query-preview img', (img) => (img as HTMLImageElement).naturalWidth), WAIT).toBeGreaterThan(0);
    expect([...errors, ...shared.errors, ...sharedUpload.errors]).toEqual([]);
  }, 180_000);

  it('paging up to the server limit, stated; k beyond it refused (not clamped); changing k reruns', async () => {
    const { page, errors } = await openPage(h, DESKTOP);
    expect(await page.getAttribute('#k', 'max')).toBe(String(MAX_K));
    await page.setInputFiles('#file', queryFile('sunflower'));
    await waitForResults(page, 12);
    expect(await page.textContent('#more')).toBe('Load 12 more');
    await page.click('#more');
    await waitForResults(page, MAX_K);
    expect(await page.isVisible('#more')).toBe(false);
    expect(await page.textContent('#more-note')).toBe(`These are the best ${MAX_K}: this server ranks at most ${MAX_K} results for one query.`);
    const before = page.url();

    await page.fill('#k', String(MAX_K + 5));
    await page.press('#k', 'Enter');
    await expect.poll(() => page.textContent('#k-note'), WAIT).toBe(`Results per page must be a whole number from 1 to ${MAX_K} (this server's limit).`);
    expect(await page.getAttribute('#k', 'aria-invalid')).toBe('true');
    expect(await page.inputValue('#k')).toBe(String(MAX_K + 5)); // left as typed, not clamped
    expect(page.url()).toBe(before);
    expect(await page.locator('#results .hit').count()).toBe(MAX_K);

    await page.fill('#k', '6');
    await page.press('#k', 'Enter');
    await waitForResults(page, 6);
    expect(new URL(page.url()).searchParams.get('k')).toBe('6');
    expect(await page.getAttribute('#k', 'aria-invalid')).toBe('false');
    expect(errors).toEqual([]);
  }, 120_000);

  it('zero results suggest what to change; filters are selects built from the metadata endpoint', async () => {
    const { page, errors } = await openPage(h, DESKTOP);
    await expect.poll(() => page.locator('#filters select[data-key="species"] option').count(), WAIT).toBe(13);
    expect(await page.textContent('#filters label')).toMatch(/^species any/);
    await page.selectOption('#filters select[data-key="species"]', 'iris');
    await page.fill('#min-score', '0.9999');
    await page.press('#min-score', 'Enter');
    await page.setInputFiles('#file', queryFile('daisy'));
    await expect.poll(() => page.textContent('#status-text'), WAIT).toBe('No results');
    expect(await page.isVisible('#empty')).toBe(true);
    const tips = (await page.textContent('#empty'))!;
    expect(tips).toContain('Nothing scored 0.9999 or more');
    expect(tips).toContain('Remove the filter species = iris');
    await shot(page, 'desktop-no-results');

    await page.click('#empty button[data-action="remove-filter"]');
    await expect.poll(() => new URL(page.url()).searchParams.get('f.species'), WAIT).toBeNull();
    await expect.poll(() => page.textContent('#status-text'), WAIT).toBe('No results');
    await page.click('#empty button[data-action="clear-min"]');
    await waitForResults(page, 12);
    expect(await page.inputValue('#min-score')).toBe('');
    expect(await page.isVisible('#empty')).toBe(false);
    expect(errors).toEqual([]);
  }, 120_000);
});
