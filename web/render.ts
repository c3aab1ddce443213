// Every view of the page, derived from the state alone: call `render(state)` after any change.
import { hasKey, queryImageUrl, thumbUrl, type Hit, type Summary } from './api.js';
import { showImage } from './images.js';
import { CONFIDENCES, rerankBlockers, type Crop, type Rerank } from './query.js';
import { altText, chips, currentInfo, displayName, isCalibrated, percentText, seenKey, summaryOf, type State } from './state.js';

export const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

export const els = {
  select: $<HTMLSelectElement>('collection'),
  selectLabel: $<HTMLLabelElement>('collection-label'),
  info: $<HTMLParagraphElement>('info'),
  mapLink: $<HTMLAnchorElement>('map-link'),
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
  textAdd: $<HTMLButtonElement>('text-add'),
  fold: $<HTMLInputElement>('fold'),
  key: $<HTMLElement>('key'),
  keyForm: $<HTMLFormElement>('key-form'),
  keyInput: $<HTMLInputElement>('key-input'),
  keyError: $<HTMLParagraphElement>('key-error'),
  keyForget: $<HTMLButtonElement>('key-forget'),
  knobs: $<HTMLFormElement>('knobs'),
  k: $<HTMLInputElement>('k'),
  minScore: $<HTMLInputElement>('min-score'),
  minConfidence: $<HTMLSelectElement>('min-confidence'),
  minConfidenceLabel: $<HTMLLabelElement>('min-confidence-label'),
  rerank: $<HTMLSelectElement>('rerank'),
  rerankNote: $<HTMLParagraphElement>('rerank-note'),
  filters: $<HTMLDivElement>('filters'),
  kNote: $<HTMLParagraphElement>('k-note'),
  notice: $<HTMLParagraphElement>('notice'),
  error: $<HTMLDivElement>('error'),
  status: $<HTMLDivElement>('status'),
  confidenceNote: $<HTMLParagraphElement>('confidence-note'),
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

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

export function show(e: HTMLElement, visible: boolean): void {
  e.hidden = !visible;
}

/** Whether `e` already shows what `key` describes (else remember it: the caller rebuilds `e`). */
export function unchanged(e: HTMLElement, key: unknown): boolean {
  const k = JSON.stringify(key);
  if (e.dataset.rendered === k) return true;
  e.dataset.rendered = k;
  return false;
}

export function thumbImage(collection: string, h: Hit, summary: Summary | undefined): HTMLImageElement {
  const img = el('img', { alt: altText(h, summary), loading: 'lazy', decoding: 'async', width: 320, height: 320 });
  showImage(img, thumbUrl(collection, h.id, 320), { widths: THUMB_WIDTHS, at: (w) => thumbUrl(collection, h.id, w), sizes: THUMB_SIZES, slot: 200 });
  return img;
}

/** An image with a region outlined on it (the image keeps its proportions, so the outline's percentages fit). */
export function cropFrame(img: HTMLImageElement, crop: Crop | null): HTMLElement {
  if (!crop) return img;
  const box = el('span', { className: 'crop-box' });
  Object.assign(box.style, { left: `${crop.x * 100}%`, top: `${crop.y * 100}%`, width: `${crop.w * 100}%`, height: `${crop.h * 100}%` });
  return el('span', { className: 'crop-frame' }, img, box);
}

/** Thumbs up and down (paths of Feather icons, MIT licence): drawn, so they do not depend on an emoji font. */
const THUMB_PATHS = {
  like: 'M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3',
  dislike: 'M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3zm7-13h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17',
} as const;

export function thumbIcon(kind: 'like' | 'dislike', size = 18): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  for (const [k, v] of Object.entries({ viewBox: '0 0 24 24', width: String(size), height: String(size), 'aria-hidden': 'true', focusable: 'false' })) svg.setAttribute(k, v);
  const path = document.createElementNS(ns, 'path');
  for (const [k, v] of Object.entries({ d: THUMB_PATHS[kind], fill: 'none', stroke: 'currentColor', 'stroke-width': '2', 'stroke-linecap': 'round', 'stroke-linejoin': 'round' })) path.setAttribute(k, v);
  svg.append(path);
  return svg;
}

