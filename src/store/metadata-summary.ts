/**
 * The part of `StoreCollection.metadataSummary` both stores share: turning the rows their SQL returns (the top values
 * of every key, ranked in SQL) into a `MetadataSummary`, and the common folder of all paths.
 */
import type { MetadataKeySummary, MetadataSummary, MetadataSummaryOptions } from './types.js';

export const SUMMARY_DEFAULTS = { maxKeys: 32, maxValues: 20 } as const;

/** One row of a store's summary query: a value of a key with its count, and the key's totals. */
export interface SummaryRow {
  readonly key: string;
  readonly value: string;
  readonly n: number | string;
  readonly distinct_values: number | string;
  readonly items: number | string;
}

/**
 * The longest folder both paths start with (ending in a separator), or null. Given the smallest and the largest path
 * of a collection (in byte order), it is the folder every path of the collection starts with.
 */
export function commonFolder(min: string | null | undefined, max: string | null | undefined): string | null {
  if (!min || !max) return null;
  let i = 0;
  while (i < min.length && i < max.length && min[i] === max[i]) i++;
  const prefix = min.slice(0, i);
  const cut = Math.max(prefix.lastIndexOf('/'), prefix.lastIndexOf('\\'));
  return cut < 0 ? null : prefix.slice(0, cut + 1);
}

/** Group the rows (ordered by key, then rank) into keys, most common keys first, at most `maxKeys`. */
export function summaryFromRows(
  rows: readonly SummaryRow[],
  items: number,
  pathPrefix: string | null,
  opts: MetadataSummaryOptions,
): MetadataSummary {
  const maxKeys = opts.maxKeys ?? SUMMARY_DEFAULTS.maxKeys;
  const byKey = new Map<string, { key: string; items: number; distinct: number; values: { value: string; count: number }[] }>();
  for (const r of rows) {
    let k = byKey.get(r.key);
    if (!k) {
      k = { key: r.key, items: Number(r.items), distinct: Number(r.distinct_values), values: [] };
      byKey.set(r.key, k);
    }
    k.values.push({ value: r.value, count: Number(r.n) });
  }
  const keys: MetadataKeySummary[] = [...byKey.values()]
    .sort((a, b) => b.items - a.items || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, maxKeys);
  return { items, pathPrefix, keys };
}
