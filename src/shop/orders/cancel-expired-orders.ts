import type { AppDeps } from '../../platform/deps.js';
import { dueItemsTask } from '../../platform/due-items-task.js';
import type { PeriodicTask } from '../../platform/worker.js';
import { cancelPendingOrder } from './cancel-order.js';
import { findOrder } from './order-repository.js';

/**
 * Recovery worker: a two-step order still PENDING after its window is cancelled and its hold
 * voided, so no order hangs and no money stays held. Cancelling (not completing) is the safe
 * default: nobody is charged for a purchase the game never confirmed.
 */
export function cancelExpiredOrdersTask(deps: AppDeps): PeriodicTask {
  return dueItemsTask(deps, {
    name: 'cancel_expired_orders',
    due_sql: "SELECT id, account_id FROM orders WHERE status = 'PENDING' AND pending_until <= now() ORDER BY pending_until LIMIT ?",
    settle: async (tx, id) => {
      const order = await findOrder(tx, id);
      if (order?.status !== 'PENDING') return false;
      await cancelPendingOrder(tx, order, 'not completed in time');
      return true;
    },
  });
}
