// lookalike's map page: the whole collection laid out in 2-D (GET /v1/collections/{name}/map), coloured by cluster
// or by a metadata key, with its clusters as pictures. Selections become a search on the main page (positive id
// terms) or a text file of paths; clicking an image opens it in the main page's detail view.
//
// The canvas and its pointer/keyboard handling: map-view.ts; what is done with a selection: map-select.ts.
import { ApiError, api, collectionUrl, hasKey, setApiKey, thumbUrl, withKey, type Limits, type Summary } from './api.js';
import { showImage } from './images.js';
import { detailHref, downloadLines, searchHref, spread } from './map-select.js';
import { MapView, type Tool } from './map-view.js';
import { emptyQuery, toUrl } from './query.js';

interface MapPoint {
  id: string;
  path: string | null;
  x: number;
  y: number;
  cluster: number;
  metadata?: Record<string, string | number | boolean | null>;
}
interface MapCluster {
  id: number;
  size: number;
  x: number;
  y: number;
  representatives: string[];
  labels?: string[];
}
interface CollectionMap {
  collection: string;
  items: number;
  method: 'umap' | 'pca';
  ms: number;
  cached: boolean;
  points: MapPoint[];
  clusters: MapCluster[];
}
interface Pending {
  status: 'queued' | 'computing';
  phase: string;
  done: number;
  total: number;
  retryAfter: number;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const els = {
  collection: $<HTMLSelectElement>('collection'),
  searchLink: $<HTMLAnchorElement>('search-link'),
  duplicatesLink: $<HTMLAnchorElement>('duplicates-link'),
  info: $('info'),
  key: $('key'),
  keyForm: $<HTMLFormElement>('key-form'),
  keyInput: $<HTMLInputElement>('key-input'),
  keyError: $('key-error'),
  error: $('error'),
  spinner: $('spinner'),
  status: $('status-text'),
  canvas: $<HTMLCanvasElement>('map'),
  hover: $('hover'),
  hoverImg: $<HTMLImageElement>('hover-img'),
  hoverText: $('hover-text'),
  colourBy: $<HTMLSelectElement>('colour-by'),
  selText: $('selection-text'),
  selSearch: $<HTMLAnchorElement>('selection-search'),
  selExport: $<HTMLButtonElement>('selection-export'),
  selClear: $<HTMLButtonElement>('selection-clear'),
  legend: $('legend'),
  legendList: $('legend-list'),
  clusterList: $('cluster-list'),
};

/** Colours of the first clusters (Tableau 10 and more); later ones go round the hue circle. */
const COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#86bcb6', '#d37295', '#8cd17d'];
const colourAt = (i: number): string => COLOURS[i] ?? `hsl(${Math.round((i * 137.508) % 360)} 60% 45%)`;
const OTHER = '#9aa3ae';
const NONE = '#d0d5dc';
/** Metadata keys offered for colouring: at most this many distinct values. */
const MAX_VALUES = 24;

let collection = '';
let map: CollectionMap | null = null;
let xs: Float32Array = new Float32Array(0);
let ys: Float32Array = new Float32Array(0);
let selection = new Set<number>();
let limits: Pick<Limits, 'maxQueryTerms'> = { maxQueryTerms: 32 };
let loadSeq = 0;

// ── thumbnails for the canvas: fetched (with the API key when there is one), decoded once, the last 1,500 kept ──
const thumbs = new Map<string, ImageBitmap | null>();
const loading = new Set<string>();
let wanted: string[] = [];
const THUMB_PX = (window.devicePixelRatio || 1) > 1 ? 128 : 96;

function pump(): void {
  while (loading.size < 6 && wanted.length > 0) {
    const id = wanted.shift()!;
    if (thumbs.has(id) || loading.has(id)) continue;
    loading.add(id);
    const forCollection = collection;
    fetch(thumbUrl(collection, id, THUMB_PX), withKey())
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((b) => createImageBitmap(b))
      .then(
        (bm) => {
          if (forCollection !== collection) return bm.close();
          thumbs.set(id, bm);
          while (thumbs.size > 1500) {
            const [old, img] = thumbs.entries().next().value!;
            img?.close();
            thumbs.delete(old);
          }
          view.request();
        },
        () => thumbs.set(id, null),
      )
      .finally(() => {
        loading.delete(id);
        pump();
      });
  }
}

const view = new MapView(els.canvas, {
  open: (i) => map && location.assign(detailHref(collection, map.points[i]!.id)),
  select: (indices, add) => {
    const next = add ? new Set(selection) : new Set<number>();
    for (const i of indices) {
      if (add && indices.length === 1 && next.has(i)) next.delete(i);
      else next.add(i);
    }
    setSelection(next);
  },
  hover: (i, px, py) => showHover(i, px, py),
  thumb: (i) => (map ? (thumbs.get(map.points[i]!.id) ?? undefined) : undefined),
  wantThumbs: (indices) => {
    if (!map) return;
    wanted = [];
    for (const i of indices) {
      const id = map.points[i]!.id;
      if (!thumbs.has(id) && !loading.has(id)) wanted.push(id);
      if (wanted.length === 120) break;
    }
    pump();
  },
});

function setStatus(text: string, busy = false): void {
  els.status.textContent = text;
  els.spinner.hidden = !busy;
}

function showError(text: string | null): void {
  els.error.hidden = text === null;
  els.error.textContent = text ?? '';
}

function showHover(i: number | null, px: number, py: number): void {
  if (i === null || !map) {
    els.hover.hidden = true;
    return;
  }
  const p = map.points[i]!;
  const c = map.clusters[p.cluster];
  els.hoverText.textContent = `${p.path ? p.path.slice(p.path.lastIndexOf('/') + 1) : p.id} · cluster ${p.cluster + 1}${c?.labels?.length ? ` (${c.labels.join(', ')})` : ''}`;
  showImage(els.hoverImg, thumbUrl(collection, p.id, 128));
  els.hover.hidden = false;
  els.hover.style.left = `${Math.max(0, Math.min(px + 14, window.innerWidth - 190))}px`;
  els.hover.style.top = `${Math.max(0, py + 210 > window.innerHeight ? py - 214 : py + 14)}px`;
}

function setSelection(next: Set<number>): void {
  selection = next;
  view.setSelection(next);
  const n = next.size;
  const any = n > 0 && map !== null;
  els.selSearch.hidden = !any;
  els.selExport.hidden = !any;
  els.selClear.hidden = !any;
  if (!any) {
    els.selText.textContent = 'Nothing selected: draw a lasso or a box, or select a cluster below.';
    return;
  }
  const picked = spread([...next], xs, ys, Math.max(1, limits.maxQueryTerms));
  els.selSearch.href = searchHref(collection, picked.map((i) => map!.points[i]!.id));
  els.selSearch.textContent = picked.length < n ? `Search with ${picked.length} of these` : 'Search with these';
  els.selText.textContent = `${n} image${n === 1 ? '' : 's'} selected.${picked.length < n ? ` A search takes at most ${picked.length} (spread over the selection).` : ''}`;
}

/** Colour every point by cluster, or by the values of a metadata key (the most common get colours). */
function colour(key: string): void {
  if (!map) return;
  const of = new Uint16Array(map.points.length);
  els.legendList.replaceChildren();
  if (key === '') {
    map.points.forEach((p, i) => (of[i] = p.cluster));
    view.setColours(of, map.clusters.map((_, c) => colourAt(c)));
    els.legend.hidden = true;
    return;
  }
  const counts = new Map<string, number>();
  const text = (p: MapPoint): string | null => {
    const v = p.metadata?.[key];
    return v === null || v === undefined ? null : String(v);
  };
  for (const p of map.points) {
    const v = text(p);
    if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, COLOURS.length - 1);
  const index = new Map(top.map(([v], i) => [v, i]));
  const palette = [...top.map((_, i) => colourAt(i)), OTHER, NONE];
  let other = 0;
  let none = 0;
  map.points.forEach((p, i) => {
    const v = text(p);
    const at = v === null ? undefined : index.get(v);
    of[i] = v === null ? palette.length - 1 : (at ?? palette.length - 2);
    if (v === null) none++;
    else if (at === undefined) other++;
  });
  view.setColours(of, palette);
  const rows: [string, string, number][] = [...top.map(([v, n], i): [string, string, number] => [palette[i]!, v, n])];
  if (other) rows.push([OTHER, 'other values', other]);
  if (none) rows.push([NONE, `no ${key}`, none]);
  for (const [c, label, n] of rows) {
    const li = document.createElement('li');
    li.style.setProperty('--c', c);
    li.innerHTML = '<span class="swatch"></span>';
    li.append(`${label} `, Object.assign(document.createElement('small'), { textContent: String(n) }));
    els.legendList.append(li);
  }
  els.legend.hidden = false;
}

function renderClusters(): void {
  els.clusterList.replaceChildren();
  if (!map) return;
  for (const c of map.clusters) {
    const li = document.createElement('li');
    li.style.setProperty('--c', colourAt(c.id));
    const h = document.createElement('h3');
    h.innerHTML = '<span class="swatch"></span>';
    h.append(`Cluster ${c.id + 1}`);
    if (c.labels?.length) h.append(' ', Object.assign(document.createElement('span'), { className: 'words', textContent: c.labels.join(', ') }));
    h.append(' ', Object.assign(document.createElement('small'), { textContent: `${c.size} image${c.size === 1 ? '' : 's'}` }));
    const reps = document.createElement('div');
    reps.className = 'reps';
    for (const id of c.representatives) {
      const p = map.points.find((q) => q.id === id);
      const a = Object.assign(document.createElement('a'), { href: detailHref(collection, id) });
      const img = Object.assign(document.createElement('img'), { alt: p?.path ? p.path.slice(p.path.lastIndexOf('/') + 1) : id, loading: 'lazy', width: 96, height: 96 });
      showImage(img, thumbUrl(collection, id, 192));
      a.append(img);
      reps.append(a);
    }
    const members = () => map!.points.flatMap((p, i) => (p.cluster === c.id ? [i] : []));
    const show = Object.assign(document.createElement('button'), { type: 'button', className: 'quiet', textContent: 'Show on map' });
    show.setAttribute('aria-label', `Show on map: cluster ${c.id + 1}`);
    show.addEventListener('click', () => {
      const m = members();
      view.show(Math.min(...m.map((i) => xs[i]!)), Math.min(...m.map((i) => ys[i]!)), Math.max(...m.map((i) => xs[i]!)), Math.max(...m.map((i) => ys[i]!)));
      els.canvas.scrollIntoView({ block: 'nearest' });
    });
    const select = Object.assign(document.createElement('button'), { type: 'button', className: 'quiet', textContent: 'Select' });
    select.setAttribute('aria-label', `Select cluster ${c.id + 1}`);
    select.addEventListener('click', () => setSelection(new Set(members())));
    const actions = document.createElement('div');
    actions.className = 'actions';
    actions.append(show, select);
    li.append(h, reps, actions);
    els.clusterList.append(li);
  }
}

/** The map: answered at once when cached, else polled while the server computes it (202 + Retry-After). */
async function fetchMap(c: string, keys: string[], seq: number): Promise<CollectionMap | null> {
  const url = `${collectionUrl(c)}/map${keys.length ? `?keys=${encodeURIComponent(keys.join(','))}` : ''}`;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(url, withKey());
    } catch {
      throw new ApiError('NETWORK', 'Cannot reach the lookalike server: is it still running?', 0);
    }
    const body = (await res.json().catch(() => null)) as (CollectionMap & Pending & { error?: { code: string; message: string } }) | null;
    if (seq !== loadSeq) return null;
    if (res.status === 202 && body) {
      const what = body.status === 'queued' ? 'waiting for another map to finish' : `${body.phase}${body.total ? ` ${body.done}/${body.total}` : ''}`;
      setStatus(`Computing the map of ${c} (${what})…`, true);
      await new Promise((r) => setTimeout(r, Math.max(1, body.retryAfter) * 1000));
      if (seq !== loadSeq) return null;
      continue;
    }
    if (!res.ok) throw body?.error ? new ApiError(body.error.code, body.error.message, res.status) : new ApiError('HTTP', `The server answered HTTP ${res.status}.`, res.status);
    return body;
  }
}

