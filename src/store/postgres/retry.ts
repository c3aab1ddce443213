import { createError, reasonOf } from '../../errors.js';

/** SQLSTATEs of errors that go away by themselves: the server restarting, a lost connection, a conflicting transaction. */
const TRANSIENT_SQLSTATES = new Set([
  '57P01', // admin_shutdown ("terminating connection due to administrator command")
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now ("the database system is starting up" / "shutting down")
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
]);
const TRANSIENT_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_ERRNO.has(code))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i.test(
    reasonOf(e),
  );
}

export interface RetryPolicy {
  /** Give up after retrying for this long (0: never retry). */
  readonly timeoutMs: number;
}

/**
 * Run `fn`, retrying transient failures with exponential backoff (100 ms doubling, at most 2 s apart) for at most
 * `policy.timeoutMs`; then `STORE_UNAVAILABLE` with what to do. `fn` must be safe to repeat (whole transactions,
 * idempotent upserts).
 */
export async function withRetry<T>(where: string, policy: RetryPolicy, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  let delay = 100;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e)) throw e;
      const waited = Date.now() - started;
      if (waited + delay > policy.timeoutMs) {
        throw createError(
          'STORE_UNAVAILABLE',
          `PostgreSQL at ${where} is unavailable (${reasonOf(e)}); retried for ${Math.round(waited / 1000)} s. ` +
            'Check that the server is running and reachable, then run the command again (work already committed is kept). ' +
            'LOOKALIKE_STORE_RETRY_MS sets how long transient errors are retried.',
          { db: where },
          e,
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(2000, delay * 2);
    }
  }
}
