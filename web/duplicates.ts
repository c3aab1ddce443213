// lookalike's duplicates page: the near-duplicate groups of a collection (GET /v1/collections/{name}/duplicates), a
// page of groups at a time, largest first. Each group shows its suggested keeper, highlighted and marked "keep", then
// its copies with their scores against it and how they were confirmed. The threshold (automatic by default) and
// verification are in the URL, so Back/Forward and shared links keep them; a tile opens the image in the main page's
// detail view. Nothing is deleted from here.
import { ApiError, api, collectionUrl, hasKey, setApiKey, thumbUrl, type Info, type Summary } from './api.js';
import { duplicatesUrl, fileFacts, thresholdText, verifiedText, type DuplicateGroup, type DuplicateMember, type DuplicateOptions, type DuplicatesPage } from './duplicates-api.js';
import { showImage } from './images.js';
import { detailHref } from './map-select.js';
import { emptyQuery, toUrl } from './query.js';
import { el, withBreaks } from './render.js';
import { displayName } from './state.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const els = {
  collection: $<HTMLSelectElement>('collection'),
  searchLink: $<HTMLAnchorElement>('search-link'),
  mapLink: $<HTMLAnchorElement>('map-link'),
  info: $('info'),
  key: $('key'),
  keyForm: $<HTMLFormElement>('key-form'),
  keyInput: $<HTMLInputElement>('key-input'),
  keyError: $('key-error'),
  controls: $<HTMLFormElement>('controls'),
  threshold: $<HTMLInputElement>('threshold'),
  thresholdNote: $('threshold-note'),
  verify: $<HTMLInputElement>('verify'),
  notice: $('notice'),
  error: $('error'),
  spinner: $('spinner'),
  status: $('status-text'),
  elapsed: $('elapsed'),
  empty: $('empty'),
  emptyTitle: $('empty-title'),
  emptyTips: $('empty-tips'),
  groups: $<HTMLOListElement>('groups'),
  more: $<HTMLButtonElement>('more'),
};

/** Groups per page unless the URL says otherwise (`limit`, 1 to 1000). */
const PAGE = 20;
const THRESHOLD_NOTE = els.thresholdNote.textContent ?? '';

/** What the page shows: a collection's groups with these options. */
interface View extends DuplicateOptions {
  collection: string;
  limit: number;
}

let collections: Info[] = [];
let view: View = { collection: '', threshold: null, verify: false, limit: PAGE };
/** The first page's answer (threshold used, totals, when the groups were computed); null while loading or failed. */
let first: DuplicatesPage | null = null;
let shown = 0;
let loading: 'no' | 'first' | 'more' = 'no';
let seq = 0;
let controller: AbortController | null = null;
let ticker: ReturnType<typeof setInterval> | null = null;
const summaries = new Map<string, Summary | null>();

function fromLocation(fallback: string): View {
  const p = new URLSearchParams(location.search);
  const t = Number(p.get('threshold') ?? NaN);
  const limit = Number(p.get('limit') ?? NaN);
  return {
    collection: p.get('collection') ?? fallback,
    threshold: p.get('threshold') !== null && p.get('threshold') !== '' && Number.isFinite(t) && t >= -1 && t <= 1 ? t : null,
    verify: p.get('verify') === '1',
    limit: Number.isInteger(limit) && limit >= 1 && limit <= 1000 ? limit : PAGE,
  };
}

function toLocation(v: View): string {
  const p = new URLSearchParams({ collection: v.collection });
  if (v.threshold !== null) p.set('threshold', thresholdText(v.threshold));
  if (v.verify) p.set('verify', '1');
  if (v.limit !== PAGE) p.set('limit', String(v.limit));
  return `?${p.toString()}`;
}

function setStatus(text: string, busy = false): void {
  els.status.textContent = text;
  els.spinner.hidden = !busy;
  if (ticker !== null) clearInterval(ticker);
  ticker = null;
  els.elapsed.textContent = '';
  if (!busy) return;
  const t0 = performance.now();
  // seconds waited, out of the live region: verifying a large collection takes minutes
  ticker = setInterval(() => (els.elapsed.textContent = `${Math.round((performance.now() - t0) / 1000)} s`), 1000);
}

