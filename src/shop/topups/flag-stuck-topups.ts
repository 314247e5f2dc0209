import { emitEventsIn } from '../../events/emit-in-transaction.js';
import type { AppDeps } from '../../platform/deps.js';
import type { PeriodicTask } from '../../platform/worker.js';
import { listTopupEvents } from './psp-event-repository.js';
import { findTopup, topupEventData } from './topup-repository.js';

/**
 * Recovery worker: a top-up the PSP never confirmed is not guessed at; past the timeout it is
 * flagged for reconciliation with the PSP (needs_reconciliation) and stays PENDING until a
 * signed event or an operator settles it. Each flag writes its topup.needs_reconciliation event
 * in the same transaction.
 */
export function flagStuckTopupsTask(deps: AppDeps): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: 'flag_stuck_topups',
    interval_ms: deps.config.worker_interval_ms,
    batch_size,
    run: () =>
      deps.transactions.run('flag_stuck_topups', async (tx) => {
        const flagged = await tx.rows<{ id: string }>(
          `UPDATE topups SET reconciliation_required_at = now(), updated_at = now() WHERE id IN (
             SELECT id FROM topups WHERE status = 'PENDING' AND reconciliation_required_at IS NULL
               AND created_at < now() - CAST(? AS INTERVAL) ORDER BY created_at LIMIT ?)
           RETURNING id`,
          [`${deps.config.topup_pending_timeout_seconds} seconds`, batch_size],
        );
        const events = [];
        for (const { id } of flagged) {
          const topup = (await findTopup(tx, id))!;
          const data = topupEventData(topup, await listTopupEvents(tx, id, deps.config.limits.page_size_max));
          events.push({ type: 'topup.needs_reconciliation' as const, account_id: topup.account_id, data });
        }
        await emitEventsIn(tx, deps, events);
        return flagged.length;
      }),
  };
}
