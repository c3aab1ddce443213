/**
 * The filter language (src/search/where.ts) compiled to SQL: SQLite's JSON functions over the embedded store's
 * `metadata` text, and PostgreSQL's jsonb operators. Both must agree with `matchesWhere` (tests compare them).
 */
import { kmBetween, NEAR, opsOf, type Condition, type Near, type Ops, type Scalar, type Where } from '../search/where.js';

export interface CompiledWhere {
  readonly sql: string;
  readonly params: unknown[];
}

const RANGE_SQL = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
type RangeOp = keyof typeof RANGE_SQL;
const rangeOps = (o: Ops): [RangeOp, number | string][] =>
  (Object.keys(RANGE_SQL) as RangeOp[]).flatMap((op) => (o[op] !== undefined ? [[op, o[op]] as [RangeOp, number | string]] : []));

/** The SQL function the embedded store registers for `$near` (great-circle kilometres). */
export const SQLITE_KM_FUNCTION = 'lookalike_km';
export function sqliteKm(lat1: unknown, lon1: unknown, lat2: unknown, lon2: unknown): number | null {
  if (typeof lat1 !== 'number' || typeof lon1 !== 'number' || typeof lat2 !== 'number' || typeof lon2 !== 'number') return null;
  return kmBetween(lat1, lon1, lat2, lon2);
}

/** SQLite: a boolean expression over the `metadata` column (rows SQLite cannot parse are excluded by the caller). */
export function sqliteWhere(where: Where): CompiledWhere {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [key, c] of Object.entries(where)) {
    if (key === NEAR) {
      const n = c as Near;
      parts.push(
        `(json_type(metadata, '$.lat') IN ('integer', 'real') AND json_type(metadata, '$.lon') IN ('integer', 'real') AND ` +
          `${SQLITE_KM_FUNCTION}(?, ?, json_extract(metadata, '$.lat'), json_extract(metadata, '$.lon')) <= ?)`,
      );
      params.push(n.lat, n.lon, n.km);
      continue;
    }
    const path = `$."${key.replaceAll('"', '""')}"`;
    const type = () => {
      params.push(path);
      return 'json_type(metadata, ?)';
    };
    const text = () => {
      params.push(path, path);
      return `(CASE json_type(metadata, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(metadata, ?) AS TEXT) END)`;
    };
    /** 1 when the value equals any of `values` (text comparison; null = JSON null), else 0 (never NULL). */
    const eqAny = (values: readonly Scalar[]): string => {
      const alts: string[] = [];
      const nonNull = values.filter((v): v is string | number | boolean => v !== null);
      if (nonNull.length) {
        const t = text();
        alts.push(`${t} IN (${nonNull.map(() => '?').join(', ')})`);
        params.push(...nonNull.map(String));
      }
      if (nonNull.length < values.length) alts.push(`${type()} IS 'null'`);
      return `COALESCE((${alts.join(' OR ')}), 0)`;
    };
    const o = opsOf(c as Condition);
    if (o.eq !== undefined) parts.push(`${eqAny([o.eq])} = 1`);
    if (o.ne !== undefined) parts.push(`${eqAny([o.ne])} = 0`);
    if (o.in !== undefined) parts.push(`${eqAny(o.in)} = 1`);
    if (o.nin !== undefined) parts.push(`${eqAny(o.nin)} = 0`);
    for (const [op, bound] of rangeOps(o)) {
      const kinds = typeof bound === 'number' ? `IN ('integer', 'real')` : `= 'text'`;
      const t = type();
      params.push(path);
      parts.push(`(${t} ${kinds} AND json_extract(metadata, ?) ${RANGE_SQL[op]} ?)`);
      params.push(bound);
    }
    if (o.exists !== undefined) {
      const t = type();
      params.push(path);
      parts.push(o.exists ? `(${t} IS NOT NULL AND json_type(metadata, ?) <> 'null')` : `(${t} IS NULL OR json_type(metadata, ?) = 'null')`);
    }
  }
  return { sql: parts.length ? parts.join(' AND ') : '1', params };
}

/**
 * PostgreSQL (jsonb `metadata`): equality as containment (`metadata @> {"k": v}` for each JSON value whose text is
 * v), so the GIN index on metadata serves it; ranges on typed values; `$near` with the haversine formula.
 * Parameters are numbered from `first`.
 */
export function postgresWhere(where: Where, first: number): CompiledWhere {
  const parts: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${first + params.length - 1}`;
  };
  for (const [key, c] of Object.entries(where)) {
    if (key === NEAR) {
      const n = c as Near;
      const [lat, lon, km] = [p(n.lat), p(n.lon), p(n.km)];
      parts.push(
        `(jsonb_typeof(metadata -> 'lat') = 'number' AND jsonb_typeof(metadata -> 'lon') = 'number' AND ` +
          `2 * 6371.0088 * asin(least(1, sqrt(power(sin(radians((metadata ->> 'lat')::float8 - ${lat}::float8) / 2), 2) + ` +
          `cos(radians(${lat}::float8)) * cos(radians((metadata ->> 'lat')::float8)) * power(sin(radians((metadata ->> 'lon')::float8 - ${lon}::float8) / 2), 2)))) <= ${km}::float8)`,
      );
      continue;
    }
    /** Any JSON value whose text (the way `eq` compares) is that of `v`, as containment tests. */
    const eqAny = (values: readonly Scalar[]): string => {
      const alts = values.flatMap((v) => jsonForms(v).map((j) => `metadata @> ${p(JSON.stringify({ [key]: j }))}::jsonb`));
      return `(${alts.join(' OR ')})`;
    };
    const o = opsOf(c as Condition);
    if (o.eq !== undefined) parts.push(eqAny([o.eq]));
    if (o.ne !== undefined) parts.push(`NOT ${eqAny([o.ne])}`);
    if (o.in !== undefined) parts.push(eqAny(o.in));
    if (o.nin !== undefined) parts.push(`NOT ${eqAny(o.nin)}`);
    // keys are validated metadata keys (no quotes or backslashes): inlined as literals so that expression indexes
    // (the btree on metadata ->> 'taken') can serve range conditions
    const k = `'${key.replaceAll("'", "''")}'`;
    for (const [op, bound] of rangeOps(o)) {
      parts.push(
        typeof bound === 'number'
          ? `(jsonb_typeof(metadata -> ${k}) = 'number' AND (metadata ->> ${k})::float8 ${RANGE_SQL[op]} ${p(bound)}::float8)`
          : `(jsonb_typeof(metadata -> ${k}) = 'string' AND (metadata ->> ${k}) COLLATE "C" ${RANGE_SQL[op]} ${p(bound)}::text)`,
      );
    }
    if (o.exists !== undefined) {
      parts.push(o.exists ? `(jsonb_typeof(metadata -> ${k}) IS NOT NULL AND jsonb_typeof(metadata -> ${k}) <> 'null')` : `coalesce(jsonb_typeof(metadata -> ${k}), 'null') = 'null'`);
    }
  }
  return { sql: parts.length ? parts.join(' AND ') : 'true', params };
}

/**
 * The JSON values whose text is that of `v`: a string "2020" is also the number 2020, "true" the boolean; a number
 * is also its string; null is only null. (jsonb containment compares numbers by value, so 1.50 matches 1.5.)
 */
function jsonForms(v: Scalar): Scalar[] {
  if (v === null) return [null];
  const s = String(v);
  const forms: Scalar[] = [s];
  if (s.trim() !== '' && Number.isFinite(Number(s)) && String(Number(s)) === s) forms.push(Number(s));
  if (s === 'true' || s === 'false') forms.push(s === 'true');
  return forms;
}