async function load(c: string): Promise<void> {
  const seq = ++loadSeq;
  collection = c;
  map = null;
  for (const b of thumbs.values()) b?.close();
  thumbs.clear();
  wanted = [];
  history.replaceState(null, '', `?collection=${encodeURIComponent(c)}`);
  els.searchLink.href = `./${toUrl({ query: emptyQuery(c), item: null })}`;
  els.duplicatesLink.href = `duplicates.html?collection=${encodeURIComponent(c)}`;
  document.title = `Map of ${c} · lookalike`;
  els.canvas.setAttribute('aria-label', `Map of the collection ${c}`);
  showError(null);
  setStatus(`Loading the map of ${c}…`, true);
  try {
    const summary = await api<Summary>(`${collectionUrl(c)}/metadata?keys=32&values=${MAX_VALUES}`);
    const keys = summary.keys.filter((k) => k.distinct >= 1 && k.distinct <= MAX_VALUES).map((k) => k.key).slice(0, 8);
    els.colourBy.replaceChildren(new Option('cluster', ''), ...keys.map((k) => new Option(k, k)));
    const m = await fetchMap(c, keys, seq);
    if (!m || seq !== loadSeq) return;
    map = m;
    xs = Float32Array.from(m.points, (p) => p.x);
    ys = Float32Array.from(m.points, (p) => p.y);
    view.setPoints(xs, ys);
    colour(els.colourBy.value);
    setSelection(new Set());
    renderClusters();
    const how = m.cached ? 'from the cache' : `computed in ${(m.ms / 1000).toFixed(1)} s`;
    setStatus(`${m.items.toLocaleString('en')} images · ${m.method.toUpperCase()} · ${m.clusters.length} clusters (${how})`);
    els.canvas.dataset.ready = 'true';
  } catch (e) {
    if (seq !== loadSeq) return;
    if (e instanceof ApiError && e.status === 401) return askForKey();
    setStatus('');
    showError(`${e instanceof Error ? e.message : String(e)}${e instanceof ApiError ? ` (${e.code})` : ''}`);
  }
}

