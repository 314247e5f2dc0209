import type { PipelinedStatement } from '../db/pipeline.js';
import { sqlState } from '../db/database-errors.js';
import { PipelineError } from '../db/pipeline.js';

const DIVISION_BY_ZERO = '22012';

/**
 * The write side of the global events list's guarantee (src/events/event-reads.ts). The list
 * shows only events created at least EVENTS_SETTLE_WINDOW_MS ago; events are created at their
 * transaction's start (`now()`). This statement, the last before COMMIT of every transaction that
 * writes events, fails (division by zero) once the transaction has run for half that window, so
 * no event can commit later than half a window after its created_at: by the time an event is old
 * enough to be listed, it is committed (or never will be), and a newest-first walk never passes
 * over a place where a late commit could still appear. The other half is the margin for COMMIT
 * itself (and, on CockroachDB, for clock offsets between nodes). A transaction refused here runs
 * again with a new start.
 */
export const SETTLE_GUARD_NAME = 'events_settle_guard';
export const SETTLE_GUARD_TEXT = 'SELECT 1 / CASE WHEN clock_timestamp() - now() < CAST($1 AS INTERVAL) THEN 1 ELSE 0 END AS on_time';

/** How long a transaction writing events may have run at its last statement. */
export function settleGuardMs(settle_window_ms: number): number {
  return Math.floor(settle_window_ms / 2);
}

export function settleGuard(settle_window_ms: number): PipelinedStatement {
  return { name: SETTLE_GUARD_NAME, text: SETTLE_GUARD_TEXT, values: [`${settleGuardMs(settle_window_ms)} milliseconds`] };
}

/** How the guard refuses a transaction that ran too long: its division by zero. */
export function isSettleGuardRefusal(error: unknown): boolean {
  return sqlState(error) === DIVISION_BY_ZERO;
}

/** Whether a pipeline failed at the settle guard: the transaction ran too long, and runs again. */
export function isSettleGuardFailure(error: unknown, statements: readonly PipelinedStatement[]): boolean {
  return error instanceof PipelineError && statements[error.statement_index]?.name === SETTLE_GUARD_NAME;
}
