import type { AppDeps } from '../platform/deps.js';
import { dueItemsTask } from '../platform/due-items-task.js';
import type { PeriodicTask } from '../platform/worker.js';
import { PURCHASE_REQUESTS } from '../sellers/purchases/purchase-records.js';
import { releaseHold } from './holds.js';

/**
 * Recovery worker: ACTIVE holds past their expiry become EXPIRED and release their money. Not the
 * hold of a purchase request kept for review: a person settles it, and may find the seller's order
 * made (PURCHASE_HOLD_TTL_SECONDS once expired it under a review not done within a day, leaving the
 * seller's order unpaid). The request is read in the batch too, in case it went to review since.
 */
export function expireHoldsTask(deps: AppDeps): PeriodicTask {
  return dueItemsTask(deps, {
    name: 'expire_holds',
    // A join, not a correlated subquery: CockroachDB may not decorrelate one that can fail (more than one row).
    due_sql: `SELECT h.id, h.account_id, h.crdb_region, p.id AS request_id
       FROM holds h LEFT JOIN purchase_requests p ON p.hold_id = h.id
       WHERE h.status = 'ACTIVE' AND h.expires_at <= now() AND (p.id IS NULL OR p.status <> 'pending' OR p.review_reason IS NULL)
       ORDER BY h.expires_at LIMIT ?`,
    needs: (item) => ({
      accounts: [item.account_id],
      holds: [item.id],
      purchase_requests: typeof item['request_id'] === 'string' ? [item['request_id']] : [],
    }),
    settle: (unit, id) => {
      const hold = unit.holds.get(id);
      if (hold?.status !== 'ACTIVE' || Date.parse(hold.expires_at) > unit.now_ms) return false;
      const reviewed = unit
        .table(PURCHASE_REQUESTS)
        .all()
        .some((request) => request.hold_id === id && request.status === 'pending' && request.review_reason !== null);
      if (reviewed) return false;
      releaseHold(unit, hold, 'EXPIRED');
      return true;
    },
  });
}
