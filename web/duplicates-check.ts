// The main page's ways to near-duplicates: "Find duplicates of this" in the detail view (POST …/duplicates/check
// with the item's id: the items it duplicates, with their thumbnails, paths and scores, or that there are none) and
// the header's link to the duplicates page (duplicates.ts).
import { api, thumbUrl } from './api.js';
import { checkUrl, verifiedText, type CheckReply } from './duplicates-api.js';
import { describeError, needsKey } from './errors.js';
import { showImage } from './images.js';
import { $, el, withBreaks } from './render.js';
import { currentInfo, type State } from './state.js';

const dupEls = {
  link: $<HTMLAnchorElement>('duplicates-link'),
  find: $<HTMLButtonElement>('detail-find-dups'),
  section: $<HTMLElement>('detail-dups'),
  status: $<HTMLParagraphElement>('detail-dups-status'),
  list: $<HTMLUListElement>('detail-dups-list'),
};

/** The check of one item: asked, answered or failed. */
interface Check {
  collection: string;
  id: string;
  phase: 'loading' | 'done' | 'error';
  reply: CheckReply | null;
  error: string | null;
}

let check: Check | null = null;
let renderedFor: Check | null = null;
let controller: AbortController | null = null;

/** The item the detail view shows (not an uploaded query image), or null. */
function target(s: State): { collection: string; id: string } | null {
  return s.detail && !s.detail.query ? { collection: s.search.query.collection, id: s.detail.id } : null;
}

function match(collection: string, m: CheckReply['matches'][number]): HTMLLIElement {
  const img = el('img', { alt: '', width: 72, height: 72, decoding: 'async' });
  showImage(img, thumbUrl(collection, m.id, 144));
  const path = m.path ?? m.id;
  const open = el(
    'button',
    { type: 'button', className: 'dup-open', title: 'Open it here' },
    img,
    el(
      'span',
      { className: 'dup-text' },
      el('span', { className: 'dup-path' }, ...withBreaks(path)),
      el('span', { className: 'dup-score' }, el('span', { className: 'visually-hidden' }, 'score '), m.score.toFixed(4), ` · ${verifiedText(m.verified, false)}`),
    ),
  );
  const li = el('li', {}, open);
  li.dataset.id = m.id;
  li.dataset.score = String(m.score);
  return li;
}

/** The header's link and the detail view's check, from the state and the check made (call after every change). */
export function renderDuplicateCheck(s: State): void {
  const info = currentInfo(s);
  dupEls.link.hidden = !(info && info.count > 0);
  if (info) dupEls.link.href = `duplicates.html?collection=${encodeURIComponent(info.collection)}`;
  const t = target(s);
  dupEls.section.hidden = t === null;
  if (check && (!t || t.collection !== check.collection || t.id !== check.id)) {
    controller?.abort(); // another item (or none): its check is of no use now
    controller = null;
    check = null;
  }
  if (check === renderedFor) return;
  renderedFor = check;
  const busy = check?.phase === 'loading';
  dupEls.find.setAttribute('aria-disabled', String(busy)); // not `disabled`: the button keeps the focus
  dupEls.find.classList.toggle('busy', busy);
  dupEls.find.textContent = busy ? 'Finding duplicates…' : 'Find duplicates of this';
  dupEls.status.classList.toggle('error', check?.phase === 'error');
  const matches = check?.reply?.matches ?? [];
  dupEls.list.hidden = matches.length === 0;
  dupEls.list.replaceChildren(...matches.map((m) => match(check!.collection, m)));
  if (!check) dupEls.status.textContent = '';
  else if (check.phase === 'loading') dupEls.status.textContent = 'Looking for duplicates of this image…';
  else if (check.phase === 'error') dupEls.status.textContent = check.error ?? '';
  else {
    const n = matches.length;
    const at = `threshold ${check.reply!.threshold.toFixed(4)}`;
    dupEls.status.textContent = n === 0 ? `No duplicates found (${at}).` : `${n} duplicate${n === 1 ? '' : 's'} found (${at}):`;
  }
}

/**
 * Wire "Find duplicates of this" (asks the server about the item in the detail view) and the matches it lists (each
 * opens in the detail view with `open`).
 */
export function wireDuplicateCheck(s: State, open: (id: string) => void, paint: () => void, askForKey: () => void): void {
  dupEls.find.addEventListener('click', () => {
    const t = target(s);
    if (!t || check?.phase === 'loading') return;
    controller?.abort();
    controller = new AbortController();
    const mine: Check = { ...t, phase: 'loading', reply: null, error: null };
    check = mine;
    paint();
    api<CheckReply>(checkUrl(t.collection), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: t.id }),
      signal: controller.signal,
    }).then(
      (reply) => {
        if (check !== mine) return;
        check = { ...mine, phase: 'done', reply };
        paint();
      },
      (e: unknown) => {
        if (check !== mine) return; // aborted: another item is shown
        if (needsKey(e)) {
          check = null;
          return askForKey();
        }
        check = { ...mine, phase: 'error', error: describeError(e, null, s.limits) };
        paint();
      },
    );
  });
  dupEls.list.addEventListener('click', (e) => {
    const id = (e.target as Element).closest('button.dup-open')?.closest<HTMLElement>('li')?.dataset.id;
    if (id === undefined) return;
    open(id);
    dupEls.find.focus(); // the list is gone with the item it was for: go on from the button
  });
}
