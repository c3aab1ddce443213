// lookalike's web page: search a collection by image, text or "more like this". Talks only to /v1.
//
// One state object (state.ts); every view is derived from it by render() (render.ts, detail.ts). Each search gets an
// id and an AbortController: starting one aborts the one before, and a response whose id is not the latest is dropped.
// The URL holds the whole query (query.ts), so Back/Forward and shared links reproduce it. 👍/👎 and the query's terms:
// feedback.ts; regions: region.ts; the API key: api.ts and images.ts; an item's near-duplicates: duplicates-check.ts.
import { api, collectionUrl, hasKey, itemUrl, setApiKey, type Hit, type Info, type Item, type Limits, type SearchReply, type Summary } from './api.js';
import { renderDetail, wireDetail } from './detail.js';
import { renderDuplicateCheck, wireDuplicateCheck } from './duplicates-check.js';
import { describeError as describe, needsKey, refuseFile } from './errors.js';
import { draftOf, fbEls, renderFeedback, toggleMark, weightsOf, wireFeedback } from './feedback.js';
import { forgetImages } from './images.js';
import { emptyQuery, freshQuery, fromUrl, RERANKS, sameQuery, searchForm, toUrl, validDay, type Query } from './query.js';
import { els, render } from './render.js';
import { wireUpload } from './upload.js';
import { DEFAULT_LIMITS, isCalibrated, moreAfter, seenKey, type State } from './state.js';
import { searchBody } from './terms.js';

const s: State = {
  boot: 'loading',
  bootError: null,
  keyError: null,
  notice: null,
  collections: [],
  limits: DEFAULT_LIMITS,
  summaries: new Map(),
  search: { seq: 0, query: emptyQuery(''), phase: 'idle', hits: [], error: null, ms: null, more: 'no', file: null },
  detail: null,
  marks: new Map(),
  knobError: null,
  seen: new Map(),
  items: new Map(),
  calibrated: new Map(),
};

let seq = 0;
let controller: AbortController | null = null;
/** Object URLs of images chosen on this page, by the name the server gave them (previews without a request). */
const chosen = new Map<string, { name: string; url: string }>();

function paint(): void {
  render(s);
  renderFeedback(s);
  renderDetail(s);
  renderDuplicateCheck(s);
}

type HistoryMode = 'push' | 'replace' | 'none';

function writeUrl(mode: HistoryMode, query: Query, item: string | null = s.detail?.id ?? null): void {
  if (mode === 'none') return;
  const url = toUrl({ query, item });
  const state = { item: item !== null };
  if (mode === 'push') history.pushState(state, '', url);
  else history.replaceState(state, '', url);
}

const searchUrl = (collection: string): string => `${collectionUrl(collection)}/search`;

function remember(collection: string, hits: readonly Hit[]): void {
  for (const h of hits) s.seen.set(seenKey(collection, h.id), h);
}

/**
 * Learn from an answer whether its collection has calibrated scores (collection info does not say): its hits carry a
 * `confidence`, or a min confidence was accepted. Re-ranked and best-score hits never carry one, so they tell nothing.
 */
function learnCalibration(q: Query, hits: readonly Hit[]): void {
  if (q.minConfidence !== null || hits.some((h) => h.confidence !== undefined)) s.calibrated.set(q.collection, true);
  else if (hits.length > 0 && q.rerank === null && !(q.strategy === 'best-score' && q.terms.length > 0)) s.calibrated.set(q.collection, false);
}

const describeError = (e: unknown, file: File | null): string => describe(e, file, s.limits);

/** The server asks for an API key (or did not accept this one): show the key form. */
function askForKey(): void {
  s.keyError = hasKey() ? 'The server did not accept this key: check it and try again.' : null;
  setApiKey(null);
  forgetImages();
  s.boot = 'key';
  s.detail = null;
  paint();
}

/**
 * Make `query` the page's search and run it (with `file`, a freshly chosen image). Aborts any search in flight; only
 * the latest search's response is ever rendered.
 */
