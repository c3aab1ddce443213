/**
 * `lookalike duplicates` as users run it (the built CLI): the JSON contract, CSV, the HTML report, the folder of links
 * (nothing moved or deleted), the human table, and usage errors (exit 2, naming the flag).
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DuplicatesResult } from '../../src/duplicates/types.js';
import { tmpDir } from '../helpers.js';
import { cli, requireBuiltCli } from '../cli/run.js';
import { duplicateFixture, type DuplicateFixture } from './fixture.js';

describe('lookalike duplicates', () => {
  let fx: DuplicateFixture;
  beforeAll(async () => {
    requireBuiltCli();
    fx = await duplicateFixture();
  }, 120_000);

  const base = () => ['duplicates', '--db', fx.db, '--collection', 'photos'];
  const byName = (r: DuplicatesResult) =>
    r.groups.map((g) => [g.keeper, ...g.duplicates].map((m) => path.basename(m.path!)).sort()).sort((a, b) => a[0]!.localeCompare(b[0]!));

  it('--verify --json: one object with the groups (keeper first), the rule used and its statistics; files untouched', async () => {
    const before = fs.readdirSync(fx.images).sort();
    const r = await cli([...base(), '--verify', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as DuplicatesResult;
    expect(Object.keys(out).sort()).toEqual(
      ['auto', 'collection', 'groups', 'items', 'k', 'linkThreshold', 'margin', 'offset', 'stats', 'threshold', 'totalDuplicates', 'totalGroups', 'verified'].sort(),
    );
    expect(out).toMatchObject({ collection: 'photos', items: 20, verified: true, auto: true, k: 10, offset: 0, totalGroups: 3, totalDuplicates: 9 });
    expect(byName(out)).toEqual(fx.groups.map((g) => [...g].sort()).sort((a, b) => a[0]!.localeCompare(b[0]!)));
    for (const g of out.groups) {
      expect(Object.keys(g.keeper).sort()).toEqual(['height', 'id', 'mtimeMs', 'path', 'score', 'size', 'verified', 'width']);
      // the keeper has the most pixels: never the half-size copy, never the crop
      expect(g.keeper.path).not.toMatch(/resize50|crop80/);
      for (const d of g.duplicates) {
        expect(d.verified).toMatch(/^(geometry|mirrored|identical)$/);
        expect(d.score).toBeLessThanOrEqual(1);
      }
    }
    expect(out.groups.flatMap((g) => g.duplicates).find((d) => d.path!.endsWith('hflip.jpg'))!.verified).toBe('mirrored');
    expect(fs.readdirSync(fx.images).sort()).toEqual(before);
  });

  it('--csv, --html and --link-dir write their files; the human table names keepers and scores', async () => {
    const dir = tmpDir();
    const csv = path.join(dir, 'dups.csv');
    const html = path.join(dir, 'report.html');
    const links = path.join(dir, 'review');
    const r = await cli([...base(), '--verify', '--csv', csv, '--html', html, '--link-dir', links]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^3 groups, 9 duplicates among 20 images/);
    expect(r.stdout).toMatch(/group 1 \(4 images\)\n {2}keep {4}/);
    expect(r.stdout).toMatch(/\n {2}0\.\d{4} {2}\d+x\d+/);
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('group,role,id,path,score,verified,width,height,size,mtime');
    expect(rows).toHaveLength(1 + 12);
    expect(rows.filter((l) => l.split(',')[1] === 'keeper')).toHaveLength(3);
    const page = fs.readFileSync(html, 'utf8');
    expect(page.match(/<section>/g)).toHaveLength(3);
    expect(page.match(/<img src="data:image\/jpeg;base64,/g)).toHaveLength(12);
    expect(page.match(/<figure class="keeper">/g)).toHaveLength(3);
    const groups = fs.readdirSync(links).sort();
    expect(groups).toEqual(['group-0001', 'group-0002', 'group-0003']);
    const first = fs.readdirSync(path.join(links, 'group-0001')).sort();
    expect(first).toHaveLength(4);
    expect(first.filter((f) => f.startsWith('keep-'))).toHaveLength(1);
    for (const f of first) expect(fs.lstatSync(path.join(links, 'group-0001', f)).isSymbolicLink()).toBe(true);
    // the link folder must be new or empty: nothing in it is replaced
    const again = await cli([...base(), '--link-dir', links, '--json']);
    expect(again.code).toBe(2);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
  });

  // the score rule on a collection of fewer than 2k + 1 items (the background is then the median neighbour)
  it('without --verify (the score rule) the same groups, even in a tiny collection; --limit; --threshold 1 finds none', async () => {
    const limited = JSON.parse((await cli([...base(), '--limit', '1', '--json'])).stdout) as DuplicatesResult;
    expect(limited).toMatchObject({ verified: false, auto: true, margin: 0.5, totalGroups: 3, totalDuplicates: 9 });
    expect(limited.groups).toHaveLength(1);
    expect(limited.groups[0]!.duplicates.every((d) => d.verified === null)).toBe(true);
    const none = JSON.parse((await cli([...base(), '--threshold', '1', '--json'])).stdout) as DuplicatesResult;
    expect(none).toMatchObject({ totalGroups: 0, groups: [], auto: false, threshold: 1 });
  });

  it('usage errors exit 2 and name the flag', async () => {
    for (const [args, pattern] of [
      [['--threshold', '2'], /--threshold must be a number from -1 to 1/],
      [['--threshold', '0.9', '--auto'], /either --threshold or --auto/],
      [['-k', '0'], /-k must be an integer from 1 to 100/],
    ] as const) {
      const r = await cli([...base(), ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(pattern);
    }
    const missing = await cli(['duplicates', '--db', fx.db, '--collection', 'nope', '--json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'COLLECTION_NOT_FOUND' } });
  });
});
