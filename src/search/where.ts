/**
 * The metadata filter language, one for the library, the CLI and HTTP (grammar and semantics in docs/filters.md).
 *
 *   where    := { key: condition, …, "$near"?: {lat, lon, km} }        every condition must hold (AND)
 *   condition := scalar                                                  equality (same as {eq: scalar})
 *              | { eq?, ne?, gt?, gte?, lt?, lte?, in?, nin?, exists? }  all given operators must hold
 *
 * - `eq`/`ne`/`in`/`nin` compare as text: `2020` matches the number 2020 and the string "2020"; booleans as
 *   `true`/`false`; `null` matches a JSON null. `ne`/`nin` also match items without the key.
 * - `gt`/`gte`/`lt`/`lte` with a number compare numbers (only values stored as numbers match); with a string they
 *   compare strings by code point (ISO 8601 dates in the same form, e.g. UTC `…Z`, compare in time order).
 * - `exists: true` — the key has a non-null value; `exists: false` — it does not.
 * - `$near` — the item's numeric `lat`/`lon` metadata lie within `km` kilometres (great-circle distance).
 *
 * This file validates filters, evaluates them in memory (`matchesWhere`, the reference the stores' SQL must agree
 * with), and parses the CLI's `--where` expressions.
 */
import { createError } from '../errors.js';

export type Scalar = string | number | boolean | null;
export interface Ops {
  readonly eq?: Scalar;
  readonly ne?: Scalar;
  readonly gt?: number | string;
  readonly gte?: number | string;
  readonly lt?: number | string;
  readonly lte?: number | string;
  readonly in?: readonly Scalar[];
  readonly nin?: readonly Scalar[];
  readonly exists?: boolean;
}
export type Condition = Scalar | Ops;
export interface Near {
  readonly lat: number;
  readonly lon: number;
  readonly km: number;
}
/** A metadata filter: key → condition (AND), plus an optional `$near` geographic radius. */
export type Where = Readonly<Record<string, Condition | Near>>;

export const MAX_WHERE_CONDITIONS = 32;
export const MAX_IN_VALUES = 256;
export const NEAR = '$near';
const OPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'exists'] as const;
const RANGE = ['gt', 'gte', 'lt', 'lte'] as const;
export const EARTH_KM = 6371.0088;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/** Text form of a scalar, the way `eq` compares (booleans true/false, numbers as JavaScript prints them). */
export const asText = (v: string | number | boolean): string => String(v);

/**
 * Check a filter's shape. `keyProblem` says why a key is not a metadata key (from schema.ts). Throws
 * `INVALID_ARGUMENT` naming the key and what was expected.
 */
