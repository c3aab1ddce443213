// What the map page does with a selection: a search made of it (the main page's URL, positive id terms), and a text
// file of its paths. Links are made with the main page's own URL format (query.ts).
import { emptyQuery, toUrl, type Query } from './query.js';

/**
 * At most `max` of the selected points, spread over the selection: the one nearest its centre first, then each next
 * the one farthest from those already taken (farthest-point sampling in map coordinates).
 */
export function spread(indices: readonly number[], xs: Float32Array, ys: Float32Array, max: number): number[] {
  if (indices.length <= max) return [...indices];
  let cx = 0;
  let cy = 0;
  for (const i of indices) {
    cx += xs[i]! / indices.length;
    cy += ys[i]! / indices.length;
  }
  const near = new Float64Array(indices.length);
  let first = 0;
  indices.forEach((i, j) => {
    near[j] = (xs[i]! - cx) ** 2 + (ys[i]! - cy) ** 2;
    if (near[j]! < near[first]!) first = j;
  });
  const out = [indices[first]!];
  near.fill(Infinity);
  while (out.length < max) {
    const last = out[out.length - 1]!;
    let far = -1;
    indices.forEach((i, j) => {
      const d = (xs[i]! - xs[last]!) ** 2 + (ys[i]! - ys[last]!) ** 2;
      if (d < near[j]!) near[j] = d;
      if (near[j]! > 0 && (far < 0 || near[j]! > near[far]!)) far = j;
    });
    if (far < 0) break;
    out.push(indices[far]!);
    near[far] = 0;
  }
  return out;
}

/**
 * The main page searching with these items: the first as the query, the others as positive terms, all weighing the
 * same (a selection has no main item; the page's defaults would weigh the first as much as all the others together).
 */
export function searchHref(collection: string, ids: readonly string[]): string {
  const q: Query = { ...emptyQuery(collection), kind: 'id', value: ids[0] ?? '', weight: 1 };
  q.terms = ids.slice(1).map((value) => ({ kind: 'id', value, negative: false, weight: 1 }));
  return `./${toUrl({ query: q, item: null })}`;
}

/** The main page with this item's detail view open. */
export function detailHref(collection: string, id: string): string {
  return `./${toUrl({ query: emptyQuery(collection), item: id })}`;
}

/** Download `lines` as a text file named `name`. */
export function downloadLines(name: string, lines: readonly string[]): void {
  const url = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/plain' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