function showError(text: string | null): void {
  els.error.hidden = text === null;
  els.error.textContent = text ?? '';
}

const describe = (e: unknown): string =>
  e instanceof ApiError ? `${e.message} (${e.code})` : `${e instanceof Error ? e.message : String(e)}`;

const thresholdWords = (p: DuplicatesPage): string => `${p.threshold.toFixed(4)}${p.auto ? ' (automatic)' : ''}`;
const plural = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

/** The name of an item on this page: its path below the collection's common folder, else its id. */
function nameOf(m: DuplicateMember): string {
  return displayName({ id: m.id, path: m.path, metadata: {} }, summaries.get(view.collection) ?? undefined);
}

function member(m: DuplicateMember, keeper: boolean, verifying: boolean): HTMLLIElement {
  const name = nameOf(m);
  const img = el('img', { alt: '', loading: 'lazy', decoding: 'async', width: 240, height: 240 });
  showImage(img, thumbUrl(view.collection, m.id, 320), {
    widths: [160, 320, 480],
    at: (w) => thumbUrl(view.collection, m.id, w),
    sizes: '(max-width: 520px) calc(50vw - 2.5rem), 220px',
    slot: 220,
  });
  const frame = el('span', { className: 'frame' }, img);
  if (keeper) frame.append(el('span', { className: 'badge' }, 'keep'));
  const facts = fileFacts(m);
  const how = verifiedText(m.verified, verifying);
  const caption = el(
    'span',
    { className: 'caption' },
    keeper
      ? el('span', { className: 'role' }, el('span', { className: 'visually-hidden' }, 'Suggested keeper: '), 'keep this one')
      : el('span', { className: 'score' }, el('span', { className: 'visually-hidden' }, 'Copy, score '), m.score.toFixed(4)),
    el('span', { className: 'name' }, ...withBreaks(name)),
    ...(facts.length ? [el('span', { className: 'facts' }, ...facts.flatMap((f, i) => [...(i ? [' · '] : []), el('span', {}, f)]))] : []),
    ...(keeper ? [] : [el('span', { className: `how${m.verified ? ' ok' : ''}` }, how)]),
  );
  const tile = el('a', { className: 'tile', href: detailHref(view.collection, m.id), title: `Open ${name} in the detail view` }, frame, caption);
  const li = el('li', { className: keeper ? 'member keeper' : 'member' }, tile);
  li.dataset.id = m.id;
  li.dataset.role = keeper ? 'keeper' : 'copy';
  if (!keeper) {
    li.dataset.score = String(m.score);
    li.dataset.verified = m.verified ?? '';
  }
  return li;
}

function groupCard(g: DuplicateGroup, index: number, verifying: boolean): HTMLLIElement {
  const id = `group-${index + 1}`;
  const n = g.duplicates.length + 1;
  const heading = el('h2', { id, tabIndex: -1 }, `Group ${index + 1} `, el('small', {}, `${n} images`));
  const list = el('ul', { className: 'members' }, member(g.keeper, true, verifying), ...g.duplicates.map((d) => member(d, false, verifying)));
  list.setAttribute('aria-labelledby', id);
  const li = el('li', { className: 'group' }, heading, list);
  li.dataset.keeper = g.keeper.id;
  return li;
}

function renderSummary(): void {
  const p = first;
  if (!p) return;
  const how = p.verified ? `verified from the files (${plural(p.stats.verifiedPairs, 'pair')} confirmed)` : 'by scores';
  const total = p.totalGroups;
  const text =
    total === 0
      ? `No near-duplicates among ${plural(p.items, 'image')}`
      : `${plural(total, 'group')} of near-duplicates (${plural(p.totalDuplicates, 'copy', 'copies')}) among ${plural(p.items, 'image')}`;
  setStatus(`${text} · threshold ${thresholdWords(p)} · ${how} · ${p.stats.ms < 1000 ? `${Math.round(p.stats.ms)}\u00a0ms` : `${(p.stats.ms / 1000).toFixed(1)}\u00a0s`}`);
  els.threshold.placeholder = `auto (${p.threshold.toFixed(4)})`;
  const left = total - shown;
  els.more.hidden = left <= 0;
  els.more.setAttribute('aria-disabled', String(loading === 'more'));
  els.more.textContent = loading === 'more' ? 'Loading more…' : `Load ${Math.min(left, view.limit)} more (${shown} of ${total} groups shown)`;
  renderEmpty(p);
}

