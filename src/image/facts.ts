/**
 * What an image file says about itself, beyond its pixel size: the date it was taken, the camera and exposure, where
 * (GPS), its orientation, title, description and keywords, from its EXIF, XMP and IPTC blocks. Read with `exifr` from
 * the bytes already in memory, without decoding a pixel. Broken metadata never fails an image: what can be read is
 * kept and the rest is reported as warnings.
 */
import exifr from 'exifr';
import sharp from 'sharp';
import { reasonOf } from '../errors.js';
import type { ImageFacts } from './sniff.js';

/** The metadata keys facts are stored under (top level; only those the file has, but `format` always). */
export interface PhotoFacts {
  /** `jpeg`, `png`, `webp`, `gif`, `tiff`, `avif` or `heif`. */
  format: string;
  /** Date taken, ISO 8601 in UTC (`2019-05-01T08:00:00.000Z`); a time without a zone is taken as UTC. */
  taken?: string;
  /** The zone the date was given in (`+02:00`), or null when the file gives none. Present with `taken`. */
  takenOffset?: string | null;
  cameraMake?: string;
  cameraModel?: string;
  lens?: string;
  /** Millimetres. */
  focalLength?: number;
  /** Seconds. */
  exposureTime?: number;
  fNumber?: number;
  iso?: number;
  /** Decimal degrees, north positive. */
  lat?: number;
  /** Decimal degrees, east positive. */
  lon?: number;
  /** Metres above sea level (negative below). */
  alt?: number;
  /** EXIF orientation, 1–8 (width/height of the item are already as displayed). */
  orientation?: number;
  title?: string;
  description?: string;
  keywords?: string[];
}

/** Every key facts may write, in the order they are listed in docs/metadata.md. */
export const FACT_KEYS = [
  'format',
  'taken',
  'takenOffset',
  'cameraMake',
  'cameraModel',
  'lens',
  'focalLength',
  'exposureTime',
  'fNumber',
  'iso',
  'lat',
  'lon',
  'alt',
  'orientation',
  'title',
  'description',
  'keywords',
] as const satisfies readonly (keyof PhotoFacts)[];

/** Facts that are free text: the first to go when an item's metadata would be over its size limit. */
export const TEXT_FACT_KEYS = ['title', 'description', 'keywords'] as const satisfies readonly (keyof PhotoFacts)[];

export interface FactsResult {
  readonly facts: PhotoFacts;
  /** What could not be read (broken EXIF, an impossible date…): reported, never fatal. */
  readonly warnings: string[];
}

const MAX_TEXT = 1024;
const MAX_SHORT = 128;
const MAX_KEYWORDS = 32;
const MAX_KEYWORD = 64;

/** The blocks and tags needed, values untranslated (numbers stay numbers, dates stay the file's text). */
const OPTIONS = {
  tiff: true,
  exif: true,
  gps: true,
  ifd1: false,
  interop: false,
  makerNote: false,
  userComment: false,
  // the XMP packet comes back as text and is parsed on its own: parsed in place, its `exif:` and `tiff:` properties
  // would be merged into (and overwrite) the EXIF block's
  xmp: { parse: false },
  iptc: true,
  icc: false,
  jfif: false,
  ihdr: false,
  translateKeys: true,
  translateValues: false,
  reviveValues: false,
  sanitize: true,
  mergeOutput: false,
  silentErrors: true,
} as const;

/** XMP properties facts use; a packet without any of them is not parsed (most product photos carry only edit history). */
const XMP_WANTED = /dc:title|dc:description|dc:subject|DateCreated|DateTimeOriginal|CreateDate|LensModel|aux:Lens|GPSLatitude/;

type Tags = Record<string, unknown>;
/** exifr's output with `mergeOutput: false`: one object per block (`ifd0`, `exif`, `gps`, `iptc`) and XMP namespace. */
export type TagBlocks = Partial<Record<string, Tags>> & { errors?: unknown[] };

const isTags = (v: unknown): v is Tags => typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);

/**
 * The facts of an image whose header `sniffImage` read. Never throws: anything unreadable becomes a warning. GIF has
 * no EXIF; WebP's EXIF/XMP chunks are found here (exifr does not read WebP); HEIF/AVIF whose EXIF exifr cannot read
 * are tried once more through libvips.
 */