/** 👍 and 👎: toggle buttons (aria-pressed follows the marks, see feedback.ts). */
function feedbackButton(kind: 'like' | 'dislike', name: string): HTMLButtonElement {
  const b = el('button', { type: 'button', className: `mark ${kind}`, title: kind === 'like' ? 'More like this one (mark, then search again)' : 'Less like this one (mark, then search again)' }, thumbIcon(kind));
  b.setAttribute('aria-label', `${kind === 'like' ? 'Like' : 'Dislike'} ${name}`);
  b.setAttribute('aria-pressed', 'false');
  return b;
}

/** "+N similar": the near-duplicates folded into a hit, listed on demand. */
function foldedList(h: Hit, summary: Summary | undefined): HTMLElement[] {
  const f = h.folded ?? [];
  if (f.length === 0) return [];
  return [
    el(
      'details',
      { className: 'folded' },
      el('summary', {}, `+${f.length} similar`),
      el('ul', {}, ...f.map((x) => el('li', {}, `${displayName({ ...x, metadata: {} }, summary)} (${x.score.toFixed(3)})`))),
    ),
  ];
}

/** A path with line-break opportunities after its slashes (it wraps at folders before it wraps inside a name). */
export function withBreaks(path: string): (Node | string)[] {
  return path.split(/(?<=\/)/u).flatMap((part, i) => (i === 0 ? [part] : [document.createElement('wbr'), part]));
}

/**
 * Outline the tile that matched on a thumbnail. The thumbnail is contained in a square slot, so the outline is placed
 * in the image's own rectangle inside it once the image's proportions are known.
 */
function outlineTile(thumb: HTMLElement, img: HTMLImageElement, tile: NonNullable<Hit['tile']>): void {
  const box = el('span', { className: 'tile-box' });
  box.hidden = true;
  thumb.append(box);
  const place = () => {
    const [w, hgt] = [img.naturalWidth, img.naturalHeight];
    if (!w || !hgt) return;
    const s = Math.max(w, hgt);
    const [rw, rh] = [w / s, hgt / s]; // the image's share of the square slot
    Object.assign(box.style, {
      left: `${((1 - rw) / 2 + tile.x * rw) * 100}%`,
      top: `${((1 - rh) / 2 + tile.y * rh) * 100}%`,
      width: `${tile.w * rw * 100}%`,
      height: `${tile.h * rh * 100}%`,
    });
    box.hidden = false;
  };
  if (img.complete) place();
  img.addEventListener('load', place);
}

/** What a hit's score is, by how the search ranked. */
export function scoreMeaning(rerank: Rerank | null): string {
  if (rerank === 'diffusion') return 'diffusion score (1 = the best hit)';
  return rerank === null ? 'cosine similarity' : 'cosine similarity to the expanded query';
}

/** A hit's score, and with calibrated scores its confidence: "0.934 · 99.6 %" (said in full to screen readers and on hover). */
function scoreText(h: Hit, meaning: string): HTMLElement {
  const score = h.score.toFixed(3);
  if (h.confidence === undefined) return el('span', { className: 'score', title: meaning }, score);
  const pct = percentText(h.confidence);
  const short = el('span', { className: 'confidence' }, ` · ${pct}`);
  short.setAttribute('aria-hidden', 'true');
  const e = el(
    'span',
    { className: 'score', title: `${meaning} ${score}; more similar than ${pct} of random pairs of images in this collection` },
    score,
    short,
    el('span', { className: 'visually-hidden' }, `, better than ${pct} of random pairs`),
  );
  e.dataset.confidence = String(h.confidence);
  return e;
}

