import type { AppDeps } from '../platform/deps.js';
import type { PeriodicTask } from '../platform/worker.js';

/**
 * Retention (EVENTS_RETENTION_DAYS): events and their deliveries older than that are deleted, a
 * bounded slice per statement, by every pod (a row two pods both pick is deleted once). A
 * delivery still pending then is dropped with its event, except an operator's redelivery: its retry
 * window starts when it is asked for, so its event stays until it is done (the retention covers
 * every other delivery's window). Deleted endpoints go once none of their deliveries is left.
 */
export function purgeEventsTask(deps: AppDeps): PeriodicTask {
  const { events_retention_days, events_purge_batch_size } = deps.config.webhooks;
  const age = `${events_retention_days} days`;
  return {
    name: 'purge_events',
    interval_ms: deps.config.worker_interval_ms,
    batch_size: events_purge_batch_size,
    run: () =>
      deps.transactions.read(async (tx) => {
        const events = await tx.execute(
          `DELETE FROM events WHERE id IN (
             SELECT id FROM events WHERE created_at < now() - CAST(? AS INTERVAL)
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id AND d.manual AND d.state = 'pending')
             ORDER BY created_at LIMIT ?)`,
          [age, events_purge_batch_size],
        );
        // One statement, an index probe per endpoint inside it: a statement per endpoint, deleted ones
        // included, cost every pod hundreds of round trips a second at idle once endpoints came and went.
        const deliveries = await tx.execute(
          `DELETE FROM webhook_deliveries WHERE id IN (
             SELECT old.id FROM webhook_endpoints e CROSS JOIN LATERAL (
               SELECT d.id FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.created_at < now() - CAST(? AS INTERVAL)
               ORDER BY d.created_at LIMIT ?) AS old
             LIMIT ?)`,
          [age, events_purge_batch_size, events_purge_batch_size],
        );
        await tx.execute(
          `DELETE FROM webhook_endpoints WHERE status = 'deleted' AND updated_at < now() - CAST(? AS INTERVAL)
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = webhook_endpoints.id)`,
          [age],
        );
        await tx.execute(
          'DELETE FROM webhook_endpoint_health h WHERE NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = h.endpoint_id)',
        );
        return Math.max(events, deliveries);
      }),
  };
}
