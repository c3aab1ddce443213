// lookalike's web page: search a collection by image, text or "more like this". Talks only to /v1.

interface Info {
  collection: string;
  count: number;
  model: string;
  embedder: string;
  dimension: number;
  modalities: string[];
}
interface Hit {
  id: string;
  path: string | null;
  score: number;
  metadata: Record<string, unknown>;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const select = $<HTMLSelectElement>('collection');
const info = $<HTMLSpanElement>('info');
const fileInput = $<HTMLInputElement>('file');
const drop = $<HTMLDivElement>('drop');
const textForm = $<HTMLFormElement>('text-form');
const textInput = $<HTMLInputElement>('text');
const textButton = $<HTMLButtonElement>('text-button');
const kInput = $<HTMLInputElement>('k');
const minInput = $<HTMLInputElement>('min-score');
const errorBox = $<HTMLDivElement>('error');
const statusBox = $<HTMLDivElement>('status');
const preview = $<HTMLElement>('query-preview');
const results = $<HTMLElement>('results');

let collections: Info[] = [];

function showError(message: string | null): void {
  errorBox.hidden = message === null;
  errorBox.textContent = message ?? '';
}

async function api<T>(url: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch {
    throw new Error('Cannot reach the lookalike server.');
  }
  const body = (await res.json().catch(() => null)) as ({ error?: { message: string; code: string } } & T) | null;
  if (!res.ok) throw new Error(body?.error ? `${body.error.message} (${body.error.code})` : `HTTP ${res.status}`);
  return body as T;
}

const current = (): Info | undefined => collections.find((c) => c.collection === select.value);

function knobs(): { k: number; minScore?: number } {
  const k = Math.max(1, Math.min(200, Number(kInput.value) || 12));
  const min = minInput.value === '' ? undefined : Number(minInput.value);
  return min === undefined || Number.isNaN(min) ? { k } : { k, minScore: min };
}

function describe(c: Info | undefined): void {
  if (!c) {
    info.textContent = 'No collection yet: index some images with `lookalike index`.';
    return;
  }
  const text = c.modalities.includes('text');
  info.textContent = `${c.count} images · ${c.embedder} · ${c.dimension}-d${text ? ' · image + text' : ' · image only'}`;
  textInput.disabled = !text;
  textButton.disabled = !text;
  textInput.placeholder = text ? 'Describe an image, e.g. a yellow flower' : 'Text search needs a CLIP-family model';
}

function render(hits: Hit[], label: string, queryImage?: string): void {
  preview.hidden = false;
  preview.replaceChildren();
  if (queryImage) {
    const img = document.createElement('img');
    img.src = queryImage;
    img.alt = 'query';
    preview.append(img);
  }
  const caption = document.createElement('span');
  caption.textContent = `${label}: ${hits.length} result${hits.length === 1 ? '' : 's'}`;
  preview.append(caption);
  results.replaceChildren(
    ...hits.map((h) => {
      const fig = document.createElement('figure');
      fig.className = 'hit';
      fig.dataset.id = h.id;
      fig.title = `${h.path ?? h.id}\nclick: more like this`;
      const img = document.createElement('img');
      img.loading = 'lazy';
      img.alt = h.path ?? h.id;
      img.src = `/v1/collections/${encodeURIComponent(select.value)}/items/${encodeURIComponent(h.id)}/thumbnail?size=256`;
      const cap = document.createElement('figcaption');
      const score = document.createElement('span');
      score.className = 'score';
      score.textContent = h.score.toFixed(3);
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = (h.path ?? h.id).split('/').slice(-2).join('/');
      cap.append(score, name);
      fig.append(img, cap);
      fig.addEventListener('click', () => void searchJson({ id: h.id }, 'More like this', img.src));
      return fig;
    }),
  );
}

async function run(label: string, fn: () => Promise<{ results: Hit[] }>, queryImage?: string): Promise<void> {
  showError(null);
  statusBox.textContent = 'Searching…';
  const t0 = performance.now();
  try {
    const { results: hits } = await fn();
    statusBox.textContent = `${hits.length} results in ${Math.round(performance.now() - t0)} ms`;
    render(hits, label, queryImage);
  } catch (e) {
    statusBox.textContent = '';
    showError((e as Error).message);
  }
}

function searchJson(body: Record<string, unknown>, label: string, queryImage?: string): Promise<void> {
  return run(
    label,
    () =>
      api(`/v1/collections/${encodeURIComponent(select.value)}/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, ...knobs() }),
      }),
    queryImage,
  );
}

function searchFile(file: File): Promise<void> {
  const form = new FormData();
  form.append('image', file, file.name);
  const { k, minScore } = knobs();
  form.append('k', String(k));
  if (minScore !== undefined) form.append('minScore', String(minScore));
  return run(
    `Images like ${file.name}`,
    () => api(`/v1/collections/${encodeURIComponent(select.value)}/search`, { method: 'POST', body: form }),
    URL.createObjectURL(file),
  );
}

fileInput.addEventListener('change', () => {
  const f = fileInput.files?.[0];
  if (f) void searchFile(f);
  fileInput.value = '';
});
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) void searchFile(f);
});
textForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = textInput.value.trim();
  if (text) void searchJson({ text }, `“${text}”`);
});
select.addEventListener('change', () => {
  describe(current());
  results.replaceChildren();
  preview.hidden = true;
  const url = new URL(location.href);
  url.searchParams.set('collection', select.value);
  history.replaceState(null, '', url);
});

async function init(): Promise<void> {
  try {
    const list = await api<{ collections: Info[]; default: string | null }>('/v1/collections');
    collections = list.collections;
    select.replaceChildren(
      ...collections.map((c) => {
        const o = document.createElement('option');
        o.value = c.collection;
        o.textContent = c.collection;
        return o;
      }),
    );
    const wanted = new URL(location.href).searchParams.get('collection') ?? list.default;
    if (wanted && collections.some((c) => c.collection === wanted)) select.value = wanted;
    describe(current());
  } catch (e) {
    showError((e as Error).message);
  }
}

void init();
