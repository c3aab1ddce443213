import type { Command } from 'commander';
import type { LookalikeDatabase } from '../../lookalike.js';
import { inferenceOptions, integerIn, nonEmpty, positiveInt, storeOptions, type InferenceOpts, type StoreOpts } from '../options.js';
import { CliError, Output, UsageError } from '../output.js';
import { openDb, runUntilSignal } from '../shared.js';

interface ServeCliOpts extends Omit<StoreOpts, 'collection'>, InferenceOpts {
  readonly collection?: string;
  readonly host: string;
  readonly port: number;
  readonly apiKey?: string;
  readonly maxUploadMb: number;
  readonly quiet?: boolean;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function registerServe(program: Command): void {
  const cmd = program.command('serve').description('serve the HTTP API (/v1, /openapi.json) and the web page');
  inferenceOptions(storeOptions(cmd, { collection: false }))
    .option('-c, --collection <name>', 'collection the web page opens first', nonEmpty('--collection'))
    .option('--host <host>', 'address to bind (default 127.0.0.1: this machine only)', nonEmpty('--host'), '127.0.0.1')
    .option('--port <port>', 'port (0: any free port; the address is printed)', integerIn('--port', 0, 65535), 8080)
    .option('--api-key <key>', 'require this key for write routes (env LOOKALIKE_API_KEY; must not be empty)', nonEmpty('--api-key'))
    .option('--max-upload-mb <n>', 'largest upload in MiB', positiveInt('--max-upload-mb'), 20)
    .option('--quiet', 'no request log')
    .action(async (o: ServeCliOpts) => {
      const out = new Output(o.json === true);
      const apiKey = apiKeyFrom(o.apiKey, process.env.LOOKALIKE_API_KEY);
      const { buildServer } = await import('../../server/app.js');
      const db = await openDb(o, true);
      let app: Awaited<ReturnType<typeof buildServer>> | undefined;
      let address: string;
      try {
        app = await buildServer({
          db,
          ...(o.collection ? { defaultCollection: o.collection } : {}),
          ...(apiKey ? { apiKey } : {}),
          maxUploadBytes: o.maxUploadMb * 1024 * 1024,
          logger: !o.quiet,
        });
        address = await app.listen({ host: o.host, port: o.port });
      } catch (e) {
        await app?.close().catch(() => {});
        await db.close();
        throw listenError(e, o.host, o.port);
      }
      out.started(
        { event: 'listening', pid: process.pid, address, api: `${address}/v1`, openapi: `${address}/openapi.json`, db: db.location },
        `lookalike serving ${db.location} at ${address}  (API: ${address}/v1, OpenAPI: ${address}/openapi.json)`,
      );
      if (!LOCAL_HOSTS.has(o.host) && !apiKey) {
        out.warn('listening beyond this machine without --api-key: anyone who can reach it can add and delete images.');
      }
      await runUntilSignal(() => shutdown(app!, db));
    });
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
