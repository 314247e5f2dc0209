import type { SqlTx } from '../db/sql.js';
import type { AppDeps } from '../platform/deps.js';
import type { PeriodicTask } from '../platform/worker.js';

/**
 * Recovery worker: a withdrawal the provider has not settled within
 * WITHDRAWAL_PENDING_TIMEOUT_SECONDS is not guessed at; it is flagged for reconciliation
 * (needs_reconciliation) and stays PENDING, its money on @payouts_pending, until a signed
 * callback settles it or a person does. Never silently lost: reconciliation lists it. Not while
 * its account is frozen and its payout job waits for the freeze to end: it waits for compliance,
 * not for the provider (the freeze is what an operator sees), and is flagged, if still unsettled,
 * once unfrozen. One whose job has finished (the provider has it) waits for the provider alone:
 * flagged, so that an operator can settle it without unfreezing the account.
 */
export function flagUnansweredWithdrawalsTask(deps: AppDeps): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: 'flag_unanswered_withdrawals',
    interval_ms: deps.config.worker_interval_ms,
    batch_size,
    run: () =>
      deps.transactions.run('flag_unanswered_withdrawals', (tx) =>
        tx.execute(
          `UPDATE withdrawals SET reconciliation_required_at = now() WHERE id IN (
             SELECT w.id FROM withdrawals AS w JOIN accounts AS a ON a.id = w.account_id
             WHERE w.status = 'PENDING' AND w.reconciliation_required_at IS NULL
               AND (a.status <> 'frozen'
                    OR NOT EXISTS (SELECT 1 FROM jobs AS j WHERE j.kind = 'payout' AND j.subject_id = w.id AND j.finished_at IS NULL))
               AND w.created_at < now() - CAST(? AS INTERVAL) ORDER BY w.created_at LIMIT ?)`,
          [`${deps.config.wallet.withdrawal_pending_timeout_seconds} seconds`, batch_size],
        ),
      ),
  };
}

/**
 * Flags one withdrawal whose payout call never got an answer, after its last attempt. Both flags
 * are written here, outside batches (the batch never writes the flag).
 */
export function flagForReconciliation(tx: SqlTx, id: string): Promise<number> {
  return tx.execute(
    `UPDATE withdrawals SET reconciliation_required_at = now()
     WHERE id = ? AND status = 'PENDING' AND reconciliation_required_at IS NULL`,
    [id],
  );
}
