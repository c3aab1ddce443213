/** `/healthz` (liveness: the process answers) and `/readyz` (readiness: the store answers, the default model loads). */
import type { FastifyInstance } from 'fastify';
import { isLookalikeError, LookalikeError } from '../errors.js';
import type { ServerContext } from './context.js';
import { publicError, redactorFor, STORE_RETRY_AFTER_S } from './errors.js';
import * as S from './schemas.js';

/** How long a readiness check may take before it counts as a failure. */
const READY_TIMEOUT_MS = 5_000;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new LookalikeError('STORE_UNAVAILABLE', `${what} did not answer within ${ms} ms.`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e)),
    );
  });
}

export async function healthRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const redact = redactorFor(ctx);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { summary: 'Readiness: the store answers (and the default collection\'s model loads)', response: { 200: S.ReadyResponse, 503: S.ReadyResponse } } },
    async (req, reply) => {
      try {
        await within(ctx.db.ping(), READY_TIMEOUT_MS, 'The store');
        const name = ctx.settings.defaultCollection;
        if (name) await within(ctx.collections.use(name, (c) => c.embedder()), 60_000, 'The model');
        return { status: 'ready' as const };
      } catch (e) {
        const err = isLookalikeError(e) ? e : new LookalikeError('INTERNAL', String(e));
        req.log.warn({ err: e }, 'not ready');
        const p = publicError(err, redact);
        return reply.code(503).header('retry-after', String(STORE_RETRY_AFTER_S)).send({ status: 'unavailable' as const, code: p.code, message: p.message });
      }
    },
  );
}
