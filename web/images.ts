// Images from the API. An <img> cannot send the API key, so when the user gave one (the server needs it for reads)
// images are fetched with it and shown from blob URLs; otherwise the browser loads them itself (srcset, lazy, cache).
import { hasKey, withKey } from './api.js';

const blobs = new Map<string, Promise<string>>();

/** A blob URL of `url` fetched with the API key (one fetch per URL while the key lasts). */
export function blobUrl(url: string): Promise<string> {
  let p = blobs.get(url);
  if (!p) {
    p = fetch(url, withKey()).then(async (r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return URL.createObjectURL(await r.blob());
    });
    blobs.set(url, p);
    p.catch(() => blobs.delete(url));
  }
  return p;
}

/** Drop the images fetched with a key (the key changed or was forgotten). */
export function forgetImages(): void {
  for (const p of blobs.values()) p.then(URL.revokeObjectURL, () => undefined);
  blobs.clear();
}

/**
 * Show `url` in `img`. `responsive`: candidate URLs by width and the slot's sizes, for the browser to choose from;
 * with a key, the candidate for the slot at this device pixel ratio (`slot` CSS pixels wide) is fetched instead.
 */
export function showImage(img: HTMLImageElement, url: string, responsive?: { widths: number[]; at: (w: number) => string; sizes: string; slot: number }): void {
  if (img.dataset.src === url) return;
  img.dataset.src = url;
  if (!hasKey()) {
    if (responsive) {
      img.srcset = responsive.widths.map((w) => `${responsive.at(w)} ${w}w`).join(', ');
      img.sizes = responsive.sizes;
    }
    img.src = url;
    return;
  }
  let wanted = url;
  if (responsive) {
    const need = responsive.slot * (window.devicePixelRatio || 1);
    wanted = responsive.at(responsive.widths.find((w) => w >= need) ?? responsive.widths[responsive.widths.length - 1]!);
  }
  img.removeAttribute('srcset');
  void blobUrl(wanted).then(
    (b) => {
      if (img.dataset.src === url) img.src = b;
    },
    () => undefined, // the alt text stands in
  );
}
