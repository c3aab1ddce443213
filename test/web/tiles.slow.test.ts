/** Issue 13.3 on the page: a hit found by a tile has that region outlined on its thumbnail. */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES, tmpDir } from '../helpers.js';
import { ARTIFACTS, DESKTOP, openPage, startHarness, type Harness } from './harness.js';

describe('tiles on the web page', () => {
  let h: Harness;
  const flower = path.join(SAMPLES, 'sunflower', fs.readdirSync(path.join(SAMPLES, 'sunflower'))[0]!);
  beforeAll(async () => {
    const dir = tmpDir('lookalike-tiled-');
    // a composite: the sunflower in the bottom-right quarter of grey space
    await sharp({ create: { width: 400, height: 300, channels: 3, background: '#888' } })
      .composite([{ input: await sharp(flower).resize(200, 150, { fit: 'cover' }).toBuffer(), left: 200, top: 150 }])
      .jpeg()
      .toFile(path.join(dir, 'composite.jpg'));
    for (const f of fs.readdirSync(path.join(SAMPLES, 'daisy')).slice(0, 5)) fs.copyFileSync(path.join(SAMPLES, 'daisy', f), path.join(dir, f));
    h = await startHarness(async (db) => {
      const col = await db.createCollection('tiled', { model: 'mobilenet-v1', tiles: ['2x2'] });
      await col.indexFolder(dir);
      await col.close();
    });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('outlines the matched tile over the image (not the letterbox)', async () => {
    const { page, errors } = await openPage(h, DESKTOP, '/?collection=tiled');
    await page.setInputFiles('#file', flower);
    const box = page.locator('.hit .tile-box').first();
    await box.waitFor({ state: 'visible' });
    const first = page.locator('.hit').first();
    expect(await first.locator('.thumb').getAttribute('aria-label')).toMatch(/composite\.jpg.*matched in the outlined region/);
    const [t, b] = [await first.locator('.thumb img').boundingBox(), await box.boundingBox()];
    // the image (4:3) is letterboxed in a square slot: the quarter starts at the image's centre, not the slot's
    const imgTop = t!.y + (t!.height - t!.width * 0.75) / 2;
    expect(b!.x).toBeCloseTo(t!.x + t!.width / 2, -1);
    expect(b!.y).toBeCloseTo(imgTop + (t!.width * 0.75) / 2, -1);
    expect(b!.width).toBeCloseTo(t!.width / 2, -1);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-tile-outline.png') });
    expect(errors).toEqual([]);
  });
});
