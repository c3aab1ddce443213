import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { createError } from '../errors.js';
import { walkImages } from '../ingest/walk.js';
import { checkDir, checkEmbeddings, withCollection, type AtK, type EvalCommon, type EvalFailure } from './common.js';
import { matchLabels } from './labels.js';
import { hitAt, mean } from './metrics.js';

const CocoCaptions = z.object({
  images: z.array(z.object({ id: z.number(), file_name: z.string() })),
  annotations: z.array(z.object({ image_id: z.number(), caption: z.string() })),
});

export interface TextEvalOptions extends EvalCommon {
  /** COCO-format captions JSON (`images[].file_name`, `annotations[].image_id/caption`). */
  readonly captions: string;
}

export interface TextEvalResult {
  readonly model: string;
  /** Gallery size: every image indexed with a usable embedding. */
  readonly images: number;
  readonly queries: number;
  readonly recallAt: AtK;
  readonly imagesPerSecond: number;
  /** Images left out of the evaluation (= `failures.length`). */
  readonly failed: number;
  readonly failures: EvalFailure[];
}

/**
 * Text → image retrieval: every caption searches the gallery; recall@k = share of captions whose image is in the top k.
 * A caption's image is found by its `file_name` relative to `dir` (or by a bare file name that is unique).
 */
export async function evaluateTextRetrieval(opts: TextEvalOptions): Promise<TextEvalResult> {
  const root = checkDir(opts.dir);
  let coco: z.infer<typeof CocoCaptions>;
  try {
    coco = CocoCaptions.parse(JSON.parse(fs.readFileSync(opts.captions, 'utf8')));
  } catch (e) {
    throw createError('INVALID_ARGUMENT', `${opts.captions} is not COCO captions JSON (images[], annotations[]): ${(e as Error).message.split('\n')[0]}`, {
      field: 'captions',
    });
  }
  // image path → COCO image id, matched before anything is embedded.
  const cocoIdOf = matchLabels(
    root,
    coco.images.map((im) => ({ path: im.file_name, label: String(im.id) })),
    (await walkImages(root)).map((f) => f.path),
    { csvDir: path.dirname(path.resolve(opts.captions)), source: opts.captions },
  ).labels;
  return withCollection(opts, async (col) => {
    if (!col.spec.embedder.modalities.includes('text')) {
      throw createError('TEXT_NOT_SUPPORTED', `Model "${opts.model}" embeds images only; eval-text needs a CLIP-family model.`);
    }
    const report = await col.indexFolder(root, { onProgress: (p) => opts.onProgress?.({ phase: 'index', ...p }) });
    const allFiles = await col.files();
    const { bad } = await checkEmbeddings(col, allFiles);
    const failures: EvalFailure[] = [...report.failures, ...bad.values()];
    const itemOfImage = new Map<string, string>();
    for (const f of allFiles) {
      const cocoId = cocoIdOf.get(f.path);
      if (cocoId !== undefined && !bad.has(f.id)) itemOfImage.set(cocoId, f.id);
    }
    const queries = coco.annotations
      .map((a) => ({ caption: a.caption, target: itemOfImage.get(String(a.image_id)) }))
      .filter((q): q is { caption: string; target: string } => q.target !== undefined);
    if (queries.length === 0) throw createError('INVALID_ARGUMENT', `No caption in ${opts.captions} refers to an image under ${root}.`);
    const r1: number[] = [];
    const r5: number[] = [];
    const r10: number[] = [];
    for (const [i, q] of queries.entries()) {
      const hits = (await col.search({ text: q.caption }, { k: 10 + bad.size, includeMetadata: false })).filter((h) => !bad.has(h.id));
      const rank = hits.findIndex((h) => h.id === q.target);
      const r = rank < 0 ? undefined : rank;
      r1.push(hitAt(r, 1) ? 1 : 0);
      r5.push(hitAt(r, 5) ? 1 : 0);
      r10.push(hitAt(r, 10) ? 1 : 0);
      if (i % 50 === 0 || i === queries.length - 1) opts.onProgress?.({ phase: 'query', done: i + 1, total: queries.length });
    }
    return {
      model: opts.model,
      images: allFiles.length - bad.size,
      queries: queries.length,
      recallAt: { '1': mean(r1), '5': mean(r5), '10': mean(r10) },
      imagesPerSecond: (report.added + report.updated) / Math.max(report.seconds, 1e-3),
      failed: failures.length,
      failures,
    };
  });
}
