import { emitEventsIn } from '../../events/emit-in-transaction.js';
import type { AppDeps } from '../../platform/deps.js';
import type { PeriodicTask } from '../../platform/worker.js';
import { listTopupEvents } from './psp-event-repository.js';
import { TOPUP_COLUMNS, toTopup, topupEventData, type TopupRow } from './topup-repository.js';

/**
 * Recovery worker: a top-up the PSP never confirmed is not guessed at; past the timeout it is
 * flagged for reconciliation with the PSP (needs_reconciliation) and stays PENDING until a
 * signed event or an operator settles it. So is a FAILED one with a refund waiting for a success:
 * a refund says the payment went through, and the refund waits unseen until that success comes.
 * Each flag writes its topup.needs_reconciliation event in the same transaction: five statements
 * for the whole batch (two flags, read, their events, emit).
 */
export function flagStuckTopupsTask(deps: AppDeps): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: 'flag_stuck_topups',
    interval_ms: deps.config.worker_interval_ms,
    batch_size,
    run: () =>
      deps.transactions.run('flag_stuck_topups', async (tx) => {
        // RETURNING only ids: a large RETURNING stops CockroachDB's server-side retries (COCKROACH.md).
        // One statement per partial index (topups_pending, topups_failed_refund_waiting).
        const flag = (waiting: string) =>
          tx.rows<{ id: string }>(
            `UPDATE topups SET reconciliation_required_at = now(), updated_at = now() WHERE id IN (
               SELECT id FROM topups WHERE ${waiting} AND reconciliation_required_at IS NULL
                 AND created_at < now() - CAST(? AS INTERVAL) ORDER BY created_at LIMIT ?)
             RETURNING id`,
            [`${deps.config.topup_pending_timeout_seconds} seconds`, batch_size],
          );
        const ids = [
          ...(await flag("status = 'PENDING'")),
          ...(await flag(`status = 'FAILED' AND reversals @> '[{"status": "waiting"}]'::JSONB`)),
        ];
        if (ids.length === 0) return 0;
        const flagged = (
          await tx.rows<TopupRow>(`SELECT ${TOPUP_COLUMNS} FROM topups WHERE id = ANY(?::uuid[])`, [ids.map((row) => row.id)])
        ).map(toTopup);
        const recorded = await listTopupEvents(
          tx,
          flagged.map((topup) => topup.id),
          deps.config.limits.page_size_max,
        );
        const events = flagged.map((topup) => ({
          type: 'topup.needs_reconciliation' as const,
          account_id: topup.account_id,
          data: topupEventData(topup, recorded.get(topup.id)!),
        }));
        await emitEventsIn(tx, deps, events);
        return flagged.length;
      }),
  };
}
