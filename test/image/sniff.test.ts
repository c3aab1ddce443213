import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sniffImage } from '../../src/image/sniff.js';

const solid = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#3a6' } });

describe('sniffImage: format and displayed size from the header', () => {
  it('JPEG (EXIF orientation applied), PNG, GIF through the fast header parser; WebP, TIFF, AVIF through libvips', async () => {
    const cases: [Promise<Buffer>, object][] = [
      [solid(30, 10).jpeg().toBuffer(), { format: 'jpeg', width: 30, height: 10 }],
      [solid(30, 10).jpeg().withMetadata({ orientation: 6 }).toBuffer(), { format: 'jpeg', width: 10, height: 30 }],
      [solid(30, 10).jpeg().withMetadata({ orientation: 8 }).toBuffer(), { format: 'jpeg', width: 10, height: 30 }],
      [solid(30, 10).jpeg().withMetadata({ orientation: 3 }).toBuffer(), { format: 'jpeg', width: 30, height: 10 }],
      [solid(31, 7).png().toBuffer(), { format: 'png', width: 31, height: 7 }],
      [solid(12, 5).gif().toBuffer(), { format: 'gif', width: 12, height: 5 }],
      [solid(20, 9).webp().toBuffer(), { format: 'webp', width: 20, height: 9 }],
      [solid(20, 9).tiff().toBuffer(), { format: 'tiff', width: 20, height: 9 }],
      [solid(20, 8).avif().toBuffer(), { format: 'heif', width: 20, height: 8 }],
    ];
    for (const [bytes, facts] of cases) expect(await sniffImage(await bytes)).toEqual(facts);
  });

  it('anything else is IMAGE_DECODE_FAILED naming the accepted formats', async () => {
    await expect(sniffImage(new Uint8Array())).rejects.toMatchObject({ code: 'IMAGE_DECODE_FAILED', message: expect.stringMatching(/empty file/) });
    await expect(sniffImage(Buffer.from('<html>404</html>'))).rejects.toMatchObject({
      code: 'IMAGE_DECODE_FAILED',
      message: expect.stringMatching(/not an image.*accepted formats: JPEG, PNG, WebP, GIF, TIFF, AVIF\/HEIF/),
    });
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    await expect(sniffImage(svg)).rejects.toMatchObject({ message: expect.stringMatching(/not an image of an accepted format \(svg\)/) });
  });
});