export function checkWhere(value: unknown, field: string, keyProblem: (k: string) => string | undefined, showKey: (k: string) => string): Where {
  const fail = (why: string) => createError('INVALID_ARGUMENT', `${field}: ${why}.`, { field });
  if (!isObject(value)) throw fail('expected an object of key → value (string, number, boolean or null) or key → {operator: value}');
  const keys = Object.keys(value);
  if (keys.length > MAX_WHERE_CONDITIONS) throw fail(`at most ${MAX_WHERE_CONDITIONS} conditions (got ${keys.length})`);
  for (const k of keys) {
    const v = value[k];
    if (k === NEAR) {
      if (!isObject(v)) throw fail(`${NEAR} must be {lat, lon, km}`);
      const { lat, lon, km } = v as Record<string, unknown>;
      const extra = Object.keys(v).filter((x) => !['lat', 'lon', 'km'].includes(x));
      if (extra.length) throw fail(`${NEAR} takes only lat, lon and km (got ${extra.join(', ')})`);
      if (typeof lat !== 'number' || !(lat >= -90 && lat <= 90)) throw fail(`${NEAR}.lat must be a latitude from -90 to 90 (got ${String(lat)})`);
      if (typeof lon !== 'number' || !(lon >= -180 && lon <= 180)) throw fail(`${NEAR}.lon must be a longitude from -180 to 180 (got ${String(lon)})`);
      if (typeof km !== 'number' || !(km > 0 && km <= 40_100)) throw fail(`${NEAR}.km must be a distance in kilometres above 0 (got ${String(km)})`);
      continue;
    }
    const kp = keyProblem(k);
    if (kp) throw fail(`${kp} (key ${showKey(k)})`);
    if (isScalar(v)) continue;
    if (!isObject(v)) {
      throw fail(`the condition on ${showKey(k)} must be a string, a finite number, a boolean, null, or an object of operators (${OPS.join(', ')})`);
    }
    const ops = Object.keys(v);
    if (ops.length === 0) throw fail(`the condition on ${showKey(k)} has no operator (use ${OPS.join(', ')})`);
    for (const op of ops) {
      const x = v[op];
      if (!(OPS as readonly string[]).includes(op)) throw fail(`unknown operator "${op}" on ${showKey(k)} (use ${OPS.join(', ')})`);
      if ((op === 'eq' || op === 'ne') && !isScalar(x)) throw fail(`${op} on ${showKey(k)} takes a string, a finite number, a boolean or null`);
      if ((RANGE as readonly string[]).includes(op) && !(typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x)))) {
        throw fail(`${op} on ${showKey(k)} takes a finite number (compares numbers) or a string (compares text, e.g. ISO dates)`);
      }
      if (op === 'in' || op === 'nin') {
        if (!Array.isArray(x) || x.length === 0 || x.length > MAX_IN_VALUES || !x.every(isScalar)) {
          throw fail(`${op} on ${showKey(k)} takes a list of 1 to ${MAX_IN_VALUES} strings, numbers, booleans or nulls`);
        }
      }
      if (op === 'exists' && typeof x !== 'boolean') throw fail(`exists on ${showKey(k)} takes true or false`);
    }
  }
  return value as Where;
}

/** A condition as its operators (`scalar` → `{eq: scalar}`). */
export const opsOf = (c: Condition): Ops => (isObject(c) ? (c as Ops) : { eq: c as Scalar });

function eqMatches(v: unknown, want: Scalar): boolean {
  if (want === null) return v === null;
  if (v === null || v === undefined || typeof v === 'object') return false;
  return asText(v as string | number | boolean) === asText(want);
}

function rangeMatches(v: unknown, op: (typeof RANGE)[number], bound: number | string): boolean {
  if (typeof bound === 'number' ? typeof v !== 'number' : typeof v !== 'string') return false;
  const a = v as number | string;
  switch (op) {
    case 'gt':
      return a > bound;
    case 'gte':
      return a >= bound;
    case 'lt':
      return a < bound;
    case 'lte':
      return a <= bound;
  }
}

export function kmBetween(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const r = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * r) / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(((lon2 - lon1) * r) / 2) ** 2;
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Whether an item's metadata satisfies a (validated) filter: the reference semantics. */
export function matchesWhere(metadata: Readonly<Record<string, unknown>>, where: Where): boolean {
  for (const [key, c] of Object.entries(where)) {
    if (key === NEAR) {
      const n = c as Near;
      const { lat, lon } = metadata;
      if (typeof lat !== 'number' || typeof lon !== 'number' || kmBetween(n.lat, n.lon, lat, lon) > n.km) return false;
      continue;
    }
    const v = Object.hasOwn(metadata, key) ? metadata[key] : undefined;
    const o = opsOf(c as Condition);
    if (o.eq !== undefined && !eqMatches(v, o.eq)) return false;
    if (o.ne !== undefined && eqMatches(v, o.ne)) return false;
    if (o.in !== undefined && !o.in.some((x) => eqMatches(v, x))) return false;
    if (o.nin !== undefined && o.nin.some((x) => eqMatches(v, x))) return false;
    for (const op of RANGE) if (o[op] !== undefined && !rangeMatches(v, op, o[op])) return false;
    if (o.exists !== undefined && (v !== undefined && v !== null) !== o.exists) return false;
  }
  return true;
}

