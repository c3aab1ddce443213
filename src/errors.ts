/**
 * One error type with stable codes. Every message says what went wrong *and* what to do about it.
 * The CLI prints `message`; the HTTP server maps `code` to a status (see `httpStatusOf`).
 */
export const ERROR_CODES = {
  MODEL_NOT_FOUND: 'The model could not be found locally or downloaded.',
  MODEL_LOAD_FAILED: 'The model files exist but could not be loaded.',
  UNKNOWN_MODEL: 'The model name is not a registered embedder, a folder, or a Hugging Face id.',
  TEXT_NOT_SUPPORTED: "The collection's embedder cannot embed text.",
  EMBEDDER_MISMATCH: 'The embedder does not match the one the collection was built with.',
  COLLECTION_NOT_FOUND: 'No collection with that name.',
  COLLECTION_EXISTS: 'A collection with that name already exists.',
  ITEM_NOT_FOUND: 'No item with that id.',
  IMAGE_DECODE_FAILED: 'The file is not a decodable image.',
  IMAGE_TOO_LARGE: 'The image exceeds the configured size limits.',
  FILE_NOT_FOUND: 'The file or folder does not exist or cannot be read.',
  INVALID_ARGUMENT: 'An argument or option has an invalid value.',
  DIMENSION_MISMATCH: 'A vector has the wrong number of dimensions.',
  STORE_CORRUPT: 'The store on disk is damaged or from an incompatible version.',
  STORE_BUSY: 'Another process holds the store.',
  STORE_NOT_FOUND: 'There is no store at that location.',
  STORE_UNAVAILABLE: 'The store (database server) cannot be reached right now.',
  QUEUE_UNAVAILABLE: 'The job queue (Redis) cannot be reached.',
  QUEUE_AUTH_FAILED: 'The job queue (Redis) refused the credentials of its URL.',
  COLLECTION_CHANGED: 'The collection was deleted or re-created while the request was running.',
  INVALID_METADATA: 'Metadata is not a bounded JSON object of the accepted shape.',
  INVALID_MULTIPART: 'The multipart/form-data request is malformed.',
  NATIVE_MODULE_FAILED: 'A native module could not be loaded (built for another Node.js version or platform).',
  STORAGE_FULL: 'The disk holding the store is full.',
  COLLECTION_TOO_LARGE: "The collection's vectors do not fit in memory for an exact scan at their vector type.",
  SERVER_BUSY: 'Too many requests are waiting to be embedded; retry in a moment.',
  INTERNAL: 'An unexpected internal error.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class LookalikeError extends Error {
  override readonly name = 'LookalikeError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Orama-style constructor: `createError('MODEL_NOT_FOUND', 'no model at ...', { looked })`. */
export function createError(
  code: ErrorCode,
  message: string = ERROR_CODES[code],
  details: Record<string, unknown> = {},
  cause?: unknown,
): LookalikeError {
  return new LookalikeError(code, message, details, cause === undefined ? undefined : { cause });
}

export function isLookalikeError(e: unknown, code?: ErrorCode): e is LookalikeError {
  return e instanceof LookalikeError && (code === undefined || e.code === code);
}

/** A short, single-line reason for an arbitrary thrown value (used in failure reports). */
export function reasonOf(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? e.name;
  return String(e);
}

export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'COLLECTION_NOT_FOUND':
    case 'ITEM_NOT_FOUND':
    case 'FILE_NOT_FOUND':
    case 'STORE_NOT_FOUND':
      return 404;
    case 'COLLECTION_CHANGED':
    case 'COLLECTION_EXISTS':
    case 'EMBEDDER_MISMATCH':
    case 'STORE_BUSY':
      return 409;
    case 'IMAGE_TOO_LARGE':
      return 413;
    case 'INVALID_ARGUMENT':
    case 'INVALID_METADATA':
    case 'INVALID_MULTIPART':
    case 'TEXT_NOT_SUPPORTED':
    case 'IMAGE_DECODE_FAILED':
    case 'DIMENSION_MISMATCH':
    case 'UNKNOWN_MODEL':
      return 400;
    case 'MODEL_NOT_FOUND':
    case 'MODEL_LOAD_FAILED':
    case 'STORE_CORRUPT':
    case 'NATIVE_MODULE_FAILED':
    case 'QUEUE_AUTH_FAILED':
    case 'INTERNAL':
      return 500;
    case 'STORE_UNAVAILABLE':
    case 'QUEUE_UNAVAILABLE':
    case 'SERVER_BUSY':
      return 503;
    case 'STORAGE_FULL':
    case 'COLLECTION_TOO_LARGE':
      return 507;
  }
}
