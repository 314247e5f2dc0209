import type { AppDeps } from '../../platform/deps.js';
import { autocommit, valuesList } from './autocommit.js';

type Deps = Pick<AppDeps, 'transactions' | 'config'>;

/**
 * Circuit breakers shared by all pods, one row per seller in seller_health:
 *   closed    --(>= min calls in the window and failure share >= rate)-->  open
 *   open      --(cooldown over; ONE pod wins the probe lease)-->           half_open
 *   half_open --(probe succeeded)--> closed      --(probe failed)--> open (cooldown again)
 * Shared rather than per pod: every pod learns at once that a seller is down (N pods would
 * otherwise each spend min_calls on a dead seller and each probe it), and the whole fleet sends
 * one probe per cooldown. The price is a few small statements per fan-out, batched per phase.
 */
export interface CircuitAdmission {
  /** Closed circuits: call freely. */
  closed: string[];
  /** Half-open circuits whose single probe this caller won. */
  probes: string[];
  /** Open circuits (or a probe another caller holds): skip. */
  open: string[];
}

export async function admitByCircuit(deps: Deps, seller_ids: readonly string[], probe_lease_ms: number): Promise<CircuitAdmission> {
  if (seller_ids.length === 0) return { closed: [], probes: [], open: [] };
  const rows = await deps.transactions.read((tx) =>
    tx.rows<{ seller_id: string; circuit_state: string }>(
      'SELECT seller_id, circuit_state FROM seller_health WHERE seller_id = ANY(CAST(? AS TEXT[]))',
      [[...seller_ids]],
    ),
  );
  const state = new Map(rows.map((row) => [row.seller_id, row.circuit_state]));
  // A seller without a health row has never been called: its circuit is closed.
  const closed = seller_ids.filter((id) => (state.get(id) ?? 'closed') === 'closed');
  const not_closed = seller_ids.filter((id) => (state.get(id) ?? 'closed') !== 'closed');
  const probes = not_closed.length === 0 ? [] : await claimProbes(deps, not_closed, probe_lease_ms);
  const won = new Set(probes);
  return { closed, probes, open: not_closed.filter((id) => !won.has(id)) };
}

/** The cooldown is over and no live probe exists: this caller gets the one probe call. */
async function claimProbes(deps: Deps, seller_ids: readonly string[], probe_lease_ms: number): Promise<string[]> {
  const rows = await autocommit(deps, (tx) =>
    tx.rows<{ seller_id: string }>(
      `UPDATE seller_health SET circuit_state = 'half_open', probe_lease_expires_at = now() + CAST(? AS INTERVAL), updated_at = now()
       WHERE seller_id = ANY(CAST(? AS TEXT[])) AND circuit_state IN ('open', 'half_open') AND probe_after <= now()
         AND (probe_lease_expires_at IS NULL OR probe_lease_expires_at < now())
       RETURNING seller_id`,
      [`${probe_lease_ms} milliseconds`, [...seller_ids]],
    ),
  );
  return rows.map((row) => row.seller_id);
}

/** A probe that was won but not made (no rate budget): give it back at once. */
export async function returnProbes(deps: Deps, seller_ids: readonly string[]): Promise<void> {
  if (seller_ids.length === 0) return;
  await autocommit(deps, (tx) =>
    tx.execute(
      `UPDATE seller_health SET probe_lease_expires_at = NULL, updated_at = now()
       WHERE seller_id = ANY(CAST(? AS TEXT[])) AND circuit_state = 'half_open'`,
      [[...seller_ids]],
    ),
  );
}

export interface CallRecord {
  seller_id: string;
  failed: boolean;
  latency_ms: number;
  /** Failure description, kept as the seller's last error. */
  error: string | null;
  /** The call was this caller's half-open probe. */
  probe: boolean;
}

/** Counts calls into each seller's window, then moves circuits: probes decide half-open ones, failure shares open closed ones. */
export async function recordCalls(deps: Deps, records: readonly CallRecord[]): Promise<void> {
  if (records.length === 0) return;
  await countCalls(deps, records);
  const probes = records.filter((record) => record.probe);
  await settleProbes(
    deps,
    probes.filter((record) => !record.failed).map((record) => record.seller_id),
    'closed',
  );
  await settleProbes(
    deps,
    probes.filter((record) => record.failed).map((record) => record.seller_id),
    'open',
  );
  const failing = [...new Set(records.filter((record) => record.failed && !record.probe).map((record) => record.seller_id))];
  if (failing.length > 0) await openFailingCircuits(deps, failing);
}

