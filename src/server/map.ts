/**
 * `GET /v1/collections/{name}/map`: the collection's map (points, clusters). Maps are cached by the library per
 * collection state, so most requests answer at once. A map that must be computed (seconds to a minute: about 10 s at
 * 10,000 items on 2 cores) is computed in the background, one at a time per server; the request waits up to `wait`
 * ms and otherwise answers 202 with the progress and `Retry-After`, and asking again returns the map once it is done.
 */
import type { FastifyInstance } from 'fastify';
import type { CollectionMap, MapOptions, MapProgress } from '../map/types.js';
import { DEFAULT_WAIT_MS, MapPendingSchema, MapQuerySchema, MapResponseSchema, MAX_WAIT_MS, type MapPending, type MapQuery } from '../map/schema.js';
import { createError } from '../errors.js';
import { MAX_METADATA_KEYS } from '../map/map.js';
import { securityOf, type ServerContext } from './context.js';
import { errorResponses, jsonSchema, NameParams } from './schemas.js';

/** Seconds a client is told to wait before asking again. */
const RETRY_AFTER_S = 2;

interface Job {
  status: 'queued' | 'computing';
  progress: MapProgress;
  readonly result: Promise<CollectionMap>;
}

type LayoutOptions = Pick<MapOptions, 'method' | 'clusters' | 'seed'>;

function optionsOf(q: MapQuery): { layout: LayoutOptions; keys: string[]; wait: number } {
  const keys = q.keys ? [...new Set(q.keys.split(',').map((k) => k.trim()).filter((k) => k.length > 0))] : [];
  if (keys.length > MAX_METADATA_KEYS) throw createError('INVALID_ARGUMENT', `At most ${MAX_METADATA_KEYS} metadata keys per map (got ${keys.length}).`, { field: 'keys' });
  const wait = q.wait === undefined ? DEFAULT_WAIT_MS : Number(q.wait);
  if (wait > MAX_WAIT_MS) throw createError('INVALID_ARGUMENT', `wait must be at most ${MAX_WAIT_MS} ms (got ${wait}).`, { field: 'wait' });
  return {
    layout: {
      ...(q.method ? { method: q.method } : {}),
      ...(q.clusters !== undefined ? { clusters: q.clusters === 'auto' ? 'auto' : Number(q.clusters) } : {}),
      ...(q.seed !== undefined ? { seed: Number(q.seed) } : {}),
    },
    keys,
    wait,
  };
}

export async function mapRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const jobs = new Map<string, Job>();
  const stop = new AbortController();
  /** Computations run one after another (each is CPU-bound). */
  let queue: Promise<unknown> = Promise.resolve();
  app.addHook('onClose', async () => {
    stop.abort(createError('INTERNAL', 'The server is shutting down.'));
    await queue.catch(() => undefined);
  });

  /** The running or queued computation of this map, or a new one. */
  const jobFor = (name: string, layout: LayoutOptions): Job => {
    const key = JSON.stringify([name, layout.method ?? 'auto', layout.clusters ?? 'auto', layout.seed ?? null]);
    const existing = jobs.get(key);
    if (existing) return existing;
    const job: Job = {
      status: 'queued',
      progress: { phase: 'reading', done: 0, total: 0 },
      result: (queue = queue.catch(() => undefined).then(() => {
        job.status = 'computing';
        return ctx.collections.use(name, (c) => c.map({ ...layout, signal: stop.signal, onProgress: (p) => (job.progress = p) }));
      })) as Promise<CollectionMap>,
    };
    jobs.set(key, job);
    const done = () => {
      if (jobs.get(key) === job) jobs.delete(key);
    };
    job.result.then(done, done);
    return job;
  };

  app.get<{ Params: { name: string }; Querystring: MapQuery }>(
    '/v1/collections/:name/map',
    {
      config: { access: 'read' },
      schema: {
        summary:
          'A map of the collection: every item placed in 2-D (x, y in [0, 1]; UMAP up to 50,000 items, PCA beyond) with its k-means ' +
          'cluster, and the clusters with their representative items and, for CLIP collections, zero-shot words. Query: method, ' +
          'clusters, seed, keys (metadata keys every point should carry, comma-separated), wait (ms). Cached per collection state; ' +
          'a map being computed answers 202 with its progress and Retry-After: ask again.',
        params: NameParams,
        querystring: jsonSchema(MapQuerySchema, 'input'),
        response: { 200: jsonSchema(MapResponseSchema, 'output'), 202: jsonSchema(MapPendingSchema, 'output'), ...errorResponses },
        ...securityOf(ctx, 'read'),
      },
    },
    async (req, reply) => {
      const name = req.params.name;
      const { layout, keys, wait } = optionsOf(req.query);
      await ctx.collections.get(name); // 404 before any work
      return ctx.heavy(req, reply, async () => {
        const job = jobFor(name, layout);
        let timer: NodeJS.Timeout | undefined;
        const ready = await Promise.race([
          job.result.then(() => true),
          new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), wait))),
        ]).finally(() => clearTimeout(timer));
        if (ready) {
          // the layout is cached now: this call adds the metadata values asked for
          return ctx.collections.use(name, (c) => c.map({ ...layout, ...(keys.length ? { metadataKeys: keys } : {}) }));
        }
        const pending: MapPending = { status: job.status, collection: name, ...job.progress, retryAfter: RETRY_AFTER_S };
        return reply.code(202).header('retry-after', String(RETRY_AFTER_S)).send(pending);
      });
    },
  );
}