async function start(query: Query, mode: HistoryMode, file: File | null = null): Promise<void> {
  if (!file && query.kind !== 'none' && query.value === '') query = { ...query, kind: 'none' }; // an upload still on its way
  const mySeq = ++seq;
  controller?.abort();
  controller = null;
  const previous = s.search;
  const keepHits = previous.query.collection === query.collection && previous.phase !== 'error';
  const runs = query.kind !== 'none' || file !== null;
  const fileView = file ? { name: file.name, url: URL.createObjectURL(file) } : query.kind === 'upload' ? (chosen.get(query.value) ?? null) : null;
  s.knobError = null;
  s.marks = new Map(); // searched now (the draft), or left with the search they were made on
  s.search = { seq: mySeq, query, phase: runs ? 'loading' : 'idle', hits: keepHits && runs ? previous.hits : [], error: null, ms: null, more: 'no', file: fileView };
  const refused = file ? refuseFile(file, s.limits) : null;
  if (refused) {
    s.search = { ...s.search, phase: 'error', hits: [], error: refused };
    paint();
    return;
  }
  // the request leaves first; the URL, the names and the loading state follow while the server works
  const t0 = performance.now();
  let pending: Promise<SearchReply> | null = null;
  if (runs) {
    controller = new AbortController();
    const { signal } = controller;
    pending = api<SearchReply>(
      searchUrl(query.collection),
      file
        ? { method: 'POST', body: searchForm(query, file), signal }
        : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(searchBody(query, 0, weightsOf(s))), signal },
    );
    pending.catch(() => undefined); // awaited below
  }
  if (!file) writeUrl(mode, query);
  if (query.kind === 'id') void nameOf(query.collection, query.value);
  for (const t of query.terms) if (t.kind === 'id') void nameOf(query.collection, t.value);
  paint();
  if (!pending) return;
  try {
    const reply = await pending;
    if (mySeq !== seq) return;
    let q = query;
    if (file && reply.upload) {
      q = { ...query, kind: 'upload', value: reply.upload };
      chosen.set(reply.upload, fileView!);
      writeUrl(mode, q);
    }
    remember(q.collection, reply.results);
    learnCalibration(q, reply.results);
    s.search = {
      ...s.search,
      query: q,
      phase: 'done',
      hits: reply.results,
      ms: Math.round(performance.now() - t0),
      more: moreAfter(reply.results.length, q.k, reply.results.length, s.limits.maxK),
    };
  } catch (e) {
    if (mySeq !== seq) return; // aborted by a newer search, or superseded: never rendered
    if (needsKey(e)) return askForKey();
    s.search = { ...s.search, phase: 'error', hits: [], error: describeError(e, file), more: 'no' };
  }
  paint();
}

async function loadMore(): Promise<void> {
  const sr = s.search;
  if (sr.more !== 'yes' || !controller) return;
  const mySeq = sr.seq;
  const offset = sr.hits.length;
  const k = Math.min(sr.query.k, s.limits.maxK - offset);
  s.search = { ...sr, more: 'loading' };
  paint();
  try {
    const reply = await api<SearchReply>(searchUrl(sr.query.collection), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(searchBody({ ...sr.query, k }, offset, weightsOf(s))),
      signal: controller.signal,
    });
    if (mySeq !== seq) return;
    remember(sr.query.collection, reply.results);
    const hits = [...s.search.hits, ...reply.results];
    s.search = { ...s.search, hits, more: moreAfter(reply.results.length, k, hits.length, s.limits.maxK) };
  } catch (e) {
    if (mySeq !== seq) return;
    if (needsKey(e)) return askForKey();
    s.search = { ...s.search, more: 'yes', error: describeError(e, null) };
  }
  paint();
}

/** Fetch an item's name for captions when no result has shown it yet (a shared "more like this" link). */
async function nameOf(collection: string, id: string): Promise<void> {
  const key = seenKey(collection, id);
  if (s.seen.has(key) || s.items.has(key)) return;
  try {
    s.items.set(key, await api<Item>(itemUrl(collection, id)));
    paint();
  } catch {
    // the search itself reports a missing item
  }
}

async function loadSummary(collection: string): Promise<void> {
  if (!collection || s.summaries.has(collection)) return;
  s.summaries.set(collection, 'loading');
  try {
    s.summaries.set(collection, await api<Summary>(`${collectionUrl(collection)}/metadata?values=30`));
  } catch {
    s.summaries.set(collection, 'failed'); // the page works without filters
  }
  paint();
}

