/**
 * Relevance feedback, measured the standard way (residual-collection evaluation with a simulated user): the user
 * judges the first page of a query — hits of the query's class are 👍, the others 👎 — and asks again with those
 * judgements as positive/negative terms; the *next* page is scored on the residual collection (judged hits removed).
 * The fair baseline is the same user paging on without feedback: the next page of the original ranking.
 */
import type { Collection } from '../collection.js';
import { createError } from '../errors.js';
import type { CompositeQuery, QueryTerm, Strategy } from '../search/search.js';
import { MAX_TERMS } from '../search/search.js';
import { averagePrecision, mean, precisionAt } from './metrics.js';

export interface FeedbackOptions {
  /** Rounds of judging a page and asking again (default 1). */
  readonly rounds?: number;
  /** Page size: hits judged per round, and the page scored after it (default 10). */
  readonly k?: number;
  /** Strategies to measure (default both). */
  readonly strategies?: readonly Strategy[];
  /**
   * Rocchio weights for `average`: the query term weighs α, the 👍 hits β/|P| each, the 👎 hits γ/|N| each.
   * `best-score` uses every term at weight 1 (its score is a maximum, not a sum).
   */
  readonly weights?: { readonly alpha: number; readonly beta: number; readonly gamma: number };
}

/** Defaults measured on oxford-flowers17 and fashion-products (docs/search.md). */
export const FEEDBACK_DEFAULTS = { rounds: 1, k: 10, weights: { alpha: 1, beta: 3, gamma: 2 } } as const;

/** P@k and AP@k of one page (AP over the relevant items left in the residual collection). */
export interface PageFigures {
  readonly precision: number;
  readonly map: number;
}

export interface FeedbackResult {
  readonly k: number;
  readonly rounds: number;
  readonly weights: { readonly alpha: number; readonly beta: number; readonly gamma: number };
  /** The first page of the original query (what the user judges in round 1). */
  readonly firstPage: PageFigures;
  /** Per round: the next page without feedback (ranks r·k+1 … (r+1)·k of the original query). */
  readonly withoutFeedback: PageFigures[];
  /** Per strategy, per round: the next page after feedback, judged hits removed. */
  readonly withFeedback: Partial<Record<Strategy, PageFigures[]>>;
}

export function checkFeedbackOptions(o: FeedbackOptions): Required<FeedbackOptions> {
  const rounds = o.rounds ?? FEEDBACK_DEFAULTS.rounds;
  const k = o.k ?? FEEDBACK_DEFAULTS.k;
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(k) || k < 1 || 1 + rounds * k > MAX_TERMS) {
    throw createError(
      'INVALID_ARGUMENT',
      `feedback rounds × page size must fit a query of at most ${MAX_TERMS} terms (1 + rounds·k ≤ ${MAX_TERMS}; got rounds ${rounds}, k ${k}).`,
      { field: 'feedback' },
    );
  }
  const weights = o.weights ?? FEEDBACK_DEFAULTS.weights;
  for (const [name, w] of Object.entries(weights)) {
    if (!Number.isFinite(w) || w < 0) throw createError('INVALID_ARGUMENT', `feedback weight ${name} must be a number ≥ 0 (got ${w}).`, { field: 'weights' });
  }
  return { rounds, k, strategies: o.strategies ?? ['average', 'best-score'], weights };
}

/** The query after judging: the original item, the 👍 and the 👎 hits as terms. */
export function feedbackQuery(
  queryId: string,
  liked: readonly string[],
  disliked: readonly string[],
  strategy: Strategy,
  weights: { alpha: number; beta: number; gamma: number },
): CompositeQuery {
  const avg = strategy === 'average';
  const pos: QueryTerm[] = [{ id: queryId, weight: avg ? weights.alpha : 1 }];
  const neg: QueryTerm[] = [];
  if (!avg || weights.beta > 0) for (const id of liked) pos.push({ id, weight: avg ? weights.beta / liked.length : 1 });
  if (!avg || weights.gamma > 0) for (const id of disliked) neg.push({ id, weight: avg ? weights.gamma / disliked.length : 1 });
  return { positive: pos, negative: neg, strategy };
}