function renderEmpty(p: DuplicatesPage): void {
  const none = p.totalGroups === 0;
  els.empty.hidden = !none;
  if (!none) return;
  els.emptyTitle.textContent = p.items === 0 ? `Collection “${p.collection}” is empty` : `No near-duplicates at threshold ${thresholdWords(p)}`;
  const tips: HTMLElement[] = [];
  const action = (text: string, next: Partial<View>): HTMLElement => {
    const b = el('button', { type: 'button', className: 'quiet' }, text);
    b.addEventListener('click', () => change(next));
    return el('li', {}, b);
  };
  if (p.items === 0) tips.push(el('li', {}, `Index a folder of images into it: lookalike index ./photos --db <store> --collection ${p.collection}`));
  else {
    tips.push(el('li', {}, `${plural(p.items, 'image')} compared: none is a close copy of another by this rule.`));
    if (!p.verified) tips.push(action('Verify from the image files (also confirms copies whose scores alone do not)', { verify: true }));
    if (!p.auto) tips.push(action('Use the automatic threshold', { threshold: null }));
    const lower = Math.max(-1, Math.round((p.threshold - 0.02) * 1000) / 1000);
    if (lower < p.threshold) tips.push(action(`Try a lower threshold (${lower.toFixed(3)})`, { threshold: lower }));
  }
  els.emptyTips.replaceChildren(...tips);
}

/** Load the first page of groups for `view` (`more`: the next page after those shown). */
async function load(more: boolean): Promise<void> {
  if (more && (loading !== 'no' || !first)) return;
  const mySeq = more ? seq : ++seq;
  if (!more) {
    controller?.abort();
    controller = new AbortController();
    first = null;
    shown = 0;
    els.groups.replaceChildren();
    els.empty.hidden = true;
    els.more.hidden = true;
    els.threshold.placeholder = 'auto';
  }
  const signal = controller!.signal;
  loading = more ? 'more' : 'first';
  showError(null);
  if (more) renderSummary();
  else {
    const what = view.verify ? 'Finding near-duplicates and verifying them from the image files (on a large collection this takes minutes)…' : 'Finding near-duplicates…';
    setStatus(what, true);
  }
  els.groups.setAttribute('aria-busy', 'true');
  const c = view.collection;
  const summary = summaries.has(c) ? Promise.resolve() : loadSummary(c);
  try {
    const page = await api<DuplicatesPage>(duplicatesUrl(c, view, more ? shown : 0, view.limit), { signal });
    await summary;
    if (mySeq !== seq) return;
    if (more && first && page.computedAt !== first.computedAt) {
      // the collection changed since the first page: its groups are not the same any more
      loading = 'no';
      els.notice.textContent = 'The collection changed while you were looking: its groups were computed again, from the first.';
      els.notice.hidden = false;
      return load(false);
    }
    if (!more) first = page;
    const hadFocus = els.more === document.activeElement;
    const cards = page.groups.map((g, i) => groupCard(g, shown + i, page.verified));
    els.groups.append(...cards);
    shown += page.groups.length;
    loading = 'no';
    renderSummary();
    // "load more" pressed by keyboard and gone (nothing left): go on at the first new group
    if (hadFocus && els.more.hidden) cards[0]?.querySelector<HTMLElement>('h2')?.focus();
  } catch (e) {
    if (mySeq !== seq || (e as Error).name === 'AbortError') return;
    loading = 'no';
    if (e instanceof ApiError && e.status === 401) return askForKey();
    if (first) renderSummary();
    else setStatus('');
    showError(describe(e));
  } finally {
    if (mySeq === seq) els.groups.setAttribute('aria-busy', 'false');
  }
}

