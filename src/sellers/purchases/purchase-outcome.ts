import { invariant } from '../../domain/errors.js';
import { byPrice, isOfferIn, usableQuotes, type PurchaseCurrency, type QuoteRecord } from '../quotes/quote-record.js';
import type { Attempt, AttemptOutcome, FinalFields } from './purchase-repository.js';

// The seller answered and the deal is off: nothing to buy there.
const UNAVAILABLE: ReadonlySet<AttemptOutcome> = new Set(['out_of_stock', 'quote_expired', 'hold_expired', 'refused']);

/** Quotes worth an attempt, cheapest first: usable now, within the maximum price. */
export function candidates(
  quotes: readonly QuoteRecord[],
  request: PurchaseCurrency & { max_price_minor: number },
  now_ms: number,
  margin_ms: number,
): QuoteRecord[] {
  return usableQuotes(quotes, request, now_ms, margin_ms)
    .filter((quote) => (quote.price ?? Infinity) <= request.max_price_minor)
    .sort(byPrice);
}

/**
 * The final status of a request that bought nothing (SPEC: price_not_met {lowest_price} |
 * not_available | failed), from what the sellers answered and how the attempts ended.
 */
export function unpurchasedOutcome(
  input: PurchaseCurrency & {
    quotes: readonly QuoteRecord[];
    attempts: readonly Attempt[];
    max_price_minor: number;
    reason?: string;
  },
): FinalFields {
  const offers = input.quotes.filter((quote) => isOfferIn(quote, input));
  if (offers.length === 0) {
    const answered = input.quotes.some((quote) => quote.available !== null);
    return answered
      ? { status: 'not_available', failure_reason: input.reason ?? 'no seller has the product' }
      : { status: 'failed', failure_reason: input.reason ?? 'no seller answered in time' };
  }
  const lowest_quote = Math.min(...offers.map((quote) => quote.price!));
  if (lowest_quote > input.max_price_minor) return { status: 'price_not_met', lowest_price_minor: lowest_quote };
  const failed = input.attempts.filter((attempt) => attempt.state === 'failed');
  if (failed.length === 0)
    return { status: 'failed', failure_reason: input.reason ?? 'no purchase could be attempted before the deadline' };
  if (failed.every((attempt) => attempt.outcome === 'price_moved')) {
    const moved = failed
      .map((attempt) => attempt.price_minor ?? attempt.held_price_minor)
      .filter((price): price is number => price !== null);
    return { status: 'price_not_met', lowest_price_minor: moved.length > 0 ? Math.min(...moved) : lowest_quote };
  }
  if (failed.every((attempt) => attempt.outcome === 'price_moved' || UNAVAILABLE.has(attempt.outcome!))) {
    return { status: 'not_available', failure_reason: input.reason ?? 'every affordable seller was sold out or refused' };
  }
  const last = failed[failed.length - 1]!;
  return { status: 'failed', failure_reason: input.reason ?? `no seller could deliver; last attempt: ${last.outcome}` };
}

/** How a failed order call left the order: refused for good, never made, or possibly made (unknown). */
export type OrderCallVerdict = 'refused' | 'not_sent' | 'unknown';

const NOT_SENT: ReadonlySet<AttemptOutcome> = new Set(['rate_limited', 'circuit_open', 'busy', 'deadline']);
// A timeout, a network error, a 5xx or an unreadable 2xx: the seller may have made the order.
const OUTCOME_UNKNOWN: ReadonlySet<AttemptOutcome> = new Set(['timeout', 'error']);

export function orderCallVerdict(outcome: AttemptOutcome): OrderCallVerdict {
  if (OUTCOME_UNKNOWN.has(outcome)) return 'unknown';
  return NOT_SENT.has(outcome) ? 'not_sent' : 'refused';
}

/** Pause before re-sending an order of unknown outcome: doubling from `min_ms`, at most `max_ms`. */
export function resendDelayMs(sends: number, interval: { min_ms: number; max_ms: number }): number {
  return Math.min(interval.max_ms, interval.min_ms * 2 ** Math.min(30, Math.max(0, sends - 1)));
}

/**
 * When to ask again about an order whose outcome was still unknown at the deadline: after half
 * the time since the deadline (so the pauses grow geometrically), within the interval bounds;
 * `stop` once the seller has been asked for `duration_max_ms` past the deadline.
 */
export function recheckPlan(
  elapsed_since_deadline_ms: number,
  config: { recheck_interval_min_ms: number; recheck_interval_max_ms: number; recheck_duration_max_ms: number },
): { recheck_after_ms: number } | 'stop' {
  if (elapsed_since_deadline_ms >= config.recheck_duration_max_ms) return 'stop';
  const half_ms = Math.floor(Math.max(0, elapsed_since_deadline_ms) / 2);
  return { recheck_after_ms: Math.min(config.recheck_interval_max_ms, Math.max(config.recheck_interval_min_ms, half_ms)) };
}

/** Why a pending request is kept for review (a metric label). */
export type ReviewCause = 'price_moved' | 'hold_inactive' | 'outcome_unknown';

export type Settlement =
  | { kind: 'capture'; charged_minor: number }
  | { kind: 'review'; cause: ReviewCause; attempt_outcome: 'price_moved' | null; reason: string };

/**
 * What to do with an order a seller confirmed. We pay at most what the seller held (with holds)
 * or quoted (without), never the price it chose to confirm: a higher order price is
 * `price_moved`, and because the seller did make the order, the wallet hold is kept and the
 * request goes to review (we may owe that seller) instead of buying elsewhere.
 */
export function settleConfirmedOrder(input: {
  attempt: Pick<Attempt, 'seller_id' | 'quoted_price_minor' | 'held_price_minor'>;
  order: { order_id: string; price_minor: number };
  max_price_minor: number;
  hold_status: string | undefined;
}): Settlement {
  const { attempt, order } = input;
  const agreed = attempt.held_price_minor ?? attempt.quoted_price_minor;
  invariant(agreed !== null && agreed <= input.max_price_minor, `attempt at ${attempt.seller_id} has no agreed price within the maximum`);
  const agreed_as = attempt.held_price_minor === null ? 'quoted' : 'held';
  if (order.price_minor > agreed) {
    return {
      kind: 'review',
      cause: 'price_moved',
      attempt_outcome: 'price_moved',
      reason:
        `seller ${attempt.seller_id} confirmed order ${order.order_id} at ${order.price_minor}, above its ${agreed_as} price ${agreed}: ` +
        'not charged; the order must be cancelled with the seller or settled by hand',
    };
  }
  if (input.hold_status !== 'ACTIVE') {
    return {
      kind: 'review',
      cause: 'hold_inactive',
      attempt_outcome: null,
      reason: `seller ${attempt.seller_id} confirmed order ${order.order_id} but the wallet hold is ${input.hold_status ?? 'missing'}`,
    };
  }
  return { kind: 'capture', charged_minor: order.price_minor };
}
