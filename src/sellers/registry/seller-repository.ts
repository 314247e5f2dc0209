import { decodeCursor, encodeCursor } from '../../db/cursor.js';
import { int8, timestamp, type SqlTx } from '../../db/sql.js';

export interface SellerInput {
  base_url: string;
  rate_limit_per_minute: number;
  timeout_ms: number;
  supports_holds: boolean;
  active: boolean;
}

/** A seller of the registry, as the aggregator uses it. */
export interface Seller extends SellerInput {
  id: string;
  created_at: string;
  updated_at: string;
}

interface SellerRow extends SellerInput {
  id: string;
  created_at: string | Date;
  updated_at: string | Date;
}

// The registry is read whole by a fan-out; beyond this many active sellers the registry itself
// would need paging per fan-out, which the design does not need at the scales benchmarked.
export const ACTIVE_SELLERS_MAX = 20_000;

export function toSeller(row: SellerRow): Seller {
  return {
    id: row.id,
    base_url: row.base_url,
    rate_limit_per_minute: row.rate_limit_per_minute,
    timeout_ms: row.timeout_ms,
    supports_holds: row.supports_holds,
    active: row.active,
    created_at: timestamp(row.created_at),
    updated_at: timestamp(row.updated_at),
  };
}

/** Creates or replaces a seller; its health row is created once and kept across updates. */
export async function upsertSeller(tx: SqlTx, id: string, input: SellerInput): Promise<{ seller: Seller; created: boolean }> {
  const existing = await tx.maybeOne<{ id: string }>('SELECT id FROM sellers WHERE id = ?', [id]);
  const values = [input.base_url, input.rate_limit_per_minute, input.timeout_ms, input.supports_holds, input.active];
  const row = existing
    ? await tx.one<SellerRow>(
        `UPDATE sellers SET base_url = ?, rate_limit_per_minute = ?, timeout_ms = ?, supports_holds = ?, active = ?, updated_at = now()
         WHERE id = ? RETURNING *`,
        [...values, id],
      )
    : await tx.one<SellerRow>(
        `INSERT INTO sellers (base_url, rate_limit_per_minute, timeout_ms, supports_holds, active, id)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
        [...values, id],
      );
  await tx.execute('INSERT INTO seller_health (seller_id) VALUES (?) ON CONFLICT (seller_id) DO NOTHING', [id]);
  return { seller: toSeller(row), created: !existing };
}

export async function findSeller(tx: SqlTx, id: string): Promise<Seller | undefined> {
  const row = await tx.maybeOne<SellerRow>('SELECT * FROM sellers WHERE id = ?', [id]);
  return row && toSeller(row);
}

/** Newest first, paged on (created_at, id) with full-precision timestamps, so paging never skips or repeats a seller. */
export async function listSellersPage(
  tx: SqlTx,
  options: { limit: number; cursor?: string },
): Promise<{ sellers: Seller[]; next_cursor: string | null }> {
  const after = decodeCursor(options.cursor, ['timestamp', 'string']);
  const rows = await tx.rows<SellerRow & { created_at: string }>(
    `SELECT * FROM sellers ${after ? 'WHERE (created_at, id) < (CAST(? AS TIMESTAMPTZ), ?)' : ''}
     ORDER BY created_at DESC, id DESC LIMIT ?`,
    [...(after ?? []), options.limit + 1],
  );
  const last = rows.length > options.limit ? rows[options.limit - 1] : undefined;
  return { sellers: rows.slice(0, options.limit).map(toSeller), next_cursor: last ? encodeCursor([last.created_at, last.id]) : null };
}

export async function listActiveSellers(tx: SqlTx): Promise<Seller[]> {
  const rows = await tx.rows<SellerRow>('SELECT * FROM sellers WHERE active ORDER BY id LIMIT ?', [ACTIVE_SELLERS_MAX]);
  return rows.map(toSeller);
}

/** What the health of a seller shows (SPEC: circuit state, recent error rate and latency, calls in the window). */
export interface SellerHealth {
  circuit_state: 'closed' | 'open' | 'half_open';
  circuit_opened_at: string | null;
  circuit_probe_after: string | null;
  recent_calls: number;
  recent_failures: number;
  recent_error_rate: number;
  latency_ms_avg: number | null;
  calls_in_current_window: number;
  rate_window_started_at: string;
  rate_window_ms: number;
  calls_total: number;
  failures_total: number;
  last_error: string | null;
  last_call_at: string | null;
}

interface HealthRow {
  seller_id: string;
  circuit_state: 'closed' | 'open' | 'half_open';
  opened_at: string | null;
  probe_after: string | null;
  recent_calls: number;
  recent_failures: number;
  latency_ms_avg: number | null;
  window_calls: number | null;
  calls_total: string;
  failures_total: string;
  last_error: string | null;
  last_call_at: string | null;
}

/**
 * Health of the given sellers. An open circuit whose cooldown is over shows as half_open: the
 * next call to it is the probe. Counts of an expired circuit window show as zero.
 */
export async function sellerHealth(
  tx: SqlTx,
  seller_ids: readonly string[],
  settings: { circuit_window_ms: number; rate_window_ms: number; now_ms: number },
): Promise<Map<string, SellerHealth>> {
  const window_start_ms = Math.floor(settings.now_ms / settings.rate_window_ms) * settings.rate_window_ms;
  const rows = await tx.rows<HealthRow>(
    `SELECT h.seller_id,
            CASE WHEN h.circuit_state = 'open' AND h.probe_after <= now() THEN 'half_open' ELSE h.circuit_state END AS circuit_state,
            h.opened_at, h.probe_after, h.latency_ms_avg, h.calls_total, h.failures_total, h.last_error, h.last_call_at,
            CASE WHEN h.window_started_at > now() - CAST(? AS INTERVAL) THEN h.window_calls ELSE 0 END AS recent_calls,
            CASE WHEN h.window_started_at > now() - CAST(? AS INTERVAL) THEN h.window_failures ELSE 0 END AS recent_failures,
            w.calls AS window_calls
     FROM seller_health h LEFT JOIN seller_rate_windows w ON w.seller_id = h.seller_id AND w.window_start_ms = ?
     WHERE h.seller_id = ANY(CAST(? AS TEXT[]))`,
    [`${settings.circuit_window_ms} milliseconds`, `${settings.circuit_window_ms} milliseconds`, window_start_ms, [...seller_ids]],
  );
  return new Map(
    rows.map((row) => [
      row.seller_id,
      {
        circuit_state: row.circuit_state,
        circuit_opened_at: row.opened_at && timestamp(row.opened_at),
        circuit_probe_after: row.probe_after && timestamp(row.probe_after),
        recent_calls: row.recent_calls,
        recent_failures: row.recent_failures,
        recent_error_rate: row.recent_calls === 0 ? 0 : Number((row.recent_failures / row.recent_calls).toFixed(4)),
        latency_ms_avg: row.latency_ms_avg,
        calls_in_current_window: row.window_calls ?? 0,
        rate_window_started_at: new Date(window_start_ms).toISOString(),
        rate_window_ms: settings.rate_window_ms,
        calls_total: int8(row.calls_total),
        failures_total: int8(row.failures_total),
        last_error: row.last_error,
        last_call_at: row.last_call_at && timestamp(row.last_call_at),
      },
    ]),
  );
}
