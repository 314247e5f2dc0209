import type { AppDeps } from '../platform/deps.js';
import { dueItemsTask } from '../platform/due-items-task.js';
import type { PeriodicTask } from '../platform/worker.js';
import { releaseHold } from './holds.js';

/** Recovery worker: ACTIVE holds past their expiry become EXPIRED and release their money. */
export function expireHoldsTask(deps: AppDeps): PeriodicTask {
  return dueItemsTask(deps, {
    name: 'expire_holds',
    due_sql: "SELECT id, account_id, crdb_region FROM holds WHERE status = 'ACTIVE' AND expires_at <= now() ORDER BY expires_at LIMIT ?",
    needs: (item) => ({ accounts: [item.account_id], holds: [item.id] }),
    settle: (unit, id) => {
      const hold = unit.holds.get(id);
      if (hold?.status !== 'ACTIVE' || Date.parse(hold.expires_at) > unit.now_ms) return false;
      releaseHold(unit, hold, 'EXPIRED');
      return true;
    },
  });
}
