/**
 * Errors over HTTP: always JSON `{"error":{"code","message"}}` with a stable code, 4xx for the caller's mistakes,
 * never a stack trace, never a server path or file contents (the full message goes to the server log).
 */
import os from 'node:os';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PACKAGE_MODELS_DIR } from '../config.js';
import { httpStatusOf, LookalikeError, type ErrorCode } from '../errors.js';
import { globalPlugin, type ServerContext } from './context.js';

/** Codes only the HTTP layer gives (the library's are `ErrorCode`). */
export type HttpErrorCode =
  | ErrorCode
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN_HOST'
  | 'FORBIDDEN_ORIGIN'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMITED'
  | 'QUERY_IMAGE_NOT_FOUND';

/** An error the HTTP layer raises itself (rate limits, host checks…), turned into JSON by the error handler. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly httpCode: HttpErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Seconds a client is told to wait when the store cannot answer. */
export const STORE_RETRY_AFTER_S = 5;

export function sendError(reply: FastifyReply, status: number, code: HttpErrorCode, message: string) {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { code, message } });
}

/**
 * Library errors whose messages describe the server (model folders, file contents, the store's location, native
 * modules): the client gets a fixed message per code; the log gets the full one.
 */
const SERVER_SIDE: Partial<Record<ErrorCode, (e: LookalikeError) => string>> = {
  MODEL_NOT_FOUND: (e) =>
    `Model ${quoteModel(e.details.model)}is not available on this server: it is not in the server's model folders ` +
    'and could not be downloaded. Use a built-in model, or ask the operator to install this one.',
  MODEL_LOAD_FAILED: (e) => `The files of model ${quoteModel(e.details.model)}could not be loaded; the server log says why.`,
  NATIVE_MODULE_FAILED: () => 'A native module of the server could not be loaded; the server log says which and how to rebuild it.',
  STORE_UNAVAILABLE: () => `The store (database server) cannot be reached right now; retry in a few seconds.`,
  STORE_NOT_FOUND: () => 'The store of this server cannot be found; the server log says where it was looked for.',
  STORAGE_FULL: () => 'The disk of the store is full; the operator has to make room.',
  INTERNAL: () => 'Internal error; see the server log.',
};

/** A model name from error details, quoted, only when it has the shape of a name a request may use. */
function quoteModel(model: unknown): string {
  return typeof model === 'string' && /^[A-Za-z0-9][\w.:/-]{0,199}$/u.test(model) && !model.includes('..') && !model.includes('//')
    ? `"${model}" `
    : '';
}

/**
 * Replace server paths and URLs in a message: the store's location, model and cache folders, home, temp and working
 * directories by a label, then any other absolute or relative filesystem path, `file:` and database URLs. API
 * routes (`/v1/…`) are kept.
 */
export function makeRedactor(known: readonly { path: string; label: string }[]): (message: string) => string {
  const roots = known
    .filter((k) => k.path.length > 1)
    .sort((a, b) => b.path.length - a.path.length);
  return (message) => {
    let m = message;
    for (const { path, label } of roots) m = m.split(path).join(label);
    m = m.replace(/\b(?:postgres(?:ql)?|redis|rediss|mysql|file):\/\/[^\s"'`<>]*/giu, '<url>');
    m = m.replace(/(?<![\w~:./-])(?:[A-Za-z]:[\\/]|\\\\)[^\s"'`<>()[\]{},;]*/gu, '<path>');
    m = m.replace(/(?<![\w~:./\\^[-])(?:~|\.{1,2})?\/(?!v1\/|v1\b|openapi\.json|healthz|readyz)[^\s"'`<>()[\]{},;]+/gu, (p) => {
      const trail = /[.:]+$/u.exec(p)?.[0] ?? '';
      return `<path>${trail}`;
    });
    // V8's JSON.parse messages quote the text they failed on ("Unexpected token 'D', "DB_PASSWOR"... is not valid JSON")
    m = m.replace(/(Unexpected|Bad|Unterminated|Expected)[^\n]*?(is not valid JSON|in JSON at position \d+[^\n]*)/gu, 'invalid JSON');
    return m;
  };
}

export function redactorFor(ctx: Pick<ServerContext, 'db'>): (message: string) => string {
  const cfg = ctx.db.config as Partial<typeof ctx.db.config> & { uploadsDir?: string };
  return makeRedactor([
    { path: ctx.db.location, label: 'the store' },
    ...(cfg.uploadsDir ? [{ path: cfg.uploadsDir, label: '<uploads>' }] : []),
    ...(cfg.cacheDir ? [{ path: cfg.cacheDir, label: '<model cache>' }] : []),
    ...(cfg.modelPaths ?? []).map((p) => ({ path: p, label: '<models>' })),
    { path: PACKAGE_MODELS_DIR, label: '<models>' },
    { path: os.tmpdir(), label: '<tmp>' },
    { path: os.homedir(), label: '<home>' },
    { path: process.cwd(), label: '<cwd>' },
  ]);
}

/** What the client is told for a library error (and whether the full message must be logged). */
export function publicError(e: LookalikeError, redact: (m: string) => string): { status: number; code: ErrorCode; message: string; redacted: boolean } {
  const fixed = SERVER_SIDE[e.code];
  const message = fixed ? fixed(e) : redact(e.message);
  return { status: httpStatusOf(e.code), code: e.code, message, redacted: message !== e.message };
}

const MULTIPART_LIMIT_CODES = new Set(['FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT', 'FST_REQ_FILE_TOO_LARGE']);

/** The error and not-found handlers, for the whole server. */
export const errorsPlugin = globalPlugin(async (app: FastifyInstance, { ctx }: { ctx: ServerContext }) => {
  const redact = redactorFor(ctx);
  const tooLarge = `Request too large (uploads up to ${ctx.settings.maxUploadBytes} bytes, JSON bodies up to 1 MiB).`;

  app.setErrorHandler((err: FastifyError & { validation?: unknown }, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof LookalikeError) {
      const p = publicError(err, redact);
      if (p.status >= 500) req.log.error({ err }, err.message);
      else if (p.redacted) req.log.info({ code: err.code }, err.message);
      if (err.code === 'STORE_UNAVAILABLE') reply.header('retry-after', String(STORE_RETRY_AFTER_S));
      if (err.code === 'SERVER_BUSY') reply.header('retry-after', '1');
      return sendError(reply, p.status, p.code, p.message);
    }
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      return sendError(reply, err.statusCode, err.httpCode, err.message);
    }
    if (err.validation) return sendError(reply, 400, 'INVALID_ARGUMENT', `Invalid request: ${redact(err.message)}`);
    if (MULTIPART_LIMIT_CODES.has(err.code) || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
      return sendError(reply, 413, 'PAYLOAD_TOO_LARGE', tooLarge);
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) {
      return sendError(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send application/json or multipart/form-data.');
    }
    if (err.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || err.code === 'FST_PROTO_VIOLATION') {
      return sendError(reply, 400, 'INVALID_MULTIPART', 'The multipart/form-data body is malformed.');
    }
    if (err.statusCode === 429) {
      return sendError(reply, 429, 'RATE_LIMITED', err.message);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, 'INVALID_ARGUMENT', redact(err.message));
    }
    req.log.error({ err }, 'unexpected error');
    return sendError(reply, 500, 'INTERNAL', 'Internal error; see the server log.');
  });

  app.setNotFoundHandler((req, reply) => {
    const url = req.url.split('?')[0]!;
    return sendError(reply, 404, 'NOT_FOUND', `No route ${req.method} ${url.length > 200 ? `${url.slice(0, 200)}…` : url}`);
  });
});
