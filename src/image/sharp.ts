/**
 * sharp (libvips), loaded on first use: importing it costs a noticeable part of a second, which commands that never
 * touch an image (`search --id`, `info`, `reindex`) should not pay.
 */
import type sharpDefault from 'sharp';

type Sharp = typeof sharpDefault;

let loaded: Promise<Sharp> | undefined;

export function loadSharp(): Promise<Sharp> {
  loaded ??= import('sharp').then((m) => m.default as Sharp);
  return loaded;
}