function card(collection: string, h: Hit, summary: Summary | undefined, meaning: string): HTMLLIElement {
  const name = displayName(h, summary);
  const alt = altText(h, summary);
  const img = thumbImage(collection, h, summary);
  const thumb = el('button', { type: 'button', className: 'thumb' }, img);
  if (h.tile) outlineTile(thumb, img, h.tile);
  thumb.setAttribute('aria-label', `More like this: ${alt}${h.tile ? ' (matched in the outlined region)' : ''}`);
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
      scoreText(h, meaning),
      el('span', { className: 'name' }, ...withBreaks(name)),
      ...(list.length ? [el('ul', { className: 'chips' }, ...list.map((c) => el('li', {}, c)))] : []),
      ...foldedList(h, summary),
      el('div', { className: 'actions' }, feedbackButton('like', name), feedbackButton('dislike', name), details),
    ),
  );
  li.dataset.id = h.id;
  return li;
}

/** What the results list shows now (so that "load more" only appends). */
let shown: { collection: string; hits: Hit[]; summary: Summary | undefined; meaning: string } = { collection: '', hits: [], summary: undefined, meaning: '' };

function renderResults(s: State): void {
  const { collection } = s.search.query;
  const hits = s.search.hits;
  const summary = summaryOf(s, collection);
  const meaning = scoreMeaning(s.search.query.rerank);
  const extends_ =
    shown.collection === collection && shown.summary === summary && shown.meaning === meaning && shown.hits.length <= hits.length && shown.hits.every((h, i) => h === hits[i]);
  if (extends_) {
    if (hits.length > shown.hits.length) els.results.append(...hits.slice(shown.hits.length).map((h) => card(collection, h, summary, meaning)));
  } else {
    const hadFocus = els.results.contains(document.activeElement);
    els.results.replaceChildren(...hits.map((h) => card(collection, h, summary, meaning)));
    if (hadFocus) els.results.focus(); // keyboard users go on from the top of the new results
  }
  shown = { collection, hits, summary, meaning };
  const busy = s.search.phase === 'loading';
  els.results.classList.toggle('busy', busy);
  els.results.setAttribute('aria-busy', String(busy || s.search.more === 'loading'));
}

/** How the page names an item of a collection: its display name once seen or fetched, else its id. */
export function itemName(s: State, collection: string, id: string): string {
  const h = s.seen.get(seenKey(collection, id)) ?? s.items.get(seenKey(collection, id));
  return h ? displayName(h, summaryOf(s, collection)) : id;
}

function queryLabel(s: State): string {
  const q = s.search.query;
  const more = q.terms.length > 0 ? ` and ${q.terms.length} more term${q.terms.length === 1 ? '' : 's'}` : '';
  if (q.kind === 'text') return `“${q.value}”${more}`;
  if (q.kind === 'id') return `More like ${q.crop ? 'this region of' : 'this:'} ${itemName(s, q.collection, q.value)}${more}`;
  if (q.kind === 'upload' || s.search.file) return `Images like ${q.crop ? 'a region of ' : ''}${s.search.file?.name ?? 'the uploaded image'}${more}`;
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
  if (unchanged(els.preview, [label, src, count, q.crop, hasKey(), s.search.phase])) return;
  const img: HTMLElement[] = [];
  if (src) {
    const i = el('img', { alt: `Query image: ${label}`, width: 96, height: 96 });
    if (src.startsWith('blob:')) i.src = src;
    else showImage(i, src);
    img.push(cropFrame(i, q.crop));
  }
  // an uploaded image: search with a region of it (drawn in the detail dialog)
  const region = q.kind === 'upload' && s.search.phase === 'done' ? [el('button', { type: 'button', className: 'quiet', id: 'query-region' }, q.crop ? 'Change the region' : 'Search with a region of it')] : [];
  els.preview.replaceChildren(...img, el('span', { className: 'label' }, label, el('span', { className: 'count' }, count)), ...region);
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
  if (unchanged(els.empty, [q.kind, q.minScore, q.minConfidence, q.where, q.takenFrom, q.takenTo])) return;
  const tips: HTMLElement[] = [];
  if (q.minScore !== null) {
    tips.push(el('li', {}, `Nothing scored ${q.minScore} or more. `, el('button', { type: 'button' }, 'Search without a minimum score')));
    tips[tips.length - 1]!.querySelector('button')!.dataset.action = 'clear-min';
  }
  if (q.minConfidence !== null) {
    const b = el('button', { type: 'button' }, 'Search without a minimum confidence');
    b.dataset.action = 'clear-confidence';
    tips.push(el('li', {}, `Nothing is more similar than ${percentText(q.minConfidence)} of random pairs of this collection. `, b));
  }
  for (const [key, value] of Object.entries(q.where)) {
    const b = el('button', { type: 'button' }, `Remove the filter ${key} = ${value}`);
    b.dataset.action = 'remove-filter';
    b.dataset.key = key;
    tips.push(el('li', {}, b));
  }
  if (q.takenFrom || q.takenTo) {
    const b = el('button', { type: 'button' }, `Remove the date range ${q.takenFrom ?? '…'} – ${q.takenTo ?? '…'}`);
    b.dataset.action = 'clear-dates';
    tips.push(el('li', {}, b));
  }
  if (tips.length === 0) tips.push(el('li', {}, q.kind === 'text' ? 'Try other or more general words, or search with an image.' : 'Try another image.'));
  els.empty.replaceChildren(el('h2', {}, 'No results'), el('ul', {}, ...tips));
}

