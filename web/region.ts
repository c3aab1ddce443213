// "Search with this region" in the detail view: drag a box on the image (mouse, pen or finger), or, by keyboard, pick
// a preset or type the box in percent. The box is kept as fractions of the image (what the API's crop takes).
import { $ } from './render.js';
import type { Crop } from './query.js';

export const regionEls = {
  frame: $<HTMLDivElement>('region-frame'),
  img: $<HTMLImageElement>('detail-img'),
  box: $<HTMLDivElement>('region-box'),
  preset: $<HTMLSelectElement>('region-preset'),
  x: $<HTMLInputElement>('region-x'),
  y: $<HTMLInputElement>('region-y'),
  w: $<HTMLInputElement>('region-w'),
  h: $<HTMLInputElement>('region-h'),
  search: $<HTMLButtonElement>('region-search'),
  note: $<HTMLParagraphElement>('region-note'),
};

export const PRESETS: Readonly<Record<string, Crop>> = {
  centre: { x: 0.25, y: 0.25, w: 0.5, h: 0.5 },
  left: { x: 0, y: 0, w: 0.5, h: 1 },
  right: { x: 0.5, y: 0, w: 0.5, h: 1 },
  top: { x: 0, y: 0, w: 1, h: 0.5 },
  bottom: { x: 0, y: 0.5, w: 1, h: 0.5 },
  'top-left': { x: 0, y: 0, w: 0.5, h: 0.5 },
  'top-right': { x: 0.5, y: 0, w: 0.5, h: 0.5 },
  'bottom-left': { x: 0, y: 0.5, w: 0.5, h: 0.5 },
  'bottom-right': { x: 0.5, y: 0.5, w: 0.5, h: 0.5 },
};

/** The smallest region side, as a fraction (a click is not a region). */
const MIN_SIDE = 0.03;
const INPUTS = ['x', 'y', 'w', 'h'] as const;

let region: Crop | null = null;
let regionFor = '';

const clamp01 = (n: number): number => Math.min(1, Math.max(0, n));
const r4 = (n: number): number => Math.round(n * 10_000) / 10_000;

/** A region inside the image, rounded, or null when too small. */
function tidy(c: Crop): Crop | null {
  const x = r4(clamp01(c.x));
  const y = r4(clamp01(c.y));
  const w = r4(Math.min(c.w, 1 - x));
  const h = r4(Math.min(c.h, 1 - y));
  return w >= MIN_SIDE && h >= MIN_SIDE ? { x, y, w, h } : null;
}

function draw(from: 'pointer' | 'inputs' | 'preset' | 'reset'): void {
  const c = region;
  regionEls.box.hidden = c === null;
  if (c) Object.assign(regionEls.box.style, { left: `${c.x * 100}%`, top: `${c.y * 100}%`, width: `${c.w * 100}%`, height: `${c.h * 100}%` });
  if (from !== 'inputs') {
    for (const k of INPUTS) {
      regionEls[k].value = c ? String(Math.round(c[k] * 1000) / 10) : '';
      regionEls[k].removeAttribute('aria-invalid');
    }
  }
  if (from !== 'preset') {
    const match = Object.entries(PRESETS).find(([, p]) => c !== null && INPUTS.every((k) => Math.abs(p[k] - c[k]) < 1e-6));
    regionEls.preset.value = match ? match[0] : '';
  }
  regionEls.search.setAttribute('aria-disabled', String(c === null));
  regionEls.note.textContent = c
    ? `Region: from ${Math.round(c.x * 100)}% across and ${Math.round(c.y * 100)}% down, ${Math.round(c.w * 100)}% wide and ${Math.round(c.h * 100)}% high.`
    : 'No region yet: drag on the image, pick a preset, or type one in percent.';
}

/** The detail view shows another item: start without a region. */
export function resetRegion(key: string): void {
  if (key === regionFor) return;
  regionFor = key;
  region = null;
  draw('reset');
}

export const currentRegion = (): Crop | null => region;

function point(e: PointerEvent): { x: number; y: number } {
  const r = regionEls.img.getBoundingClientRect();
  return { x: clamp01((e.clientX - r.left) / r.width), y: clamp01((e.clientY - r.top) / r.height) };
}

/** Wire the drawing and the keyboard controls; `search(crop)` runs the region search. */
export function wireRegion(search: (crop: Crop) => void): void {
  let start: { x: number; y: number } | null = null;
  const { frame, img } = regionEls;
  // the image is shown as large as fits (small ones scaled up), in its own proportions: the box's percentages fit it
  img.addEventListener('load', () => {
    frame.style.setProperty('--ar', String(img.naturalWidth / Math.max(1, img.naturalHeight)));
    frame.style.setProperty('--nw', String(img.naturalWidth));
  });
  frame.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !img.naturalWidth) return;
    e.preventDefault();
    start = point(e);
    frame.setPointerCapture(e.pointerId);
  });
  frame.addEventListener('pointermove', (e) => {
    if (!start) return;
    const p = point(e);
    region = tidy({ x: Math.min(start.x, p.x), y: Math.min(start.y, p.y), w: Math.abs(p.x - start.x), h: Math.abs(p.y - start.y) });
    draw('pointer');
  });
  const end = (e: PointerEvent) => {
    if (!start) return;
    start = null;
    if (frame.hasPointerCapture(e.pointerId)) frame.releasePointerCapture(e.pointerId);
    draw('pointer');
  };
  frame.addEventListener('pointerup', end);
  frame.addEventListener('pointercancel', end);
  regionEls.preset.addEventListener('change', () => {
    const p = PRESETS[regionEls.preset.value];
    region = p ? { ...p } : region;
    draw('preset');
  });
  for (const k of INPUTS) {
    regionEls[k].addEventListener('input', () => {
      const v = INPUTS.map((kk) => Number(regionEls[kk].value) / 100);
      const ok = INPUTS.every((kk) => regionEls[kk].value.trim() !== '') && v.every((n) => Number.isFinite(n) && n >= 0 && n <= 1);
      const c = ok ? tidy({ x: v[0]!, y: v[1]!, w: v[2]!, h: v[3]! }) : null;
      for (const kk of INPUTS) regionEls[kk].setAttribute('aria-invalid', String(!ok || (c === null && (kk === 'w' || kk === 'h'))));
      region = c;
      draw('inputs');
    });
  }
  regionEls.search.addEventListener('click', () => {
    if (region) search(region);
  });
}
