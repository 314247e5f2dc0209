import type { Needs } from '../batch/operation.js';
import type { Unit } from '../batch/unit.js';
import type { AppDeps } from './deps.js';
import type { PeriodicTask } from './worker.js';

/** A due row: its id, owner and home region, and whatever else the task's query selects. */
export interface DueItem {
  id: string;
  account_id: string;
  crdb_region: string;
  [column: string]: unknown;
}

/**
 * A recovery task every pod runs at once: it reads a page of due items, then settles each as an
 * operation of the write path (so they are batched with everything else) that re-checks the
 * item's state: two pods racing for one item settle it once, the other finds it done.
 */
export function dueItemsTask(
  deps: AppDeps,
  spec: { name: string; due_sql: string; needs: (item: DueItem) => Needs; settle: (unit: Unit, id: string) => boolean },
): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: spec.name,
    interval_ms: deps.config.worker_interval_ms,
    batch_size,
    run: async () => {
      const due = await deps.transactions.read((tx) => tx.rows<DueItem>(spec.due_sql, [batch_size]));
      const settled = await Promise.allSettled(
        due.map((item) =>
          deps.writes.run({
            name: spec.name,
            region: item.crdb_region,
            needs: spec.needs(item),
            decide: (unit) => spec.settle(unit, item.id),
          }),
        ),
      );
      const failure = settled.find((result) => result.status === 'rejected');
      if (failure && settled.every((result) => result.status === 'rejected')) throw failure.reason;
      return settled.filter((result) => result.status === 'fulfilled' && result.value).length;
    },
  };
}
