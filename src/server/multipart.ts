/** Reading multipart/form-data requests: image files (buffered, size-limited) and text fields. */
import type { MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { createError, LookalikeError } from '../errors.js';
import { validateWhere, type Where } from '../schema.js';

export interface MultipartBody {
  readonly files: { name: string; bytes: Buffer }[];
  readonly fields: Record<string, string>;
}

/** @fastify/multipart's limit errors (answered 413 by the error handler); anything else busboy throws is a malformed body. */
const LIMIT_CODES = new Set(['FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT', 'FST_REQ_FILE_TOO_LARGE']);

/**
 * Read a multipart request: up to `maxFiles` files and text fields. A malformed body (no boundary, cut short, bad
 * part headers) is `INVALID_MULTIPART`, never a 500.
 */
export async function readMultipart(req: FastifyRequest, maxFiles: number): Promise<MultipartBody> {
  const files: { name: string; bytes: Buffer }[] = [];
  const fields: Record<string, string> = {};
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        const f = part as MultipartFile;
        const bytes = await f.toBuffer(); // throws FST_REQ_FILE_TOO_LARGE past the limit
        if (files.length >= maxFiles) throw createError('INVALID_ARGUMENT', `At most ${maxFiles} image(s) per request.`, { field: f.fieldname });
        files.push({ name: f.filename, bytes });
      } else {
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (e instanceof LookalikeError || (typeof code === 'string' && LIMIT_CODES.has(code))) throw e;
    throw createError('INVALID_MULTIPART', 'The multipart/form-data body is malformed (missing boundary, cut short, or bad part headers).', {}, e);
  }
  return { files, fields };
}

/** A number sent as a multipart text field. */
export function numberField(v: string | undefined, field: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw createError('INVALID_ARGUMENT', `${field} must be a number (got "${v.slice(0, 40)}").`, { field });
  return n;
}

/** A JSON object sent as a multipart text field (its shape is checked by the caller). */
export function jsonField(v: string | undefined, field: string, code: 'INVALID_ARGUMENT' | 'INVALID_METADATA'): unknown {
  if (v === undefined || v === '') return undefined;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw createError(code, `${field} must be a JSON object (it is not valid JSON).`, { field });
  }
}

/** A `where` filter sent as a multipart text field. */
export function whereField(v: string | undefined): Where | undefined {
  const parsed = jsonField(v, 'where', 'INVALID_ARGUMENT');
  return parsed === undefined ? undefined : validateWhere(parsed);
}
