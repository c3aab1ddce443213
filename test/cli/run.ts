/** Run the built CLI (dist/cli/main.js) as users do, for the tests in this folder. */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { CLI } from '../helpers.js';

const run = promisify(execFile);

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function requireBuiltCli(): void {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build first`);
}

/** Run one command to its end (killed after `timeoutMs`: a command that should have been refused may run on). */
export async function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, LOOKALIKE_THREADS: '1', ...env },
      maxBuffer: 16 << 20,
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

export type CliProcess = ChildProcessByStdio<null, Readable, Readable>;

/** Start a long-running command (serve, worker). */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  return spawn(process.execPath, [CLI, ...args], { env: { ...process.env, LOOKALIKE_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The first stdout line that parses as JSON and has `event` (the start line of serve/worker under --json). */
export function firstEvent(child: CliProcess, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no start line within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n').slice(0, -1)) {
        try {
          const v = JSON.parse(line) as Record<string, unknown>;
          if ('event' in v) {
            clearTimeout(timer);
            resolve(v);
            return;
          }
        } catch {
          // not ours (a log line)
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before its start line; stderr: ${err}`));
    });
  });
}

/** Exit code of a child once it ends (signals count as 128 + n). */
export function exitOf(child: CliProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGTERM' ? 15 : 9))));
}

/** What a crash looks like: a stack trace line or the catch-all message. */
export const CRASH = /\n\s+at |unexpected error/;