async function openDetail(id: string, mode: HistoryMode): Promise<void> {
  const collection = s.search.query.collection;
  s.detail = { id, item: null, error: null };
  writeUrl(mode, s.search.query, id);
  paint();
  try {
    const item = await api<Item>(itemUrl(collection, id));
    s.items.set(seenKey(collection, id), item);
    if (s.detail?.id === id && s.search.query.collection === collection) s.detail = { id, item, error: null };
  } catch (e) {
    if (s.detail?.id === id) s.detail = { id, item: null, error: describeError(e, null) };
  }
  paint();
}

function closeDetail(): void {
  if (!s.detail) return;
  if (s.detail.query) {
    s.detail = null; // the query image's view is not in the URL
    paint();
    return;
  }
  if ((history.state as { item?: boolean } | null)?.item) {
    history.back(); // the detail view was opened on this page: Back closes it (popstate renders)
    return;
  }
  s.detail = null;
  writeUrl('replace', s.search.query, null);
  paint();
}

/** Make the page show what a URL says (first load, Back/Forward). */
function applyLocation(mode: HistoryMode): void {
  const fallback = s.search.query.collection || s.collections[0]?.collection || '';
  const loc = fromUrl(location.search, fallback);
  let q = loc.query;
  if (q.collection && !s.collections.some((c) => c.collection === q.collection)) {
    s.notice = `There is no collection “${q.collection}” on this server${fallback ? `; showing “${fallback}”` : ''}.`;
    q = emptyQuery(fallback, q);
    mode = 'replace';
  }
  if (q.kind === 'text') els.text.value = q.value;
  void loadSummary(q.collection);
  if (!sameQuery(q, s.search.query) || s.search.phase === 'error' || s.search.phase === 'idle') void start(q, mode);
  if (loc.item && s.detail?.id !== loc.item) void openDetail(loc.item, 'none');
  else if (!loc.item && s.detail) {
    s.detail = null;
    paint();
  }
}

function searchFile(file: File): void {
  if (!s.collections.some((c) => c.collection === s.search.query.collection && c.count > 0)) {
    s.search = { ...s.search, phase: 'error', hits: [], error: 'There is nothing to search yet: index some images first (see above).' };
    paint();
    return;
  }
  void start(freshQuery(s.search.query, 'upload', ''), 'push', file);
}

/** A knob changed: check it (never clamp), then run the current query again with it. */
function knobsChanged(): void {
  const k = Number(els.k.value);
  const max = s.limits.maxK;
  if (els.k.value.trim() === '' || !Number.isInteger(k) || k < 1 || k > max) {
    s.knobError = `Results per page must be a whole number from 1 to ${max} (this server's limit).`;
    paint();
    return;
  }
  const minText = els.minScore.value.trim();
  const min = minText === '' ? null : Number(minText);
  if (min !== null && (!Number.isFinite(min) || min < -1 || min > 1)) {
    s.knobError = 'Min score must be a number from -1 to 1, or empty for none.';
    paint();
    return;
  }
  const where: Record<string, string> = {};
  for (const sel of els.filters.querySelectorAll('select')) if (sel.value !== '') where[sel.dataset.key!] = sel.value;
  for (const [key, value] of Object.entries(s.search.query.where)) if (!els.filters.querySelector(`select[data-key="${CSS.escape(key)}"]`)) where[key] = value;
  const day = (end: 'from' | 'to') => els.filters.querySelector<HTMLInputElement>(`input[type="date"][data-end="${end}"]`)?.value ?? '';
  const [from, to] = [validDay(day('from')), validDay(day('to'))];
  if (from && to && from > to) {
    s.knobError = 'The date range ends before it starts: choose a "to" day on or after the "from" day.';
    paint();
    return;
  }
  const rerank = RERANKS.find((r) => r === els.rerank.value) ?? null;
  const minConfidence = els.minConfidence.value === '' ? null : Number(els.minConfidence.value);
  rerun({ ...draftOf(s), k, minScore: min, where, fold: els.fold.checked, takenFrom: from, takenTo: to, rerank, minConfidence });
}

function rerun(q: Query): void {
  if (sameQuery(q, s.search.query) && s.search.phase !== 'error') {
    s.knobError = null;
    paint();
    return;
  }
  void start(q, 'push');
}

// ------------------------------------------------------------------------------------------------ events

