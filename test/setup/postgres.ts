/**
 * Vitest global setup: a real Redis for the queue tests and a real PostgreSQL 15 server with pgvector for the store
 * contract tests, on 127.0.0.1 and a
 * free port, in a temporary data directory, stopped afterwards. `LOOKALIKE_TEST_PG=postgres://…` uses an existing
 * server instead. When neither works the tests that need it fail loudly (they are never skipped).
 * Install the server with `bash scripts/setup-system.sh` (.ci/run does).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

const BIN = '/usr/lib/postgresql/15/bin';

/** A free TCP port on 127.0.0.1 (for servers the tests start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A throw-away redis-server (Debian's redis-server) on 127.0.0.1 and a free port, for the queue tests. */
async function startRedis(project: TestProject): Promise<() => void> {
  if (process.env.LOOKALIKE_TEST_REDIS) {
    project.provide('redisUrl', process.env.LOOKALIKE_TEST_REDIS);
    return () => {};
  }
  const bin = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((b) => fs.existsSync(b));
  if (!bin) {
    project.provide('redisUrl', 'error: redis-server is not installed (run: bash scripts/setup-system.sh)');
    return () => {};
  }
  const port = await freePort();
  const { spawn } = await import('node:child_process');
  const child = spawn(bin, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => (c.end(), resolve(true)));
      c.on('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  project.provide('redisUrl', `redis://127.0.0.1:${port}`);
  return () => {
    child.kill('SIGTERM');
  };
}

export default async function setup(project: TestProject): Promise<() => void> {
  const stopRedis = await startRedis(project);
  const stopPg = await startPostgres(project);
  return () => {
    stopRedis();
    stopPg();
  };
}

/** A private PostgreSQL 15 + pgvector server on 127.0.0.1 and a free port, in a temporary data directory. */
export interface PostgresServer {
  readonly url: string;
  readonly port: number;
  /** Stop the server (fast shutdown: open connections are terminated). */
  stop(): void;
  /** Start it again after `stop`, on the same port and data. */
  start(): void;
  /** Stop and delete its data directory. */
  destroy(): void;
}

/** Whether PostgreSQL 15 with pgvector is installed (scripts/ci/postgres.sh); undefined when it is, else why not. */
export function postgresMissing(): string | undefined {
  if (!fs.existsSync(path.join(BIN, 'initdb')) || !fs.existsSync('/usr/share/postgresql/15/extension/vector.control')) {
    return 'PostgreSQL 15 with pgvector is not installed (run: bash scripts/setup-system.sh)';
  }
  return undefined;
}

/** Run a PostgreSQL tool (as the postgres user when the tests run as root). */
function pgTool(cmd: string, args: string[]): Buffer {
  return process.getuid?.() === 0 ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' }) : execFileSync(cmd, args, { stdio: 'pipe' });
}

/** A fresh data directory owned by the user the server runs as. */
function dataDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dir]);
  return dir;
}

/** Start the server of `dir` on 127.0.0.1:`port` (with `options`), and its handle. */
function serve(dir: string, port: number, options: string): PostgresServer {
  const start = () => pgTool(path.join(BIN, 'pg_ctl'), ['-D', dir, '-w', '-l', path.join(dir, 'server.log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 ${options}`, 'start']);
  const stop = () => pgTool(path.join(BIN, 'pg_ctl'), ['-D', dir, '-w', '-m', 'fast', 'stop']);
  start();
  return {
    url: `postgres://lookalike@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    destroy: () => {
      try {
        stop();
      } catch {
        // already stopped
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const missing = postgresMissing();
  if (missing) throw new Error(missing);
  const dir = dataDir('lookalike-pg-');
  const port = await freePort();
  pgTool(path.join(BIN, 'initdb'), ['-D', dir, '-U', 'lookalike', '--auth=trust', '-E', 'UTF8']);
  return serve(dir, port, '-c fsync=off');
}

/**
 * A hot-standby replica of `primary` (pg_basebackup + streaming replication, as a production replica is made), on
 * 127.0.0.1 and a free port; read-only.
 */
export async function startPostgresReplica(primary: PostgresServer): Promise<PostgresServer> {
  const dir = dataDir('lookalike-pg-replica-');
  fs.chmodSync(dir, 0o700);
  pgTool(path.join(BIN, 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'lookalike', '-D', dir, '-R', '-X', 'stream']);
  return serve(dir, await freePort(), '-c hot_standby=on');
}

async function startPostgres(project: TestProject): Promise<() => void> {
  if (process.env.LOOKALIKE_TEST_PG) {
    project.provide('pgUrl', process.env.LOOKALIKE_TEST_PG);
    return () => {};
  }
  const missing = postgresMissing();
  if (missing) {
    project.provide('pgUrl', `error: ${missing}`);
    return () => {};
  }
  const server = await startPostgresServer();
  project.provide('pgUrl', server.url);
  return () => server.destroy();
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
    redisUrl: string;
  }
}
