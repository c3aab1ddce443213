/**
 * The CLI's one way out: results (human text on stdout, or one JSON object with `--json`), notes and warnings
 * (stderr), and errors mapped to a message, a stable code and an exit code:
 *
 * | exit | when |
 * |---|---|
 * | 0 | success; `--help`, `--version`; stdout closed early by the reader (`… \| head -1`) |
 * | 1 | an error while running (`LookalikeError` codes from `src/errors.ts`, `ADDRESS_IN_USE`) |
 * | 2 | bad usage: unknown or missing option/argument, an invalid value (`INVALID_ARGUMENT`) |
 * | 70 | a bug: anything unexpected (message and stack trace, please report it) |
 * | 130 | interrupted (Ctrl-C) |
 *
 * Under `--json` an error is one JSON object on stderr: `{"error":{"code","message"}}`.
 */
import { ERROR_CODES, type ErrorCode } from '../errors.js';

/** Codes the CLI reports: the library's, plus conditions only the CLI meets. */
export type OutputCode = ErrorCode | 'ADDRESS_IN_USE';

export const EXIT = { ok: 0, error: 1, usage: 2, bug: 70, interrupted: 130 } as const;

/** A mistake in how the command was called (exit 2). Name the flag in the message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An error the CLI itself detects while running, with its own code (exit 1 unless said otherwise). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: OutputCode,
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
  }
}

export interface DescribedError {
  readonly code: OutputCode;
  readonly message: string;
  readonly exitCode: number;
  /** Commander already printed what there is to print (help, version): stay silent. */
  readonly silent?: boolean;
  /** An unexpected error: print the stack trace too. */
  readonly stack?: string;
}

type Coded = { code?: unknown; message?: unknown; exitCode?: unknown; name?: unknown; issues?: unknown };

function isCommanderError(e: Coded): boolean {
  return typeof e.code === 'string' && e.code.startsWith('commander.');
}

