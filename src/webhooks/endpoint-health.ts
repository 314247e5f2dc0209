import { timestamp, type SqlTx } from '../db/sql.js';
import type { EndpointHealth } from './endpoint-records.js';

/**
 * Whether deliveries to an endpoint succeed, as the pods delivering see it: only the changes
 * (the first failure after a success, the first success after failures) are written, by single
 * statements outside any batch. An endpoint failing without a single success for
 * WEBHOOK_DISABLE_AFTER_SECONDS is disabled (src/webhooks/manage-endpoints.ts disableEndpoint).
 */
export async function readHealth(tx: SqlTx): Promise<Map<string, EndpointHealth>> {
  const rows = await tx.rows<{ endpoint_id: string; failing_since: string | null; failure_reason: string | null }>(
    'SELECT endpoint_id, failing_since, failure_reason FROM webhook_endpoint_health',
  );
  return new Map(
    rows.map((row) => [
      row.endpoint_id,
      { failing_since: row.failing_since && timestamp(row.failing_since), failure_reason: row.failure_reason },
    ]),
  );
}

export async function healthOf(tx: SqlTx, endpoint_id: string): Promise<EndpointHealth | undefined> {
  const row = await tx.maybeOne<{ failing_since: string | null; failure_reason: string | null }>(
    'SELECT failing_since, failure_reason FROM webhook_endpoint_health WHERE endpoint_id = ?',
    [endpoint_id],
  );
  return row && { failing_since: row.failing_since && timestamp(row.failing_since), failure_reason: row.failure_reason };
}

/** The first failure since the last success (a later one changes nothing). */
export async function markFailing(tx: SqlTx, endpoint_id: string, reason: string): Promise<void> {
  await tx.execute(
    `INSERT INTO webhook_endpoint_health (endpoint_id, failing_since, failure_reason, updated_at) VALUES (?, now(), ?, now())
     ON CONFLICT (endpoint_id) DO UPDATE SET
       failing_since = COALESCE(webhook_endpoint_health.failing_since, excluded.failing_since),
       failure_reason = COALESCE(webhook_endpoint_health.failure_reason, excluded.failure_reason),
       updated_at = now()`,
    [endpoint_id, reason.slice(0, 300)],
  );
}

/** A success (or an operator enabling it again) ends a failing streak. */
export async function markHealthy(tx: SqlTx, endpoint_id: string): Promise<void> {
  await tx.execute(
    `UPDATE webhook_endpoint_health SET failing_since = NULL, failure_reason = NULL, updated_at = now()
     WHERE endpoint_id = ? AND failing_since IS NOT NULL`,
    [endpoint_id],
  );
}
