/** Issue 15 on the page: a collection whose photos say when they were taken gets a date range filter; facts show. */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES, tmpDir } from '../helpers.js';
import { ARTIFACTS, DESKTOP, openPage, startHarness, type Harness } from './harness.js';

describe('date taken on the web page', () => {
  let h: Harness;
  beforeAll(async () => {
    const dir = tmpDir('lookalike-dated-');
    const daisies = fs.readdirSync(path.join(SAMPLES, 'daisy')).slice(0, 6);
    for (const [i, f] of daisies.entries()) {
      const year = 2017 + (i % 3); // two photos per year: 2017, 2018, 2019
      await sharp(path.join(SAMPLES, 'daisy', f))
        .withExifMerge({ IFD0: { Make: 'Fujifilm', Model: 'X100V' }, IFD2: { DateTimeOriginal: `${year}:06:1${i} 12:00:00` } })
        .jpeg()
        .toFile(path.join(dir, f));
    }
    h = await startHarness(async (db) => {
      const col = await db.createCollection('dated', { model: 'color-histogram' });
      await col.indexFolder(dir);
      await col.close();
    });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('filters by a date range (both ends included), keeps it in the URL, and shows the facts on each hit', async () => {
    const { page, errors } = await openPage(h, DESKTOP, '/?collection=dated');
    await page.setInputFiles('#file', path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!));
    await expect.poll(() => page.locator('.hit').count()).toBe(6);
    await page.getByLabel('Taken from').fill('2018-01-01');
    await page.getByLabel('to', { exact: true }).fill('2018-12-31');
    await page.getByLabel('to', { exact: true }).dispatchEvent('change');
    await expect.poll(() => page.locator('.hit').count()).toBe(2);
    expect(page.url()).toMatch(/from=2018-01-01&to=2018-12-31/);
    const chips = await page.locator('.hit').first().locator('.chips li').allTextContents();
    expect(chips.join(' | ')).toMatch(/taken: 2018-06-1\d/);
    expect(chips.join(' | ')).toMatch(/cameraModel: X100V/);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-date-range.png') });
    await page.goBack(); // each end of the range was a step: "from" alone (2018 and 2019), then no range
    await expect.poll(() => page.locator('.hit').count()).toBe(4);
    await page.goBack();
    await expect.poll(() => page.locator('.hit').count()).toBe(6);
    expect(errors).toEqual([]);
  });
});
