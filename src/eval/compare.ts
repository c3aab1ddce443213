import sharp from 'sharp';
import { evaluateRetrieval, type RetrievalEvalOptions, type RetrievalEvalResult } from './evaluate.js';

export interface CompareOptions extends Omit<RetrievalEvalOptions, 'model'> {
  readonly models: readonly string[];
  /** Called when one model's evaluation starts. */
  readonly onModel?: (model: string, index: number) => void;
}

/** Evaluate several embedders on the same labelled folder, one after the other, with the same settings. */
export async function compareModels(opts: CompareOptions): Promise<RetrievalEvalResult[]> {
  const results: RetrievalEvalResult[] = [];
  for (const [i, model] of opts.models.entries()) {
    opts.onModel?.(model, i);
    results.push(await evaluateRetrieval({ ...opts, model, samples: opts.samples ?? 6, sampleK: opts.sampleK ?? 5 }));
  }
  return results;
}

const f3 = (x: number): string => x.toFixed(3);

/**
 * Notes on a result that the table cannot show: images left out (failed), unlabelled images, and — where tied scores
 * straddle a cut-off — the tie-aware figures (expected values under a random order of tied results).
 */
export function resultNotes(r: RetrievalEvalResult): string[] {
  const notes: string[] = [];
  const t = r.tieAware;
  const tied = t.queriesTiedAtCutoff;
  if (tied['1'] + tied['5'] + tied['10'] > 0) {
    notes.push(
      `${r.model}: tied scores straddle rank 1/5/10 in ${tied['1']}/${tied['5']}/${tied['10']} of ${r.queries} queries; ` +
        `expected under a random order of ties: P@1 ${f3(t.precisionAt['1'])}, P@5 ${f3(t.precisionAt['5'])}, ` +
        `P@10 ${f3(t.precisionAt['10'])}, mAP@10 ${f3(t.mapAt10)}, mAP ${f3(t.map)}`,
    );
  }
  if (r.failed > 0) {
    const first = r.failures[0];
    notes.push(`${r.model}: ${r.failed} image(s) left out${first ? ` (e.g. ${first.path}: ${first.error})` : ''}`);
  }
  if (r.unlabelled > 0) notes.push(`${r.model}: ${r.unlabelled} image(s) without a label (in the gallery, never queries)`);
  return notes;
}

const pct = (c: number): string => `${(c * 100).toFixed(c >= 0.995 ? 1 : 0)} %`;

/** What raw scores mean, one line per model: raw scores are not comparable across models, calibrated ones are. */
export function scoreScaleLines(results: readonly RetrievalEvalResult[]): string[] {
  if (results.length === 0) return [];
  return [
    'Raw scores are not comparable across models; calibrated (share of all pairs scoring lower):',
    ...results.map((r) => {
      const s = r.scoreScale;
      return `  ${r.model}: half of all pairs score below ${f3(s.random.p50)}, 99 % below ${f3(s.random.p99)}, 99.9 % below ${f3(s.random.p999)}; median best match ${f3(s.bestMatchMedian)} (${pct(s.bestMatchConfidence)})`;
    }),
  ];
}

