import { callSettings, placeOrder, requestHold, type SellerOrder, type SellerResult } from '../client/seller-protocol.js';
import { callSeller, type CallKind } from '../guard/seller-gate.js';
import type { Seller } from '../registry/seller-repository.js';
import type { QuoteRecord } from '../quotes/quote-record.js';
import { fenced, orderIdempotencyKey, type PurchaseContext } from './purchase-context.js';
import { failAttempt, insertAttempt, recordSellerHold, type Attempt, type AttemptOutcome } from './purchase-repository.js';

export type AttemptResult = { confirmed: SellerOrder; attempt: Attempt } | { failed: AttemptOutcome; attempt: Attempt };

type Failure = { outcome: AttemptOutcome; detail: string; price_minor: number | null };

/** Starts an attempt at the seller of `quote`: the attempt row is written before any call. */
export async function attemptPurchase(ctx: PurchaseContext, seller: Seller, quote: QuoteRecord, position: number): Promise<AttemptResult> {
  const attempt = await fenced(ctx, 'start_purchase_attempt', (tx) =>
    insertAttempt(tx, ctx.request, { position, seller_id: seller.id, quote_id: quote.quote_id!, quoted_price_minor: quote.price! }),
  );
  return continueAttempt(ctx, seller, attempt, { deadline_ms: ctx.deadline_ms });
}

/**
 * Carries a started attempt to its end from wherever it stands: a hold at the seller if it
 * supports holds and none is recorded yet, then the order. A resumed attempt (its previous owner
 * died) re-sends the very same order under the same Idempotency-Key, so the seller answers with
 * the order it may already have made instead of making a second one.
 */
export async function continueAttempt(
  ctx: PurchaseContext,
  seller: Seller,
  attempt: Attempt,
  options: { deadline_ms: number },
): Promise<AttemptResult> {
  let order_request: { hold_id: string } | { quote_id: string } = { quote_id: attempt.quote_id ?? '' };
  if (seller.supports_holds) {
    const hold_id = attempt.seller_hold_id ?? (await holdAtSeller(ctx, seller, attempt, options.deadline_ms));
    if (typeof hold_id !== 'string') return fail(ctx, attempt, hold_id);
    order_request = { hold_id };
  }
  return orderAtSeller(ctx, seller, attempt, order_request, options.deadline_ms);
}

async function holdAtSeller(ctx: PurchaseContext, seller: Seller, attempt: Attempt, deadline_ms: number): Promise<string | Failure> {
  const held = await guarded(ctx, seller, 'hold', deadline_ms, (timeout_ms, signal) =>
    requestHold(seller, attempt.quote_id ?? '', callSettings(ctx.deps.config.sellers, timeout_ms, signal)),
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
  await fenced(ctx, 'record_seller_hold', (tx) => recordSellerHold(tx, ctx.request.id, attempt.position, held));
  return held.hold_id;
}

async function orderAtSeller(
  ctx: PurchaseContext,
  seller: Seller,
  attempt: Attempt,
  order_request: { hold_id: string } | { quote_id: string },
  deadline_ms: number,
): Promise<AttemptResult> {
  const key = orderIdempotencyKey(ctx.request.id, seller.id);
  const send = (until_ms: number) =>
    guarded(ctx, seller, 'order', until_ms, (timeout_ms, signal) =>
      placeOrder(seller, order_request, key, callSettings(ctx.deps.config.sellers, timeout_ms, signal)),
    );
  let ordered = await send(deadline_ms);
  if ('outcome' in ordered && UNKNOWN_OUTCOMES.has(ordered.outcome)) {
    // The order may have been made: ask again under the same key before giving up on this
    // seller. This one confirmation may run past the request deadline (by one seller timeout).
    const retried = await send(Math.max(deadline_ms, Date.now() + seller.timeout_ms));
    ordered = 'outcome' in retried ? { ...retried, detail: `outcome unknown after a retry: ${retried.detail}` } : retried;
  }
  if ('outcome' in ordered) return fail(ctx, attempt, ordered);
  return { confirmed: ordered, attempt };
}

// Failures after which the seller may or may not have acted on the request.
const UNKNOWN_OUTCOMES = new Set<AttemptOutcome>(['timeout', 'error']);

/** One guarded call with a timeout that ends by the deadline AND within the job's lease; a value or why not. */
async function guarded<T>(
  ctx: PurchaseContext,
  seller: Seller,
  kind: CallKind,
  deadline_ms: number,
  call: (timeout_ms: number, signal: AbortSignal) => Promise<SellerResult<T>>,
): Promise<T | Failure> {
  const until_ms = Math.min(deadline_ms, await ctx.lease.callDeadlineMs());
  const called = await callSeller(ctx.deps, ctx.slots, kind, seller, (_seller, timeout_ms) => call(timeout_ms, ctx.lease.signal), until_ms);
  if ('skipped' in called) return { outcome: called.skipped, detail: `not called: ${called.skipped}`, price_minor: null };
  const { result } = called;
  if (result.outcome === 'ok') return result.value;
  if (result.outcome === 'conflict') {
    const outcome: AttemptOutcome = result.reason === 'price_changed' ? 'price_moved' : result.reason;
    return { outcome, detail: result.detail, price_minor: result.price_minor };
  }
  const outcome: AttemptOutcome = result.reason === 'timeout' || result.reason === 'rate_limited' ? result.reason : 'error';
  return { outcome, detail: `${result.reason}: ${result.detail}`, price_minor: null };
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
  return { failed: failure.outcome, attempt: failed };
}
