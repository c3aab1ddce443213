/**
 * compose.yaml (issue 16): the deployment's parts and how they are wired, checked without Docker (`docker compose
 * config` also runs when a compose is installed). Parsed with `yaml` (merge keys on, as compose reads them) and
 * interpolated with stand-in secrets as compose would: the services are there; images are official, pinned
 * references; workers and servers use the one database URL and workers the one Redis URL, with the passwords the
 * PostgreSQL and Redis services are given; every variable set on a lookalike container is one lookalike reads; the
 * state lives in volumes, and what can be probed has a healthcheck.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
  restart?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

const SECRETS = { POSTGRES_PASSWORD: 'pg-test-pw', REDIS_PASSWORD: 'redis-test-pw', LOOKALIKE_API_KEY: 'api-test-key' };
const text = fs.readFileSync(path.join(ROOT, 'compose.yaml'), 'utf8');

/** Compose's variable substitution: `${VAR}`, `${VAR:-default}`, `${VAR:?error}` (a required one throws). */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (op === '?') throw new Error(`required: ${name} (${arg ?? ''})`);
    return op === '-' ? (arg ?? '') : '';
  });
}

function load(env: Record<string, string>): Compose {
  const raw = parse(text, { merge: true }) as Compose;
  return JSON.parse(JSON.stringify(raw), (_k, v: unknown) => (typeof v === 'string' ? interpolate(v, env) : v)) as Compose;
}

/** The value after `flag` in an argument list. */
function arg(args: readonly string[] | undefined, flag: string): string | undefined {
  const i = (args ?? []).indexOf(flag);
  return i >= 0 ? args![i + 1] : undefined;
}

