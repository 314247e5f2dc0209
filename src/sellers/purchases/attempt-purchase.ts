import { setTimeout as sleep } from 'node:timers/promises';
import { callSettings, placeOrder, requestHold, type SellerHold, type SellerOrder, type SellerResult } from '../client/seller-protocol.js';
import { callSeller, type CallKind } from '../guard/seller-gate.js';
import type { Seller } from '../registry/seller-repository.js';
import type { QuoteRecord } from '../quotes/quote-record.js';
import { fenced, orderIdempotencyKey, type PurchaseContext } from './purchase-context.js';
import { orderCallVerdict, resendDelayMs } from './purchase-outcome.js';
import { failAttempt, insertAttempt, recordSellerHold, type Attempt, type AttemptOutcome, type OrderRoute } from './purchase-repository.js';

export type AttemptResult =
  | { confirmed: SellerOrder; attempt: Attempt }
  /** `outbid_hold`: the seller's hold (within max_price) left for a cheaper next quote; it lapses on its own. */
  | { failed: AttemptOutcome; attempt: Attempt; outbid_hold?: SellerHold }
  /** The order may have been made and no definite answer came in time: the attempt stays `started`. */
  | { unknown: string; attempt: Attempt };

type Failure = { outcome: AttemptOutcome; detail: string; price_minor: number | null; outbid_hold?: SellerHold };

export interface ContinueOptions {
  /** Re-sends of an order of unknown outcome go on until then (at least one send is made). */
  until_ms: number;
  /** A previous run may have sent the order: only a definite answer settles the attempt. */
  order_may_exist: boolean;
  /**
   * The quote of the next seller in line (null: none, or not known): a hold above its own quote and
   * above that one is a price move, and that seller is tried instead.
   */
  next_quote_minor?: number | null;
}

/**
 * Starts an attempt at the seller of `quote`: the attempt row is written before any call. With
 * `hold` (one the seller gave an earlier attempt, left for a cheaper next quote that then did not
 * sell) the attempt orders on it: no second hold is asked for the same quote.
 */
export async function attemptPurchase(
  ctx: PurchaseContext,
  seller: Seller,
  quote: QuoteRecord,
  position: number,
  next_quote_minor: number | null,
  hold?: SellerHold,
): Promise<AttemptResult> {
  const started = await fenced(ctx, 'start_purchase_attempt', async (tx) => {
    const inserted = await insertAttempt(tx, ctx.request, {
      position,
      seller_id: seller.id,
      quote_id: quote.quote_id!,
      quoted_price_minor: quote.price!,
      order_route: seller.supports_holds || hold ? 'hold' : 'quote',
    });
    if (!hold) return inserted;
    await recordSellerHold(tx, ctx.request.id, position, hold);
    return { ...inserted, seller_hold_id: hold.hold_id, held_price_minor: hold.price_minor };
  });
  return continueAttempt(ctx, seller, started, { until_ms: ctx.deadline_ms, order_may_exist: false, next_quote_minor });
}

/**
 * How an attempt orders: as it started, whatever the seller's registration says now. A resumed
 * attempt that ordered by quote and now asked for a hold first would send the order again with
 * another body, or, past the deadline, be taken for one interrupted before ordering: the order the
 * seller made would go unpaid and its wallet hold voided.
 */
export const orderRoute = (attempt: Attempt, seller: Seller): OrderRoute =>
  attempt.order_route ?? (seller.supports_holds ? 'hold' : 'quote');

/**
 * Carries a started attempt to its end from wherever it stands: a hold at the seller if it
 * orders through holds and none is recorded yet, then the order. A resumed attempt (its previous owner
 * died) re-sends the very same order under the same Idempotency-Key, so the seller answers with
 * the order it may already have made instead of making a second one.
 */
export async function continueAttempt(
  ctx: PurchaseContext,
  seller: Seller,
  attempt: Attempt,
  options: ContinueOptions,
): Promise<AttemptResult> {
  if (orderRoute(attempt, seller) === 'quote') return orderAtSeller(ctx, seller, attempt, { quote_id: attempt.quote_id ?? '' }, options);
  if (attempt.seller_hold_id !== null) return orderAtSeller(ctx, seller, attempt, { hold_id: attempt.seller_hold_id }, options);
  const held = await holdAtSeller(ctx, seller, attempt, options);
  if ('outcome' in held) return fail(ctx, attempt, held);
  // The held price, not the quoted one, is what the order is judged against.
  const holding: Attempt = { ...attempt, seller_hold_id: held.hold_id, held_price_minor: held.price_minor };
  return orderAtSeller(ctx, seller, holding, { hold_id: held.hold_id }, options);
}

