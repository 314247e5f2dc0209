import type { AppDeps } from '../platform/deps.js';
import type { PeriodicTask } from '../platform/worker.js';
import { purgeRateWindows } from './guard/rate-limiter.js';
import { purgeQuoteCache } from './quotes/quote-cache.js';

// The state it purges only grows slowly (a row per seller per window, per product per seller).
const PURGE_INTERVAL_MS = 60_000;

/** Drops rate windows, cached quotes and fan-out records older than the retention. */
export function purgeSellerStateTask(deps: AppDeps): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: 'purge_seller_state',
    interval_ms: PURGE_INTERVAL_MS,
    batch_size,
    run: async () => (await purgeRateWindows(deps, batch_size)) + (await purgeQuoteCache(deps, batch_size)),
  };
}
