import { setTimeout as sleep } from 'node:timers/promises';
import { pendingMigrations } from './migration-status.js';
import type { TransactionRunner } from './transaction-runner.js';

export type Readiness = { status: 'ready' } | { status: 'database_unreachable' } | { status: 'migrations_pending'; pending: string[] };

const TIMED_OUT = Symbol('timed out');

/**
 * Whether this pod can serve: one query on its traffic pool proves the database answers and
 * every migration of this build is applied. Answers within `timeout_ms` whatever the database
 * does (a stalled server, an exhausted pool): a probe still running then is left to finish or
 * fail on its own bounds (connect and query timeouts).
 */
export async function checkReadiness(transactions: TransactionRunner, timeout_ms: number): Promise<Readiness> {
  const probe = transactions.read(pendingMigrations);
  const deadline = new AbortController();
  try {
    const pending = await Promise.race([probe, sleep(timeout_ms, TIMED_OUT, { signal: deadline.signal })]);
    if (pending === TIMED_OUT) {
      probe.catch(() => undefined);
      return { status: 'database_unreachable' };
    }
    return pending.length === 0 ? { status: 'ready' } : { status: 'migrations_pending', pending };
  } catch {
    return { status: 'database_unreachable' };
  } finally {
    deadline.abort();
  }
}
