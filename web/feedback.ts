// Relevance feedback and compositional queries: 👍/👎 on hits (marks, searched together with "Search again"), the
// query's terms as chips with their weights (removable, weights editable), the strategy that combines them.
//
// The query bar shows the *draft*: the search shown plus the marks not searched yet. Any change made in it (remove a
// term, edit a weight, the strategy) searches the draft; marking hits only adds to it.
import { queryImageUrl, thumbUrl } from './api.js';
import { showImage } from './images.js';
import { emptyQuery, type Query, type Strategy } from './query.js';
import { $, el, els, itemName, show, thumbIcon, unchanged, withBreaks } from './render.js';
import type { State } from './state.js';
import { EQUAL_WEIGHTS, effectiveTerms, weightText, withMarks, withoutTerm, withWeight, type EffectiveTerm, type Weights } from './terms.js';

export const fbEls = {
  terms: $<HTMLElement>('terms'),
  list: $<HTMLUListElement>('term-list'),
  strategy: $<HTMLSelectElement>('strategy'),
  strategyLabel: $<HTMLLabelElement>('strategy-label'),
  note: $<HTMLParagraphElement>('terms-note'),
  legend: $<HTMLParagraphElement>('terms-legend'),
  bar: $<HTMLElement>('marks'),
  barText: $<HTMLSpanElement>('marks-text'),
  apply: $<HTMLButtonElement>('apply'),
  clear: $<HTMLButtonElement>('clear-marks'),
  live: $<HTMLParagraphElement>('marks-live'),
};

export const weightsOf = (s: State): Weights => s.limits.feedbackWeights ?? EQUAL_WEIGHTS;
/** What the next search from the query bar will be: the search shown plus the marks. */
export const draftOf = (s: State): Query => withMarks(s.search.query, s.marks);
const termCount = (q: Query): number => (q.kind === 'none' ? 0 : 1 + q.terms.length);

/** A problem with what was typed in the query bar (a weight that cannot be used). */
let barError: string | null = null;

function termName(s: State, q: Query, t: EffectiveTerm): string {
  let name: string;
  if (t.kind === 'text') name = `“${t.value}”`;
  else if (t.kind === 'id') name = itemName(s, q.collection, t.value);
  else name = t.index < 0 && s.search.file ? s.search.file.name : 'the uploaded image';
  return t.crop ? `a region of ${name}` : name;
}

function termImage(s: State, q: Query, t: EffectiveTerm): HTMLElement[] {
  if (t.kind === 'text') return [el('span', { className: 'term-icon' }, 'T')];
  const img = el('img', { alt: '', width: 32, height: 32 });
  if (t.kind === 'id') showImage(img, thumbUrl(q.collection, t.value, 160));
  else if (t.index < 0 && s.search.file) img.src = s.search.file.url;
  else showImage(img, queryImageUrl(t.value));
  return [img];
}

function weightWord(): HTMLElement {
  const x = el('span', { className: 'weight-word' }, 'weight');
  x.setAttribute('aria-hidden', 'true'); // the input is named "Weight of …"
  return x;
}

const termKey = (t: EffectiveTerm): string => `${t.negative ? '-' : '+'}${t.kind}:${t.value}`;