wireUpload(searchFile);
els.textForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = els.text.value.trim();
  if (text) void start(freshQuery(s.search.query, 'text', text), 'push');
});
els.textAdd.addEventListener('click', () => {
  const text = els.text.value.trim();
  const q = draftOf(s);
  if (!text || q.kind === 'none') return;
  els.text.value = ''; // it is a term of the query now (a chip)
  void start({ ...q, terms: [...q.terms, { kind: 'text', value: text, negative: false, weight: null }] }, 'push');
});
els.knobs.addEventListener('submit', (e) => {
  e.preventDefault();
  knobsChanged();
});
els.knobs.addEventListener('change', knobsChanged);
for (const input of [els.k, els.minScore]) {
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      knobsChanged();
    }
  });
}
els.select.addEventListener('change', () => {
  s.notice = null;
  s.detail = null;
  void loadSummary(els.select.value);
  const q = emptyQuery(els.select.value, s.search.query);
  if (isCalibrated(s, q.collection) !== true) q.minConfidence = null; // another collection's scores may not be calibrated
  void start(q, 'push');
});
els.results.addEventListener('click', (e) => {
  const button = (e.target as Element).closest('button');
  const id = button?.closest<HTMLElement>('.hit')?.dataset.id;
  if (!button || id === undefined) return;
  if (button.classList.contains('mark')) {
    fbEls.live.textContent = toggleMark(s, id, button.classList.contains('dislike'));
    paint();
  } else if (button.classList.contains('details')) void openDetail(id, 'push');
  else void start(freshQuery(s.search.query, 'id', id), 'push');
});
const suggestion = (e: Event) => {
  const b = (e.target as Element).closest<HTMLButtonElement>('button[data-action]');
  if (!b) return;
  const q = s.search.query;
  if (b.dataset.action === 'clear-min') rerun({ ...q, minScore: null });
  if (b.dataset.action === 'clear-confidence') rerun({ ...q, minConfidence: null });
  if (b.dataset.action === 'clear-dates') rerun({ ...q, takenFrom: null, takenTo: null });
  if (b.dataset.action === 'remove-filter') {
    const where = { ...q.where };
    delete where[b.dataset.key!];
    rerun({ ...q, where });
  }
};
els.empty.addEventListener('click', suggestion);
els.filters.addEventListener('click', suggestion);
els.more.addEventListener('click', () => void loadMore());
wireDetail(
  () => s.detail,
  closeDetail,
  (d, crop) => {
    s.detail = null;
    void start(freshQuery(s.search.query, d.query ? 'upload' : 'id', d.id, crop), 'push');
  },
);
els.preview.addEventListener('click', (e) => {
  const q = s.search.query;
  if (!(e.target as Element).closest('#query-region') || q.kind !== 'upload') return;
  s.detail = { id: q.value, item: null, error: null, query: true };
  paint();
});
wireFeedback(s, rerun, paint);
wireDuplicateCheck(s, (id) => void openDetail(id, 'push'), paint, askForKey);
els.keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const key = els.keyInput.value.trim();
  if (!key) return;
  setApiKey(key);
  forgetImages();
  els.keyInput.value = '';
  s.boot = 'loading';
  paint();
  void init();
});
els.keyForget.addEventListener('click', () => {
  setApiKey(null);
  location.reload(); // start over without the key (the server asks for it again)
});
window.addEventListener('popstate', () => applyLocation('none'));

async function init(): Promise<void> {
  try {
    const [list, limits] = await Promise.all([
      api<{ collections: Info[]; default: string | null }>('/v1/collections'),
      api<Limits>('/v1/limits').catch(() => DEFAULT_LIMITS),
    ]);
    s.collections = list.collections;
    s.limits = limits;
    const fallback = list.default && list.collections.some((c) => c.collection === list.default) ? list.default : (list.collections[0]?.collection ?? '');
    if (list.default && fallback !== list.default) s.notice = `The server's default collection “${list.default}” does not exist.`;
    s.search = { ...s.search, query: emptyQuery(fallback) };
    s.boot = 'ready';
  } catch (e) {
    if (needsKey(e)) return askForKey();
    s.boot = 'failed';
    s.bootError = describeError(e, null);
  }
  s.keyError = null;
  paint();
  if (s.boot === 'ready') applyLocation('replace');
}

void init();
