import type { SqlTx } from '../db/sql.js';
import type { AppDeps } from './deps.js';
import type { PeriodicTask } from './worker.js';

/** Reads facts of the whole database (bounded counts by index) and sets the pod's gauges from them. */
export type GaugeRefresh = (deps: AppDeps, tx: SqlTx) => Promise<void>;

/**
 * Every pod refreshes the fleet gauges on an interval, so that whichever pod Prometheus scrapes
 * exports them, and a scrape never waits for the database. A refresh that fails (the database is
 * away) leaves the last values, and the worker loop tries again with backoff.
 */
export function fleetGaugesTask(deps: AppDeps, refreshes: readonly GaugeRefresh[]): PeriodicTask {
  return {
    name: 'fleet_gauges',
    interval_ms: deps.config.fleet_gauges_interval_ms,
    batch_size: 1,
    run: async () => {
      await deps.transactions.read(async (tx) => {
        for (const refresh of refreshes) await refresh(deps, tx);
      });
      return 0;
    },
  };
}
