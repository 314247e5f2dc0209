import { emitEventsIn } from '../../events/emit-in-transaction.js';
import type { AppDeps } from '../../platform/deps.js';
import type { PeriodicTask } from '../../platform/worker.js';
import { listTopupEvents } from './psp-event-repository.js';
import { TOPUP_COLUMNS, toTopup, topupEventData, type TopupRow } from './topup-repository.js';

/**
 * Recovery worker: a top-up the PSP never confirmed is not guessed at; past the timeout it is
 * flagged for reconciliation with the PSP (needs_reconciliation) and stays PENDING until a
 * signed event or an operator settles it. Each flag writes its topup.needs_reconciliation event
 * in the same transaction: three statements for the whole batch (flag, their events, emit).
 */
export function flagStuckTopupsTask(deps: AppDeps): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: 'flag_stuck_topups',
    interval_ms: deps.config.worker_interval_ms,
    batch_size,
    run: () =>
      deps.transactions.run('flag_stuck_topups', async (tx) => {
        const flagged = (
          await tx.rows<TopupRow>(
            `UPDATE topups SET reconciliation_required_at = now(), updated_at = now() WHERE id IN (
               SELECT id FROM topups WHERE status = 'PENDING' AND reconciliation_required_at IS NULL
                 AND created_at < now() - CAST(? AS INTERVAL) ORDER BY created_at LIMIT ?)
             RETURNING ${TOPUP_COLUMNS}`,
            [`${deps.config.topup_pending_timeout_seconds} seconds`, batch_size],
          )
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
