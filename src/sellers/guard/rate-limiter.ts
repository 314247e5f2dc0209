import type { AppDeps } from '../../platform/deps.js';
import { autocommit, rowPlaceholders } from './autocommit.js';

export interface RateLimited {
  id: string;
  rate_limit_per_minute: number;
}

export function windowStartMs(at_ms: number, window_ms: number): number {
  return Math.floor(at_ms / window_ms) * window_ms;
}

/**
 * The fixed windows a call made now may be counted in by the seller: the current one, and the
 * next one too when the call is made so close to the window's end that it may arrive after it
 * (flight time, clock skew). Counting such a call in both is conservative: it can waste one call
 * of budget, never exceed a limit.
 */
export function windowsForCall(now_ms: number, window_ms: number, boundary_guard_ms: number): number[] {
  const current = windowStartMs(now_ms, window_ms);
  const latest = windowStartMs(now_ms + boundary_guard_ms, window_ms);
  return latest === current ? [current] : [current, latest];
}

/**
 * Whether a call made at `now_ms` still lands only in windows reserved at `reserved_at_ms`: a
 * reservation that took longer than the boundary guard allows (a database under load) may have
 * been made for a window that is ending, and a call made now could count in the next one, unreserved.
 */
export function reservationCovers(reserved_at_ms: number, now_ms: number, window_ms: number, boundary_guard_ms: number): boolean {
  return windowStartMs(now_ms + boundary_guard_ms, window_ms) === windowStartMs(reserved_at_ms + boundary_guard_ms, window_ms);
}

/**
 * Reserves one call for each seller BEFORE it is made, in counters shared by all pods: a
 * reservation succeeds only while `calls < limit` for every window the call may land in, so the
 * sum of calls to a seller in any window never exceeds its limit, whatever the number of pods.
 * Returns the ids whose call may be made. A refused seller is skipped, never waited for.
 */
export async function reserveCalls(
  deps: Pick<AppDeps, 'transactions' | 'config'>,
  sellers: readonly RateLimited[],
  now_ms: number,
): Promise<Set<string>> {
  if (sellers.length === 0) return new Set();
  const { rate_window_ms, rate_boundary_guard_ms } = deps.config.sellers;
  const windows = windowsForCall(now_ms, rate_window_ms, rate_boundary_guard_ms);
  // One row per (seller, window), in key order, so concurrent statements lock rows in the same order.
  const ordered = [...new Map(sellers.map((seller) => [seller.id, seller])).values()].sort((a, b) =>
    a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
  const params = ordered.flatMap((seller) => windows.flatMap((window) => [seller.id, window, seller.rate_limit_per_minute]));
  const reserved = await autocommit(deps, (tx) =>
    tx.rows<{ seller_id: string }>(
      `INSERT INTO seller_rate_windows (seller_id, window_start_ms, call_limit, calls)
       VALUES ${rowPlaceholders(ordered.length * windows.length, 3, ', 1')}
       ON CONFLICT (seller_id, window_start_ms) DO UPDATE
         SET calls = seller_rate_windows.calls + 1, call_limit = excluded.call_limit
         WHERE seller_rate_windows.calls < excluded.call_limit
       RETURNING seller_id`,
      params,
    ),
  );
  const counts = new Map<string, number>();
  for (const row of reserved) counts.set(row.seller_id, (counts.get(row.seller_id) ?? 0) + 1);
  return new Set(ordered.filter((seller) => counts.get(seller.id) === windows.length).map((seller) => seller.id));
}

/** Rate windows that no call can land in any more. */
export async function purgeRateWindows(deps: Pick<AppDeps, 'transactions' | 'config'>, batch_size: number): Promise<number> {
  const before_ms = Date.now() - deps.config.sellers.state_retention_ms;
  return autocommit(deps, (tx) =>
    tx.execute(
      `DELETE FROM seller_rate_windows WHERE (seller_id, window_start_ms) IN
         (SELECT seller_id, window_start_ms FROM seller_rate_windows WHERE window_start_ms < ? LIMIT ?)`,
      [before_ms, batch_size],
    ),
  );
}
