import type { AppDeps } from '../../platform/deps.js';
import type { CallSlots } from '../client/call-slots.js';
import { countsAsFailure, type SellerResult } from '../client/seller-protocol.js';
import type { Seller } from '../registry/seller-repository.js';
import { admitByCircuit, recordCalls, returnProbes } from './circuit-breaker.js';
import { sellerMetrics } from '../seller-metrics.js';
import { reservationCovers, reserveCalls } from './rate-limiter.js';

/** Why a seller was not called: never waited for, only skipped. */
export type SkipReason = 'circuit_open' | 'rate_limited' | 'busy' | 'deadline';

export interface GatedCalls<T> {
  calls: Array<{ seller: Seller; result: Promise<SellerResult<T>> }>;
  skipped: Array<{ seller: Seller; reason: SkipReason }>;
  /** Resolves once every call has ended and its outcome is recorded in the shared health. */
  recorded: Promise<void>;
}

type Deps = Pick<AppDeps, 'transactions' | 'config' | 'logger' | 'metrics'>;
type Call<T> = (seller: Seller, timeout_ms: number) => Promise<SellerResult<T>>;
export type CallKind = 'quote' | 'hold' | 'order';

// A probe lease outlives the probe call by this much, so that it is never taken twice.
const PROBE_LEASE_MARGIN_MS = 1000;

/**
 * Calls sellers in parallel through every guard, in this order: a call slot of this pod, the
 * shared circuit (closed, or this caller's half-open probe), then a reservation in the shared
 * rate window. Only then is the HTTP call made, with a timeout that ends by `deadline_ms`.
 */
export async function callSellers<T>(
  deps: Deps,
  slots: CallSlots,
  kind: CallKind,
  sellers: readonly Seller[],
  call: Call<T>,
  deadline_ms: number,
): Promise<GatedCalls<T>> {
  if (sellers.length === 0) return { calls: [], skipped: [], recorded: Promise.resolve() };
  const metrics = sellerMetrics(deps.metrics);
  if (!(await slots.acquire(sellers.length, deadline_ms))) {
    metrics.seller_calls_skipped_total.inc({ reason: 'busy' }, sellers.length);
    return { calls: [], skipped: sellers.map((seller) => ({ seller, reason: 'busy' as const })), recorded: Promise.resolve() };
  }
  let admitted: Seller[];
  let skipped: GatedCalls<T>['skipped'];
  let probes: Set<string>;
  try {
    ({ admitted, skipped, probes } = await admit(deps, sellers));
  } catch (error) {
    slots.release(sellers.length);
    throw error;
  }
  slots.release(sellers.length - admitted.length);
  for (const { reason } of skipped) metrics.seller_calls_skipped_total.inc({ reason });
  const calls = admitted.map((seller) => {
    const timeout_ms = Math.min(seller.timeout_ms, deadline_ms - Date.now());
    const called = call(seller, Math.max(1, timeout_ms)).finally(() => slots.release(1));
    const result = probes.has(seller.id) ? called.then((answer) => settleProbe(deps, seller, answer)) : called;
    // Cut short: given less than half of its own timeout. A seller whose timeout is above what a
    // phase can ever give (SELLER_QUOTE_PHASE_MAX_MS) is cut on every call, and were none of those
    // timeouts charged, its circuit would never open however dead it is.
    return { seller, result, cut_short: timeout_ms < seller.timeout_ms / 2 };
  });
  const recorded = Promise.all(calls.map(({ result }) => result))
    .then((results) => {
      for (const result of results) metrics.seller_calls_total.inc({ kind, outcome: result.outcome === 'ok' ? 'ok' : result.reason });
      const local = looksLocal(results);
      if (local)
        deps.logger.warn(
          { calls: results.length },
          'nearly every seller call of a batch failed: treated as a local failure, circuits untouched',
        );
      return recordCalls(
        deps,
        results.flatMap((result, index) => {
          const { seller, cut_short } = calls[index]!;
          // A timeout we cut short (the request's deadline came first) says nothing of the seller: not recorded.
          if (cut_short && result.outcome === 'failed' && result.reason === 'timeout') return [];
          const probe = probes.has(seller.id);
          if (probe && answered(result)) return []; // recorded by settleProbe
          return [
            {
              seller_id: seller.id,
              failed: countsAsFailure(result) && !local,
              latency_ms: result.latency_ms,
              error: errorOf(result),
              // A failure on our side settles no probe: its lease lapses and a later call probes again.
              probe: probe && !local && !aborted(result),
            },
          ];
        }),
      );
    })
    .catch((error: unknown) => deps.logger.warn({ err: error }, 'recording seller call outcomes failed'));
  return { calls, skipped, recorded };
}

