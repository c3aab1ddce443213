// What the page says when something fails: the file's name, the accepted formats, what to do next.
import { ApiError, type Limits } from './api.js';
import { megabytes } from './state.js';

export const asApiError = (e: unknown): ApiError => (e instanceof ApiError ? e : new ApiError('INTERNAL', e instanceof Error ? e.message : String(e), 0));

/** The server wants an API key this tab has not given (or gave wrong). */
export const needsKey = (e: unknown): boolean => e instanceof ApiError && e.status === 401;

export function describeError(e: unknown, file: File | null, limits: Limits): string {
  const err = asApiError(e);
  const formats = `Accepted formats: ${limits.acceptedFormats.join(', ')}.`;
  if (file) {
    if (err.code === 'PAYLOAD_TOO_LARGE') return `“${file.name}” is too large (${megabytes(file.size)}): this server accepts images up to ${megabytes(limits.maxUploadBytes)}.`;
    let m = `Could not search with “${file.name}”: ${err.message.replace(/\.?$/u, '.')}`;
    if (err.code === 'IMAGE_DECODE_FAILED' && !/accepted formats/iu.test(m)) m += ` ${formats}`;
    return `${m} (${err.code})`;
  }
  if (err.code === 'QUERY_IMAGE_NOT_FOUND') return 'The image this search was made with is no longer kept by the server: drop, paste or choose it again.';
  return `${err.message} (${err.code})`;
}

/** A file the server would refuse anyway, said at once and with its name. */
export function refuseFile(file: File, limits: Limits): string | null {
  if (file.size > limits.maxUploadBytes) {
    return `“${file.name}” is too large (${megabytes(file.size)}): this server accepts images up to ${megabytes(limits.maxUploadBytes)}.`;
  }
  if (file.type !== '' && !file.type.startsWith('image/')) {
    return `“${file.name}” is not an image (${file.type}). Accepted formats: ${limits.acceptedFormats.join(', ')}.`;
  }
  return null;
}