export async function readFacts(bytes: Uint8Array, format: ImageFacts['format']): Promise<FactsResult> {
  const warnings: string[] = [];
  let blocks: TagBlocks = {};
  try {
    if (format === 'gif') blocks = {};
    else if (format === 'webp') blocks = await webpBlocks(bytes, warnings);
    else blocks = (await parseBlocks(bytes, warnings)) ?? {};
    if ((format === 'heif' || format === 'avif') && blocks.errors) {
      const viaVips = await vipsBlocks(bytes).catch(() => undefined);
      if (viaVips) blocks = viaVips;
    }
    if (blocks.errors) for (const e of blocks.errors) warnings.push(`unreadable metadata: ${reasonOf(e)}`);
    delete blocks.errors;
  } catch (e) {
    warnings.push(`unreadable metadata: ${reasonOf(e)}`);
  }
  return { facts: { format, ...factsFromBlocks(blocks, warnings) }, warnings };
}

async function parseBlocks(bytes: Uint8Array, warnings: string[]): Promise<TagBlocks | undefined> {
  const out = (await exifr.parse(bytes, OPTIONS)) as unknown;
  if (!isTags(out)) return undefined;
  const blocks = out as TagBlocks & { xmp?: unknown };
  const xmp = (blocks as { xmp?: unknown }).xmp;
  delete blocks.xmp;
  if (typeof xmp === 'string') Object.assign(blocks, await parseXmp(xmp, warnings));
  return blocks;
}

/**
 * exifr's XMP parser (a segment parser: typed nowhere, but exported by both of its builds — `sidecar`, the typed way
 * to the same parser, is missing from the default export of its ES module build).
 */
function xmpParser(): { parse(xmp: string, opts: object): unknown } {
  const parser = (exifr as unknown as { segmentParsers?: Map<string, { parse(xmp: string, opts: object): unknown }> }).segmentParsers?.get('xmp');
  if (!parser) throw new Error("exifr's XMP parser is not loaded");
  return parser;
}

/** An XMP packet's namespaces (`dc`, `xmp`, `photoshop`, `exif`…), each prefixed `xmp:` so they cannot shadow EXIF blocks. */
async function parseXmp(xmp: string, warnings: string[]): Promise<TagBlocks> {
  if (!XMP_WANTED.test(xmp)) return {};
  try {
    const parsed = await xmpParser().parse(xmp, {});
    if (!isTags(parsed)) return {};
    const out: TagBlocks = {};
    for (const [ns, tags] of Object.entries(parsed)) if (isTags(tags)) out[`xmp:${ns}`] = tags;
    return out;
  } catch (e) {
    warnings.push(`unreadable XMP: ${reasonOf(e)}`);
    return {};
  }
}

/** A TIFF structure (`II*\0` / `MM\0*`), after the `Exif\0\0` prefix some containers keep. */
function tiffOf(exif: Uint8Array): Uint8Array {
  const hasPrefix = exif.length > 6 && Buffer.from(exif.buffer, exif.byteOffset, 6).toString('latin1') === 'Exif\0\0';
  return hasPrefix ? exif.subarray(6) : exif;
}

/** WebP (RIFF): the `EXIF` and `XMP ` chunks. */
async function webpBlocks(bytes: Uint8Array, warnings: string[]): Promise<TagBlocks> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let blocks: TagBlocks = {};
  for (let off = 12; off + 8 <= buf.length; ) {
    const id = buf.toString('latin1', off, off + 4);
    const len = buf.readUInt32LE(off + 4);
    const body = buf.subarray(off + 8, Math.min(buf.length, off + 8 + len));
    if (id === 'EXIF') blocks = { ...blocks, ...((await parseBlocks(tiffOf(body), warnings)) ?? {}) };
    else if (id === 'XMP ') blocks = { ...blocks, ...(await parseXmp(body.toString('utf8'), warnings)) };
    off += 8 + len + (len & 1);
  }
  return blocks;
}

/** HEIF/AVIF: the EXIF and XMP libvips finds (libheif reads the item boxes exifr sometimes cannot). */
async function vipsBlocks(bytes: Uint8Array): Promise<TagBlocks | undefined> {
  const meta = await sharp(bytes).metadata();
  const warnings: string[] = [];
  const blocks: TagBlocks = meta.exif ? ((await parseBlocks(tiffOf(meta.exif), warnings)) ?? {}) : {};
  if (meta.xmp) Object.assign(blocks, await parseXmp(meta.xmp.toString('utf8'), warnings));
  return warnings.length > 0 ? undefined : blocks;
}

// ── from tags to facts ──