function renderFilters(s: State): void {
  const q = s.search.query;
  const summary = summaryOf(s, q.collection);
  // low-cardinality keys get a select; the date taken gets a range instead (below)
  const keys = (summary?.keys ?? []).filter((k) => k.key !== 'taken' && k.distinct >= 2 && k.distinct <= 30 && k.values.length === k.distinct);
  const others = Object.entries(q.where).filter(([key]) => !keys.some((k) => k.key === key));
  // a date range when the collection's images say when they were taken (facts read at ingest)
  const dated = (summary?.keys ?? []).some((k) => k.key === 'taken') || q.takenFrom !== null || q.takenTo !== null;
  if (unchanged(els.filters, [q.collection, keys, others, dated])) {
    // the same controls: only their values follow the state (a control being used keeps the focus)
    for (const sel of els.filters.querySelectorAll('select')) sel.value = q.where[sel.dataset.key!] ?? '';
    for (const input of els.filters.querySelectorAll<HTMLInputElement>('input[type="date"]')) {
      if (document.activeElement !== input) input.value = (input.dataset.end === 'from' ? q.takenFrom : q.takenTo) ?? '';
    }
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
  const dates = dated
    ? (['from', 'to'] as const).map((end) => {
        const input = el('input', { type: 'date', value: (end === 'from' ? q.takenFrom : q.takenTo) ?? '' });
        input.dataset.end = end;
        return el('label', { className: 'date' }, end === 'from' ? 'Taken from' : 'to', ' ', input);
      })
    : [];
  els.filters.replaceChildren(...selects, ...dates, ...extra);
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
  show(els.mapLink, info !== undefined && info.count > 0);
  if (info) els.mapLink.href = `map.html?collection=${encodeURIComponent(info.collection)}`;
  els.info.textContent = info
    ? `${info.count} images · ${info.embedder} · ${info.dimension}-d · ${info.modalities.includes('text') ? 'image + text' : 'image only'}`
    : '';
  const text = usable && info.modalities.includes('text');
  els.text.disabled = !text;
  els.textButton.disabled = !text;
  // a text joins the query shown (this photo + "in black and white") or starts a new search
  show(els.textAdd, text && s.search.query.kind !== 'none' && s.search.query.value !== '' && s.search.phase !== 'error');
  els.textButton.textContent = els.textAdd.hidden ? 'Search' : 'New search';
  if (!text) els.text.value = '';
  els.text.placeholder = text ? 'Describe an image, e.g. a yellow flower' : 'Text search needs a CLIP model';
  els.drop.setAttribute('aria-disabled', String(!usable));
  els.dropHint.textContent = `${s.limits.acceptedFormats.join(', ')} · up to ${Math.round(s.limits.maxUploadBytes / (1024 * 1024))} MB`;
  els.file.accept = s.limits.acceptedTypes.join(',');
  const q = s.search.query;
  els.k.max = String(s.limits.maxK);
  if (document.activeElement !== els.k && !s.knobError) els.k.value = String(q.k);
  if (document.activeElement !== els.minScore && !s.knobError) els.minScore.value = q.minScore === null ? '' : String(q.minScore);
  els.fold.checked = q.fold;
  renderTuning(s);
  els.kNote.textContent = s.knobError ?? `1 to ${s.limits.maxK} per page; at most ${s.limits.maxK} in all.`;
  els.kNote.classList.toggle('bad', s.knobError !== null);
  els.k.setAttribute('aria-invalid', String(s.knobError !== null && /page/u.test(s.knobError)));
  els.minScore.setAttribute('aria-invalid', String(s.knobError !== null && /score/u.test(s.knobError)));
  renderFilters(s);
}

/**
 * Re-ranking and, for collections with calibrated scores, the min confidence. What the server refuses together
 * (rerank with a min confidence, with folding, with best-score) cannot be chosen together: the one not set is
 * disabled, and a note says why. (A shared link may still hold both: then both stay usable and the server's answer shows.)
 */
function renderTuning(s: State): void {
  const q = s.search.query;
  // the min confidence: once the collection is known to be calibrated, or when the query has one (so it can be removed)
  const confidence = isCalibrated(s, q.collection) === true || q.minConfidence !== null;
  show(els.minConfidenceLabel, confidence);
  const levels = q.minConfidence === null || CONFIDENCES.includes(q.minConfidence) ? CONFIDENCES : [...CONFIDENCES, q.minConfidence].sort((a, b) => a - b);
  if (!unchanged(els.minConfidence, levels)) {
    els.minConfidence.replaceChildren(el('option', { value: '' }, 'off'), ...levels.map((c) => el('option', { value: String(c) }, percentText(c))));
  }
  els.minConfidence.value = q.minConfidence === null ? '' : String(q.minConfidence);
  els.rerank.value = q.rerank ?? '';
  const blockers = rerankBlockers(q);
  const rerankOff = q.rerank === null && blockers.length > 0;
  const othersOff = q.rerank !== null && blockers.length === 0;
  els.rerank.disabled = rerankOff;
  els.minConfidence.disabled = othersOff;
  els.fold.disabled = othersOff;
  let note = '';
  if (q.rerank !== null && blockers.length > 0) note = `Re-ranking cannot be combined with ${blockers.join(' or ')}: turn one of them off.`; // a link held both
  else if (rerankOff) {
    note = `Re-rank is unavailable with ${blockers.join(' or ')}${q.minConfidence !== null ? ': re-ranked scores are not calibrated' : ''}.`;
  } else if (othersOff) {
    note = confidence
      ? 'While re-ranking, min confidence (re-ranked scores are not calibrated) and folding near-duplicates are unavailable.'
      : 'While re-ranking, folding near-duplicates is unavailable.';
  }
  show(els.rerankNote, note !== '');
  els.rerankNote.classList.toggle('bad', q.rerank !== null && blockers.length > 0);
  if (els.rerankNote.textContent !== note) els.rerankNote.textContent = note;
}

function renderKey(s: State): void {
  show(els.key, s.boot === 'key');
  show(els.keyError, s.keyError !== null);
  els.keyError.textContent = s.keyError ?? '';
  els.keyInput.setAttribute('aria-invalid', String(s.keyError !== null));
  show(els.keyForget, s.boot === 'ready' && hasKey());
}

export function render(s: State): void {
  document.documentElement.dataset.boot = s.boot; // `ready` once the collections are known (tests wait on it)
  renderKey(s);
  renderControls(s);
  const error = s.bootError ?? s.search.error;
  show(els.error, error !== null);
  if (els.error.textContent !== (error ?? '')) els.error.textContent = error ?? '';
  show(els.notice, s.notice !== null);
  els.notice.textContent = s.notice ?? '';
  renderStatus(s);
  show(els.confidenceNote, s.search.phase === 'done' && s.search.hits.some((h) => h.confidence !== undefined));
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
