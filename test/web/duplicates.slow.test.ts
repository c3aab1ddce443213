/// <reference lib="dom" />
/**
 * SLOW (end-to-end): near-duplicates on the web page (issues 12 and 14) in Chromium, over a real collection of COCO
 * photos with planted copies (each original also resized to half, recompressed at JPEG quality 30 and mirrored, made
 * with sharp): the duplicates view (groups, the keeper marked "keep", scores, verification, paging, the threshold, the
 * empty and error states), "Find duplicates of this" in the detail view, all of it by keyboard alone, at 1400×900,
 * 390×844 and 320 px — and what the page shows is what the API answers. Screenshots: test-artifacts/web-duplicates-*.png
 * and web-detail-duplicates.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireShared, SHARED, tmpDir } from '../helpers.js';
import {
  ARTIFACTS,
  DESKTOP,
  expectAxeClean,
  expectNoHorizontalOverflow,
  expectVisibleFocus,
  NARROW,
  openPage,
  PHONE,
  shot,
  startHarness,
  tabTo,
  WAIT,
  type Harness,
} from './harness.js';

interface Member {
  id: string;
  path: string;
  score: number;
  verified: string | null;
}
interface GroupsReply {
  threshold: number;
  auto: boolean;
  totalGroups: number;
  groups: { keeper: Member; duplicates: Member[] }[];
}
interface CheckReply {
  duplicate: boolean;
  matches: { id: string; path: string; score: number }[];
}

/** What the page shows of a group: its keeper, then its copies with the score and verification it was given. */
interface ShownGroup {
  keeper: string;
  copies: { id: string; score: number; verified: string }[];
}

const COPIES = ['small', 'q30', 'flip'] as const;

/** The groups on the duplicates page, in order, from the tiles' data attributes. */
const shownGroups = (page: Page): Promise<ShownGroup[]> =>
  page.$$eval('#groups > li.group', (groups) =>
    groups.map((g) => {
      const members = [...g.querySelectorAll<HTMLElement>('li.member')];
      return {
        keeper: members.filter((m) => m.dataset.role === 'keeper').map((m) => m.dataset.id ?? '')[0] ?? '',
        copies: members.filter((m) => m.dataset.role === 'copy').map((m) => ({ id: m.dataset.id ?? '', score: Number(m.dataset.score), verified: m.dataset.verified ?? '' })),
      };
    }),
  );

/** The duplicates page has finished loading (a summary in the status, no spinner, the groups not busy). */
async function waitForGroups(page: Page): Promise<void> {
  await expect.poll(() => page.getAttribute('#groups', 'aria-busy'), WAIT).toBe('false');
  await expect.poll(() => page.isVisible('#spinner'), WAIT).toBe(false);
  await expect.poll(() => page.textContent('#status-text'), WAIT).toMatch(/ · threshold /);
}

/** Scroll through the page so that its lazy images load, then wait until every image under `selector` has loaded. */
async function imagesLoaded(page: Page, selector: string): Promise<void> {
  await page.evaluate(async () => {
    for (let y = 0; y < document.documentElement.scrollHeight; y += innerHeight / 2) {
      scrollTo(0, y);
      await new Promise((done) => requestAnimationFrame(done));
    }
    scrollTo(0, 0);
  });
  await expect
    .poll(() => page.$$eval(`${selector} img`, (imgs) => imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0)), WAIT)
    .toBe(true);
}

