import type { AppDeps } from '../platform/deps.js';
import type { PeriodicTask } from '../platform/worker.js';
import { findHold } from './ledger-queries.js';
import { releaseHold } from './hold-repository.js';

/**
 * Recovery worker: ACTIVE holds past their expiry become EXPIRED and release their money. Every
 * pod runs it; each hold is expired in its own serializable transaction that re-checks the
 * status, so two pods racing for one hold expire it once (the loser's retry finds it done).
 */
export function expireHoldsTask(deps: AppDeps): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: 'expire_holds',
    interval_ms: deps.config.worker_interval_ms,
    batch_size,
    run: async () => {
      const due = await deps.transactions.read((tx) =>
        tx.rows<{ id: string; account_id: string }>(
          "SELECT id, account_id FROM holds WHERE status = 'ACTIVE' AND expires_at <= now() ORDER BY expires_at LIMIT ?",
          [batch_size],
        ),
      );
      // Pods start at different points of the batch, so they rarely collide on one hold.
      const offset = Math.floor(Math.random() * due.length);
      const ordered = [...due.slice(offset), ...due.slice(0, offset)];
      let expired = 0;
      for (const { id, account_id } of ordered) {
        const done = await deps.transactions.run(
          'expire_hold',
          async (tx) => {
            const hold = await findHold(tx, id);
            if (hold?.status !== 'ACTIVE') return false;
            await releaseHold(tx, hold, 'EXPIRED');
            return true;
          },
          { contended_accounts: [account_id] },
        );
        if (done) expired += 1;
      }
      return expired;
    },
  };
}
