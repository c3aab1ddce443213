/// <reference lib="dom" />
/**
 * SLOW (end-to-end): tuning on the web page (issue 17) in Chromium: calibrated confidence on the result cards and in
 * the detail view, the min confidence control (collections with calibrated scores only), re-ranking, the combinations
 * the server refuses kept apart (and its 400 shown when a link holds one), all of it in the URL (Back/Forward, shared
 * links) and sent with JSON and multipart searches. Everything shown is checked against what the API answers for the
 * same request. Data: the sample flowers with color-histogram, whitened and calibrated (`flowers`), and the same
 * untuned (`plain`). Screenshots: test-artifacts/web-confidence-desktop.png and web-confidence-phone.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileId } from '../../src/ingest/folder.js';
import { SAMPLES } from '../helpers.js';
import { DESKTOP, expectAxeClean, expectNoHorizontalOverflow, ids, openPage, PHONE, queryFile, shot, startHarness, WAIT, waitForResults, type Harness } from './harness.js';

interface ApiHit {
  id: string;
  score: number;
  confidence?: number;
}

/** The page's short form of a confidence (state.ts `percentText`): rounded down, more decimals near 100 %. */
function percent(c: number): string {
  const digits = c >= 0.999 ? 2 : c >= 0.99 ? 1 : 0;
  const f = 10 ** digits;
  return `${String(Math.floor(c * 100 * f + 1e-6) / f)}\u00a0%`;
}

/** What the cards show: id, the confidence they carry and the short text next to the score. */
const cards = (page: Page) =>
  page.$$eval('#results .hit', (els) =>
    els.map((e) => {
      const score = e.querySelector<HTMLElement>('.score');
      return {
        id: (e as HTMLElement).dataset.id ?? '',
        score: score?.firstChild?.textContent ?? '',
        confidence: score?.dataset.confidence === undefined ? null : Number(score.dataset.confidence),
        short: score?.querySelector('.confidence')?.textContent ?? null,
        spoken: score?.querySelector('.visually-hidden')?.textContent ?? null,
      };
    }),
  );

const param = (page: Page, name: string): string | null => new URL(page.url()).searchParams.get(name);

