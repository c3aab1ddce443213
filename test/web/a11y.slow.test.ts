/// <reference lib="dom" />
/**
 * SLOW (end-to-end): the web page by keyboard alone (Tab, Enter, Space, Escape; visible focus), paste and drop an
 * image, the first-run page of an empty store and of an empty collection, links that name a collection that does
 * not exist — with axe-core (serious and critical rules) in the same browser, at 1400×900, 390×844 and 320 px.
 */
import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DESKTOP,
  expectAxeClean,
  flowersAndColors,
  expectNoHorizontalOverflow,
  expectVisibleFocus,
  FIRST_TEXT_QUERY,
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

/** Hand the page an image the way the browser does for Ctrl+V (`paste`) or a drag and drop (`drop`). */
async function handImage(page: Page, how: 'paste' | 'drop', file: string, name: string): Promise<void> {
  await page.evaluate(
    ({ b64, how, name }) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: 'image/jpeg' }));
      if (how === 'paste') document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      else document.querySelector('#drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    },
    { b64: fs.readFileSync(file).toString('base64'), how, name },
  );
}

describe('web page: keyboard, paste, first run, accessibility in Chromium (slow)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(
      flowersAndColors('color-histogram', async (db) => {
        await db.collection('empty', { model: 'color-histogram' });
      }),
      { defaultCollection: 'flowers' },
    );
  }, 240_000);

  afterAll(async () => {
    await h?.close();
  });

  it('keyboard only: the drop zone opens the picker with Enter and Space; tiles give "more like this" and the detail view', async () => {
    const { page, errors } = await openPage(h, DESKTOP);
    // (a file chooser listener is set before the key is pressed: Playwright turns interception on asynchronously)
    let chooser = page.waitForEvent('filechooser', WAIT);
    await tabTo(page, '#drop');
    await expectVisibleFocus(page);
    await page.keyboard.press('Enter');
    await (await chooser).setFiles(queryFile('daisy'));
    await waitForResults(page, 12);
    chooser = page.waitForEvent('filechooser', WAIT);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('drop');
    await page.keyboard.press('Space');
    await (await chooser).setFiles(queryFile('bluebell'));
    await expect.poll(() => page.textContent('#query-preview'), WAIT).toMatch(/Images like bluebell/);
    await waitForResults(page, 12);

    // the first tile: focusable, visibly; Enter = more like this
    const firstId = (await ids(page))[0]!;
    await tabTo(page, '#results .hit .thumb');
    await expectVisibleFocus(page);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toMatch(/^More like this: bluebell\/image_\d+\.jpg \(species: bluebell\)$/);
    await shot(page, 'keyboard-focus');
    await page.keyboard.press('Enter');
    await expect.poll(() => new URL(page.url()).searchParams.get('id'), WAIT).toBe(firstId);
    await waitForResults(page, 12);

    // Details by keyboard; the dialog takes the focus; Escape closes it and gives the focus back
    await tabTo(page, '#results .hit .details');
    const detailsOf = await page.evaluate(() => (document.activeElement!.closest('.hit') as HTMLElement).dataset.id);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#detail[open]', WAIT);
    expect(await page.evaluate(() => document.querySelector('#detail')!.contains(document.activeElement))).toBe(true);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.isVisible('#detail'), WAIT).toBe(false);
    expect(await page.evaluate(() => (document.activeElement?.closest('.hit') as HTMLElement | null)?.dataset.id)).toBe(detailsOf);

    // load more by keyboard
    await tabTo(page, '#more', 80);
    await page.keyboard.press('Enter');
    await waitForResults(page, 24);

    // the collection by keyboard, then a text query typed and sent with Enter
    const text = await openPage(h, DESKTOP);
    await tabTo(text.page, '#collection');
    await text.page.keyboard.press('Home'); // the first of colors, empty, flowers
    await expect.poll(() => text.page.inputValue('#collection'), WAIT).toBe('colors');
    await expect.poll(() => text.page.isDisabled('#text'), WAIT).toBe(false);
    await tabTo(text.page, '#text');
    await text.page.keyboard.type('yellow');
    await text.page.keyboard.press('Enter');
    await waitForResults(text.page, 12, FIRST_TEXT_QUERY);
    expect([...errors, ...text.errors]).toEqual([]);
  }, 180_000);

  it('paste an image (Ctrl+V) or drop one to search with it; pasted text stays text', async () => {
    const { page, errors } = await openPage(h, DESKTOP);
    await handImage(page, 'paste', queryFile('sunflower'), 'pasted.jpg');
    await expect.poll(() => page.textContent('#query-preview'), WAIT).toMatch(/Images like pasted\.jpg/);
    await waitForResults(page, 12);
    await handImage(page, 'drop', queryFile('daisy'), 'dropped.jpg');
    await expect.poll(() => page.textContent('#query-preview'), WAIT).toMatch(/Images like dropped\.jpg/);
    await waitForResults(page, 12);
    // pasting text starts no search and is not swallowed (a search would start inside the event: checked right after it)
    const afterText = await page.evaluate(() => {
      const before = location.search;
      const dt = new DataTransfer();
      dt.setData('text/plain', 'a yellow flower');
      const e = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
      document.dispatchEvent(e);
      return { prevented: e.defaultPrevented, sameUrl: location.search === before, status: document.querySelector('#status-text')!.textContent };
    });
    expect(afterText).toEqual({ prevented: false, sameUrl: true, status: expect.stringMatching(/^12 results/) });
    expect(errors).toEqual([]);
  }, 120_000);

  it('an empty collection and a link to a missing one say what to do; axe finds nothing serious', async () => {
    const { page, errors } = await openPage(h, PHONE, '/?collection=empty');
    await expect.poll(() => page.isVisible('#first-run'), WAIT).toBe(true);
    expect(await page.textContent('#first-run')).toContain('Collection “empty” is empty');
    expect(await page.textContent('#first-run-command')).toContain('lookalike index ./photos --db <store> --collection empty');
    expect(await page.getAttribute('#drop', 'aria-disabled')).toBe('true');
    await expectAxeClean(page);
    await expectNoHorizontalOverflow(page);

    const missing = await openPage(h, DESKTOP, '/?collection=zzz&text=red');
    await expect.poll(() => missing.page.textContent('#notice'), WAIT).toBe('There is no collection “zzz” on this server; showing “flowers”.');
    expect(await missing.page.inputValue('#collection')).toBe('flowers');
    expect(new URL(missing.page.url()).search).toBe('?collection=flowers');
    expect([...errors, ...missing.errors]).toEqual([]);
  }, 120_000);

  it('an empty store shows a first-run page, at every width, and refuses uploads with a helpful message', async () => {
    const empty = await startHarness(async () => undefined, { defaultCollection: 'nope' });
    try {
      for (const [viewport, name] of [
        [DESKTOP, 'first-run'],
        [PHONE, 'first-run-phone'],
        [NARROW, 'first-run-320'],
      ] as const) {
        const { page, errors } = await openPage(empty, viewport);
        await expect.poll(() => page.isVisible('#first-run'), WAIT).toBe(true);
        expect(await page.textContent('#first-run')).toContain('This server has no collections yet');
        expect(await page.textContent('#notice')).toBe("The server's default collection “nope” does not exist.");
        expect(await page.isVisible('#query')).toBe(false);
        await expectNoHorizontalOverflow(page);
        await expectAxeClean(page);
        await shot(page, name);
        await handImage(page, 'paste', queryFile('daisy'), 'pasted.jpg');
        await expect.poll(() => page.textContent('#error'), WAIT).toBe('There is nothing to search yet: index some images first (see above).');
        expect(errors).toEqual([]);
      }
    } finally {
      await empty.close();
    }
  }, 120_000);
});