/** Commander's messages start with "error: " and may carry a second line ("(Did you mean --db?)"): make them one line. */
function oneLine(message: string): string {
  return message.replace(/^error:\s*/, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

/** Node.js system errors the CLI can explain; everything else unexpected is a bug. */
const SYSTEM_ERRORS: Record<string, { code: OutputCode; what: string }> = {
  ENOENT: { code: 'FILE_NOT_FOUND', what: 'not found' },
  EACCES: { code: 'FILE_NOT_FOUND', what: 'permission denied' },
  EPERM: { code: 'FILE_NOT_FOUND', what: 'operation not permitted' },
  EISDIR: { code: 'FILE_NOT_FOUND', what: 'is a folder, not a file' },
  ENOTDIR: { code: 'FILE_NOT_FOUND', what: 'not a folder' },
  ENOSPC: { code: 'STORAGE_FULL', what: 'no space left on the disk' },
  EADDRINUSE: { code: 'ADDRESS_IN_USE', what: 'the address is already in use' },
};

/** What to print for a thrown value, and with which exit code. */
export function describeError(err: unknown): DescribedError {
  const e = (err && typeof err === 'object' ? err : {}) as Coded;
  if (err instanceof UsageError) return { code: 'INVALID_ARGUMENT', message: err.message, exitCode: EXIT.usage };
  if (err instanceof CliError) return { code: err.code, message: err.message, exitCode: err.exitCode };
  if (isCommanderError(e)) {
    const code = e.code as string;
    if (code === 'commander.helpDisplayed' || code === 'commander.version') return { code: 'INVALID_ARGUMENT', message: '', exitCode: EXIT.ok, silent: true };
    // help shown because no command was given: a usage mistake unless it went to stdout on request
    if (code === 'commander.help') return { code: 'INVALID_ARGUMENT', message: '', exitCode: e.exitCode === 0 ? EXIT.ok : EXIT.usage, silent: true };
    return { code: 'INVALID_ARGUMENT', message: oneLine(String(e.message)), exitCode: EXIT.usage };
  }
  if (e.name === 'LookalikeError' && typeof e.code === 'string' && e.code in ERROR_CODES) {
    const code = e.code as ErrorCode;
    return { code, message: String(e.message), exitCode: code === 'INVALID_ARGUMENT' ? EXIT.usage : EXIT.error };
  }
  if (e.name === 'ZodError' && Array.isArray(e.issues)) {
    // the library validates its input; a schema error that escapes it still names the field, it is no crash
    const issues = e.issues as { path: (string | number)[]; message: string }[];
    const message = issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ');
    return { code: 'INVALID_ARGUMENT', message: `Invalid value — ${message}.`, exitCode: EXIT.usage };
  }
  const sys = typeof e.code === 'string' ? SYSTEM_ERRORS[e.code] : undefined;
  if (sys) {
    const detail = String(e.message ?? '');
    return { code: sys.code, message: `${sys.what} (${detail})`, exitCode: EXIT.error };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    code: 'INTERNAL',
    message: `unexpected error (a bug: please report it with the trace below): ${message}`,
    exitCode: EXIT.bug,
    stack: err instanceof Error ? (err.stack ?? '') : '',
  };
}

/** `--json` anywhere before `--` (known before commander has parsed anything, so usage errors are JSON too). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** Print an error to stderr (text, or one JSON object) and return the exit code. */
export function reportError(err: unknown, json: boolean, hint?: string): number {
  const d = describeError(err);
  if (d.silent) return d.exitCode;
  if (json) {
    process.stderr.write(JSON.stringify({ error: { code: d.code, message: d.message } }) + '\n');
  } else if (d.exitCode === EXIT.usage) {
    process.stderr.write(`lookalike: ${d.message}${hint ? ` (see \`${hint} --help\`)` : ''}\n`);
  } else {
    process.stderr.write(`lookalike: ${d.message}\n  (error code ${d.code})\n${d.stack ? `${d.stack}\n` : ''}`);
  }
  return d.exitCode;
}

/**
 * A reader that stops early (`lookalike search … | head -1`) closes the pipe: end quietly with exit 0 instead of
 * an EPIPE crash. Other stream errors are bugs and go the usual way.
 */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') process.exit(EXIT.ok);
      throw e;
    });
  }
}

/** How a command speaks: human text or one JSON object on stdout; notes and warnings on stderr. */
export class Output {
  constructor(readonly json: boolean) {}

  /** The command's result: `value` as one JSON line with `--json`, else the human lines. */
  result(value: unknown, human: () => string | readonly string[]): void {
    if (this.json) {
      write(process.stdout, JSON.stringify(value));
      return;
    }
    const lines = human();
    for (const l of typeof lines === 'string' ? [lines] : lines) write(process.stdout, l);
  }

  /** A line for people on stderr (notes, skipped files); left out under `--json`, whose result carries the same. */
  note(line: string): void {
    if (!this.json) write(process.stderr, line);
  }

  /** Something the user should act on: stderr, as `{"warning":{"message"}}` under `--json`. */
  warn(message: string): void {
    write(process.stderr, this.json ? JSON.stringify({ warning: { message } }) : `warning: ${message}`);
  }

  /** A log line of a long-running command (worker jobs): stderr, as `{"log":{"message"}}` under `--json`. */
  log(message: string): void {
    write(process.stderr, this.json ? JSON.stringify({ log: { message } }) : message);
  }

  /** A long-running command's start: one JSON line on stdout under `--json`, else the human line on stderr. */
  started(value: Record<string, unknown>, human: string): void {
    if (this.json) write(process.stdout, JSON.stringify(value));
    else write(process.stderr, human);
  }
}

/** Evaluation progress on a terminal's stderr ("indexing 40/96", "querying 12/96"); nothing otherwise. */
export function evalProgress(enabled: boolean): ((p: { phase: 'index' | 'query'; done: number; total: number }) => void) | undefined {
  if (!enabled || process.stderr.isTTY !== true) return undefined;
  return (p) => {
    process.stderr.write(`\r${p.phase === 'index' ? 'indexing' : 'querying'} ${p.done}/${p.total}   `);
    if (p.phase === 'query' && p.done === p.total) process.stderr.write('\n');
  };
}

function write(stream: NodeJS.WriteStream, line: string): void {
  stream.write(line + '\n');
}