/** The seller answered (a refusal or a 429 is an answer): it is up. */
const answered = (result: SellerResult<unknown>) => result.outcome !== 'failed' || result.reason === 'rate_limited';
/** Cut by us (a job giving up its lease): says nothing of the seller. */
const aborted = (result: SellerResult<unknown>) => result.outcome === 'failed' && result.reason === 'aborted';

/**
 * A probe the seller answered closes its circuit before its answer is handed on, not with its batch
 * (which waits for the batch's stragglers): the caller's own hold and order at that seller come
 * next, and would otherwise be skipped by the half-open circuit whose probe they just made. A probe
 * we cut short ourselves is given back, for the next caller to make. A failed one opens the circuit
 * again with its batch (where a failure of the whole batch is told from the seller's).
 */
async function settleProbe<T>(deps: Deps, seller: Seller, result: SellerResult<T>): Promise<SellerResult<T>> {
  const settled = answered(result)
    ? recordCalls(deps, [{ seller_id: seller.id, failed: false, latency_ms: result.latency_ms, error: errorOf(result), probe: true }])
    : aborted(result)
      ? returnProbes(deps, [seller.id])
      : undefined;
  await settled?.catch((error: unknown) => deps.logger.warn({ err: error, seller_id: seller.id }, 'settling a probe failed'));
  return result;
}

const errorOf = (result: SellerResult<unknown>) => (result.outcome === 'ok' ? null : `${result.reason}: ${result.detail}`);

// A batch this large failing this uniformly points at our side (a stalled pod, its network),
// not at every seller at once: opening all their circuits would turn a hiccup into an outage.
const LOCAL_FAILURE_BATCH_MIN = 20;
const LOCAL_FAILURE_SHARE = 0.9;

function looksLocal(results: ReadonlyArray<SellerResult<unknown>>): boolean {
  if (results.length < LOCAL_FAILURE_BATCH_MIN) return false;
  return results.filter(countsAsFailure).length >= results.length * LOCAL_FAILURE_SHARE;
}

async function admit(deps: Deps, sellers: readonly Seller[]) {
  const probe_lease_ms = Math.max(...sellers.map((seller) => seller.timeout_ms)) + PROBE_LEASE_MARGIN_MS;
  const circuit = await admitByCircuit(
    deps,
    sellers.map((seller) => seller.id),
    probe_lease_ms,
  );
  const allowed = new Set([...circuit.closed, ...circuit.probes]);
  const candidates = sellers.filter((seller) => allowed.has(seller.id));
  const reserved = await reserveInTime(deps, candidates);
  await returnProbes(
    deps,
    circuit.probes.filter((id) => !reserved.has(id)),
  );
  const skipped = sellers
    .filter((seller) => !reserved.has(seller.id))
    .map((seller) => ({ seller, reason: allowed.has(seller.id) ? ('rate_limited' as const) : ('circuit_open' as const) }));
  return { admitted: candidates.filter((seller) => reserved.has(seller.id)), skipped, probes: new Set(circuit.probes) };
}

const RESERVATION_TRIES_MAX = 2;

/**
 * Reservations in the shared rate windows that still hold when the calls are made: one the
 * database answered too late for its windows (a stall, a loaded machine) is not used, since a call
 * made now could land in a window it did not count in, and is asked again for the windows of now.
 * The late one's budget is wasted, never exceeded.
 */
async function reserveInTime(deps: Deps, candidates: readonly Seller[]): Promise<Set<string>> {
  const { rate_window_ms, rate_boundary_guard_ms } = deps.config.sellers;
  for (let tries = 0; tries < RESERVATION_TRIES_MAX; tries += 1) {
    const reserved_at_ms = Date.now();
    const reserved = await reserveCalls(deps, candidates, reserved_at_ms);
    if (reservationCovers(reserved_at_ms, Date.now(), rate_window_ms, rate_boundary_guard_ms)) return reserved;
  }
  return new Set();
}

/** One guarded call (a hold or an order): the result, or why it was skipped. Waits until the outcome is recorded. */
export async function callSeller<T>(
  deps: Deps,
  slots: CallSlots,
  kind: CallKind,
  seller: Seller,
  call: Call<T>,
  deadline_ms: number,
): Promise<{ result: SellerResult<T> } | { skipped: SkipReason }> {
  if (deadline_ms <= Date.now()) {
    sellerMetrics(deps.metrics).seller_calls_skipped_total.inc({ reason: 'deadline' });
    return { skipped: 'deadline' };
  }
  const gated = await callSellers(deps, slots, kind, [seller], call, deadline_ms);
  const [only] = gated.calls;
  if (!only) return { skipped: gated.skipped[0]?.reason ?? 'busy' };
  const result = await only.result;
  await gated.recorded;
  return { result };
}
