import type { SqlTx } from '../db/sql.js';
import type { AppDeps } from './deps.js';
import type { PeriodicTask } from './worker.js';

export interface DueItem {
  id: string;
  account_id: string;
}

/**
 * A recovery task every pod runs at once: it reads a batch of due items, then settles each in
 * its own serializable transaction that re-checks the item's state, so two pods racing for one
 * item settle it once (the loser's retry finds it done). Pods start at different points of the
 * batch so that they rarely race at all.
 */
export function dueItemsTask(
  deps: AppDeps,
  spec: { name: string; due_sql: string; settle: (tx: SqlTx, id: string) => Promise<boolean> },
): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: spec.name,
    interval_ms: deps.config.worker_interval_ms,
    batch_size,
    run: async () => {
      const due = await deps.transactions.read((tx) => tx.rows<DueItem>(spec.due_sql, [batch_size]));
      const offset = Math.floor(Math.random() * due.length);
      let settled = 0;
      for (const { id, account_id } of [...due.slice(offset), ...due.slice(0, offset)]) {
        const done = await deps.transactions.run(spec.name, (tx) => spec.settle(tx, id), { contended_accounts: [account_id] });
        if (done) settled += 1;
      }
      return settled;
    },
  };
}
