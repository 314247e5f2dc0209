import { int8, type SqlTx } from '../db/sql.js';
import type { AppDeps } from '../platform/deps.js';
import { sellerMetrics } from './seller-metrics.js';

const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;

/**
 * Active sellers by circuit state, as GET /v1/sellers shows them: an open circuit whose cooldown
 * is over is half_open (the next fan-out probes it); a seller never called is closed. At most
 * rows_max sellers are looked at.
 */
async function countCircuits(tx: SqlTx, rows_max: number): Promise<Map<string, number>> {
  const rows = await tx.rows<{ state: string; sellers: string }>(
    `SELECT state, COUNT(*) AS sellers FROM (
       SELECT CASE WHEN h.circuit_state = 'open' AND h.probe_after <= now() THEN 'half_open'
                   ELSE COALESCE(h.circuit_state, 'closed') END AS state
       FROM (SELECT id FROM sellers WHERE active ORDER BY id LIMIT ?) AS s LEFT JOIN seller_health h ON h.seller_id = s.id
     ) AS circuits GROUP BY state`,
    [rows_max],
  );
  return new Map(rows.map((row) => [row.state, int8(row.sellers)]));
}

/** Purchase requests kept pending for review (their wallet hold kept), at most rows_max counted. */
async function countPurchasesInReview(tx: SqlTx, rows_max: number): Promise<number> {
  const row = await tx.one<{ requests: string }>(
    'SELECT COUNT(*) AS requests FROM (SELECT id FROM purchase_requests WHERE review_reason IS NOT NULL LIMIT ?) AS in_review',
    [rows_max],
  );
  return int8(row.requests);
}

/** The aggregator's gauges every pod exports (alerts SellerCircuitsOpen, PurchaseRequestsInReview). */
export async function refreshSellerGauges(deps: Pick<AppDeps, 'config' | 'metrics'>, tx: SqlTx): Promise<void> {
  const rows_max = deps.config.fleet_gauges_rows_max;
  const circuits = await countCircuits(tx, rows_max);
  const in_review = await countPurchasesInReview(tx, rows_max);
  const metrics = sellerMetrics(deps.metrics);
  for (const state of CIRCUIT_STATES) metrics.seller_circuits.set({ state }, circuits.get(state) ?? 0);
  metrics.purchase_requests_in_review.set(in_review);
}
