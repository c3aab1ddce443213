import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkImages } from '../../src/ingest/walk.js';
import { SAMPLES, tmpDir } from '../helpers.js';

describe('walkImages', () => {
  it('a file whose name is not valid UTF-8 is reported with a reason, never silently skipped (10.10)', async () => {
    const dir = tmpDir();
    const photo = fs.readFileSync(path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!));
    fs.writeFileSync(path.join(dir, 'good.jpg'), photo);
    const bad = Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x6a, 0x70, 0x67])]); // "f\xff\xfe.jpg"
    fs.writeFileSync(bad, photo);
    const problems: [string, string][] = [];
    const files = await walkImages(dir, { onProblem: (p, why) => problems.push([p, why]) });
    expect(files.map((f) => path.basename(f.path))).toEqual(['good.jpg']);
    expect(problems).toEqual([[expect.stringContaining(dir), expect.stringMatching(/not valid UTF-8 \(bytes 66fffe2e6a7067\).*rename/)]]);
  });
});
