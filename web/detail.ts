// The detail view of one item: a modal dialog with the full image, everything stored about it, "more like this".
import { itemUrl, type Item } from './api.js';
import { $ } from './render.js';
import { altText, displayName, megabytes, seenKey, summaryOf, type State } from './state.js';

export const detailEls = {
  dialog: $<HTMLDialogElement>('detail'),
  title: $<HTMLHeadingElement>('detail-title'),
  close: $<HTMLButtonElement>('detail-close'),
  img: $<HTMLImageElement>('detail-img'),
  error: $<HTMLParagraphElement>('detail-error'),
  meta: $<HTMLDListElement>('detail-meta'),
  more: $<HTMLButtonElement>('detail-more'),
  open: $<HTMLAnchorElement>('detail-open'),
};

function row(term: string, value: string): HTMLElement[] {
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

export function renderDetail(s: State): void {
  const d = s.detail;
  const { dialog } = detailEls;
  if (!d) {
    renderedFor = '';
    if (dialog.open) dialog.close();
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
    if (detailEls.img.getAttribute('src') !== src) detailEls.img.src = src;
    detailEls.img.alt = altText(base, summary);
    detailEls.open.href = src;
    detailEls.error.hidden = d.error === null;
    detailEls.error.textContent = d.error ?? '';
    const rows: HTMLElement[] = [];
    if (hit) rows.push(...row('Score', hit.score.toFixed(4)));
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
