import { InvalidArgumentError, type Command } from 'commander';
import path from 'node:path';
import type { DuplicateMember, DuplicatesResult } from '../../duplicates/types.js';
import { finiteNumber, inferenceOptions, integerIn, nonEmpty, positiveInt, storeOptions, type InferenceOpts, type StoreOpts } from '../options.js';
import { Output, UsageError } from '../output.js';
import { withCollection } from '../shared.js';

interface DuplicatesCliOpts extends StoreOpts, InferenceOpts {
  readonly threshold?: number;
  readonly auto?: boolean;
  readonly k: number;
  readonly margin?: number;
  readonly verify?: boolean;
  readonly csv?: string;
  readonly html?: string;
  readonly linkDir?: string;
  readonly limit?: number;
}

function scoreOption(flag: string) {
  const parse = finiteNumber(flag);
  return (v: string): number => {
    const n = parse(v);
    if (n < -1 || n > 1) throw new InvalidArgumentError(`${flag} must be a number from -1 to 1 (a score: cosine similarity).`);
    return n;
  };
}

export function registerDuplicates(program: Command): void {
  const cmd = program
    .command('duplicates')
    .description('find groups of near-duplicate images (a suggested keeper in each); nothing is deleted or moved')
    .option('--threshold <x>', "least score of a duplicate pair (the collection's cosine); default: --auto", scoreOption('--threshold'))
    .option('--auto', 'pick the threshold from the distribution of scores (the default)')
    .option('-k, --k <n>', 'neighbours looked up per image (candidate pairs come from these)', integerIn('-k', 1, 100), 10)
    .option('--margin <x>', 'least density-normalised margin of a pair, 0-1 (default 0.5; 0 with --verify)', scoreOption('--margin'))
    .option('--verify', 'confirm each pair by matching local features (ORB + RANSAC, mirrored too); reads the image files')
    .option('--csv <file>', 'also write the groups as CSV (one row per image)', nonEmpty('--csv'))
    .option('--html <file>', 'also write an HTML report with the images of each group side by side', nonEmpty('--html'))
    .option('--link-dir <dir>', 'also make a folder of symbolic links per group for review (a new or empty folder)', nonEmpty('--link-dir'))
    .option('--limit <n>', 'show at most this many groups (reports and JSON too; default all)', positiveInt('--limit'));
  inferenceOptions(storeOptions(cmd)).action(async (o: DuplicatesCliOpts) => {
    const out = new Output(o.json === true);
    if (o.auto && o.threshold !== undefined) throw new UsageError('give either --threshold or --auto, not both.');
    const progress = !out.json && process.stderr.isTTY === true;
    const { checkLinkDir, writeDuplicateReports } = await import('../../duplicates/report.js');
    if (o.linkDir) await checkLinkDir(o.linkDir); // before the work, not after it
    const { result, files } = await withCollection(o, async (col) => {
      const result = await col.findDuplicates({
        threshold: o.threshold ?? 'auto',
        k: o.k,
        ...(o.margin !== undefined ? { margin: o.margin } : {}),
        ...(o.verify ? { verify: true } : {}),
        ...(o.limit !== undefined ? { limit: o.limit } : {}),
        ...(progress ? { onProgress: (p) => process.stderr.write(`\r${p.phase === 'neighbours' ? 'neighbours' : 'grouping'} ${p.done}/${p.total}   ${p.done === p.total ? '\n' : ''}`) } : {}),
      });
      const files = await writeDuplicateReports(result, {
        ...(o.csv ? { csv: o.csv } : {}),
        ...(o.html ? { html: o.html } : {}),
        ...(o.linkDir ? { linkDir: o.linkDir } : {}),
      });
      return { result, files };
    });
    out.result({ ...result, ...(Object.keys(files).length ? { files } : {}) }, () => humanTable(result, files));
  });
}

function shown(m: DuplicateMember): string {
  const p = m.path ? path.relative(process.cwd(), m.path) || m.path : `(id ${m.id})`;
  const px = m.width && m.height ? `${m.width}x${m.height}` : '?';
  const kb = m.size !== null ? `${Math.round(m.size / 1024)} KB` : '';
  return `${px.padEnd(11)} ${kb.padStart(8)}  ${p}${m.verified ? `  (${m.verified})` : ''}`;
}

function humanTable(r: DuplicatesResult, files: { csv?: string; html?: string; linkDir?: string; links?: number }): string[] {
  const rule = `threshold ${r.threshold.toFixed(4)}${r.auto ? ' (auto)' : ''}, margin ${r.margin}, k ${r.k}${r.verified ? ', verified' : ''}`;
  const lines = [`${r.totalGroups} groups, ${r.totalDuplicates} duplicates among ${r.items} images (${rule}; ${(r.stats.ms / 1000).toFixed(1)} s)`];
  r.groups.forEach((g, i) => {
    lines.push('', `group ${r.offset + i + 1} (${g.duplicates.length + 1} images)`);
    lines.push(`  keep    ${shown(g.keeper)}`);
    for (const d of g.duplicates) lines.push(`  ${d.score.toFixed(4)}  ${shown(d)}`);
  });
  if (r.groups.length < r.totalGroups) lines.push('', `… ${r.totalGroups - r.offset - r.groups.length} more groups (--limit)`);
  if (files.csv) lines.push(`csv: ${files.csv}`);
  if (files.html) lines.push(`report: ${files.html}`);
  if (files.linkDir) lines.push(`links: ${files.links} in ${files.linkDir}`);
  return lines;
}
