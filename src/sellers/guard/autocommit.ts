import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlTx } from '../../db/sql.js';
import { isRetryable } from '../../db/transaction-runner.js';
import type { AppDeps } from '../../platform/deps.js';

const ATTEMPTS_MAX = 5;
const BACKOFF_MAX_MS = 20;

/**
 * Runs ONE statement outside an explicit transaction. For the shared counters (rate windows,
 * circuit state, job claims): on PostgreSQL a single UPDATE / INSERT ... ON CONFLICT in READ
 * COMMITTED re-checks its WHERE on the newest row version after waiting for a lock, so a
 * condition like `calls < limit` holds exactly without serialization failures on these hot rows;
 * on CockroachDB the statement is an implicit transaction that the server retries itself. A
 * deadlock (40P01) or a surfaced 40001 is retried here a few times.
 */
export async function autocommit<T>(deps: Pick<AppDeps, 'transactions'>, statement: (tx: SqlTx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await deps.transactions.read(statement);
    } catch (error) {
      if (!isRetryable(error) || attempt >= ATTEMPTS_MAX) throw error;
      await sleep(Math.random() * BACKOFF_MAX_MS);
    }
  }
}

/** `(CAST(? AS T), ...), ...` for a VALUES list used as a table (UPDATE ... FROM): each column cast so both engines type it. */
export function valuesList(rows: number, casts: readonly string[]): string {
  const row = `(${casts.map((cast) => `CAST(? AS ${cast})`).join(', ')})`;
  return Array.from({ length: rows }, () => row).join(', ');
}

/** `(?, ?, ?), (?, ?, ?)` for a multi-row INSERT, typed by its target columns; `suffix` adds constant columns. */
export function rowPlaceholders(rows: number, columns: number, suffix = ''): string {
  const row = `(${Array.from({ length: columns }, () => '?').join(', ')}${suffix})`;
  return Array.from({ length: rows }, () => row).join(', ');
}