/** Every environment variable the lookalike sources read (`env.X`, `process.env.X`, `envInt(env, 'X', …)`). */
function variablesLookalikeReads(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        const src = fs.readFileSync(p, 'utf8');
        for (const m of src.matchAll(/\benv\.([A-Z][A-Z0-9_]*)|envInt\(env, '([A-Z][A-Z0-9_]*)'/g)) names.add((m[1] ?? m[2])!);
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  return names;
}

describe('compose.yaml', () => {
  const c = load(SECRETS);
  const lookalike = Object.entries(c.services).filter(([, s]) => s.build !== undefined);
  const workers = Object.entries(c.services).filter(([, s]) => s.command?.[0] === 'worker');
  const servers = Object.entries(c.services).filter(([, s]) => s.command?.[0] === 'serve');

  it('has PostgreSQL, Redis, 2 workers and 2 servers (and the one-shot `index`, not started by `up`)', () => {
    expect(Object.keys(c.services).sort()).toEqual(['index', 'postgres', 'redis', 'serve-1', 'serve-2', 'worker-1', 'worker-2']);
    expect(workers.map(([n]) => n)).toEqual(['worker-1', 'worker-2']);
    expect(servers.map(([n]) => n)).toEqual(['serve-1', 'serve-2']);
    expect(c.services.index!.profiles).toEqual(['tools']);
    expect(c.services.index!.entrypoint?.slice(-3, -1)).toEqual(['index', '--queue']);
    expect(lookalike.map(([n]) => n).sort()).toEqual(['index', 'serve-1', 'serve-2', 'worker-1', 'worker-2']);
  });

  it('every image is an official, pinned reference; lookalike services are built from ./Dockerfile', () => {
    for (const [name, s] of Object.entries(c.services)) {
      if (s.build !== undefined) {
        expect(s.image, name).toBeUndefined();
        expect(s.build, name).toBe('.');
        continue;
      }
      // redis: a Docker Official Image; pgvector/pgvector: the pgvector project's own image (PostgreSQL + pgvector)
      expect(s.image, name).toMatch(/^(redis:\d+(\.\d+)*(-[a-z]+)?|pgvector\/pgvector:pg\d+)$/);
    }
    expect(c.services.postgres!.image).toMatch(/^pgvector\/pgvector:pg1[5-9]$/);
    const docker = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(docker.match(/^FROM .*/gm)).toEqual(['FROM node:22-slim AS build', 'FROM node:22-slim']);
    expect(docker).toMatch(/ONNXRUNTIME_NODE_INSTALL_CUDA=skip/);
    expect(docker).toMatch(/RUN npm ci\b/);
    expect(docker).toMatch(/npm run build/);
    expect(docker).toMatch(/^USER node$/m);
  });

  it('workers and servers use the one database URL, workers the one Redis URL, with the passwords the services get', () => {
    const pg = c.services.postgres!.environment!;
    const dbUrls = new Set([
      ...workers.map(([, s]) => arg(s.command, '--db')),
      ...servers.map(([, s]) => s.environment?.LOOKALIKE_DB),
      c.services.index!.environment?.LOOKALIKE_DB,
    ]);
    expect(dbUrls.size).toBe(1);
    const db = new URL([...dbUrls][0]!);
    expect([db.protocol, db.hostname, db.port || '5432', db.pathname]).toEqual(['postgres:', 'postgres', '5432', `/${pg.POSTGRES_DB}`]);
    expect([db.username, db.password]).toEqual([pg.POSTGRES_USER, SECRETS.POSTGRES_PASSWORD]);
    expect(pg.POSTGRES_PASSWORD).toBe(SECRETS.POSTGRES_PASSWORD);

    const redis = c.services.redis!;
    const queues = new Set([...workers.map(([, s]) => arg(s.command, '--queue')), arg(c.services.index!.entrypoint, '--queue')]);
    expect(queues.size).toBe(1);
    const q = new URL([...queues][0]!);
    expect([q.protocol, q.hostname, q.port || '6379', q.password]).toEqual(['redis:', 'redis', '6379', SECRETS.REDIS_PASSWORD]);
    expect(arg(redis.command, '--requirepass')).toBe(SECRETS.REDIS_PASSWORD);
    expect(redis.environment?.REDISCLI_AUTH).toBe(SECRETS.REDIS_PASSWORD); // the healthcheck's redis-cli authenticates
    // the jobs survive a restart of Redis (without persistence a restart loses the queue)
    expect(arg(redis.command, '--appendonly')).toBe('yes');
  });

  it('no secret is written in the file: each is a required variable (compose refuses to start without it)', () => {
    for (const name of Object.keys(SECRETS)) {
      expect(() => load({ ...SECRETS, [name]: '' }), name).toThrow(`required: ${name}`);
    }
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
  });

  it('every variable set on a lookalike container is one lookalike reads', () => {
    const reads = variablesLookalikeReads();
    expect(reads).toContain('LOOKALIKE_DB');
    expect(reads).toContain('LOOKALIKE_CACHE');
    for (const [name, s] of lookalike) {
      for (const v of Object.keys(s.environment ?? {})) expect(reads.has(v), `${name}: ${v}`).toBe(true);
    }
    for (const [name, s] of servers) expect(Object.keys(s.environment ?? {}).sort(), name).toEqual(['LOOKALIKE_API_KEY', 'LOOKALIKE_CACHE', 'LOOKALIKE_DB']);
  });

  it('healthchecks gate the start order; state is in named volumes; servers are published on loopback only', () => {
    for (const name of ['postgres', 'redis', 'serve-1', 'serve-2']) expect(c.services[name]!.healthcheck?.test.length, name).toBeGreaterThan(0);
    for (const [name, s] of [...workers, ['index', c.services.index!] as const]) {
      expect(s.depends_on, name).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    }
    for (const [name, s] of servers) {
      expect(s.depends_on, name).toEqual({ postgres: { condition: 'service_healthy' } });
      expect(s.healthcheck!.test.join(' '), name).toContain(`http://127.0.0.1:${arg(s.command, '--port')}/readyz`);
      expect(s.ports, name).toHaveLength(1);
      expect(s.ports![0], name).toMatch(/^127\.0\.0\.1:\d+:8080$/);
    }
    expect(new Set(servers.map(([, s]) => s.ports![0]!.split(':')[1])).size).toBe(2);
    expect(Object.keys(c.volumes).sort()).toEqual(['model-cache', 'pg-data', 'redis-data']);
    expect(c.services.postgres!.volumes).toEqual(['pg-data:/var/lib/postgresql/data']);
    expect(c.services.redis!.volumes).toEqual(['redis-data:/data']);
    for (const [name, s] of lookalike) {
      expect(s.volumes, name).toContain('model-cache:/cache');
      expect(s.environment?.LOOKALIKE_CACHE, name).toBe('/cache');
      expect(s.volumes!.some((v) => v.endsWith(':/images:ro')), name).toBe(true);
    }
  });

  it('`docker compose config` accepts it, where a compose is installed', () => {
    const env = { ...process.env, ...SECRETS };
    const composes: [string, string[]][] = [['docker', ['compose']], ['docker-compose', []]];
    for (const [cmd, pre] of composes) {
      const version = spawnSync(cmd, [...pre, 'version'], { encoding: 'utf8', timeout: 30_000 });
      if (version.error || version.status !== 0) continue; // not installed (docker without its compose plugin, …)
      const r = spawnSync(cmd, [...pre, '-f', 'compose.yaml', 'config', '--quiet'], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, `${cmd} ${pre.join(' ')} config: ${r.stderr}`).toBe(0);
    }
  });
});
