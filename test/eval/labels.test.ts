import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchLabels, type LabelRow } from '../../src/eval/labels.js';

const root = path.resolve('/data/caltech101');
const img = (rel: string): string => path.join(root, ...rel.split('/'));

describe('labels from a CSV (10.18: non-matching paths fell back to non-unique bare file names)', () => {
  it('10.18 paths that do not match and repeated file names are an error listing the names, never a guess', () => {
    // Caltech-101 layout: every class folder has image_0001.jpg …; the manifest's paths carry an extra prefix.
    const images = ['accordion', 'airplanes', 'anchor'].flatMap((c) => [img(`${c}/image_0001.jpg`), img(`${c}/image_0002.jpg`)]);
    const rows: LabelRow[] = ['accordion', 'airplanes', 'anchor'].flatMap((c) => [
      { path: `101_ObjectCategories/${c}/image_0001.jpg`, label: c },
      { path: `101_ObjectCategories/${c}/image_0002.jpg`, label: c },
    ]);
    let err: unknown;
    try {
      matchLabels(root, rows, images, { pathColumn: 'path' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    const msg = (err as Error).message;
    expect(msg).toContain('image_0001.jpg (3 images, 3 rows)');
    expect(msg).toContain('image_0002.jpg');
    expect(msg).toContain('"accordion/image_0001.jpg"'); // what a matching path looks like
    expect(msg).toContain('101_ObjectCategories/accordion/image_0001.jpg'); // what the CSV has
  });

  it('matches by path relative to the folder: "/" or "\\" separators, with or without a leading "./"', () => {
    const images = [img('a/1.jpg'), img('b/1.jpg'), img('c/sub/1.jpg')];
    const rows: LabelRow[] = [
      { path: 'a/1.jpg', label: 'A' },
      { path: '.\\b\\1.jpg', label: 'B' },
      { path: './c/./sub/1.jpg', label: 'C' },
    ];
    const m = matchLabels(root, rows, images);
    expect([...m.labels.values()]).toEqual(['A', 'B', 'C']);
    expect(m.byName).toBe(0);
    expect(m.unlabelled).toEqual([]);
  });

  it('matches paths relative to the CSV\'s own folder (a manifest beside the images) and absolute paths', () => {
    const images = [img('test/cat/0001.jpg'), img('test/dog/0001.jpg')];
    const rows: LabelRow[] = [
      { path: 'caltech101/test/cat/0001.jpg', label: 'cat' },
      { path: img('test/dog/0001.jpg'), label: 'dog' },
    ];
    const m = matchLabels(root, rows, images, { csvDir: path.dirname(root) });
    expect(m.labels.get(img('test/cat/0001.jpg'))).toBe('cat');
    expect(m.labels.get(img('test/dog/0001.jpg'))).toBe('dog');
  });

  it('a bare file name is used only when it is unique among the images and the rows', () => {
    const images = [img('x/1525.jpg'), img('x/1565.jpg')];
    const rows: LabelRow[] = [
      { path: 'elsewhere/1525.jpg', label: 'Backpacks' },
      { path: '1565.jpg', label: 'Bags' }, // no image at <root>/1565.jpg: matched by its unique name
    ];
    const m = matchLabels(root, rows, images);
    expect(m.labels.get(img('x/1525.jpg'))).toBe('Backpacks');
    expect(m.labels.get(img('x/1565.jpg'))).toBe('Bags');
    expect(m.byName).toBe(2);
    // unique among the images, but two rows with that name: ambiguous
    const twoRows = [...rows, { path: 'other/1525.jpg', label: 'Shoes' }];
    expect(() => matchLabels(root, twoRows, images)).toThrow(/1525\.jpg \(1 images, 2 rows\)/);
  });

  it('images without a row are reported as unlabelled; a row matched by path does not label a namesake', () => {
    const images = [img('a/1.jpg'), img('b/1.jpg'), img('c/2.jpg')];
    const m = matchLabels(root, [{ path: 'a/1.jpg', label: 'A' }], images);
    expect([...m.labels]).toEqual([[img('a/1.jpg'), 'A']]);
    expect(m.unlabelled.sort()).toEqual([img('b/1.jpg'), img('c/2.jpg')]);
  });

  it('two rows giving one image different labels, or no image matching at all, are errors', () => {
    const images = [img('a/1.jpg')];
    expect(() =>
      matchLabels(root, [
        { path: 'a/1.jpg', label: 'A' },
        { path: './a/1.jpg', label: 'B' },
      ], images),
    ).toThrow(/more than one label: "a\/1\.jpg \(A \/ B\)"/);
    expect(() => matchLabels(root, [{ path: 'z/9.jpg', label: 'Z' }], images, { pathColumn: 'file' })).toThrow(
      /No image under .* matches a row.*"z\/9\.jpg".*"a\/1\.jpg".*--path-column/,
    );
  });
});
