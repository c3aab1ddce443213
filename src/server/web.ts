/** The web page (compiled from `web/` into `dist/web` by `npm run build`). */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'web');

/**
 * The page loads nothing from anywhere else: scripts, styles and requests to this server only; images from it, or
 * from the user's own files (`blob:`, previews of a chosen image).
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export async function webRoutes(app: FastifyInstance, { root = WEB_DIR }: { root?: string }): Promise<void> {
  if (!fs.existsSync(root)) return;
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: ['index.html'],
    wildcard: false,
    setHeaders: (reply) => {
      reply.header('content-security-policy', PAGE_CSP);
    },
  });
}
