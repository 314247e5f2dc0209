import { byPrice, usableQuotes, type QuoteRecord } from '../quotes/quote-record.js';
import type { Attempt, AttemptOutcome, FinalFields } from './purchase-repository.js';

// The seller answered and the deal is off: nothing to buy there.
const UNAVAILABLE: ReadonlySet<AttemptOutcome> = new Set(['out_of_stock', 'quote_expired', 'hold_expired', 'refused']);

/** Quotes worth an attempt, cheapest first: usable now, within the maximum price. */
export function candidates(
  quotes: readonly QuoteRecord[],
  request: { currency: string; max_price_minor: number },
  now_ms: number,
  margin_ms: number,
): QuoteRecord[] {
  return usableQuotes(quotes, request.currency, now_ms, margin_ms)
    .filter((quote) => (quote.price ?? Infinity) <= request.max_price_minor)
    .sort(byPrice);
}

/**
 * The final status of a request that bought nothing (SPEC: price_not_met {lowest_price} |
 * not_available | failed), from what the sellers answered and how the attempts ended.
 */
export function unpurchasedOutcome(input: {
  quotes: readonly QuoteRecord[];
  attempts: readonly Attempt[];
  currency: string;
  max_price_minor: number;
  reason?: string;
}): FinalFields {
  const offers = input.quotes.filter(
    (quote) => quote.available === true && quote.price !== null && (quote.currency === null || quote.currency === input.currency),
  );
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
