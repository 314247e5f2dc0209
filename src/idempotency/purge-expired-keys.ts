import type { AppDeps } from '../platform/deps.js';
import type { PeriodicTask } from '../platform/worker.js';

/** Deletes idempotency records past their retention (at least 24 h, SPEC §4), a batch at a time. */
export function purgeExpiredKeysTask(deps: AppDeps): PeriodicTask {
  const batch_size = deps.config.worker_batch_size;
  return {
    name: 'purge_expired_idempotency_keys',
    interval_ms: Math.max(deps.config.worker_interval_ms, 60_000),
    batch_size,
    run: () =>
      deps.transactions.run('purge_expired_idempotency_keys', (tx) =>
        tx.execute(
          `DELETE FROM idempotency_keys WHERE (caller, key) IN (
             SELECT caller, key FROM idempotency_keys WHERE expires_at < now() ORDER BY expires_at LIMIT ?)`,
          [batch_size],
        ),
      ),
  };
}