// ───────────────────────────────────────────── CLI expressions

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/u;
/** A bound as typed: a number when it reads as one, else the text. */
const bound = (s: string): number | string => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s);
/** An upper bound given as a day (`2019-12-31`) includes that whole day. */
const upperDay = (s: string): string => (DATE_ONLY.test(s) ? `${s}T23:59:59.999Z` : s);

/**
 * One `--where` expression → the conditions it adds. Forms: `key=value`, `key!=value`, `key>=v` (also `>`, `<=`,
 * `<`), `key:from..to` (either side may be empty; a day as upper bound includes the whole day), `key in a,b,c`,
 * `key not in a,b`, `key exists`, `key missing`, `near=lat,lon,10km` (or `500m`).
 */
export function parseWhereExpression(expr: string): { key: string; ops: Ops } | { near: Near } {
  const usage = (why: string) =>
    createError(
      'INVALID_ARGUMENT',
      `--where "${expr}": ${why}. Forms: key=value, key!=value, key>=n (>, <=, <), key:from..to, "key in a,b", "key not in a,b", "key exists", "key missing", near=lat,lon,10km.`,
      { field: 'where' },
    );
  const near = /^near\s*=\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*([\d.]+)\s*(km|m)$/iu.exec(expr.trim());
  if (near) {
    const km = Number(near[3]) / (near[4]!.toLowerCase() === 'm' ? 1000 : 1);
    return { near: { lat: Number(near[1]), lon: Number(near[2]), km } };
  }
  let m = /^(.+?)\s+(not\s+in|in)\s+(.+)$/u.exec(expr);
  if (m) {
    const values = m[3]!.split(',').map((s) => s.trim());
    return { key: m[1]!.trim(), ops: m[2] === 'in' ? { in: values } : { nin: values } };
  }
  m = /^(.+?)\s+(exists|missing)$/u.exec(expr);
  if (m) return { key: m[1]!.trim(), ops: { exists: m[2] === 'exists' } };
  m = /^([^:=<>!]+):(.*)\.\.(.*)$/u.exec(expr);
  if (m) {
    const [from, to] = [m[2]!.trim(), m[3]!.trim()];
    if (from === '' && to === '') throw usage('a range needs at least one bound');
    return { key: m[1]!.trim(), ops: { ...(from !== '' ? { gte: bound(from) } : {}), ...(to !== '' ? { lte: typeof bound(to) === 'number' ? bound(to) : upperDay(to) } : {}) } };
  }
  m = /^([^=<>!]+?)\s*(!=|>=|<=|>|<|=)(.*)$/u.exec(expr);
  if (!m || m[1]!.trim() === '') throw usage('not a filter');
  const [key, op, raw] = [m[1]!.trim(), m[2]!, m[3]!];
  switch (op) {
    case '=':
      return { key, ops: { eq: raw } };
    case '!=':
      return { key, ops: { ne: raw } };
    case '>':
      return { key, ops: { gt: bound(raw) } };
    case '>=':
      return { key, ops: { gte: bound(raw) } };
    case '<':
      return { key, ops: { lt: bound(raw) } };
    default:
      return { key, ops: { lte: typeof bound(raw) === 'number' ? bound(raw) : upperDay(raw.trim()) } };
  }
}

/** Several `--where` expressions as one filter (conditions on the same key are combined). */
export function whereFromExpressions(exprs: readonly string[]): Record<string, Condition | Near> | undefined {
  if (exprs.length === 0) return undefined;
  const out: Record<string, Condition | Near> = {};
  for (const e of exprs) {
    const p = parseWhereExpression(e);
    if ('near' in p) {
      out[NEAR] = p.near;
      continue;
    }
    const prev = out[p.key];
    const merged = prev === undefined ? p.ops : { ...opsOf(prev as Condition), ...p.ops };
    // a plain equality stays a plain value (the form the web page and older clients send)
    out[p.key] = Object.keys(merged).length === 1 && 'eq' in merged ? (merged.eq as Scalar) : merged;
  }
  return out;
}
