import { InvalidArgumentError, Option, type Command } from 'commander';
import path from 'node:path';
import type { CollectionMap } from '../../map/types.js';
import { inferenceOptions, integerIn, nonEmpty, storeOptions, type InferenceOpts, type StoreOpts } from '../options.js';
import { Output } from '../output.js';
import { withCollection } from '../shared.js';

interface MapCliOpts extends StoreOpts, InferenceOpts {
  readonly method: 'auto' | 'umap' | 'pca';
  readonly clusters: number | 'auto';
  readonly seed: number;
  readonly labels: boolean;
  readonly refresh?: boolean;
  readonly html?: string;
}

function clustersOption(v: string): number | 'auto' {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError('--clusters must be "auto" or an integer from 1 to 256.');
  return n;
}

export function registerMap(program: Command): void {
  const cmd = program
    .command('map')
    .description('lay out the whole collection in 2-D (UMAP, or PCA for large ones) and group it into clusters with representative images')
    .addOption(new Option('--method <method>', 'layout: umap (up to 50,000 items), pca, or auto').choices(['auto', 'umap', 'pca']).default('auto'))
    .option('--clusters <k>', 'number of k-means clusters, or auto (about √(n/2), at most 36)', clustersOption, 'auto')
    .option('--seed <n>', 'seed of the layout and the clustering (same seed, same collection: same map)', integerIn('--seed', 0, 0xffffffff), 42)
    .option('--no-labels', 'no zero-shot words for the clusters (CLIP collections; needs the model)')
    .option('--refresh', 'recompute even when a map of this collection state is cached')
    .option('--html <file>', 'also write an HTML page: the scatter with thumbnails of each cluster, and the clusters as pictures', nonEmpty('--html'));
  inferenceOptions(storeOptions(cmd)).action(async (o: MapCliOpts) => {
    const out = new Output(o.json === true);
    const progress = !out.json && process.stderr.isTTY === true;
    const { map, html } = await withCollection(o, async (col) => {
      const textModel = col.spec.embedder.modalities.includes('text');
      const map = await col.map({
        method: o.method,
        clusters: o.clusters,
        seed: o.seed,
        labels: o.labels && textModel,
        ...(o.refresh ? { refresh: true } : {}),
        ...(progress ? { onProgress: (p) => process.stderr.write(`\r${p.phase} ${p.done}/${p.total}          `) } : {}),
      });
      if (progress) process.stderr.write('\r\x1b[K');
      let html: string | undefined;
      if (o.html) {
        const { writeMapHtml } = await import('../../map/report.js');
        html = await writeMapHtml(map, o.html, { maxPixels: col.config.maxPixels });
      }
      return { map, html };
    });
    out.result({ ...map, ...(html ? { html } : {}) }, () => humanSummary(map, html));
  });
}

function humanSummary(m: CollectionMap, html: string | undefined): string[] {
  const how = m.cached ? 'cached' : `${(m.ms / 1000).toFixed(1)} s`;
  const lines = [`${m.items} images of "${m.collection}" mapped by ${m.method.toUpperCase()} (seed ${m.seed}; ${how}) into ${m.clusters.length} clusters`];
  const byId = new Map(m.points.map((p) => [p.id, p]));
  const shown = (id: string) => {
    const p = byId.get(id)?.path;
    return p ? path.relative(process.cwd(), p) || p : `(id ${id})`;
  };
  for (const c of m.clusters) {
    const words = c.labels?.length ? `  ${c.labels.join(', ')}` : '';
    lines.push(`  cluster ${String(c.id + 1).padStart(3)}  ${String(c.size).padStart(6)} images${words}`);
    lines.push(`      e.g. ${c.representatives.slice(0, 3).map(shown).join('  ')}`);
  }
  lines.push(html ? `map: ${html}` : 'Export points and clusters with --json, or see them with --html map.html (or the web page: lookalike serve, then /map.html).');
  return lines;
}
