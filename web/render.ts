// Every view of the page, derived from the state alone: call `render(state)` after any change.
import { queryImageUrl, thumbUrl, type Hit, type Summary } from './api.js';
import { altText, chips, currentInfo, displayName, seenKey, summaryOf, type State } from './state.js';

export const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

export const els = {
  select: $<HTMLSelectElement>('collection'),
  selectLabel: $<HTMLLabelElement>('collection-label'),
  info: $<HTMLParagraphElement>('info'),
  firstRun: $<HTMLElement>('first-run'),
  firstRunText: $<HTMLElement>('first-run-text'),
  firstRunCommand: $<HTMLElement>('first-run-command'),
  query: $<HTMLElement>('query'),
  drop: $<HTMLDivElement>('drop'),
  dropHint: $<HTMLSpanElement>('drop-hint'),
  file: $<HTMLInputElement>('file'),
  textForm: $<HTMLFormElement>('text-form'),
  text: $<HTMLInputElement>('text'),
  textButton: $<HTMLButtonElement>('text-button'),
  knobs: $<HTMLFormElement>('knobs'),
  k: $<HTMLInputElement>('k'),
  minScore: $<HTMLInputElement>('min-score'),
  filters: $<HTMLDivElement>('filters'),
  kNote: $<HTMLParagraphElement>('k-note'),
  notice: $<HTMLParagraphElement>('notice'),
  error: $<HTMLDivElement>('error'),
  status: $<HTMLDivElement>('status'),
  spinner: $<HTMLSpanElement>('spinner'),
  statusText: $<HTMLSpanElement>('status-text'),
  preview: $<HTMLElement>('query-preview'),
  empty: $<HTMLElement>('empty'),
  results: $<HTMLUListElement>('results'),
  more: $<HTMLButtonElement>('more'),
  moreNote: $<HTMLParagraphElement>('more-note'),
};

/** Thumbnail widths offered to the browser, which picks one for the slot and the device pixel ratio. */
const THUMB_WIDTHS = [160, 320, 480, 640];
const THUMB_SIZES = '(max-width: 343px) calc(100vw - 2rem), (max-width: 520px) calc(50vw - 1.4rem), 200px';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function show(e: HTMLElement, visible: boolean): void {
  e.hidden = !visible;
}

/** Whether `e` already shows what `key` describes (else remember it: the caller rebuilds `e`). */
function unchanged(e: HTMLElement, key: unknown): boolean {
  const k = JSON.stringify(key);
  if (e.dataset.rendered === k) return true;
  e.dataset.rendered = k;
  return false;
}

export function thumbImage(collection: string, h: Hit, summary: Summary | undefined): HTMLImageElement {
  return el('img', {
    src: thumbUrl(collection, h.id, 320),
    srcset: THUMB_WIDTHS.map((w) => `${thumbUrl(collection, h.id, w)} ${w}w`).join(', '),
    sizes: THUMB_SIZES,
    alt: altText(h, summary),
    loading: 'lazy',
    decoding: 'async',
    width: 320,
    height: 320,
  });
}

/** A path with line-break opportunities after its slashes (it wraps at folders before it wraps inside a name). */
function withBreaks(path: string): (Node | string)[] {
  return path.split(/(?<=\/)/u).flatMap((part, i) => (i === 0 ? [part] : [document.createElement('wbr'), part]));
}

function card(collection: string, h: Hit, summary: Summary | undefined): HTMLLIElement {
  const name = displayName(h, summary);
  const alt = altText(h, summary);
  const thumb = el('button', { type: 'button', className: 'thumb' }, thumbImage(collection, h, summary));
  thumb.setAttribute('aria-label', `More like this: ${alt}`);
  thumb.title = 'More like this';
  const list = chips(h.metadata);
  const details = el('button', { type: 'button', className: 'details' }, 'Details', el('span', { className: 'visually-hidden' }, ` of ${name}`));
  const li = el(
    'li',
    { className: 'hit' },
    thumb,
    el(
      'div',
      { className: 'caption' },
      el('span', { className: 'score', title: 'cosine similarity' }, h.score.toFixed(3)),
      el('span', { className: 'name' }, ...withBreaks(name)),
      ...(list.length ? [el('ul', { className: 'chips' }, ...list.map((c) => el('li', {}, c)))] : []),
      details,
    ),
  );
  li.dataset.id = h.id;
  return li;
}

/** What the results list shows now (so that "load more" only appends). */
let shown: { collection: string; hits: Hit[]; summary: Summary | undefined } = { collection: '', hits: [], summary: undefined };