function chip(s: State, q: Query, t: EffectiveTerm, pending: boolean, alone: boolean): HTMLLIElement {
  const name = termName(s, q, t);
  const role = t.index < 0 ? 'Query' : t.negative ? 'Less like' : 'More like';
  const sign = t.index < 0 ? [] : [el('span', { className: 'term-sign' }, t.kind === 'text' && !t.negative ? '+' : thumbIcon(t.negative ? 'dislike' : 'like', 15))];
  const weight = el('input', { type: 'number', className: 'weight', step: 'any', min: '0.01', max: '100', value: weightText(t.weight) });
  weight.setAttribute('aria-label', `Weight of ${name}${t.edited ? '' : ' (default)'}`);
  weight.dataset.focus = `w${termKey(t)}`;
  weight.classList.toggle('edited', t.edited);
  const remove = el('button', { type: 'button', className: 'term-remove' }, '✕');
  remove.setAttribute('aria-label', alone ? `Remove ${name}: clear the search` : `Remove ${name} from the query`);
  remove.dataset.focus = `x${termKey(t)}`;
  const li = el(
    'li',
    { className: `term ${t.index < 0 ? 'first' : t.negative ? 'neg' : 'pos'}${pending ? ' pending' : ''}` },
    ...sign,
    ...termImage(s, q, t),
    el('span', { className: 'term-name' }, el('span', { className: 'visually-hidden' }, `${role}: `), ...withBreaks(name), ...(pending ? [el('span', { className: 'visually-hidden' }, ' (marked, not searched yet)')] : [])),
    el('span', { className: 'term-end' }, el('span', { className: 'term-weight', title: t.edited ? 'Weight (yours)' : 'Weight (default)' }, weightWord(), weight), remove),
  );
  li.dataset.index = String(t.index);
  if (pending) li.dataset.mark = t.value;
  return li;
}

function renderTerms(s: State): void {
  const q = draftOf(s);
  const committed = s.search.query.terms.length;
  const terms = effectiveTerms(q, weightsOf(s));
  show(fbEls.terms, terms.length > 0);
  fbEls.strategy.value = q.strategy;
  // the server does not re-rank best-score queries: with re-ranking on, best score cannot be chosen
  const best = fbEls.strategy.querySelector<HTMLOptionElement>('option[value="best-score"]');
  if (best) {
    best.disabled = q.rerank !== null && q.strategy !== 'best-score';
    best.textContent = best.disabled ? 'best score (not with re-ranking)' : 'best score';
  }
  show(fbEls.strategyLabel, terms.length > 1); // one term ranks the same either way
  fbEls.note.textContent = barError ?? '';
  show(fbEls.note, barError !== null);
  const w = weightsOf(s);
  fbEls.legend.textContent =
    q.strategy === 'average'
      ? `Grey weights are defaults: the query ${weightText(w.alpha)}, liked hits ${weightText(w.beta)} shared, disliked ${weightText(w.gamma)} shared.`
      : 'Best score: a hit scores its best similarity to a liked term, less when it is closer to a disliked one; grey weights are defaults (1).';
  show(fbEls.legend, terms.length > 1);
  const names = terms.map((t) => termName(s, q, t));
  if (unchanged(fbEls.list, [q.collection, terms, names, committed, s.search.file?.url ?? null])) return;
  const focused = (document.activeElement as HTMLElement | null)?.dataset.focus;
  const wasInside = fbEls.list.contains(document.activeElement);
  const alone = terms.filter((t) => !t.negative).length === 1;
  fbEls.list.replaceChildren(...terms.map((t) => chip(s, q, t, t.index >= committed, alone && !t.negative)));
  if (wasInside) {
    // the same control of the same term keeps the focus; else the list's first control
    const again = focused ? fbEls.list.querySelector<HTMLElement>(`[data-focus="${CSS.escape(focused)}"]`) : null;
    (again ?? fbEls.list.querySelector<HTMLElement>('input, button') ?? fbEls.strategy).focus();
  }
}

function renderBar(s: State): void {
  const n = s.marks.size;
  show(fbEls.bar, n > 0 && s.search.query.kind !== 'none');
  const likes = [...s.marks.values()].filter((neg) => !neg).length;
  fbEls.barText.textContent = `${likes} liked · ${n - likes} disliked, not searched yet`;
  fbEls.apply.textContent = `Search again (${n})`;
}

