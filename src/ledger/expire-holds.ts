import type { AppDeps } from '../platform/deps.js';
import { dueItemsTask } from '../platform/due-items-task.js';
import type { PeriodicTask } from '../platform/worker.js';
import { findHold } from './ledger-queries.js';
import { releaseHold } from './hold-repository.js';

/** Recovery worker: ACTIVE holds past their expiry become EXPIRED and release their money. */
export function expireHoldsTask(deps: AppDeps): PeriodicTask {
  return dueItemsTask(deps, {
    name: 'expire_holds',
    due_sql: "SELECT id, account_id FROM holds WHERE status = 'ACTIVE' AND expires_at <= now() ORDER BY expires_at LIMIT ?",
    settle: async (tx, id) => {
      const hold = await findHold(tx, id);
      if (hold?.status !== 'ACTIVE') return false;
      await releaseHold(tx, hold, 'EXPIRED');
      return true;
    },
  });
}
