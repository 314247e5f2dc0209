import { setTimeout as sleep } from 'node:timers/promises';
import { pendingMigrations } from './migration-status.js';
import type { TransactionRunner } from './transaction-runner.js';

export type Readiness =
  | { status: 'ready' }
  | { status: 'database_unreachable' }
  | { status: 'database_read_only' }
  | { status: 'migrations_pending'; pending: string[] };

const TIMED_OUT = Symbol('timed out');

/**
 * Whether this pod can serve: one query on its traffic pool proves the database answers and
 * every migration of this build is applied. Answers within `timeout_ms` whatever the database
 * does (a stalled server, an exhausted pool): a probe still running then is left to finish or
 * fail on its own bounds (connect and query timeouts).
 */
export async function checkReadiness(transactions: TransactionRunner, timeout_ms: number): Promise<Readiness> {
  // A database that takes no writes fails every write: not ready. transaction_read_only is on for a hot standby as for
  // default_transaction_read_only (a standby leaves the latter off).
  const probe = transactions.read(async (tx) => ({
    pending: await pendingMigrations(tx),
    read_only: (await tx.one<{ read_only: string }>("SELECT current_setting('transaction_read_only') AS read_only")).read_only,
  }));
  const deadline = new AbortController();
  try {
    const probed = await Promise.race([probe, sleep(timeout_ms, TIMED_OUT, { signal: deadline.signal })]);
    if (probed === TIMED_OUT) {
      probe.catch(() => undefined);
      return { status: 'database_unreachable' };
    }
    if (probed.pending.length > 0) return { status: 'migrations_pending', pending: probed.pending };
    return probed.read_only === 'on' ? { status: 'database_read_only' } : { status: 'ready' };
  } catch {
    return { status: 'database_unreachable' };
  } finally {
    deadline.abort();
  }
}