/** The 👍/👎 buttons of the cards follow the marks. */
function renderCardMarks(s: State): void {
  const full = termCount(draftOf(s)) >= s.limits.maxQueryTerms;
  for (const card of els.results.querySelectorAll<HTMLElement>('.hit')) {
    const mark = s.marks.get(card.dataset.id ?? '');
    card.classList.toggle('liked', mark === false);
    card.classList.toggle('disliked', mark === true);
    for (const b of card.querySelectorAll<HTMLButtonElement>('button.mark')) {
      const pressed = mark !== undefined && mark === b.classList.contains('dislike');
      b.setAttribute('aria-pressed', String(pressed));
      b.setAttribute('aria-disabled', String(full && mark === undefined));
    }
  }
}

export function renderFeedback(s: State): void {
  renderTerms(s);
  renderBar(s);
  renderCardMarks(s);
}

/** 👍 (`negative` false) or 👎 on a hit: mark it, or unmark it when it is marked so already. Returns what to announce. */
export function toggleMark(s: State, id: string, negative: boolean): string {
  const name = itemName(s, s.search.query.collection, id);
  if (s.marks.get(id) === negative) {
    s.marks.delete(id);
    return `${name} unmarked.`;
  }
  if (!s.marks.has(id) && termCount(draftOf(s)) >= s.limits.maxQueryTerms) {
    return `A query has at most ${s.limits.maxQueryTerms} terms: search again, or remove a term first.`;
  }
  s.marks.set(id, negative);
  const n = s.marks.size;
  return `${name} marked: ${negative ? 'less like this (disliked)' : 'more like this (liked)'}. ${n} mark${n === 1 ? '' : 's'} not searched yet: “Search again” searches with them.`;
}

/** Wire the query bar and the marks bar; `run` starts a search (a new history entry) unless it is the one shown. */
export function wireFeedback(s: State, run: (q: Query) => void, paint: () => void): void {
  const term = (e: Event): HTMLElement | null => (e.target as Element).closest<HTMLElement>('li.term');
  fbEls.list.addEventListener('click', (e) => {
    const li = term(e);
    if (!li || !(e.target as Element).closest('.term-remove')) return;
    barError = null;
    if (li.dataset.mark !== undefined) {
      s.marks.delete(li.dataset.mark); // a mark not searched yet: only unmarked
      fbEls.live.textContent = `${itemName(s, s.search.query.collection, li.dataset.mark)} unmarked.`;
      paint();
      return;
    }
    const q = withoutTerm(draftOf(s), Number(li.dataset.index));
    run(q.kind === 'none' ? emptyQuery(q.collection, q) : q);
  });
  const weightChanged = (input: HTMLInputElement) => {
    const li = input.closest<HTMLElement>('li.term');
    if (!li) return;
    const w = Number(input.value);
    if (input.value.trim() === '' || !Number.isFinite(w) || w <= 0 || w > 100) {
      barError = 'A weight is a number above 0 and at most 100.';
      input.setAttribute('aria-invalid', 'true');
      paint();
      return;
    }
    barError = null;
    run(withWeight(draftOf(s), Number(li.dataset.index), w));
  };
  fbEls.list.addEventListener('change', (e) => {
    const input = e.target as HTMLInputElement;
    if (input.classList.contains('weight')) weightChanged(input);
  });
  fbEls.list.addEventListener('keydown', (e) => {
    const input = e.target as HTMLInputElement;
    if (e.key !== 'Enter' || !input.classList.contains('weight')) return;
    e.preventDefault();
    weightChanged(input);
  });
  fbEls.strategy.addEventListener('change', () => run({ ...draftOf(s), strategy: fbEls.strategy.value as Strategy }));
  // the bar goes away with its buttons: the focus goes on to the results (what changes)
  fbEls.apply.addEventListener('click', () => {
    run(draftOf(s));
    els.results.focus();
  });
  fbEls.clear.addEventListener('click', () => {
    s.marks.clear();
    fbEls.live.textContent = 'Marks cleared.';
    paint();
    els.results.focus();
  });
}
