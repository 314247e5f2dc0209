import type { AppDeps } from '../../platform/deps.js';
import { dueItemsTask } from '../../platform/due-items-task.js';
import type { PeriodicTask } from '../../platform/worker.js';
import { cancelPendingOrder } from './cancel-order.js';
import { loadedOrder } from './order-book.js';

/**
 * Recovery worker: a two-step order still PENDING after its window is cancelled and its hold
 * voided, so no order hangs and no money stays held. Cancelling (not completing) is the safe
 * default: nobody is charged for a purchase the game never confirmed.
 */
export function cancelExpiredOrdersTask(deps: AppDeps): PeriodicTask {
  return dueItemsTask(deps, {
    name: 'cancel_expired_orders',
    due_sql: `SELECT id, account_id, crdb_region, hold_id FROM orders WHERE status = 'PENDING' AND pending_until <= now()
              ORDER BY pending_until LIMIT ?`,
    needs: (item) => ({ accounts: [item.account_id], orders: [item.id], holds: item['hold_id'] ? [item['hold_id'] as string] : [] }),
    settle: (unit, id) => {
      const order = loadedOrder(unit, id);
      if (order?.status !== 'PENDING') return false;
      cancelPendingOrder(unit, order, 'not completed in time');
      return true;
    },
  });
}
