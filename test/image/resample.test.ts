import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalisationTables, resizeToChw, type ResampleFilter } from '../../src/image/resample.js';
import { ROOT } from '../helpers.js';

// Reference outputs from Pillow (test/fixtures/make_pil_resize.py), the resampler Hugging Face processors use.
const fixture = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/pil-resize.json'), 'utf8')) as {
  width: number;
  height: number;
  rgb: string;
  cases: { width: number; height: number; filter: ResampleFilter; rgb: string }[];
};
const identity = normalisationTables(1, [0, 0, 0], [1, 1, 1]);
const src = { data: new Uint8Array(Buffer.from(fixture.rgb, 'base64')), width: fixture.width, height: fixture.height, channels: 3 as const };

describe('resizeToChw matches Pillow', () => {
  for (const c of fixture.cases) {
    it(`${fixture.width}x${fixture.height} → ${c.width}x${c.height} ${c.filter}`, () => {
      const want = Buffer.from(c.rgb, 'base64');
      const got = resizeToChw(src, c.width, c.height, c.filter, identity);
      const plane = c.width * c.height;
      let maxDiff = 0;
      for (let p = 0; p < plane; p++) {
        for (let ch = 0; ch < 3; ch++) maxDiff = Math.max(maxDiff, Math.abs(got[ch * plane + p]! - want[p * 3 + ch]!));
      }
      expect(maxDiff).toBe(0);
    });
  }

  it('takes the centred crop and applies the normalisation tables', () => {
    const luts = normalisationTables(1 / 255, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]);
    const full = resizeToChw(src, 64, 48, 'bilinear', identity);
    const crop = resizeToChw(src, 64, 48, 'bilinear', luts, { width: 32, height: 32 });
    expect(crop.length).toBe(3 * 32 * 32);
    // pixel (0,0) of the crop is pixel (16, 8) of the full image, channel G
    expect(crop[32 * 32]).toBeCloseTo(full[64 * 48 + 8 * 64 + 16]! / 127.5 - 1, 6);
  });
});