function askForKey(): void {
  els.keyError.hidden = !hasKey();
  els.keyError.textContent = hasKey() ? 'The server did not accept this key: check it and try again.' : '';
  setApiKey(null);
  els.key.hidden = false;
  setStatus('');
  els.keyInput.focus();
}

async function boot(): Promise<void> {
  els.key.hidden = true;
  try {
    const list = await api<{ collections: { collection: string; count: number; model: string }[]; default: string | null }>('/v1/collections');
    limits = await api<Limits>('/v1/limits').catch(() => limits);
    const wantedName = new URLSearchParams(location.search).get('collection');
    const names = list.collections.map((x) => x.collection);
    els.collection.replaceChildren(...list.collections.map((x) => new Option(`${x.collection} (${x.count})`, x.collection)));
    const first = wantedName && names.includes(wantedName) ? wantedName : (list.default ?? names[0]);
    if (!first) {
      setStatus('');
      showError('There is no collection to map yet: index a folder first (lookalike index FOLDER), then reload this page.');
      return;
    }
    els.collection.value = first;
    const info = list.collections.find((x) => x.collection === first)!;
    els.info.textContent = `${info.count.toLocaleString('en')} images · ${info.model}`;
    document.documentElement.dataset.boot = 'ready';
    await load(first);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      document.documentElement.dataset.boot = 'key';
      return askForKey();
    }
    document.documentElement.dataset.boot = 'failed';
    setStatus('');
    showError(e instanceof Error ? e.message : String(e));
  }
}

els.collection.addEventListener('change', () => void load(els.collection.value));
els.colourBy.addEventListener('change', () => colour(els.colourBy.value));
for (const r of document.querySelectorAll<HTMLInputElement>('input[name="tool"]')) r.addEventListener('change', () => r.checked && view.setTool(r.value as Tool));
$('zoom-in').addEventListener('click', () => view.zoomBy(1.5));
$('zoom-out').addEventListener('click', () => view.zoomBy(1 / 1.5));
$('zoom-fit').addEventListener('click', () => view.fit());
els.selClear.addEventListener('click', () => setSelection(new Set()));
els.selExport.addEventListener('click', () => {
  if (!map) return;
  const lines = [...selection].sort((a, b) => a - b).map((i) => map!.points[i]!.path ?? map!.points[i]!.id);
  downloadLines(`${collection}-selection.txt`, lines);
});
els.canvas.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') setSelection(new Set());
});
els.keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  setApiKey(els.keyInput.value.trim());
  void boot();
});
void boot();