function renderResults(s: State): void {
  const { collection } = s.search.query;
  const hits = s.search.hits;
  const summary = summaryOf(s, collection);
  const extends_ = shown.collection === collection && shown.summary === summary && shown.hits.length <= hits.length && shown.hits.every((h, i) => h === hits[i]);
  if (extends_) {
    if (hits.length > shown.hits.length) els.results.append(...hits.slice(shown.hits.length).map((h) => card(collection, h, summary)));
  } else {
    const hadFocus = els.results.contains(document.activeElement);
    els.results.replaceChildren(...hits.map((h) => card(collection, h, summary)));
    if (hadFocus) els.results.focus(); // keyboard users go on from the top of the new results
  }
  shown = { collection, hits, summary };
  const busy = s.search.phase === 'loading';
  els.results.classList.toggle('busy', busy);
  els.results.setAttribute('aria-busy', String(busy || s.search.more === 'loading'));
}

function queryLabel(s: State): string {
  const q = s.search.query;
  if (q.kind === 'text') return `“${q.value}”`;
  if (q.kind === 'id') {
    const h = s.seen.get(seenKey(q.collection, q.value)) ?? s.items.get(seenKey(q.collection, q.value));
    return `More like this: ${h ? displayName(h, summaryOf(s, q.collection)) : q.value}`;
  }
  if (q.kind === 'upload' || s.search.file) return `Images like ${s.search.file?.name ?? 'the uploaded image'}`;
  return '';
}

function renderPreview(s: State): void {
  const q = s.search.query;
  const label = s.search.phase === 'error' ? '' : queryLabel(s); // a failed query has no preview (the error says it)
  show(els.preview, label !== '');
  if (!label) {
    els.preview.replaceChildren();
    delete els.preview.dataset.rendered;
    return;
  }
  let src: string | null = null;
  if (q.kind === 'id') src = thumbUrl(q.collection, q.value, 160);
  else if (s.search.file) src = s.search.file.url;
  else if (q.kind === 'upload') src = queryImageUrl(q.value);
  const n = s.search.hits.length;
  const count = s.search.phase === 'done' ? ` · ${n} result${n === 1 ? '' : 's'}${s.search.more === 'yes' ? ' so far' : ''}` : '';
  if (unchanged(els.preview, [label, src, count])) return;
  const img = src ? [el('img', { src, alt: `Query image: ${label}`, width: 96, height: 96 })] : [];
  els.preview.replaceChildren(...img, el('span', { className: 'label' }, label, el('span', { className: 'count' }, count)));
}

function renderStatus(s: State): void {
  const sr = s.search;
  const loading = sr.phase === 'loading' || sr.more === 'loading' || s.boot === 'loading';
  show(els.spinner, loading);
  let text = '';
  if (s.boot === 'loading') text = 'Loading…';
  else if (sr.phase === 'loading') text = 'Searching…';
  else if (sr.more === 'loading') text = 'Loading more…';
  else if (sr.phase === 'done') {
    const n = sr.hits.length;
    text = n === 0 ? 'No results' : `${n} result${n === 1 ? '' : 's'}${sr.ms !== null ? ` in ${sr.ms} ms` : ''}`;
  }
  if (els.statusText.textContent !== text) els.statusText.textContent = text;
  els.query.setAttribute('aria-busy', String(sr.phase === 'loading'));
  els.textButton.classList.toggle('busy', sr.phase === 'loading' && sr.query.kind === 'text');
  els.drop.classList.toggle('busy', sr.phase === 'loading' && sr.file !== null);
}

function renderEmpty(s: State): void {
  const sr = s.search;
  const none = sr.phase === 'done' && sr.hits.length === 0;
  show(els.empty, none);
  if (!none) return;
  const q = sr.query;
  // rebuilt only when it changes: a button replaced between mousedown and mouseup would never get its click
  if (unchanged(els.empty, [q.kind, q.minScore, q.where])) return;
  const tips: HTMLElement[] = [];
  if (q.minScore !== null) {
    tips.push(el('li', {}, `Nothing scored ${q.minScore} or more. `, el('button', { type: 'button' }, 'Search without a minimum score')));
    tips[tips.length - 1]!.querySelector('button')!.dataset.action = 'clear-min';
  }
  for (const [key, value] of Object.entries(q.where)) {
    const b = el('button', { type: 'button' }, `Remove the filter ${key} = ${value}`);
    b.dataset.action = 'remove-filter';
    b.dataset.key = key;
    tips.push(el('li', {}, b));
  }
  if (tips.length === 0) tips.push(el('li', {}, q.kind === 'text' ? 'Try other or more general words, or search with an image.' : 'Try another image.'));
  els.empty.replaceChildren(el('h2', {}, 'No results'), el('ul', {}, ...tips));
}