/** Text with control characters and padding removed, at most `max` characters; undefined when empty. */
function text(v: unknown, max = MAX_SHORT): string | undefined {
  let s: string | undefined;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number') s = String(v);
  else if (Array.isArray(v) && v.length > 0) return text(v[0], max);
  else if (isTags(v) && typeof v.value === 'string') s = v.value; // XMP language alternative {lang, value}
  if (s === undefined) return undefined;
  s = s.replace(/[\u0000-\u001f\u007f]+/gu, ' ').trim();
  if (s === '') return undefined;
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Windows XP* tags: UCS-2 LE bytes. */
function ucs2(v: unknown): string | undefined {
  if (v instanceof Uint8Array) return text(Buffer.from(v.buffer, v.byteOffset, v.byteLength & ~1).toString('utf16le'), MAX_TEXT);
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return ucs2(Uint8Array.from(v as number[]));
  return text(v, MAX_TEXT);
}

function positive(v: unknown): number | undefined {
  const n = Array.isArray(v) ? v[0] : v;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

function keywordsOf(...sources: unknown[]): string[] | undefined {
  for (const src of sources) {
    if (src === undefined) continue;
    const raw = Array.isArray(src) ? src : typeof src === 'string' ? src.split(/[;,]/u) : [src];
    const words = [...new Set(raw.map((w) => text(w, MAX_KEYWORD)).filter((w): w is string => w !== undefined))].slice(0, MAX_KEYWORDS);
    if (words.length > 0) return words;
  }
  return undefined;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `+02:00` from `+02:00`, `+0200`, `+02`, `Z` (→ `+00:00`); undefined when it is none of these or out of range. */
function offsetOf(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s === 'Z') return '+00:00';
  const m = /^([+-])(\d{2}):?(\d{2})?$/u.exec(s);
  if (!m) return undefined;
  const h = Number(m[2]);
  const min = Number(m[3] ?? '0');
  if (h > 14 || min > 59) return undefined;
  return `${m[1]}${pad(h)}:${pad(min)}`;
}

const offsetMinutes = (o: string): number => (o.startsWith('-') ? -1 : 1) * (Number(o.slice(1, 3)) * 60 + Number(o.slice(4, 6)));

/**
 * A date as the file states it — EXIF `2019:05:01 10:00:00`, XMP/ISO `2019-05-01T10:00:00+02:00`, IPTC `20190501` —
 * with an offset from elsewhere (EXIF OffsetTime*, IPTC TimeCreated) when the text has none. Undefined when it is
 * not a real date (camera placeholders like `0000:00:00 00:00:00` included).
 */
export function dateOf(v: unknown, offset?: unknown, subSec?: unknown): { taken: string; takenOffset: string | null } | undefined {
  if (typeof v !== 'string') return undefined;
  // XMP may give only a year, or a year and month (`2019`, `2019-05`): the first day is taken
  const m = /^(\d{4})(?:[:-]?(\d{2})(?:[:-]?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/u.exec(v.trim());
  if (!m) return undefined;
  const [y, mo = 1, d = 1, h = 0, mi = 0, s = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => (x === undefined ? undefined : Number(x))) as number[];
  if (y! < 1800 || y! > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const fraction = m[7] ?? (typeof subSec === 'string' && /^\d+$/u.test(subSec.trim()) ? subSec.trim() : typeof subSec === 'number' ? String(subSec) : '');
  const ms = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
  const local = Date.UTC(y!, mo - 1, d, h, mi, s, Math.min(ms, 999));
  const check = new Date(local);
  if (check.getUTCDate() !== d || check.getUTCMonth() !== mo - 1) return undefined; // 31 April and the like
  const zone = m[8] !== undefined ? offsetOf(m[8]) : m[4] !== undefined ? offsetOf(offset) : undefined;
  const utc = zone === undefined ? local : local - offsetMinutes(zone) * 60_000;
  return { taken: new Date(utc).toISOString(), takenOffset: zone ?? null };
}

/** IPTC: DateCreated `20190501` + TimeCreated `100000+0200`. */
function iptcDate(date: unknown, time: unknown): ReturnType<typeof dateOf> {
  if (typeof date !== 'string') return undefined;
  const t = typeof time === 'string' ? /^(\d{2}):?(\d{2}):?(\d{2})(.*)$/u.exec(time.trim()) : null;
  return t ? dateOf(`${date.trim()}T${t[1]}:${t[2]}:${t[3]}`, t[4]) : dateOf(date);
}

/**
 * Facts from parsed tag blocks (`ifd0`, `exif`, `gps`, `iptc`, and XMP namespaces as `xmp:<ns>`). Where several
 * blocks state the same fact, EXIF comes first, then XMP, then IPTC (date taken: EXIF DateTimeOriginal, XMP
 * exif:DateTimeOriginal / photoshop:DateCreated, IPTC DateCreated, then the digitised/creation dates).
 */
export function factsFromBlocks(blocks: TagBlocks, warnings: string[] = []): Omit<PhotoFacts, 'format'> {
  const b = (name: string): Tags => blocks[name] ?? {};
  const ifd0 = b('ifd0');
  const exif = b('exif');
  const gps = b('gps');
  const iptc = b('iptc');
  const dc = b('xmp:dc');
  const xexif = b('xmp:exif');
  const xtiff = b('xmp:tiff');
  const out: Omit<PhotoFacts, 'format'> = {};

  const dates: [unknown, () => ReturnType<typeof dateOf>][] = [
    [exif.DateTimeOriginal, () => dateOf(exif.DateTimeOriginal, exif.OffsetTimeOriginal ?? exif.OffsetTime, exif.SubSecTimeOriginal)],
    [xexif.DateTimeOriginal, () => dateOf(xexif.DateTimeOriginal)],
    [b('xmp:photoshop').DateCreated, () => dateOf(b('xmp:photoshop').DateCreated)],
    [iptc.DateCreated, () => iptcDate(iptc.DateCreated, iptc.TimeCreated)],
    [exif.CreateDate, () => dateOf(exif.CreateDate, exif.OffsetTimeDigitized ?? exif.OffsetTime, exif.SubSecTimeDigitized)],
    [b('xmp:xmp').CreateDate, () => dateOf(b('xmp:xmp').CreateDate)],
  ];
  for (const [raw, parse] of dates) {
    if (raw === undefined) continue;
    const d = parse();
    if (d) {
      out.taken = d.taken;
      out.takenOffset = d.takenOffset;
      break;
    }
    if (typeof raw === 'string' && !/^[0\s:.-]*$/u.test(raw)) warnings.push(`unreadable date taken: ${JSON.stringify(raw.slice(0, 40))}`);
  }

  const make = text(ifd0.Make) ?? text(xtiff.Make);
  const model = text(ifd0.Model) ?? text(xtiff.Model);
  const lens = text(exif.LensModel) ?? text(xexif.LensModel) ?? text(b('xmp:exifEX').LensModel) ?? text(b('xmp:aux').Lens);
  if (make) out.cameraMake = make;
  if (model) out.cameraModel = model;
  if (lens) out.lens = lens;
  const focal = positive(exif.FocalLength);
  const exposure = positive(exif.ExposureTime);
  const fNumber = positive(exif.FNumber);
  const iso = positive(exif.ISO) ?? positive(exif.ISOSpeedRatings) ?? positive(exif.PhotographicSensitivity);
  if (focal !== undefined) out.focalLength = focal;
  if (exposure !== undefined) out.exposureTime = exposure;
  if (fNumber !== undefined) out.fNumber = fNumber;
  if (iso !== undefined) out.iso = iso;

  const lat = gps.latitude;
  const lon = gps.longitude;
  if (typeof lat === 'number' && typeof lon === 'number' && Number.isFinite(lat) && Number.isFinite(lon)) {
    if (Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
      out.lat = Math.round(lat * 1e7) / 1e7;
      out.lon = Math.round(lon * 1e7) / 1e7;
    } else warnings.push(`GPS position out of range (${lat}, ${lon})`);
  }
  const alt = Array.isArray(gps.GPSAltitude) ? gps.GPSAltitude[0] : gps.GPSAltitude;
  if (typeof alt === 'number' && Number.isFinite(alt)) {
    const ref = gps.GPSAltitudeRef;
    const below = ref === 1 || (ArrayBuffer.isView(ref) && (ref as Uint8Array)[0] === 1) || (Array.isArray(ref) && ref[0] === 1);
    out.alt = below ? -alt : alt;
  }

  const orientation = ifd0.Orientation ?? xtiff.Orientation;
  if (typeof orientation === 'number' && Number.isInteger(orientation) && orientation >= 1 && orientation <= 8) out.orientation = orientation;

  const title = text(dc.title, MAX_SHORT * 2) ?? text(iptc.ObjectName, MAX_SHORT * 2) ?? ucs2(ifd0.XPTitle);
  const description = text(dc.description, MAX_TEXT) ?? text(iptc.Caption, MAX_TEXT) ?? text(ifd0.ImageDescription, MAX_TEXT) ?? ucs2(ifd0.XPComment);
  const keywords = keywordsOf(dc.subject, iptc.Keywords, ifd0.XPKeywords === undefined ? undefined : ucs2(ifd0.XPKeywords));
  if (title) out.title = title;
  if (description) out.description = description;
  if (keywords) out.keywords = keywords;
  return out;
}
