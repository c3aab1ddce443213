/// <reference lib="dom" />
/**
 * SLOW (end-to-end): compositional queries in the web page, in Chromium (issue 13 §1, issue 12): 👍/👎 on hits
 * (mouse and keyboard), the query's terms as chips with their weights (Rocchio defaults from /v1/limits, edited
 * weights), the strategy, text + image together, folding near-duplicates, search with a region of an item from the
 * detail view, and the API key field of a server that needs a key for reads. Every query is checked against what
 * the API answers for the same request; the URL holds it all (Back/Forward). Screenshots: test-artifacts/web-*.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES, tmpDir } from '../helpers.js';
import {
  DESKTOP,
  expectAxeClean,
  expectNoHorizontalOverflow,
  expectVisibleFocus,
  FIRST_TEXT_QUERY,
  flowersAndColors,
  ids,
  NARROW,
  openPage,
  PHONE,
  queryFile,
  shot,
  startHarness,
  tabTo,
  WAIT,
  waitForResults,
  type Harness,
} from './harness.js';

interface Weights {
  alpha: number;
  beta: number;
  gamma: number;
}

const terms = (page: Page): Promise<string[]> => page.evaluate(() => new URL(location.href).searchParams.getAll('t'));
const chipCount = (page: Page, sel = '#term-list li'): Promise<number> => page.locator(sel).count();
const weights = (page: Page): Promise<string[]> => page.$$eval('#term-list .weight', (els) => els.map((e) => (e as HTMLInputElement).value));

describe('web page: feedback, compositional queries, regions, API key (slow)', () => {
  let h: Harness;
  let w: Weights;

  beforeAll(async () => {
    h = await startHarness(
      flowersAndColors('mobilenet-v1', async (db) => {
        // near-duplicates: eight daisies, each also re-encoded at a lower JPEG quality (other bytes, the same picture)
        const dir = tmpDir('lookalike-dups-');
        const daisies = fs.readdirSync(path.join(SAMPLES, 'daisy')).slice(0, 8);
        for (const f of daisies) {
          fs.copyFileSync(path.join(SAMPLES, 'daisy', f), path.join(dir, f));
          await sharp(path.join(SAMPLES, 'daisy', f)).jpeg({ quality: 70 }).toFile(path.join(dir, `copy-${f}`));
        }
        const dups = await db.collection('dups', { model: 'color-histogram' });
        await dups.indexFolder(dir);
      }),
      { defaultCollection: 'flowers' },
    );
    w = ((await (await fetch(`${h.base}/v1/limits`)).json()) as { feedbackWeights: Weights }).feedbackWeights;
  }, 300_000);

  afterAll(async () => {
    await h?.close();
  });

  async function api(body: Record<string, unknown>, collection = 'flowers'): Promise<string[]> {
    const r = await fetch(`${h.base}/v1/collections/${collection}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.status).toBe(200);
    return ((await r.json()) as { results: { id: string }[] }).results.map((x) => x.id);
  }

  it('1400×900: 👍 two hits and 👎 one, search again: they are gone, the chips show them with Rocchio weights, the URL holds them, Back restores', async () => {
    const { page, errors } = await openPage(h, DESKTOP);
    await page.setInputFiles('#file', queryFile('daisy'));
    await waitForResults(page, 12);
    const before = await ids(page);
    const upload = new URL(page.url()).searchParams.get('upload')!;
    expect(await chipCount(page)).toBe(1); // the uploaded image, the first term
    expect(await page.getAttribute('#term-list .term-remove', 'aria-label')).toBe('Remove daisy-image_0804.jpg: clear the search');

    const species = await page.$$eval('#results .hit', (els) => els.map((e) => e.querySelector('.chips')?.textContent ?? ''));
    const liked = [before[0]!, before[1]!];
    let d = species.findIndex((t, i) => i >= 2 && !t.includes('species: daisy'));
    if (d < 0) d = 11;
    const disliked = before[d]!;
    const mark = (id: string, kind: 'like' | 'dislike') => `#results .hit[data-id="${id}"] .mark.${kind}`;
    expect(await page.getAttribute(mark(liked[0]!, 'like'), 'aria-label')).toMatch(/^Like daisy\/image_\d+\.jpg$/);
    await page.click(mark(liked[0]!, 'like'));
    await page.click(mark(liked[1]!, 'like'));
    await page.click(mark(disliked, 'dislike'));
    for (const [id, kind] of [
      [liked[0]!, 'like'],
      [liked[1]!, 'like'],
      [disliked, 'dislike'],
    ] as const) {
      expect(await page.getAttribute(mark(id, kind), 'aria-pressed')).toBe('true');
    }
    expect(await page.getAttribute(mark(liked[0]!, 'dislike'), 'aria-pressed')).toBe('false');
    // marks are not searched yet: the bar says so, the chips show them dashed, nothing was asked of the server
    expect(await page.textContent('#marks-text')).toBe('2 liked · 1 disliked, not searched yet');
    expect(await chipCount(page, '#term-list li.pending')).toBe(3);
    expect(await weights(page)).toEqual([w.alpha, w.beta / 2, w.beta / 2, w.gamma].map((x) => String(Number(x.toFixed(2)))));
    expect(await terms(page)).toEqual([]);
    expect(await ids(page)).toEqual(before);
    await expectAxeClean(page);
    await shot(page, 'feedback-marked');

    await page.click('#apply');
    await expect.poll(() => terms(page), WAIT).toEqual([`+id:${liked[0]}`, `+id:${liked[1]}`, `-id:${disliked}`]);
    await waitForResults(page, 12);
    const after = await ids(page);
    for (const id of [...liked, disliked]) expect(after).not.toContain(id);
    expect(after).not.toEqual(before);
    const rocchio = { positive: [{ upload, weight: w.alpha }, { id: liked[0], weight: w.beta / 2 }, { id: liked[1], weight: w.beta / 2 }], negative: [{ id: disliked, weight: w.gamma }] };
    expect(after).toEqual(await api({ ...rocchio, strategy: 'average', k: 12 }));
    expect(await chipCount(page)).toBe(4);
    expect(await chipCount(page, '#term-list li:not(.first)')).toBe(3);
    expect(await chipCount(page, '#term-list li.pending')).toBe(0);
    expect(await chipCount(page, '#term-list li.neg')).toBe(1);
    expect(await page.isVisible('#marks')).toBe(false);
    expect(await page.textContent('#query-preview')).toMatch(/Images like daisy-image_0804\.jpg and 3 more terms · 12 results/);
    await expectAxeClean(page);
    await shot(page, 'feedback-results');

    // a weight edited by hand: kept in the URL, searched with
    await page.fill('#term-list li.neg .weight', '4');
    await page.press('#term-list li.neg .weight', 'Enter');
    await expect.poll(() => terms(page), WAIT).toEqual([`+id:${liked[0]}`, `+id:${liked[1]}`, `-id*4:${disliked}`]);
    await waitForResults(page, 12);
    const edited = await ids(page);
    expect(edited).toEqual(await api({ ...rocchio, negative: [{ id: disliked, weight: 4 }], strategy: 'average', k: 12 }));
    expect(await page.getAttribute('#term-list li.neg .weight', 'aria-label')).toMatch(/^Weight of daisy|^Weight of /);
    expect(await page.evaluate(() => document.activeElement?.classList.contains('weight'))).toBe(true); // the focus stays
    await shot(page, 'chips-weights');

    // the strategy: best-score (every term weighs 1 unless edited)
    await page.selectOption('#strategy', 'best-score');
    await expect.poll(() => new URL(page.url()).searchParams.get('strategy'), WAIT).toBe('best-score');
    await waitForResults(page, 12);
    expect(await ids(page)).toEqual(
      await api({ positive: [{ upload, weight: 1 }, { id: liked[0], weight: 1 }, { id: liked[1], weight: 1 }], negative: [{ id: disliked, weight: 4 }], strategy: 'best-score', k: 12 }),
    );

    // Back/Forward walk the searches: the edited weight, the three marks, the upload alone
    await page.goBack();
    await expect.poll(() => ids(page), WAIT).toEqual(edited);
    await page.goBack();
    await expect.poll(() => ids(page), WAIT).toEqual(after);
    expect(await weights(page)).toEqual([w.alpha, w.beta / 2, w.beta / 2, w.gamma].map((x) => String(Number(x.toFixed(2)))));
    await page.goBack();
    await expect.poll(() => ids(page), WAIT).toEqual(before);
    expect(await terms(page)).toEqual([]);
    expect(await chipCount(page)).toBe(1);
    await page.goForward();
    await expect.poll(() => ids(page), WAIT).toEqual(after);
    expect(await chipCount(page)).toBe(4);

    // a shared link reproduces the composite query
    const shared = await openPage(h, DESKTOP, new URL(page.url()).search);
    await expect.poll(() => ids(shared.page), WAIT).toEqual(after);
    await expect.poll(() => shared.page.textContent('#term-list'), WAIT).toMatch(/daisy\/image_\d+\.jpg/); // names fetched for the chips

    // removing a chip searches without it; removing the first term makes the first 👍 the query
    await page.click(`#term-list li.neg .term-remove`);
    await expect.poll(() => terms(page), WAIT).toEqual([`+id:${liked[0]}`, `+id:${liked[1]}`]);
    await waitForResults(page, 12);
    await page.click('#term-list li.first .term-remove');
    await expect.poll(() => new URL(page.url()).searchParams.get('id'), WAIT).toBe(liked[0]);
    expect(await terms(page)).toEqual([`+id:${liked[1]}`]);
    await waitForResults(page, 12);

    // a new search clears the terms
    await page.setInputFiles('#file', queryFile('sunflower'));
    await waitForResults(page, 12);
    expect(await terms(page)).toEqual([]);
    expect(await chipCount(page)).toBe(1);
    expect([...errors, ...shared.errors]).toEqual([]);
  }, 240_000);

  it('390×844 by keyboard alone: 👍 and 👎 with Space and Enter, "Search again" from the sticky bar; nothing overflows at 320 px', async () => {
    const { page, errors } = await openPage(h, PHONE);
    await page.setInputFiles('#file', queryFile('sunflower'));
    await waitForResults(page, 12);
    const before = await ids(page);
    await tabTo(page, '#results .hit .mark.like', 80);
    await expectVisibleFocus(page);
    await page.keyboard.press('Space');
    expect(await page.getAttribute(`#results .hit[data-id="${before[0]}"] .mark.like`, 'aria-pressed')).toBe('true');
    expect(await page.textContent('#marks-live')).toMatch(/^sunflower\/image_\d+\.jpg marked: more like this \(liked\)/);
    await tabTo(page, '#results .hit:nth-child(3) .mark.dislike', 80);
    await page.keyboard.press('Enter');
    expect(await page.getAttribute(`#results .hit[data-id="${before[2]}"] .mark.dislike`, 'aria-pressed')).toBe('true');
    await expectNoHorizontalOverflow(page);
    await expectAxeClean(page);
    // the marks bar stays in view at the bottom of the screen
    const bar = await page.$eval('#marks', (e) => e.getBoundingClientRect().bottom);
    expect(bar).toBeLessThanOrEqual(844);
    await page.screenshot({ path: path.join(path.dirname(await shot(page, 'phone-feedback-marked')), 'web-phone-feedback-marked-viewport.png') });

    await tabTo(page, '#apply', 80);
    await expectVisibleFocus(page);
    await page.keyboard.press('Enter');
    await expect.poll(() => terms(page), WAIT).toEqual([`+id:${before[0]}`, `-id:${before[2]}`]);
    await waitForResults(page, 12);
    expect(await ids(page)).not.toContain(before[0]);
    await expectNoHorizontalOverflow(page);
    await shot(page, 'phone-feedback-results');
    await page.setViewportSize(NARROW);
    await expect.poll(() => page.evaluate(() => document.documentElement.clientWidth), WAIT).toBe(320);
    await expectNoHorizontalOverflow(page);
    await shot(page, '320-feedback');
    expect(errors).toEqual([]);
  }, 120_000);

  it('text + image together on a CLIP collection: "Add to query" adds a text term, "New search" starts over', async () => {
    const { page, errors } = await openPage(h, DESKTOP, '/?collection=colors');
    expect(await page.isVisible('#text-add')).toBe(false); // nothing to add to yet
    await page.setInputFiles('#file', queryFile('daisy'));
    await waitForResults(page, 12);
    const upload = new URL(page.url()).searchParams.get('upload')!;
    expect(await page.isVisible('#text-add')).toBe(true);
    expect(await page.textContent('#text-button')).toBe('New search');
    await page.fill('#text', 'red');
    await page.click('#text-add');
    await expect.poll(() => terms(page), WAIT).toEqual(['+text:red']);
    await waitForResults(page, 12, FIRST_TEXT_QUERY);
    expect(await page.textContent('#term-list')).toContain('“red”');
    expect(await page.inputValue('#text')).toBe('');
    expect(await ids(page)).toEqual(await api({ positive: [{ upload, weight: w.alpha }, { text: 'red', weight: w.alpha }], strategy: 'average', k: 12 }, 'colors'));
    await expectAxeClean(page);
    await shot(page, 'text-and-image');

    await page.fill('#text', 'blue');
    await page.press('#text', 'Enter'); // Enter: a new search
    await expect.poll(() => new URL(page.url()).searchParams.get('text'), WAIT).toBe('blue');
    expect(await terms(page)).toEqual([]);
    expect(new URL(page.url()).searchParams.get('upload')).toBeNull();
    await waitForResults(page, 12);
    expect(errors).toEqual([]);
  }, 120_000);

  it('fold near-duplicates: one hit per picture, "+1 similar" names the copy folded into it', async () => {
    const { page, errors } = await openPage(h, DESKTOP, '/?collection=dups');
    await page.setInputFiles('#file', path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!));
    await waitForResults(page, 12);
    expect(await page.locator('#results .folded').count()).toBe(0);
    const upload = new URL(page.url()).searchParams.get('upload')!;
    await page.check('#fold');
    await expect.poll(() => new URL(page.url()).searchParams.get('fold'), WAIT).toBe('1');
    await waitForResults(page);
    const shown = await ids(page);
    expect(shown).toEqual(await api({ upload, k: 12, collapse: 0.97 }, 'dups'));
    expect(shown.length).toBeLessThanOrEqual(8); // 16 images, 8 pictures
    await expect.poll(() => page.locator('#results .folded summary').first().textContent(), WAIT).toBe('+1 similar');
    await page.click('#results .folded summary');
    expect(await page.textContent('#results .folded ul')).toMatch(/image_\d+\.jpg \(0\.9\d\d\)|image_\d+\.jpg \(1\.000\)/);
    await expectAxeClean(page);
    await shot(page, 'fold');
    expect(errors).toEqual([]);
  }, 120_000);

  it('search with a region: drawn with the mouse on the detail view, or chosen by keyboard', async () => {
    const { page, errors } = await openPage(h, DESKTOP);
    await page.setInputFiles('#file', queryFile('daisy'));
    await waitForResults(page, 12);
    const id = (await ids(page))[0]!;
    await page.click('#results .hit:nth-child(1) .details');
    await page.waitForSelector('#detail[open]', WAIT);
    await expect.poll(() => page.$eval('#detail-img', (img) => (img as HTMLImageElement).naturalWidth), WAIT).toBeGreaterThan(100);
    expect(await page.getAttribute('#region-search', 'aria-disabled')).toBe('true');
    const box = (await page.$eval('#detail-img', (e) => {
      const r = e.getBoundingClientRect();
      return { x: r.left, y: r.top, w: r.width, h: r.height };
    }))!;
    await page.mouse.move(box.x + box.w * 0.2, box.y + box.h * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.w * 0.5, box.y + box.h * 0.5, { steps: 4 });
    await page.mouse.move(box.x + box.w * 0.7, box.y + box.h * 0.8, { steps: 4 });
    await page.mouse.up();
    expect(await page.isVisible('#region-box')).toBe(true);
    const pct = async () => Promise.all(['x', 'y', 'w', 'h'].map(async (k) => Math.round(Number(await page.inputValue(`#region-${k}`)))));
    expect(await pct()).toEqual([20, 30, 50, 50]);
    expect(await page.getAttribute('#region-search', 'aria-disabled')).toBe('false');
    await expectAxeClean(page);
    await shot(page, 'region-select');
    await page.click('#region-search');
    await expect.poll(() => new URL(page.url()).searchParams.get('crop'), WAIT).toMatch(/^0\.2\d*,0\.3\d*,0\.[45]\d*,0\.[45]\d*$/);
    expect(new URL(page.url()).searchParams.get('id')).toBe(id);
    await waitForResults(page, 12);
    const [x, y, cw, ch] = new URL(page.url()).searchParams.get('crop')!.split(',').map(Number) as [number, number, number, number];
    expect(await ids(page)).toEqual(await api({ id, crop: { x, y, w: cw, h: ch }, k: 12 }));
    expect(await page.textContent('#query-preview')).toMatch(/More like this region of daisy\/image_\d+\.jpg/);
    expect(await page.isVisible('#query-preview .crop-box')).toBe(true);
    await shot(page, 'region-results');

    // by keyboard: a preset, then a width typed in percent
    await tabTo(page, '#results .hit .details', 80);
    const other = await page.evaluate(() => (document.activeElement!.closest('.hit') as HTMLElement).dataset.id!);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#detail[open]', WAIT);
    await tabTo(page, '#region-preset');
    await page.keyboard.press('ArrowDown'); // "centre"
    await expect.poll(pct, WAIT).toEqual([25, 25, 50, 50]);
    await tabTo(page, '#region-w');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('40');
    await tabTo(page, '#region-search');
    await page.keyboard.press('Enter');
    await expect.poll(() => new URL(page.url()).searchParams.get('crop'), WAIT).toBe('0.25,0.25,0.4,0.5');
    expect(new URL(page.url()).searchParams.get('id')).toBe(other);
    await waitForResults(page, 12);

    // a region of the uploaded query image, from its preview
    await page.setInputFiles('#file', queryFile('sunflower'));
    await waitForResults(page, 12);
    const upload = new URL(page.url()).searchParams.get('upload')!;
    await page.click('#query-region');
    await page.waitForSelector('#detail[open]', WAIT);
    expect(await page.textContent('#detail-title')).toBe('Your query image: sunflower-image_0723.jpg');
    expect(await page.isVisible('#detail-more')).toBe(false);
    await expect.poll(() => page.$eval('#detail-img', (img) => (img as HTMLImageElement).naturalWidth), WAIT).toBeGreaterThan(100);
    await page.selectOption('#region-preset', 'top-left');
    await expectAxeClean(page);
    await shot(page, 'region-upload');
    await page.click('#region-search');
    await expect.poll(() => new URL(page.url()).searchParams.get('crop'), WAIT).toBe('0,0,0.5,0.5');
    expect(new URL(page.url()).searchParams.get('upload')).toBe(upload);
    await waitForResults(page, 12);
    expect(await ids(page)).toEqual(await api({ upload, crop: { x: 0, y: 0, w: 0.5, h: 0.5 }, k: 12 }));
    expect(await page.textContent('#query-preview')).toMatch(/Images like a region of sunflower-image_0723\.jpg/);
    await page.goBack(); // the whole image again
    await expect.poll(() => new URL(page.url()).searchParams.get('crop'), WAIT).toBeNull();
    await waitForResults(page, 12);
    expect(errors).toEqual([]);
  }, 120_000);

  it('a server that needs the API key for reads: the page asks for it, says when it is wrong, keeps it in the tab only', async () => {
    const KEY = 'open-sesame-4711';
    const locked = await startHarness(
      async (db) => {
        const flowers = await db.collection('flowers', { model: 'color-histogram' });
        await flowers.indexFolder(SAMPLES, { folderLabelKey: 'species' });
      },
      { defaultCollection: 'flowers', apiKey: KEY, apiKeyRequiredFor: 'reads' },
    );
    try {
      const { page, errors, requests } = await openPage(locked, DESKTOP);
      await expect.poll(() => page.isVisible('#key'), WAIT).toBe(true);
      expect(await page.evaluate(() => document.documentElement.dataset.boot)).toBe('key');
      expect(await page.isVisible('#query')).toBe(false);
      expect(await page.isVisible('#key-error')).toBe(false);
      await expectAxeClean(page);
      await shot(page, 'key-field');

      await page.fill('#key-input', 'not-the-key');
      await page.press('#key-input', 'Enter');
      await expect.poll(() => page.textContent('#key-error'), WAIT).toBe('The server did not accept this key: check it and try again.');
      expect(await page.getAttribute('#key-input', 'aria-invalid')).toBe('true');
      await expectAxeClean(page);
      await shot(page, 'key-wrong');

      await page.fill('#key-input', KEY);
      await page.click('#key-form button[type="submit"]');
      await expect.poll(() => page.evaluate(() => document.documentElement.dataset.boot), WAIT).toBe('ready');
      await expect.poll(() => page.textContent('#info'), WAIT).toContain('96 images');
      await page.setInputFiles('#file', queryFile('daisy'));
      await waitForResults(page, 12);
      // thumbnails come with the key too (fetched, shown from blob URLs)
      await expect.poll(() => page.$$eval('#results .hit img', (els) => els.every((i) => (i as HTMLImageElement).naturalWidth > 0)), WAIT).toBe(true);
      await page.click('#results .hit:nth-child(1) .details');
      await expect.poll(() => page.$eval('#detail-img', (img) => (img as HTMLImageElement).naturalWidth), WAIT).toBeGreaterThan(100);
      await page.keyboard.press('Escape');
      expect(await page.isVisible('#key-forget')).toBe(true);
      await shot(page, 'key-results');
      // never in the address, never in a request URL; kept for this tab
      expect(page.url()).not.toContain(KEY);
      expect(requests.filter((u) => u.includes(KEY))).toEqual([]);
      expect(await page.evaluate(() => sessionStorage.getItem('lookalike.apiKey'))).toBe(KEY);
      await page.reload();
      await waitForResults(page, 12);

      // forgetting it asks again
      await page.click('#key-forget');
      await expect.poll(() => page.isVisible('#key'), WAIT).toBe(true);
      expect(await page.isVisible('#key-error')).toBe(false);
      expect(errors).toEqual([]);
    } finally {
      await locked.close();
    }
  }, 180_000);
});
