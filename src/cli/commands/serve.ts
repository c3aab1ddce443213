import { Option, type Command } from 'commander';
import fs from 'node:fs';
import { DEFAULT_MODEL } from '../../config.js';
import type { FolderWatcher } from '../../ingest/watch.js';
import { isLookalikeError } from '../../errors.js';
import type { LookalikeDatabase } from '../../lookalike.js';
import type { ServerOptions } from '../../server/context.js';
import { collect, inferenceOptions, integerIn, nonEmpty, positiveInt, storeOptions, type InferenceOpts, type StoreOpts } from '../options.js';
import { CliError, Output, UsageError } from '../output.js';
import { openDb, runUntilSignal } from '../shared.js';

interface ServeCliOpts extends Omit<StoreOpts, 'collection'>, InferenceOpts {
  readonly collection?: string;
  readonly host: string;
  readonly port: number;
  readonly apiKey?: string;
  readonly apiKeyRequiredFor?: 'writes' | 'reads';
  readonly allowedHost: string[];
  readonly corsOrigin: string[];
  readonly rateLimit?: number;
  readonly maxUploadMb: number;
  readonly quiet?: boolean;
  readonly watch: string[];
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function registerServe(program: Command): void {
  const cmd = program.command('serve').description('serve the HTTP API (/v1, /openapi.json) and the web page');
  inferenceOptions(storeOptions(cmd, { collection: false }))
    .option('-c, --collection <name>', 'collection the web page opens first', nonEmpty('--collection'))
    .option('--host <host>', 'address to bind (default 127.0.0.1: this machine only)', nonEmpty('--host'), '127.0.0.1')
    .option('--port <port>', 'port (0: any free port; the address is printed)', integerIn('--port', 0, 65535), 8080)
    .option('--api-key <key>', 'require this key for write routes (env LOOKALIKE_API_KEY; must not be empty)', nonEmpty('--api-key'))
    .addOption(new Option('--api-key-required-for <routes>', 'writes: only routes that change data need the key; reads: every /v1 route').choices(['writes', 'reads']))
    .option('--allowed-host <name>', 'answer requests for this Host too (NAME or NAME:PORT; repeatable; * turns the check off)', collect('--allowed-host'), [])
    .option('--cors-origin <origin>', 'let this browser origin call the API (https://app.example.com; repeatable)', collect('--cors-origin'), [])
    .option('--rate-limit <n>', 'model-running requests (image/text search, embed, uploads) per client per minute; 0: no limit (default 120)', integerIn('--rate-limit', 0))
    .option('--max-upload-mb <n>', 'largest upload in MiB', positiveInt('--max-upload-mb'), 20)
    .option('--quiet', 'no request log')
    .option('--watch <dir>', 'keep --collection in sync with this folder: new, changed, moved and deleted files (repeatable)', collect('--watch'), [])
    .action(async (o: ServeCliOpts) => {
      const out = new Output(o.json === true);
      const options = serverOptionsFrom(o, apiKeyFrom(o.apiKey, process.env.LOOKALIKE_API_KEY));
      if (o.watch.length > 0 && !o.collection) throw new UsageError('--watch needs --collection: the collection the folders are kept in sync with.');
      for (const dir of o.watch) {
        if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--watch ${dir}: no such folder.`);
      }
      const { buildServer } = await import('../../server/app.js');
      await checkServerOptions(options); // before the store is opened (or created)
      const db = await openDb(o, true);
      let app: Awaited<ReturnType<typeof buildServer>> | undefined;
      let address: string;
      try {
        app = await buildServer({ db, ...options });
        address = await app.listen({ host: o.host, port: o.port });
      } catch (e) {
        await app?.close().catch(() => {});
        await db.close();
        throw listenError(e, o.host, o.port);
      }
      const watchers: FolderWatcher[] = [];
      const running = runUntilSignal(async () => {
        await Promise.all(watchers.map((w) => w.close()));
        await shutdown(app!, db);
      }, out.json); // handlers before the start line (see worker)
      out.started(
        { event: 'listening', pid: process.pid, address, api: `${address}/v1`, openapi: `${address}/openapi.json`, db: db.location },
        `lookalike serving ${db.location} at ${address}  (API: ${address}/v1, OpenAPI: ${address}/openapi.json)`,
      );
      if (o.collection && !(await db.hasCollection(o.collection))) {
        const names = (await db.listCollections()).map((c) => c.name);
        out.warn(`--collection ${o.collection}: no such collection${names.length ? ` (collections: ${names.join(', ')})` : ' (the store is empty)'}; the page opens without it.`);
      }
      if (o.watch.length > 0) {
        const { describeSync } = await import('../../ingest/watch.js'); // chokidar & co. only when watching
        const col = await db.collection(o.collection!, (await db.hasCollection(o.collection!)) ? {} : { model: DEFAULT_MODEL });
        for (const dir of o.watch) {
          const w = col.watch(dir, {
            onSync: (r) => {
              if (r.initial || r.added + r.updated + r.moved + r.removed + r.failed > 0 || r.folderMissing) out.log(`${dir}: ${describeSync(r)}`);
            },
            onError: (e) => out.warn(`--watch ${dir}: ${e instanceof Error ? e.message : String(e)}`),
          });
          watchers.push(w);
        }
      }
      if (!LOCAL_HOSTS.has(o.host) && !options.apiKey) {
        out.warn('listening beyond this machine without --api-key: anyone who can reach it can add and delete images.');
      }
      await running;
    });
}

/** The server's options from the flags (all but the store). */
export function serverOptionsFrom(o: ServeCliOpts, apiKey: string | undefined): Omit<ServerOptions, 'db'> {
  return {
    ...(o.collection ? { defaultCollection: o.collection } : {}),
    ...(apiKey ? { apiKey } : {}),
    ...(o.apiKeyRequiredFor ? { apiKeyRequiredFor: o.apiKeyRequiredFor } : {}),
    host: o.host,
    allowedHosts: o.allowedHost,
    corsOrigins: o.corsOrigin,
    ...(o.rateLimit !== undefined ? { rateLimit: o.rateLimit === 0 ? false : { max: o.rateLimit, timeWindowMs: 60_000 } } : {}),
    maxUploadBytes: o.maxUploadMb * 1024 * 1024,
    warmUp: true,
    logger: !o.quiet,
  };
}

/** Which flag sets each server option, for usage errors. */
const SERVER_FLAGS: Record<string, string> = {
  apiKey: '--api-key',
  apiKeyRequiredFor: '--api-key-required-for',
  allowedHosts: '--allowed-host',
  corsOrigins: '--cors-origin',
  'rateLimit.max': '--rate-limit',
};

/** The server's own checks of its options (it does not look at the store), as usage errors naming the flag. */
async function checkServerOptions(options: Omit<ServerOptions, 'db'>): Promise<void> {
  const { resolveSettings } = await import('../../server/context.js');
  try {
    resolveSettings(options);
  } catch (e) {
    if (!isLookalikeError(e, 'INVALID_ARGUMENT')) throw e;
    const flag = SERVER_FLAGS[String(e.details.field)];
    throw new UsageError(flag ? `${flag}: ${e.message}` : e.message);
  }
}

/** `--api-key` wins over `LOOKALIKE_API_KEY`; an empty key never means "no auth" (it is refused). */
export function apiKeyFrom(flag: string | undefined, env: string | undefined): string | undefined {
  if (flag !== undefined) return flag;
  if (env !== undefined && env.trim() === '') {
    throw new UsageError('LOOKALIKE_API_KEY is set but empty: give a key, or unset the variable to serve without one.');
  }
  return env;
}

/** Why the address could not be bound, as the user can act on it. */
function listenError(e: unknown, host: string, port: number): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return new CliError('ADDRESS_IN_USE', `${host}:${port} is already in use (another lookalike serve?): stop that process or choose another --port.`);
  }
  if (code === 'EACCES') return new UsageError(`--port ${port}: binding to it needs privileges here; choose a port from 1024 up.`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new UsageError(`--host ${host} is not an address of this machine (try 127.0.0.1, or 0.0.0.0 for every interface).`);
  }
  return e;
}

async function shutdown(app: { close: () => Promise<unknown> }, db: LookalikeDatabase): Promise<void> {
  await app.close();
  await db.close();
}
