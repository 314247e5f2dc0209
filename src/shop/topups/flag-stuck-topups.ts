import type { AppDeps } from '../../platform/deps.js';
import type { PeriodicTask } from '../../platform/worker.js';

/**
 * Recovery worker: a top-up the PSP never confirmed is not guessed at; past the timeout it is
 * flagged for reconciliation with the PSP (needs_reconciliation) and stays PENDING until a
 * signed event or an operator settles it.
 */
export function flagStuckTopupsTask(deps: AppDeps): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: 'flag_stuck_topups',
    interval_ms: deps.config.worker_interval_ms,
    batch_size,
    run: () =>
      deps.transactions.run('flag_stuck_topups', (tx) =>
        tx.execute(
          `UPDATE topups SET reconciliation_required_at = now(), updated_at = now() WHERE id IN (
             SELECT id FROM topups WHERE status = 'PENDING' AND reconciliation_required_at IS NULL
               AND created_at < now() - CAST(? AS INTERVAL) ORDER BY created_at LIMIT ?)`,
          [`${deps.config.topup_pending_timeout_seconds} seconds`, batch_size],
        ),
      ),
  };
}
