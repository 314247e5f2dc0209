import type { AppDeps } from '../../platform/deps.js';
import type { PeriodicTask } from '../../platform/worker.js';
import { cancelPendingOrder } from './cancel-order.js';
import { findOrder } from './order-repository.js';

/**
 * Recovery worker: a two-step order still PENDING after its window is cancelled and its hold
 * voided, so no order hangs and no money stays held. Cancelling (not completing) is the safe
 * default: nobody is charged for a purchase the game never confirmed.
 */
export function cancelExpiredOrdersTask(deps: AppDeps): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: 'cancel_expired_orders',
    interval_ms: deps.config.worker_interval_ms,
    batch_size,
    run: async () => {
      const due = await deps.transactions.read((tx) =>
        tx.rows<{ id: string; account_id: string }>(
          "SELECT id, account_id FROM orders WHERE status = 'PENDING' AND pending_until <= now() ORDER BY pending_until LIMIT ?",
          [batch_size],
        ),
      );
      let cancelled = 0;
      for (const { id, account_id } of due) {
        const done = await deps.transactions.run(
          'cancel_expired_order',
          async (tx) => {
            const order = await findOrder(tx, id);
            if (order?.status !== 'PENDING') return false;
            await cancelPendingOrder(tx, order, 'not completed in time');
            return true;
          },
          { contended_accounts: [account_id] },
        );
        if (done) cancelled += 1;
      }
      return cancelled;
    },
  };
}