describe('web page: calibrated confidence, min confidence, re-ranking (slow)', () => {
  let h: Harness;
  // the first dandelion: its best hits are above 99 % of random pairs, most of its first 12 are not
  const dandelion = path.join(SAMPLES, 'dandelion', fs.readdirSync(path.join(SAMPLES, 'dandelion')).sort()[0]!);
  const id = fileId(dandelion);
  const link = (collection: string, extra = ''): string => `/?collection=${collection}&id=${id}${extra}`;

  beforeAll(async () => {
    h = await startHarness(
      async (db) => {
        const flowers = await db.collection('flowers', { model: 'color-histogram' });
        await flowers.indexFolder(SAMPLES, { folderLabelKey: 'species' });
        await flowers.tune({ whiten: true, calibrate: true });
        const plain = await db.collection('plain', { model: 'color-histogram' });
        await plain.indexFolder(SAMPLES, { folderLabelKey: 'species' });
      },
      { defaultCollection: 'flowers' },
    );
  }, 240_000);

  afterAll(async () => {
    await h?.close();
  });

  async function api(body: Record<string, unknown>, collection = 'flowers'): Promise<ApiHit[]> {
    const r = await fetch(`${h.base}/v1/collections/${collection}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.status, await r.clone().text()).toBe(200);
    return ((await r.json()) as { results: ApiHit[] }).results;
  }

  /** The cards show exactly these hits, each with its confidence as the API gives it (or none). */
  async function expectCards(page: Page, hits: readonly ApiHit[]): Promise<void> {
    const shown = await cards(page);
    expect(shown.map((c) => c.id)).toEqual(hits.map((x) => x.id));
    shown.forEach((c, i) => {
      const hit = hits[i]!;
      expect(c.score).toBe(hit.score.toFixed(3));
      expect(c.confidence).toBe(hit.confidence ?? null);
      expect(c.short).toBe(hit.confidence === undefined ? null : ` · ${percent(hit.confidence)}`);
      if (hit.confidence !== undefined) expect(c.spoken).toBe(`, better than ${percent(hit.confidence)} of random pairs`);
    });
  }

  it('1400×900: confidence on cards and in the detail view; min confidence 99 %; re-rank aqe; refused pairs kept apart; Back/Forward and links restore both', async () => {
    const { page, errors } = await openPage(h, DESKTOP, link('flowers'));
    await waitForResults(page, 12);
    const plain = await api({ id, k: 12 });
    expect(plain.every((x) => typeof x.confidence === 'number')).toBe(true);
    await expectCards(page, plain);
    expect(await page.textContent('#confidence-note')).toMatch(/more similar than 99\.6\u00a0% of random pairs of images in this collection/);
    // the collection's scores are calibrated (learnt from its hits): the control shows, off
    await expect.poll(() => page.isVisible('#min-confidence'), WAIT).toBe(true);
    expect(await page.inputValue('#min-confidence')).toBe('');
    expect(await page.$$eval('#min-confidence option', (o) => o.map((x) => x.textContent))).toEqual(['off', '90\u00a0%', '99\u00a0%', '99.9\u00a0%']);
    expect(await page.inputValue('#rerank')).toBe('');
    expect(await page.isEnabled('#rerank')).toBe(true);
    expect(await page.isHidden('#rerank-note')).toBe(true);

    // the detail view: the raw score and what it means
    await page.click('#results .hit .details');
    await page.waitForSelector('#detail[open]', WAIT);
    const first = plain[0]!;
    const dd = page.locator('#detail-meta dd[data-confidence]');
    expect(Number(await dd.getAttribute('data-confidence'))).toBe(first.confidence);
    expect(await dd.textContent()).toBe(`${first.score.toFixed(4)} · better than ${percent(first.confidence!)} of random pairs`);
    await page.click('#detail-close');
    await expect.poll(() => page.isVisible('#detail'), WAIT).toBe(false);

    // min confidence 99 %: exactly the hits the API keeps with minConfidence 0.99
    await page.selectOption('#min-confidence', '0.99');
    await expect.poll(() => param(page, 'conf'), WAIT).toBe('0.99');
    const sure = await api({ id, k: 12, minConfidence: 0.99 });
    expect(sure.length).toBeGreaterThan(0);
    expect(sure.length).toBeLessThan(12); // the filter cut something
    await waitForResults(page, sure.length);
    await expectCards(page, sure);
    expect(sure.every((x) => x.confidence! >= 0.99)).toBe(true);
    // re-ranking cannot be combined with it: disabled, and the note says why
    expect(await page.isDisabled('#rerank')).toBe(true);
    expect(await page.textContent('#rerank-note')).toMatch(/Re-rank is unavailable with a min confidence: re-ranked scores are not calibrated/);
    expect(await page.getAttribute('#rerank', 'aria-describedby')).toBe('rerank-note');
    await expectAxeClean(page);
    await shot(page, 'confidence-desktop');

    // off again, then re-rank with average query expansion: the API's ranking for rerank "aqe"
    await page.selectOption('#min-confidence', '');
    await expect.poll(() => param(page, 'conf'), WAIT).toBe(null);
    await waitForResults(page, 12);
    await page.selectOption('#rerank', 'aqe');
    await expect.poll(() => param(page, 'rerank'), WAIT).toBe('aqe');
    await waitForResults(page, 12);
    const aqe = await api({ id, k: 12, rerank: 'aqe' });
    expect(aqe.map((x) => x.id)).not.toEqual(plain.map((x) => x.id)); // re-ranking changed the ranking: it was sent
    await expect.poll(() => ids(page), WAIT).toEqual(aqe.map((x) => x.id));
    await expectCards(page, aqe); // re-ranked scores carry no confidence
    expect(await page.getAttribute('#results .hit .score', 'title')).toBe('cosine similarity to the expanded query');
    // the min confidence and folding are refused with it: disabled, with the reason
    expect(await page.isDisabled('#min-confidence')).toBe(true);
    expect(await page.isDisabled('#fold')).toBe(true);
    expect(await page.textContent('#rerank-note')).toMatch(/While re-ranking, min confidence .* and folding near-duplicates are unavailable/);

    // Back: no re-ranking; Back: min confidence 99 % again; Forward twice: re-ranked again
    await page.goBack();
    await expect.poll(() => param(page, 'rerank'), WAIT).toBe(null);
    await waitForResults(page, 12);
    expect(await page.inputValue('#rerank')).toBe('');
    await page.goBack();
    await expect.poll(() => param(page, 'conf'), WAIT).toBe('0.99');
    await waitForResults(page, sure.length);
    expect(await page.inputValue('#min-confidence')).toBe('0.99');
    await expectCards(page, sure);
    await page.goForward();
    await page.goForward();
    await expect.poll(() => param(page, 'rerank'), WAIT).toBe('aqe');
    await waitForResults(page, 12);
    expect(await page.inputValue('#rerank')).toBe('aqe');
    await expect.poll(() => ids(page), WAIT).toEqual(aqe.map((x) => x.id));
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('shared links restore each; one that holds both shows the server’s 400 in the page’s error style', async () => {
    const conf = await openPage(h, DESKTOP, link('flowers', '&conf=0.99'));
    await waitForResults(conf.page);
    expect(await conf.page.isVisible('#min-confidence')).toBe(true);
    expect(await conf.page.inputValue('#min-confidence')).toBe('0.99');
    await expectCards(conf.page, await api({ id, k: 12, minConfidence: 0.99 }));
    await conf.page.context().close();

    const rr = await openPage(h, DESKTOP, link('flowers', '&rerank=aqe'));
    await waitForResults(rr.page, 12);
    expect(await rr.page.inputValue('#rerank')).toBe('aqe');
    await expectCards(rr.page, await api({ id, k: 12, rerank: 'aqe' }));
    await rr.page.context().close();

    // a link with both: the server refuses, the page says what it answered; both controls stay usable to fix it
    const both = await openPage(h, DESKTOP, link('flowers', '&rerank=aqe&conf=0.99'));
    await expect.poll(() => both.page.isVisible('#error'), WAIT).toBe(true);
    expect(await both.page.textContent('#error')).toMatch(/minConfidence cannot be combined with rerank.*\(INVALID_ARGUMENT\)/);
    expect(await both.page.getAttribute('#error', 'role')).toBe('alert');
    expect(await both.page.isEnabled('#rerank')).toBe(true);
    expect(await both.page.isEnabled('#min-confidence')).toBe(true);
    expect(await both.page.textContent('#rerank-note')).toBe('Re-ranking cannot be combined with a min confidence: turn one of them off.');
    await shot(both.page, 'confidence-refused');
    await both.page.selectOption('#rerank', '');
    await expect.poll(() => both.page.isVisible('#error'), WAIT).toBe(false);
    await waitForResults(both.page);
    await expectCards(both.page, await api({ id, k: 12, minConfidence: 0.99 }));
    await both.page.context().close();

    // nothing that sure: the empty state says so and offers to search without it
    expect(await api({ id, k: 12, minConfidence: 0.999 })).toEqual([]);
    const none = await openPage(h, DESKTOP, link('flowers', '&conf=0.999'));
    await expect.poll(() => none.page.isVisible('#empty'), WAIT).toBe(true);
    expect(await none.page.textContent('#empty')).toContain('Nothing is more similar than 99.9\u00a0% of random pairs of this collection.');
    await none.page.click('#empty button[data-action="clear-confidence"]');
    await expect.poll(() => param(none.page, 'conf'), WAIT).toBe(null);
    await waitForResults(none.page, 12);
    expect([...conf.errors, ...rr.errors, ...both.errors, ...none.errors]).toEqual([]);
    await none.page.context().close();
  });

  it('multipart: an uploaded image is searched with the re-ranking and the min confidence', async () => {
    const { page, errors } = await openPage(h, DESKTOP, link('flowers', '&rerank=aqe'));
    await waitForResults(page, 12);
    // the multipart forms the page sends (their text fields; Chromium does not hand the tool a body with a file)
    await page.evaluate(() => {
      const w = window as unknown as { forms: Record<string, string>[] };
      w.forms = [];
      const send = window.fetch.bind(window);
      window.fetch = (input, init) => {
        if (init?.body instanceof FormData) w.forms.push(Object.fromEntries([...init.body].filter((e): e is [string, string] => typeof e[1] === 'string')));
        return send(input, init);
      };
    });
    const forms = (): Promise<Record<string, string>[]> => page.evaluate(() => (window as unknown as { forms: Record<string, string>[] }).forms);
    await page.setInputFiles('#file', queryFile('daisy'));
    await expect.poll(() => param(page, 'upload'), WAIT).toMatch(/^[0-9a-f]+$/);
    await waitForResults(page, 12);
    expect(await forms()).toEqual([{ k: '12', rerank: 'aqe' }]);
    const upload = param(page, 'upload')!;
    expect(param(page, 'rerank')).toBe('aqe');
    await expectCards(page, await api({ upload, k: 12, rerank: 'aqe' }));

    // the same with a min confidence instead (90 %: a calibrated multipart search)
    await page.selectOption('#rerank', '');
    await waitForResults(page, 12);
    await page.selectOption('#min-confidence', '0.9');
    await expect.poll(() => param(page, 'conf'), WAIT).toBe('0.9');
    const kept = await api({ upload, k: 12, minConfidence: 0.9 });
    await waitForResults(page, kept.length);
    await expectCards(page, kept);
    await page.setInputFiles('#file', queryFile('daisy'));
    await expect.poll(forms, WAIT).toHaveLength(2);
    expect((await forms())[1]).toEqual({ k: '12', minConfidence: '0.9' });
    await waitForResults(page, kept.length);
    await expectCards(page, kept);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('an untuned collection: no confidence control, no confidence on cards; switching to it drops the min confidence', async () => {
    const { page, errors } = await openPage(h, DESKTOP, link('plain'));
    await waitForResults(page, 12);
    await expectCards(page, await api({ id, k: 12 }, 'plain'));
    expect(await page.locator('#results .hit .confidence').count()).toBe(0);
    expect(await page.isHidden('#confidence-note')).toBe(true);
    expect(await page.isHidden('#min-confidence-label')).toBe(true);
    expect(await page.isEnabled('#rerank')).toBe(true);
    await page.context().close();

    // from the calibrated collection with 99 %: the untuned one is searched without it
    const from = await openPage(h, DESKTOP, link('flowers', '&conf=0.99'));
    await waitForResults(from.page);
    await from.page.selectOption('#collection', 'plain');
    await expect.poll(() => param(from.page, 'collection'), WAIT).toBe('plain');
    expect(param(from.page, 'conf')).toBe(null);
    expect(await from.page.isHidden('#min-confidence-label')).toBe(true);
    expect(await from.page.isVisible('#error')).toBe(false);
    expect([...errors, ...from.errors]).toEqual([]);
    await from.page.context().close();
  });

  it('the map page links to the Duplicates page of its collection, as the Duplicates page links to the map', async () => {
    const { page, errors } = await openPage(h, DESKTOP, '/map.html?collection=plain');
    await expect.poll(() => page.getAttribute('#duplicates-link', 'href'), WAIT).toBe('duplicates.html?collection=plain');
    expect(await page.textContent('nav.views')).toMatch(/Search\s+Duplicates/);
    await page.click('#duplicates-link');
    await page.waitForURL(/duplicates\.html\?collection=plain/, WAIT);
    await expect.poll(() => page.getAttribute('#map-link', 'href'), WAIT).toBe('map.html?collection=plain');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('390×844: the controls and the cards’ confidence fit a phone', async () => {
    const { page, errors } = await openPage(h, PHONE, link('flowers', '&conf=0.9'));
    const kept = await api({ id, k: 12, minConfidence: 0.9 });
    await waitForResults(page, kept.length);
    await expectCards(page, kept);
    // every thumbnail painted (they load lazily, as they scroll into view)
    for (const card of await page.locator('#results .hit').all()) await card.scrollIntoViewIfNeeded();
    await expect.poll(() => page.$$eval('#results .hit img', (imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth > 0)), WAIT).toBe(true);
    await page.evaluate(() => window.scrollTo(0, 0));
    await expectNoHorizontalOverflow(page);
    // the short form stays on one line with its score
    const lines = await page.$eval('#results .hit .score', (e) => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)));
    expect(lines).toBe(1);
    await expectAxeClean(page);
    await shot(page, 'confidence-phone');
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
