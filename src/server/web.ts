/** The web page (compiled from `web/` into `dist/web` by `npm run build`). */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'web');

export async function webRoutes(app: FastifyInstance, { root = WEB_DIR }: { root?: string }): Promise<void> {
  if (!fs.existsSync(root)) return;
  await app.register(fastifyStatic, { root, prefix: '/', index: ['index.html'], wildcard: false });
}
