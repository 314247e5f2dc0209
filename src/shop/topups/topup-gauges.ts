import { int8, type SqlTx } from '../../db/sql.js';
import type { AppDeps } from '../../platform/deps.js';

/** Signed PSP events recorded but not applied, by outcome, that no operator has settled yet (at most rows_max counted). */
async function countEventsHeldForReview(tx: SqlTx, rows_max: number): Promise<Map<string, number>> {
  const rows = await tx.rows<{ outcome: string; events: string }>(
    `SELECT outcome, COUNT(*) AS events FROM (
       SELECT outcome FROM psp_events WHERE review_reason IS NOT NULL AND review_settled_at IS NULL LIMIT ?
     ) AS held GROUP BY outcome`,
    [rows_max],
  );
  return new Map(rows.map((row) => [row.outcome, int8(row.events)]));
}

/**
 * Top-ups flagged because the PSP never confirmed them in time and still waiting on it (at most
 * rows_max counted): PENDING, or FAILED with a refund waiting for a success, as their view says.
 */
async function countTopupsNeedingReconciliation(tx: SqlTx, rows_max: number): Promise<number> {
  const row = await tx.one<{ topups: string }>(
    `SELECT COUNT(*) AS topups FROM (
       SELECT id FROM topups WHERE reconciliation_required_at IS NOT NULL
         AND (status = 'PENDING' OR (status = 'FAILED' AND reversals @> '[{"status": "waiting"}]'::JSONB)) LIMIT ?
     ) AS flagged`,
    [rows_max],
  );
  return int8(row.topups);
}

/** The top-up gauges every pod exports: what waits for an operator (alerts TopupsHeldForReview, TopupsUnconfirmed). */
export async function refreshTopupGauges(deps: Pick<AppDeps, 'config' | 'metrics'>, tx: SqlTx): Promise<void> {
  const rows_max = deps.config.fleet_gauges_rows_max;
  const held = await countEventsHeldForReview(tx, rows_max);
  const unconfirmed = await countTopupsNeedingReconciliation(tx, rows_max);
  const { psp_events_held_for_review, topups_needing_reconciliation } = deps.metrics;
  // Outcomes no longer held drop out; reset and set run without a pause, so no scrape sees the gap.
  psp_events_held_for_review.reset();
  for (const [outcome, events] of held) psp_events_held_for_review.set({ outcome }, events);
  topups_needing_reconciliation.set(unconfirmed);
}