function renderFilters(s: State): void {
  const q = s.search.query;
  const summary = summaryOf(s, q.collection);
  const keys = (summary?.keys ?? []).filter((k) => k.distinct >= 2 && k.distinct <= 30 && k.values.length === k.distinct);
  const others = Object.entries(q.where).filter(([key]) => !keys.some((k) => k.key === key));
  if (unchanged(els.filters, [q.collection, keys, others])) {
    // the same selects: only their values follow the state (a select being used keeps the focus)
    for (const sel of els.filters.querySelectorAll('select')) sel.value = q.where[sel.dataset.key!] ?? '';
    return;
  }
  const selects = keys.map((k) => {
    const select = el(
      'select',
      {},
      el('option', { value: '' }, 'any'),
      ...k.values.map((v) => el('option', { value: v.value }, `${v.value} (${v.count})`)),
    );
    select.dataset.key = k.key;
    select.value = q.where[k.key] ?? '';
    return el('label', {}, k.key, ' ', select);
  });
  // filters from a link that no select offers stay visible and removable
  const extra = others.map(([key, value]) => {
    const b = el('button', { type: 'button', className: 'chip-button' }, `${key} = ${value} ✕`);
    b.dataset.action = 'remove-filter';
    b.dataset.key = key;
    b.setAttribute('aria-label', `Remove the filter ${key} = ${value}`);
    return b;
  });
  els.filters.replaceChildren(...selects, ...extra);
}

function renderControls(s: State): void {
  const info = currentInfo(s);
  const ready = s.boot === 'ready' && s.collections.length > 0;
  const usable = ready && info !== undefined && info.count > 0;
  show(els.query, ready);
  show(els.firstRun, s.boot === 'ready' && (s.collections.length === 0 || (info !== undefined && info.count === 0)));
  if (!els.firstRun.hidden) {
    const name = info?.collection ?? 'photos';
    els.firstRunText.textContent =
      s.collections.length === 0
        ? 'This server has no collections yet. Index a folder of images into its store (the same --db as lookalike serve):'
        : `Collection “${name}” is empty. Index a folder of images into it:`;
    els.firstRunCommand.textContent = `lookalike index ./photos --db <store> --collection ${name}${s.collections.length === 0 ? ' --label-key label' : ''}`;
  }
  const names = s.collections.map((c) => c.collection).join('\u0000');
  if (els.select.dataset.names !== names) {
    els.select.dataset.names = names;
    els.select.replaceChildren(...s.collections.map((c) => el('option', { value: c.collection }, c.collection)));
  }
  if (info) els.select.value = info.collection;
  show(els.selectLabel, s.collections.length > 0);
  els.info.textContent = info
    ? `${info.count} images · ${info.embedder} · ${info.dimension}-d · ${info.modalities.includes('text') ? 'image + text' : 'image only'}`
    : '';
  const text = usable && info.modalities.includes('text');
  els.text.disabled = !text;
  els.textButton.disabled = !text;
  if (!text) els.text.value = '';
  els.text.placeholder = text ? 'Describe an image, e.g. a yellow flower' : 'Text search needs a CLIP model';
  els.drop.setAttribute('aria-disabled', String(!usable));
  els.dropHint.textContent = `${s.limits.acceptedFormats.join(', ')} · up to ${Math.round(s.limits.maxUploadBytes / (1024 * 1024))} MB`;
  els.file.accept = s.limits.acceptedTypes.join(',');
  const q = s.search.query;
  els.k.max = String(s.limits.maxK);
  if (document.activeElement !== els.k && !s.knobError) els.k.value = String(q.k);
  if (document.activeElement !== els.minScore && !s.knobError) els.minScore.value = q.minScore === null ? '' : String(q.minScore);
  els.kNote.textContent = s.knobError ?? `1 to ${s.limits.maxK} per page; at most ${s.limits.maxK} in all.`;
  els.kNote.classList.toggle('bad', s.knobError !== null);
  els.k.setAttribute('aria-invalid', String(s.knobError !== null && /page/u.test(s.knobError)));
  els.minScore.setAttribute('aria-invalid', String(s.knobError !== null && /score/u.test(s.knobError)));
  renderFilters(s);
}

export function render(s: State): void {
  document.documentElement.dataset.boot = s.boot; // `ready` once the collections are known (tests wait on it)
  renderControls(s);
  const error = s.bootError ?? s.search.error;
  show(els.error, error !== null);
  if (els.error.textContent !== (error ?? '')) els.error.textContent = error ?? '';
  show(els.notice, s.notice !== null);
  els.notice.textContent = s.notice ?? '';
  renderStatus(s);
  renderPreview(s);
  renderEmpty(s);
  renderResults(s);
  const more = s.search.more;
  show(els.more, (more === 'yes' || more === 'loading') && s.search.phase === 'done');
  els.more.setAttribute('aria-disabled', String(more === 'loading')); // not `disabled`: the button keeps the focus
  els.more.textContent = more === 'loading' ? 'Loading more…' : `Load ${s.search.query.k} more`;
  show(els.moreNote, more === 'limit');
  els.moreNote.textContent = `These are the best ${s.search.hits.length}: this server ranks at most ${s.limits.maxK} results for one query.`;
}