/** A plain-text table, one row per model, followed by the score scales and the notes of `resultNotes`. */
export function formatTable(results: readonly RetrievalEvalResult[]): string {
  const header = ['model', 'images', 'P@1', 'P@5', 'P@10', 'mAP@10', 'mAP', 'images/s'];
  const rows = results.map((r) => [
    r.model,
    String(r.images),
    f3(r.precisionAt['1']),
    f3(r.precisionAt['5']),
    f3(r.precisionAt['10']),
    f3(r.mapAt10),
    f3(r.map),
    r.imagesPerSecond.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const notes = results.flatMap(resultNotes);
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), '', ...scoreScaleLines(results), ...(notes.length ? ['', ...notes] : [])].join(
    '\n',
  );
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

async function thumbnail(file: string, cache: Map<string, string>): Promise<string> {
  const hit = cache.get(file);
  if (hit) return hit;
  let uri = '';
  try {
    const jpg = await sharp(file).rotate().resize(112, 112, { fit: 'cover' }).jpeg({ quality: 70 }).toBuffer();
    uri = `data:image/jpeg;base64,${jpg.toString('base64')}`;
  } catch {
    uri = '';
  }
  cache.set(file, uri);
  return uri;
}

/**
 * A self-contained HTML report (thumbnails embedded as data URIs): the metrics table, then for each sample query
 * every method's top results side by side, scores underneath, relevant results outlined in green.
 */
export async function renderReport(results: readonly RetrievalEvalResult[], title: string): Promise<string> {
  const cache = new Map<string, string>();
  const img = async (file: string, cls: string, caption: string) =>
    `<figure class="${cls}"><img src="${await thumbnail(file, cache)}" alt="${escapeHtml(file)}" title="${escapeHtml(file)}"><figcaption>${escapeHtml(caption)}</figcaption></figure>`;

  const table = `<table><thead><tr><th>model</th><th>images</th><th>P@1</th><th>P@5</th><th>P@10</th><th>mAP@10</th><th>mAP</th><th>images/s</th></tr></thead><tbody>${results
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.model)}</td><td>${r.images}</td><td>${f3(r.precisionAt['1'])}</td><td>${f3(r.precisionAt['5'])}</td><td>${f3(
          r.precisionAt['10'],
        )}</td><td>${f3(r.mapAt10)}</td><td>${f3(r.map)}</td><td>${r.imagesPerSecond.toFixed(1)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
  const scales = `<h2>What a score means</h2>
<p>Raw scores are <strong>not comparable across models</strong>: each model spreads unrelated images over its own range.
Calibrated, a score becomes the share of all pairs of images in this evaluation that score lower — comparable across
models. Under each result below: the raw score and its calibrated form.</p>
<table><thead><tr><th>model</th><th>50 % of pairs below</th><th>90 %</th><th>99 %</th><th>99.9 %</th><th>median best match</th><th>calibrated</th></tr></thead><tbody>${results
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.model)}</td><td>${f3(r.scoreScale.random.p50)}</td><td>${f3(r.scoreScale.random.p90)}</td><td>${f3(r.scoreScale.random.p99)}</td><td>${f3(
          r.scoreScale.random.p999,
        )}</td><td>${f3(r.scoreScale.bestMatchMedian)}</td><td>${pct(r.scoreScale.bestMatchConfidence)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
  const notes = results.flatMap(resultNotes);
  const notesHtml = notes.length ? `<ul class="notes">${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';

  const sections: string[] = [];
  const queries = results[0]?.samples ?? [];
  for (const q of queries) {
    const rows: string[] = [];
    for (const r of results) {
      const s = r.samples.find((x) => x.path === q.path);
      if (!s) continue;
      const hits = await Promise.all(
        s.hits.map((h) => img(h.path, h.relevant ? 'hit relevant' : 'hit', `${h.score.toFixed(3)} · ${pct(h.confidence)} ${h.label ?? '—'}`)),
      );
      rows.push(`<tr><th>${escapeHtml(r.model)}</th><td>${hits.join('')}</td></tr>`);
    }
    sections.push(
      `<section><h2>Query: ${escapeHtml(q.label)}</h2><div class="query">${await img(q.path, 'q', q.label)}</div><table class="hits">${rows.join(
        '',
      )}</table></section>`,
    );
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}
th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:right;vertical-align:middle}
th:first-child,td:first-child{text-align:left}
.hits th{text-align:left;white-space:nowrap}
.hits td{text-align:left}
figure{display:inline-block;margin:.2rem;text-align:center;font-size:.75rem}
figure img{width:112px;height:112px;object-fit:cover;border:3px solid #ccc;display:block}
figure.relevant img{border-color:#2a2}
figure.q img{border-color:#36c}
section{margin-top:2rem}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>Leave-one-out retrieval: each labelled image queries all others; a result is relevant when it has the query's label (green frame).
Ties between equal scores are broken by image content, never by names; where ties straddle a cut-off, the notes give
the expected figures under a random order of ties. Generated by lookalike.</p>
${table}
${notesHtml}
${scales}
${sections.join('\n')}
</body></html>
`;
}
