/**
 * Geometric verification (ORB + RANSAC, mirrored too, colour check) on real photos: edited copies match their
 * original, other photos and recoloured variants do not, and a pair gets the same verdict in both orders.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyEdit, EDITS } from '../../src/duplicates/bench.js';
import { imageFeatures, verifyPair, type ImageFeatures } from '../../src/duplicates/verify.js';
import { SAMPLES } from '../helpers.js';

const MAX_PIXELS = 50_000_000;
const photo = (cls: string, i = 0) => {
  const dir = path.join(SAMPLES, cls);
  return fs.readFileSync(path.join(dir, fs.readdirSync(dir).sort()[i]!));
};

describe('geometric verification', () => {
  let original: Buffer;
  let f: ImageFeatures;

  beforeAll(async () => {
    original = photo('daisy', 2);
    f = await imageFeatures(original, MAX_PIXELS);
  });

  it.each(EDITS.map((e) => [e]))('an edited copy (%s) matches its original', async (edit) => {
    const copy = await imageFeatures(await applyEdit(original, edit), MAX_PIXELS);
    const v = await verifyPair(f, copy);
    expect(v.match, JSON.stringify(v)).toBe(true);
    expect(v.how).toBe(edit === 'hflip' ? 'mirrored' : 'geometry');
    expect(v.inliers).toBeGreaterThanOrEqual(15);
  });

  it('other photos do not match, even of the same flower species', async () => {
    for (const [cls, i] of [
      ['daisy', 3],
      ['daisy', 4],
      ['buttercup', 0],
      ['bluebell', 1],
    ] as const) {
      const other = await imageFeatures(photo(cls, i), MAX_PIXELS);
      expect((await verifyPair(f, other)).match, `${cls} ${i}`).toBe(false);
    }
  });

  it('a recoloured variant (same layout, other hues) is refused by the colour check, unless asked not to check', async () => {
    const pansy = photo('pansy', 0);
    const base = await imageFeatures(pansy, MAX_PIXELS);
    const variant = await imageFeatures(await sharp(pansy).modulate({ hue: 150 }).jpeg({ quality: 90 }).toBuffer(), MAX_PIXELS);
    expect(await verifyPair(base, variant)).toMatchObject({ match: false, reason: 'colour' });
    expect((await verifyPair(base, variant, { colour: false })).match).toBe(true);
  });

  it('the same photo with one region recoloured (a product in another colour) is refused by the local colour check', async () => {
    const pansy = photo('pansy', 0);
    const { width, height } = await sharp(pansy).metadata();
    const region = { left: Math.round(width! * 0.25), top: Math.round(height! * 0.25), width: Math.round(width! * 0.5), height: Math.round(height! * 0.5) };
    const recoloured = await sharp(await sharp(pansy).extract(region).modulate({ hue: 180 }).toBuffer()).toBuffer();
    const variant = await sharp(pansy).composite([{ input: recoloured, left: region.left, top: region.top }]).jpeg({ quality: 90 }).toBuffer();
    const [a, b] = [await imageFeatures(pansy, MAX_PIXELS), await imageFeatures(variant, MAX_PIXELS)];
    const v = await verifyPair(a, b);
    expect(v, JSON.stringify(v)).toMatchObject({ match: false, reason: 'colour' });
    expect(v.inliers).toBeGreaterThanOrEqual(15); // the geometry matched: the local check refused it
    // brightness and contrast change every colour at once: no disagreement
    const brighter = await imageFeatures(await applyEdit(pansy, 'brighter'), MAX_PIXELS);
    expect((await verifyPair(a, brighter)).match).toBe(true);
  });

  it('is symmetric and deterministic', async () => {
    const copy = await imageFeatures(await applyEdit(original, 'crop80'), MAX_PIXELS);
    const ab = await verifyPair(f, copy);
    expect(await verifyPair(f, copy)).toEqual(ab);
    expect((await verifyPair(copy, f)).match).toBe(ab.match);
  });
});
