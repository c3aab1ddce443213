// The detail view of one item: a modal dialog with the full image, everything stored about it, "more like this",
// "search with this region" (region.ts).
import { hasKey, itemUrl, queryImageUrl, type Item } from './api.js';
import { blobUrl, showImage } from './images.js';
import type { Crop } from './query.js';
import { resetRegion, wireRegion } from './region.js';
import { $, scoreMeaning } from './render.js';
import { altText, displayName, megabytes, percentText, seenKey, summaryOf, type DetailState, type State } from './state.js';

export const detailEls = {
  dialog: $<HTMLDialogElement>('detail'),
  title: $<HTMLHeadingElement>('detail-title'),
  close: $<HTMLButtonElement>('detail-close'),
  img: $<HTMLImageElement>('detail-img'),
  error: $<HTMLParagraphElement>('detail-error'),
  meta: $<HTMLDListElement>('detail-meta'),
  more: $<HTMLButtonElement>('detail-more'),
  open: $<HTMLAnchorElement>('detail-open'),
  actions: $<HTMLParagraphElement>('detail-actions'),
};

function row(term: string, value: string): [HTMLElement, HTMLElement] {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  return [dt, dd];
}

function valueText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

let renderedFor = '';

/** The uploaded query image, to draw a region on: no item, no metadata. */
function renderQueryImage(s: State, hash: string): void {
  const key = `query\u0000${hash}`;
  if (key === renderedFor) return;
  renderedFor = key;
  const file = s.search.file;
  detailEls.title.textContent = `Your query image${file ? `: ${file.name}` : ''}`;
  resetRegion(key);
  if (file) {
    detailEls.img.dataset.src = file.url;
    detailEls.img.src = file.url;
  } else showImage(detailEls.img, queryImageUrl(hash));
  detailEls.img.alt = `The image you searched with${file ? `, ${file.name}` : ''}`;
  detailEls.error.hidden = true;
  detailEls.meta.replaceChildren(...row('Search', 'with a region of this image: draw it, or choose or type it below.'));
}

export function renderDetail(s: State): void {
  const d = s.detail;
  const { dialog } = detailEls;
  detailEls.actions.hidden = d?.query === true;
  if (!d) {
    renderedFor = '';
    if (dialog.open) dialog.close();
    return;
  }
  if (d.query) {
    renderQueryImage(s, d.id);
    if (!dialog.open) dialog.showModal();
    return;
  }
  const collection = s.search.query.collection;
  const summary = summaryOf(s, collection);
  const hit = s.seen.get(seenKey(collection, d.id));
  const base = d.item ?? hit ?? { id: d.id, path: null, metadata: {} };
  const key = `${collection}\u0000${d.id}\u0000${d.item ? 'item' : ''}\u0000${d.error ?? ''}\u0000${summary ? 's' : ''}`;
  if (key !== renderedFor) {
    renderedFor = key;
    const name = displayName(base, summary);
    detailEls.title.textContent = name;
    const src = `${itemUrl(collection, d.id)}/image`;
    resetRegion(`${collection}\u0000${d.id}`);
    showImage(detailEls.img, src);
    detailEls.img.alt = altText(base, summary);
    detailEls.open.href = src;
    // with an API key, a link cannot send it: the original opens from the copy fetched with the key
    if (hasKey()) void blobUrl(src).then((b) => detailEls.img.dataset.src === src && (detailEls.open.href = b), () => undefined);
    detailEls.error.hidden = d.error === null;
    detailEls.error.textContent = d.error ?? '';
    const rows: HTMLElement[] = [];
    if (hit) {
      // with calibrated scores, what the raw score means in this collection
      const c = hit.confidence;
      const [dt, dd] = row('Score', `${hit.score.toFixed(4)}${c !== undefined ? ` · better than ${percentText(c)} of random pairs` : ''}`);
      dd.title = scoreMeaning(s.search.query.rerank);
      if (c !== undefined) {
        dd.title += `; more similar than ${percentText(c)} of random pairs of images in this collection`;
        dd.dataset.confidence = String(c);
      }
      rows.push(dt, dd);
    }
    const item: Item | null = d.item;
    if (base.path) rows.push(...row('Path', base.path));
    if (item?.width && item.height) rows.push(...row('Dimensions', `${item.width} × ${item.height} px`));
    if (item?.size) rows.push(...row('File size', item.size < 1024 * 1024 ? `${Math.round(item.size / 1024)} KB` : megabytes(item.size)));
    if (item?.mtimeMs) rows.push(...row('Modified', new Date(item.mtimeMs).toLocaleString()));
    if (item) rows.push(...row('Indexed', new Date(item.updatedAt).toLocaleString()));
    for (const [k, v] of Object.entries(base.metadata)) rows.push(...row(k, valueText(v)));
    rows.push(...row('Id', d.id));
    detailEls.meta.replaceChildren(...rows);
  }
  if (!dialog.open) dialog.showModal();
}

/**
 * Wire the dialog: closing it (its button, Escape, a click on the backdrop) and its searches, "more like this"
 * (`crop` null) and with a region (of the item, or of the uploaded query image).
 */
export function wireDetail(current: () => DetailState | null, close: () => void, search: (d: DetailState, crop: Crop | null) => void): void {
  const { dialog } = detailEls;
  detailEls.close.addEventListener('click', close);
  dialog.addEventListener('cancel', (e) => {
    e.preventDefault(); // Escape: close through the state (and history)
    close();
  });
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) close(); // a click on the backdrop
  });
  detailEls.more.addEventListener('click', () => {
    const d = current();
    if (d) search(d, null);
  });
  wireRegion((crop) => {
    const d = current();
    if (d) search(d, crop);
  });
}