/** Collects per-query page figures and averages them. */
export class FeedbackMeter {
  readonly #o: Required<FeedbackOptions>;
  readonly #first: { p: number[]; ap: number[] } = { p: [], ap: [] };
  readonly #base: { p: number[]; ap: number[] }[];
  readonly #fb = new Map<Strategy, { p: number[]; ap: number[] }[]>();

  constructor(opts: FeedbackOptions) {
    this.#o = checkFeedbackOptions(opts);
    this.#base = Array.from({ length: this.#o.rounds }, () => ({ p: [], ap: [] }));
    for (const s of this.#o.strategies) this.#fb.set(s, Array.from({ length: this.#o.rounds }, () => ({ p: [], ap: [] })));
  }

  /**
   * One query: `ranking` is its original ranking (ids, best first, ties broken), `isRelevant` the judge, `total` the
   * relevant items in the gallery (the query excluded).
   */
  async measure(col: Collection, queryId: string, ranking: readonly string[], isRelevant: (id: string) => boolean, total: number): Promise<void> {
    const { k, rounds, weights } = this.#o;
    const score = (page: readonly string[], left: number, into: { p: number[]; ap: number[] }) => {
      const rel = page.map(isRelevant);
      into.p.push(precisionAt(rel, k));
      into.ap.push(averagePrecision(rel, left, k));
    };
    const relevantIn = (ids: readonly string[]) => ids.filter(isRelevant).length;
    score(ranking.slice(0, k), total, this.#first);
    for (let r = 1; r <= rounds; r++) {
      score(ranking.slice(r * k, (r + 1) * k), total - relevantIn(ranking.slice(0, r * k)), this.#base[r - 1]!);
    }
    for (const [strategy, perRound] of this.#fb) {
      const judged = [...ranking.slice(0, k)];
      for (let r = 1; r <= rounds; r++) {
        const liked = judged.filter(isRelevant);
        const disliked = judged.filter((id) => !isRelevant(id));
        const page = (await col.search(feedbackQuery(queryId, liked, disliked, strategy, weights), { k, includeMetadata: false })).map((h) => h.id);
        score(page, total - liked.length, perRound[r - 1]!);
        judged.push(...page);
      }
    }
  }

  result(): FeedbackResult {
    const fig = (x: { p: number[]; ap: number[] }): PageFigures => ({ precision: mean(x.p), map: mean(x.ap) });
    const withFeedback: Partial<Record<Strategy, PageFigures[]>> = {};
    for (const [s, rounds] of this.#fb) withFeedback[s] = rounds.map(fig);
    return {
      k: this.#o.k,
      rounds: this.#o.rounds,
      weights: this.#o.weights,
      firstPage: fig(this.#first),
      withoutFeedback: this.#base.map(fig),
      withFeedback,
    };
  }
}

/** The feedback figures as a table: the first page, then per round the next page without and with feedback. */
export function formatFeedbackTable(model: string, f: FeedbackResult): string {
  const f3 = (x: number) => x.toFixed(3);
  const header = ['model', 'page', `P@${f.k}`, `mAP@${f.k}`];
  const rows: string[][] = [[model, `first page (ranks 1-${f.k})`, f3(f.firstPage.precision), f3(f.firstPage.map)]];
  for (let r = 0; r < f.rounds; r++) {
    const base = f.withoutFeedback[r]!;
    rows.push([model, `next page, no feedback (ranks ${(r + 1) * f.k + 1}-${(r + 2) * f.k})`, f3(base.precision), f3(base.map)]);
    for (const [s, per] of Object.entries(f.withFeedback)) {
      const x = per[r]!;
      const gain = x.precision - base.precision;
      rows.push([model, `next page after feedback round ${r + 1}, ${s}`, `${f3(x.precision)} (${gain >= 0 ? '+' : ''}${f3(gain)})`, f3(x.map)]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const w = f.weights;
  return [
    line(header),
    widths.map((x) => '-'.repeat(x)).join('  '),
    ...rows.map(line),
    `(simulated user judging ${f.k} hits per round by label; judged hits removed; average: Rocchio α ${w.alpha}, β ${w.beta}, γ ${w.gamma})`,
  ].join('\n');
}
