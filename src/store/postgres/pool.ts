import type pg from 'pg';
import { createError } from '../../errors.js';
import { withRetry, type RetryPolicy } from './retry.js';

/** A pool whose queries and transactions retry transient failures (see `withRetry`). */
export class RetryingPool {
  constructor(
    readonly pool: pg.Pool,
    readonly where: string,
    readonly policy: RetryPolicy,
  ) {}

  query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return withRetry(this.where, this.policy, () => this.pool.query<R>(sql, params));
  }

  /** Run `fn` in one transaction, retried as a whole on transient failures. */
  tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return withRetry(this.where, this.policy, async () => {
      const client = await this.pool.connect();
      // a checked-out client's connection errors (server restart) must not crash the process: the query fails instead
      const ignore = (): void => {};
      client.on('error', ignore);
      try {
        await client.query('BEGIN');
        const out = await fn(client);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        client.off('error', ignore);
        client.release();
      }
    });
  }
}

/** A collection's table vanished under a statement: it was dropped (or dropped and re-created) meanwhile. */
export function changedError(name: string, cause?: unknown): Error {
  return createError(
    'COLLECTION_CHANGED',
    `Collection "${name}" was deleted (or deleted and re-created) while this request was running; nothing was written. Open it again and retry.`,
    { name },
    cause,
  );
}

export const isUndefinedTable = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === '42P01';