async function holdAtSeller(
  ctx: PurchaseContext,
  seller: Seller,
  attempt: Attempt,
  options: ContinueOptions,
): Promise<SellerHold | Failure> {
  const held = await guarded(ctx, seller, 'hold', options.until_ms, (timeout_ms, signal) =>
    requestHold(seller, attempt.quote_id ?? '', callSettings(ctx.deps.config.sellers, ctx.agents, timeout_ms, signal)),
  );
  if ('outcome' in held) return held;
  if (held.price_minor > ctx.request.max_price_minor) {
    // The seller's hold lapses on its own: the protocol has no release.
    return {
      outcome: 'price_moved',
      detail: `held at ${held.price_minor}, above the maximum ${ctx.request.max_price_minor}`,
      price_minor: held.price_minor,
    };
  }
  const { next_quote_minor = null } = options;
  const quoted_minor = attempt.quoted_price_minor ?? 0;
  if (held.price_minor > quoted_minor && next_quote_minor !== null && held.price_minor > next_quote_minor) {
    // Bought here, the player would pay more than the next seller asks: the cheapest offer is theirs now.
    return {
      outcome: 'price_moved',
      detail: `held at ${held.price_minor}, above its quote ${quoted_minor} and the next seller's ${next_quote_minor}`,
      price_minor: held.price_minor,
      outbid_hold: held,
    };
  }
  await fenced(ctx, 'record_seller_hold', (tx) => recordSellerHold(tx, ctx.request.id, attempt.position, held));
  return held;
}

// A re-send is not made with less time left than this: its answer could not arrive, and the
// seller's circuit would count the timeout.
const RESEND_TIME_MIN_MS = 100;

/**
 * Sends the order, and while its outcome is unknown (a timeout, a network error, a 5xx: the
 * seller may have made it) re-sends it under the same Idempotency-Key with a growing pause until
 * a definite answer or `until_ms`. No other seller is asked meanwhile: two sellers could
 * otherwise both hold an order for one request.
 */
async function orderAtSeller(
  ctx: PurchaseContext,
  seller: Seller,
  attempt: Attempt,
  order_request: { hold_id: string } | { quote_id: string },
  options: ContinueOptions,
): Promise<AttemptResult> {
  const config = ctx.deps.config.sellers;
  const interval = { min_ms: config.order_resend_interval_min_ms, max_ms: config.order_resend_interval_max_ms };
  const key = orderIdempotencyKey(ctx.request.id, seller.id);
  let unknown = options.order_may_exist ? 'an earlier run sent the order without a definite answer' : undefined;
  for (let sends = 1; ; sends += 1) {
    const ordered = await guarded(ctx, seller, 'order', options.until_ms, (timeout_ms, signal) =>
      placeOrder(seller, order_request, key, callSettings(config, ctx.agents, timeout_ms, signal)),
    );
    if (!('outcome' in ordered)) return { confirmed: ordered, attempt };
    const verdict = orderCallVerdict(ordered.outcome);
    if (verdict !== 'unknown' && unknown === undefined) return fail(ctx, attempt, ordered);
    // After a send without a definite answer a refusal proves nothing either: a seller busy with
    // that first order, or one that checks its hold before the key, refuses a re-send of an order
    // it holds. Only a confirmation settles the attempt; until then it stays `started`.
    if (verdict === 'unknown') unknown = ordered.detail;
    else if (verdict === 'refused') unknown = `a re-send was refused (${ordered.detail}); before: ${unknown}`;
    const left_ms = options.until_ms - Date.now();
    if (left_ms < RESEND_TIME_MIN_MS) {
      return { unknown: `order outcome unknown after ${sends} send(s): ${unknown}; last: ${ordered.detail}`, attempt };
    }
    await sleep(Math.min(resendDelayMs(sends, interval), left_ms - RESEND_TIME_MIN_MS));
  }
}

/** One guarded call with a timeout that ends by the deadline AND within the job's lease; a value or why not. */
async function guarded<T>(
  ctx: PurchaseContext,
  seller: Seller,
  kind: CallKind,
  deadline_ms: number,
  call: (timeout_ms: number, signal: AbortSignal) => Promise<SellerResult<T>>,
): Promise<T | Failure> {
  const until_ms = Math.min(deadline_ms, await ctx.lease.callDeadlineMs(seller.timeout_ms));
  const called = await callSeller(ctx.deps, ctx.slots, kind, seller, (_seller, timeout_ms) => call(timeout_ms, ctx.lease.signal), until_ms);
  if ('skipped' in called) return { outcome: called.skipped, detail: `not called: ${called.skipped}`, price_minor: null };
  const { result } = called;
  if (result.outcome === 'ok') return result.value;
  if (result.outcome === 'conflict') {
    const outcome: AttemptOutcome = result.reason === 'price_changed' ? 'price_moved' : result.reason;
    return { outcome, detail: result.detail, price_minor: result.price_minor };
  }
  return { outcome: failureOutcome(result.reason), detail: `${result.reason}: ${result.detail}`, price_minor: null };
}

function failureOutcome(reason: Extract<SellerResult<never>, { outcome: 'failed' }>['reason']): AttemptOutcome {
  if (reason === 'timeout' || reason === 'rate_limited') return reason;
  // A 4xx refusing the call as made: the seller answered and did not act.
  return reason === 'rejected' ? 'refused' : 'error';
}

async function fail(ctx: PurchaseContext, attempt: Attempt, failure: Failure): Promise<AttemptResult> {
  await fenced(ctx, 'fail_purchase_attempt', (tx) =>
    failAttempt(tx, ctx.request.id, attempt.position, failure.outcome, failure.detail, failure.price_minor),
  );
  const failed: Attempt = {
    ...attempt,
    state: 'failed',
    outcome: failure.outcome,
    detail: failure.detail,
    price_minor: failure.price_minor,
  };
  return { failed: failure.outcome, attempt: failed, ...(failure.outbid_hold ? { outbid_hold: failure.outbid_hold } : {}) };
}