describe('near-duplicates on the web page (slow)', () => {
  let h: Harness;
  /** Planted groups by file name: the original first, then its copies. */
  const planted: string[][] = [];
  const api = async <T>(url: string, init?: RequestInit): Promise<T> => {
    const r = await fetch(h.base + url, init);
    expect(r.status, url).toBe(200);
    return (await r.json()) as T;
  };
  const groupsFromApi = (verify: boolean, threshold = 'auto') =>
    api<GroupsReply>(`/v1/collections/photos/duplicates?threshold=${threshold}${verify ? '&verify=true' : ''}&limit=1000`);
  const shownOf = (r: GroupsReply): ShownGroup[] =>
    r.groups.map((g) => ({ keeper: g.keeper.id, copies: g.duplicates.map((d) => ({ id: d.id, score: d.score, verified: d.verified ?? '' })) }));
  const byName = (r: GroupsReply): Map<string, string> => new Map(r.groups.flatMap((g) => [g.keeper, ...g.duplicates]).map((m) => [m.id, path.basename(m.path)]));

  beforeAll(async () => {
    const coco = requireShared(path.join(SHARED, 'datasets', 'coco-mini', 'val2017'));
    const files = fs.readdirSync(coco).filter((f) => f.endsWith('.jpg')).sort();
    const images = path.join(tmpDir('lookalike-web-dups-'), 'images');
    fs.mkdirSync(images);
    for (const i of [0, 10, 20, 40]) {
      const src = path.join(coco, files[i]!);
      const stem = path.basename(src, '.jpg');
      fs.copyFileSync(src, path.join(images, `${stem}.jpg`));
      const { width } = await sharp(src).metadata();
      await sharp(src).resize(Math.round(width / 2)).jpeg({ quality: 85 }).toFile(path.join(images, `${stem}-small.jpg`));
      await sharp(src).jpeg({ quality: 30 }).toFile(path.join(images, `${stem}-q30.jpg`));
      await sharp(src).flop().jpeg({ quality: 60 }).toFile(path.join(images, `${stem}-flip.jpg`));
      // the keeper rule (most pixels, then the largest file) must name the original: every copy is smaller
      for (const c of COPIES) expect(fs.statSync(path.join(images, `${stem}-${c}.jpg`)).size).toBeLessThan(fs.statSync(src).size);
      planted.push([`${stem}.jpg`, ...COPIES.map((c) => `${stem}-${c}.jpg`)]);
    }
    // other photos, none a copy of another
    for (const f of files.slice(70, 118).filter((_, i) => i % 4 === 0)) fs.copyFileSync(path.join(coco, f), path.join(images, f));
    h = await startHarness(async (db) => {
      const c = await db.collection('photos', { model: 'mobilenet-v1' });
      await c.indexFolder(images);
    });
  }, 240_000);

  afterAll(async () => {
    await h?.close();
  });

  it('lists the groups as the API does, a page at a time, each planted group together under the keeper the API suggests', async () => {
    const { page, errors } = await openPage(h, DESKTOP, '/duplicates.html?collection=photos&limit=2');
    await waitForGroups(page);
    const reply = await groupsFromApi(false);
    expect(reply.auto).toBe(true);
    expect(reply.totalGroups).toBeGreaterThanOrEqual(planted.length);
    expect(await page.locator('#groups > li.group').count()).toBe(2);
    expect(await page.textContent('#more')).toBe(`Load ${Math.min(2, reply.totalGroups - 2)} more (2 of ${reply.totalGroups} groups shown)`);
    expect(await page.textContent('#status-text')).toContain(`threshold ${reply.threshold.toFixed(4)} (automatic) · by scores`);
    while (await page.isVisible('#more')) {
      const before = await page.locator('#groups > li.group').count();
      await page.click('#more');
      await expect.poll(() => page.locator('#groups > li.group').count(), WAIT).toBeGreaterThan(before);
      await waitForGroups(page);
    }
    // every group, keeper, copy, score and verification as the API answers them, in its order
    expect(await shownGroups(page)).toEqual(shownOf(reply));
    // every planted group is together, with the group's keeper highlighted and labelled "keep"
    const names = byName(reply);
    for (const group of planted) {
      const found = reply.groups.find((g) => names.get(g.keeper.id) === group[0] || g.duplicates.some((d) => names.get(d.id) === group[0]));
      expect(found, group[0]).toBeDefined();
      expect([found!.keeper, ...found!.duplicates].map((m) => names.get(m.id))).toEqual(expect.arrayContaining(group));
      const keeper = page.locator(`#groups li.group[data-keeper="${found!.keeper.id}"] li.member.keeper`);
      expect(await keeper.count()).toBe(1);
      expect(await keeper.locator('.badge').textContent()).toBe('keep');
      expect(await keeper.locator('.tile').evaluate((t) => getComputedStyle(t).borderTopColor)).toBe('rgb(23, 117, 58)');
      // a copy's tile says its score and that it was decided by scores
      const copy = page.locator(`#groups li.member[data-id="${found!.duplicates[0]!.id}"]`);
      expect(await copy.locator('.score').textContent()).toBe(`Copy, score ${found!.duplicates[0]!.score.toFixed(4)}`);
      expect(await copy.locator('.how').textContent()).toBe('by score, not verified');
    }
    // a tile opens the image in the main page's detail view
    const first = reply.groups[0]!.keeper.id;
    await page.click(`#groups li.member[data-id="${first}"] .tile`);
    await page.waitForURL(new RegExp(`\\?collection=photos&item=${first}$`, 'u'), WAIT);
    await page.waitForSelector('#detail[open]', WAIT);
    expect(errors).toEqual([]);
  }, 180_000);

  it('verifies from the files: exactly the planted groups, the original kept, the mirrored copy said to be mirrored', async () => {
    const { page, errors } = await openPage(h, DESKTOP, '/duplicates.html?collection=photos');
    await waitForGroups(page);
    await page.check('#verify');
    await expect.poll(() => new URL(page.url()).searchParams.get('verify'), WAIT).toBe('1');
    await waitForGroups(page);
    expect(await page.textContent('#status-text')).toMatch(/^4 groups of near-duplicates \(12 copies\) among 28 images · threshold 0\.\d{4} \(automatic\) · verified from the files/);
    const reply = await groupsFromApi(true);
    expect(await shownGroups(page)).toEqual(shownOf(reply));
    const names = byName(reply);
    const shown = reply.groups.map((g) => [g.keeper, ...g.duplicates].map((m) => names.get(m.id)!));
    expect(shown.map((g) => g[0]).sort()).toEqual(planted.map((g) => g[0]).sort()); // the originals are the keepers
    expect(shown.map((g) => [...g].sort()).sort()).toEqual(planted.map((g) => [...g].sort()).sort());
    for (const g of reply.groups) {
      for (const d of g.duplicates) {
        const tile = page.locator(`#groups li.member[data-id="${d.id}"]`);
        const mirrored = names.get(d.id)!.endsWith('-flip.jpg');
        expect(await tile.getAttribute('data-verified')).toMatch(mirrored ? /^mirrored$/u : /^(geometry|identical)$/u);
        expect(await tile.locator('.how').textContent()).toMatch(mirrored ? /^verified: mirrored$/u : /^(verified: same picture|identical file)$/u);
      }
    }
    await imagesLoaded(page, '#groups');
    await expectAxeClean(page);
    await expectNoHorizontalOverflow(page);
    await shot(page, 'duplicates-desktop');

    // a threshold above every pair: the empty state says so, and offers the way back
    await page.fill('#threshold', '0.9999');
    await page.press('#threshold', 'Enter');
    await expect.poll(() => page.isVisible('#empty'), WAIT).toBe(true);
    expect(await page.textContent('#empty-title')).toBe('No near-duplicates at threshold 0.9999');
    expect(new URL(page.url()).searchParams.get('threshold')).toBe('0.9999');
    expect(await page.locator('#groups > li').count()).toBe(0);
    expect((await api<GroupsReply>('/v1/collections/photos/duplicates?threshold=0.9999&verify=true')).totalGroups).toBe(0);
    await expectAxeClean(page);
    await page.getByRole('button', { name: 'Use the automatic threshold' }).click();
    await waitForGroups(page);
    expect(await page.locator('#groups > li.group').count()).toBe(4);
    expect(await page.inputValue('#threshold')).toBe('');

    // a threshold out of range is refused where it was typed, without asking the server
    const asked: string[] = [];
    page.on('request', (r) => r.url().includes('/duplicates?') && asked.push(r.url()));
    await page.fill('#threshold', '2');
    await page.press('#threshold', 'Enter');
    expect(await page.getAttribute('#threshold', 'aria-invalid')).toBe('true');
    expect(await page.textContent('#threshold-note')).toBe('The threshold must be a number from -1 to 1, or empty for automatic.');
    expect(asked).toEqual([]);

    // the server failing: its message and code, in the page's error style
    await page.route('**/v1/collections/photos/duplicates?*', (route) =>
      route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'SERVER_BUSY', message: 'The server is busy: try again in a moment.' } }) }),
    );
    await page.reload();
    await expect.poll(() => page.isVisible('#error'), WAIT).toBe(true);
    expect(await page.textContent('#error')).toBe('The server is busy: try again in a moment. (SERVER_BUSY)');
    expect(await page.getAttribute('#error', 'role')).toBe('alert');
    expect(await page.locator('#groups > li').count()).toBe(0);
    expect(errors).toEqual([]);
  }, 180_000);

  it('by keyboard alone: the view from the main page, a tile into the detail view, "Find duplicates of this" there', async () => {
    const { page, errors } = await openPage(h, DESKTOP, '/?collection=photos');
    await tabTo(page, '#duplicates-link');
    await expectVisibleFocus(page);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/duplicates\.html\?collection=photos$/u, WAIT);
    await waitForGroups(page);
    await tabTo(page, '#verify');
    await expectVisibleFocus(page);
    await page.keyboard.press('Space');
    await expect.poll(() => new URL(page.url()).searchParams.get('verify'), WAIT).toBe('1');
    await waitForGroups(page);
    const reply = await groupsFromApi(true);
    const names = byName(reply);

    // the tiles take the focus in order, visibly: the first group's keeper, then its copies
    await tabTo(page, '#groups li.member .tile');
    await expectVisibleFocus(page);
    const focusedId = () => page.evaluate(() => (document.activeElement?.closest('li.member') as HTMLElement | null)?.dataset.id ?? null);
    expect(await focusedId()).toBe(reply.groups[0]!.keeper.id);
    await page.keyboard.press('Tab');
    expect(await focusedId()).toBe(reply.groups[0]!.duplicates[0]!.id);
    await expectVisibleFocus(page);
    await page.keyboard.press('Shift+Tab');
    const keeper = reply.groups[0]!.keeper;
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`\\?collection=photos&item=${keeper.id}$`, 'u'), WAIT);
    await page.waitForSelector('#detail[open]', WAIT);

    // in the detail view: the button, then its matches, equal to POST …/duplicates/check {id}
    await tabTo(page, '#detail-find-dups');
    await expectVisibleFocus(page);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('#detail-dups-status'), WAIT).toMatch(/^\d+ duplicates? found \(threshold 0\.\d{4}\):$/u);
    const check = await api<CheckReply>('/v1/collections/photos/duplicates/check', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: keeper.id }),
    });
    expect(check.duplicate).toBe(true);
    const listed = await page.$$eval('#detail-dups-list li', (lis) => lis.map((li) => ({ id: (li as HTMLElement).dataset.id ?? '', score: Number((li as HTMLElement).dataset.score), text: li.textContent ?? '' })));
    expect(listed.map(({ id, score }) => ({ id, score }))).toEqual(check.matches.map(({ id, score }) => ({ id, score })));
    for (const [i, m] of check.matches.entries()) expect(listed[i]!.text).toBe(`${m.path}score ${m.score.toFixed(4)} · by score, not verified`);
    // its planted copies are all there
    const group = planted.find((g) => g[0] === names.get(keeper.id))!;
    expect(check.matches.map((m) => path.basename(m.path))).toEqual(expect.arrayContaining(group.slice(1)));
    await imagesLoaded(page, '#detail-dups-list');
    await page.locator('#detail-dups').scrollIntoViewIfNeeded();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-detail-duplicates.png') });
    await expectAxeClean(page);

    // a match opens in the detail view; the list was for the other image, so it goes
    await tabTo(page, '#detail-dups-list .dup-open');
    await expectVisibleFocus(page);
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`&item=${check.matches[0]!.id}$`, 'u'), WAIT);
    await expect.poll(() => page.textContent('#detail-title'), WAIT).toContain(path.basename(check.matches[0]!.path));
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('detail-find-dups');
    expect(await page.isVisible('#detail-dups-list')).toBe(false);
    expect(await page.textContent('#detail-dups-status')).toBe('');
    // a copy finds its original
    await page.keyboard.press('Enter');
    await expect.poll(() => page.$$eval('#detail-dups-list li', (lis) => lis.map((li) => (li as HTMLElement).dataset.id)), WAIT).toContain(keeper.id);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.isVisible('#detail'), WAIT).toBe(false);
    expect(errors).toEqual([]);
  }, 180_000);

  it('on a phone: one column of groups, nothing wider than the screen (390 and 320 px)', async () => {
    for (const [viewport, name] of [
      [PHONE, 'duplicates-phone'],
      [NARROW, 'duplicates-320'],
    ] as const) {
      const { page, errors } = await openPage(h, viewport, '/duplicates.html?collection=photos&verify=1');
      await waitForGroups(page);
      expect(await page.locator('#groups > li.group').count()).toBe(4);
      const boxes = await page.$$eval('#groups > li.group', (gs) => gs.map((g) => g.getBoundingClientRect()).map((r) => ({ x: r.x, width: r.width })));
      const list = (await page.locator('#groups').boundingBox())!;
      for (const b of boxes) {
        expect(b.x).toBeCloseTo(list.x, 0); // one column: every group starts at the list's left edge and spans it
        expect(b.width).toBeCloseTo(list.width, 0);
      }
      await expectNoHorizontalOverflow(page);
      // the keeper's label and every tile's caption lie inside the group's card
      const outside = await page.$$eval('#groups > li.group', (gs) =>
        gs.flatMap((g) => {
          const card = g.getBoundingClientRect();
          return [...g.querySelectorAll('.tile, .badge, .caption')].filter((e) => {
            const r = e.getBoundingClientRect();
            return r.left < card.left - 0.5 || r.right > card.right + 0.5;
          }).map((e) => e.className);
        }),
      );
      expect(outside).toEqual([]);
      await imagesLoaded(page, '#groups');
      await expectAxeClean(page);
      await shot(page, name);
      expect(errors).toEqual([]);
    }
  }, 120_000);
});