async function countCalls(deps: Deps, records: readonly CallRecord[]): Promise<void> {
  const per_seller = new Map<string, { calls: number; failures: number; latency_ms_total: number; error: string | null }>();
  for (const record of records) {
    const entry = per_seller.get(record.seller_id) ?? { calls: 0, failures: 0, latency_ms_total: 0, error: null };
    entry.calls += 1;
    entry.failures += record.failed ? 1 : 0;
    entry.latency_ms_total += record.latency_ms;
    entry.error = record.error ?? entry.error;
    per_seller.set(record.seller_id, entry);
  }
  const ordered = [...per_seller.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  const window = `${deps.config.sellers.circuit_window_ms} milliseconds`;
  // The window restarts when it is older than circuit_window_ms; latency is an exponential moving average.
  await autocommit(deps, (tx) =>
    tx.execute(
      `UPDATE seller_health AS h SET
         window_calls = (CASE WHEN h.window_started_at <= now() - CAST(? AS INTERVAL) THEN 0 ELSE h.window_calls END) + o.calls,
         window_failures = (CASE WHEN h.window_started_at <= now() - CAST(? AS INTERVAL) THEN 0 ELSE h.window_failures END) + o.failures,
         window_started_at = CASE WHEN h.window_started_at <= now() - CAST(? AS INTERVAL) THEN now() ELSE h.window_started_at END,
         latency_ms_avg = CASE WHEN h.latency_ms_avg IS NULL THEN o.latency_ms
                          ELSE CAST(h.latency_ms_avg * 0.8 + o.latency_ms * 0.2 AS INT4) END,
         calls_total = h.calls_total + o.calls,
         failures_total = h.failures_total + o.failures,
         last_error = COALESCE(o.last_error, h.last_error),
         last_call_at = now(),
         updated_at = now()
       FROM (VALUES ${valuesList(ordered.length, ['TEXT', 'INT4', 'INT4', 'INT4', 'TEXT'])})
            AS o (seller_id, calls, failures, latency_ms, last_error)
       WHERE h.seller_id = o.seller_id`,
      [
        window,
        window,
        window,
        ...ordered.flatMap(([seller_id, entry]) => [
          seller_id,
          entry.calls,
          entry.failures,
          Math.round(entry.latency_ms_total / entry.calls),
          entry.error?.slice(0, 200) ?? null,
        ]),
      ],
    ),
  );
}

async function settleProbes(deps: Deps, seller_ids: readonly string[], to: 'closed' | 'open'): Promise<void> {
  if (seller_ids.length === 0) return;
  const sql =
    to === 'closed'
      ? `UPDATE seller_health SET circuit_state = 'closed', opened_at = NULL, probe_after = NULL, probe_lease_expires_at = NULL,
           window_started_at = now(), window_calls = 0, window_failures = 0, updated_at = now()
         WHERE seller_id = ANY(CAST(? AS TEXT[])) AND circuit_state = 'half_open'`
      : `UPDATE seller_health SET circuit_state = 'open', opened_at = now(), probe_after = now() + CAST(? AS INTERVAL),
           probe_lease_expires_at = NULL, updated_at = now()
         WHERE seller_id = ANY(CAST(? AS TEXT[])) AND circuit_state = 'half_open'`;
  const params = to === 'closed' ? [[...seller_ids]] : [`${deps.config.sellers.circuit_cooldown_ms} milliseconds`, [...seller_ids]];
  await autocommit(deps, (tx) => tx.execute(sql, params));
}

async function openFailingCircuits(deps: Deps, seller_ids: readonly string[]): Promise<void> {
  const { circuit_min_calls, circuit_failure_rate, circuit_cooldown_ms } = deps.config.sellers;
  await autocommit(deps, (tx) =>
    tx.execute(
      `UPDATE seller_health SET circuit_state = 'open', opened_at = now(), probe_after = now() + CAST(? AS INTERVAL),
         probe_lease_expires_at = NULL, updated_at = now()
       WHERE seller_id = ANY(CAST(? AS TEXT[])) AND circuit_state = 'closed'
         AND window_calls >= ? AND window_failures >= window_calls * CAST(? AS FLOAT8)`,
      [`${circuit_cooldown_ms} milliseconds`, [...seller_ids], circuit_min_calls, circuit_failure_rate],
    ),
  );
}