/** The collection's common folder, for shorter names (the page works without it). */
async function loadSummary(c: string): Promise<void> {
  try {
    summaries.set(c, await api<Summary>(`${collectionUrl(c)}/metadata?keys=1&values=1`));
  } catch {
    summaries.set(c, null);
  }
}

function showView(): void {
  els.collection.value = view.collection;
  if (document.activeElement !== els.threshold) els.threshold.value = view.threshold === null ? '' : String(view.threshold);
  els.threshold.setAttribute('aria-invalid', 'false');
  els.thresholdNote.textContent = THRESHOLD_NOTE;
  els.thresholdNote.classList.remove('bad');
  els.verify.checked = view.verify;
  const info = collections.find((x) => x.collection === view.collection);
  els.info.textContent = info ? `${info.count.toLocaleString('en')} images · ${info.embedder}` : '';
  els.searchLink.href = `./${toUrl({ query: emptyQuery(view.collection), item: null })}`;
  els.mapLink.href = `map.html?collection=${encodeURIComponent(view.collection)}`;
  document.title = `Duplicates in ${view.collection} · lookalike`;
}

/** Show `next` (pushed to the history, so Back returns to the view before). */
function change(next: Partial<View>): void {
  const v = { ...view, ...next };
  if (toLocation(v) === toLocation(view) && (first !== null || loading !== 'no')) return; // already shown, or on its way
  view = v;
  els.notice.hidden = true;
  history.pushState(null, '', toLocation(view));
  showView();
  void load(false);
}

/** The threshold typed: a number from -1 to 1, or empty for automatic (never clamped). */
function controlsChanged(): void {
  const text = els.threshold.value.trim();
  const t = text === '' ? null : Number(text);
  if (els.threshold.validity.badInput || (t !== null && (!Number.isFinite(t) || t < -1 || t > 1))) {
    els.threshold.setAttribute('aria-invalid', 'true');
    els.thresholdNote.textContent = 'The threshold must be a number from -1 to 1, or empty for automatic.';
    els.thresholdNote.classList.add('bad');
    return;
  }
  change({ threshold: t, verify: els.verify.checked });
}

function askForKey(): void {
  els.keyError.hidden = !hasKey();
  els.keyError.textContent = hasKey() ? 'The server did not accept this key: check it and try again.' : '';
  setApiKey(null);
  els.key.hidden = false;
  els.controls.hidden = true;
  document.documentElement.dataset.boot = 'key';
  setStatus('');
  els.keyInput.focus();
}

async function boot(): Promise<void> {
  els.key.hidden = true;
  els.controls.hidden = false;
  try {
    const list = await api<{ collections: Info[]; default: string | null }>('/v1/collections');
    collections = list.collections;
    const names = collections.map((x) => x.collection);
    els.collection.replaceChildren(...collections.map((x) => new Option(`${x.collection} (${x.count})`, x.collection)));
    const fallback = list.default && names.includes(list.default) ? list.default : (names[0] ?? '');
    view = fromLocation(fallback);
    document.documentElement.dataset.boot = 'ready';
    if (!fallback) {
      els.controls.hidden = true;
      setStatus('');
      showError('There is no collection yet: index a folder first (lookalike index FOLDER), then reload this page.');
      return;
    }
    if (!names.includes(view.collection)) {
      els.notice.textContent = `There is no collection “${view.collection}” on this server; showing “${fallback}”.`;
      els.notice.hidden = false;
      view = { ...view, collection: fallback };
    }
    history.replaceState(null, '', toLocation(view));
    showView();
    await load(false);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return askForKey();
    document.documentElement.dataset.boot = 'failed';
    setStatus('');
    showError(describe(e));
  }
}

els.collection.addEventListener('change', () => change({ collection: els.collection.value }));
els.controls.addEventListener('submit', (e) => {
  e.preventDefault();
  controlsChanged();
});
els.controls.addEventListener('change', controlsChanged);
els.threshold.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    e.preventDefault();
    controlsChanged();
  }
});
els.more.addEventListener('click', () => void load(true));
els.keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  setApiKey(els.keyInput.value.trim());
  void boot();
});
window.addEventListener('popstate', () => {
  view = fromLocation(view.collection);
  showView();
  void load(false);
});
void boot();
