import type { SellerDeps } from '../seller-services.js';
import type { CallSlots } from '../client/call-slots.js';
import type { OutboundAgents } from '../client/http-call.js';
import type { SellerHold } from '../client/seller-protocol.js';
import type { JobLease } from '../jobs/job-lease.js';
import type { QuoteCoalescer } from '../quotes/quote-coalescer.js';
import { byPrice, type QuoteRecord } from '../quotes/quote-record.js';
import { findAccount } from '../../accounts/account-repository.js';
import { findSeller, type Seller } from '../registry/seller-repository.js';
import { sellerMetrics } from '../seller-metrics.js';
import { attemptPurchase, continueAttempt, orderRoute, type AttemptResult } from './attempt-purchase.js';
import { finishConfirmed, finishUnpurchased, keepForReview } from './finish-purchase.js';
import { fenced, type PurchaseContext } from './purchase-context.js';
import { candidates, recheckPlan, unpurchasedOutcome } from './purchase-outcome.js';
import { failAttempt, findPurchaseRequest, listAttempts, storeQuotes, type Attempt, type AttemptOutcome } from './purchase-repository.js';

export interface PurchaseServices {
  slots: CallSlots;
  agents: OutboundAgents;
  coalescer: QuoteCoalescer;
}

// Time kept after the quote phase for at least one hold and order.
const ATTEMPT_RESERVE_MS = 1000;

/**
 * One run of a purchase job, from wherever a previous run stopped: settle an attempt left in
 * flight, collect quotes (once), try sellers cheapest first, then capture or void. Every step is
 * recorded before the next external call, so a run killed at any point is resumed by another
 * pod without buying twice. An order whose outcome is unknown stops the search: the request is
 * kept for review with its hold, and the job comes back to ask that seller again.
 */
export async function runPurchase(deps: SellerDeps, services: PurchaseServices, lease: JobLease): Promise<void> {
  const { job } = lease;
  const request = await deps.transactions.read((tx) => findPurchaseRequest(tx, job.subject_id));
  if (!request) throw new Error(`job ${job.id}: purchase request ${job.subject_id} does not exist`);
  const ctx: PurchaseContext = {
    deps,
    slots: services.slots,
    agents: services.agents,
    lease,
    request,
    deadline_ms: Date.parse(request.deadline_at),
  };
  // Already final (a previous run committed its finish but died before its job ended): end the job only.
  if (request.status !== 'pending') return finishUnpurchased(deps, job, request, { status: 'failed' });
  const attempts = await deps.transactions.read((tx) => listAttempts(tx, request.id));
  if (job.claims > deps.config.sellers.job_claims_max) return giveUp(ctx, attempts);
  const resumed = await resumeAttemptInFlight(ctx, attempts);
  if (resumed && !('failed' in resumed)) return conclude(ctx, resumed);
  const quotes = request.quotes ?? (await collectQuotes(ctx, services.coalescer));
  const tried = await tryCheapestFirst(ctx, quotes, attempts);
  if (tried.decisive) return conclude(ctx, tried.decisive);
  if (tried.stopped) return finishUnpurchased(deps, job, request, { status: 'failed', failure_reason: tried.stopped });
  const reason = Date.now() >= ctx.deadline_ms ? 'deadline reached before a seller could deliver' : undefined;
  return finishUnpurchased(
    deps,
    job,
    request,
    unpurchasedOutcome({ quotes, attempts, ...purchaseCurrency(ctx), max_price_minor: request.max_price_minor, reason }),
  );
}

/** An attempt that ended the search: a confirmed order is settled, an unknown outcome is rechecked later. */
async function conclude(ctx: PurchaseContext, result: Exclude<AttemptResult, { failed: AttemptOutcome }>): Promise<void> {
  const { deps, lease, request } = ctx;
  if ('confirmed' in result) return finishConfirmed(deps, lease.job, request, { attempt: result.attempt, order: result.confirmed });
  const plan = recheckPlan(Date.now() - ctx.deadline_ms, deps.config.sellers);
  const stopped = plan === 'stop' ? '; stopped asking: it needs a person' : '';
  return keepForReview(deps, lease.job, request, {
    cause: 'outcome_unknown',
    reason: `seller ${result.attempt.seller_id}: ${result.unknown}${stopped}`,
    attempt_position: result.attempt.position,
    recheck_after_ms: plan === 'stop' ? null : plan.recheck_after_ms,
  });
}

/** Too many failed runs in a row: fail the request, unless a seller order may exist (then a person decides). */
async function giveUp(ctx: PurchaseContext, attempts: readonly Attempt[]): Promise<void> {
  const { deps, lease, request } = ctx;
  const runs = `gave up after ${lease.job.claims - 1} failed runs`;
  const open = attempts.find((attempt) => attempt.state === 'started');
  if (!open) return finishUnpurchased(deps, lease.job, request, { status: 'failed', failure_reason: runs });
  return keepForReview(deps, lease.job, request, {
    cause: 'outcome_unknown',
    reason: `${runs}; the order at seller ${open.seller_id} may have been placed`,
    attempt_position: open.position,
    recheck_after_ms: null,
  });
}

/** An attempt still `started` belongs to a run that died or to a recheck: finish it first (it may have bought). */
async function resumeAttemptInFlight(ctx: PurchaseContext, attempts: Attempt[]): Promise<AttemptResult | undefined> {
  const index = attempts.findIndex((attempt) => attempt.state === 'started');
  const open = attempts[index];
  if (!open) return undefined;
  const seller = await ctx.deps.transactions.read((tx) => findSeller(tx, open.seller_id));
  let result: AttemptResult;
  if (!seller) result = { unknown: 'the seller is no longer registered: it cannot be asked', attempt: open };
  else if (orderRoute(open, seller) === 'quote' || open.seller_hold_id !== null) {
    // The order may have been sent: a definite answer is needed, past the deadline if need be (one seller timeout).
    const until_ms = Math.max(ctx.deadline_ms, Date.now() + seller.timeout_ms);
    result = await continueAttempt(ctx, seller, open, { until_ms, order_may_exist: true });
  } else if (Date.now() < ctx.deadline_ms) {
    result = await continueAttempt(ctx, seller, open, { until_ms: ctx.deadline_ms, order_may_exist: false });
  } else result = await failOpenAttempt(ctx, open, 'interrupted before ordering; the deadline has passed');
  attempts[index] = result.attempt;
  return result;
}

async function failOpenAttempt(ctx: PurchaseContext, attempt: Attempt, detail: string): Promise<AttemptResult> {
  await fenced(ctx, 'fail_purchase_attempt', (tx) => failAttempt(tx, ctx.request.id, attempt.position, 'deadline', detail, null));
  return { failed: 'deadline', attempt: { ...attempt, state: 'failed', outcome: 'deadline', detail } };
}

const purchaseCurrency = (ctx: PurchaseContext) => ({
  currency: ctx.request.currency,
  quote_currency_default: ctx.deps.config.sellers.quote_currency_default,
});

/** Quotes from the fan-out (or shared from a concurrent one), kept on the request for good. */
async function collectQuotes(ctx: PurchaseContext, coalescer: QuoteCoalescer): Promise<QuoteRecord[]> {
  const { sellers: config } = ctx.deps.config;
  const quote_deadline_ms = Math.min(ctx.deadline_ms - ATTEMPT_RESERVE_MS, Date.now() + config.quote_phase_max_ms);
  const set = await coalescer.quotes(ctx.request.product_id, quote_deadline_ms);
  sellerMetrics(ctx.deps.metrics).quote_sets_total.inc({ source: set.source });
  const quotes = recordable(set.quotes, config.quotes_recorded_max);
  await fenced(ctx, 'store_purchase_quotes', (tx) => storeQuotes(tx, ctx.request, quotes));
  return quotes;
}

/** At most `max` quotes, the most useful first: available by price, then unavailable, then failures. */
function recordable(quotes: readonly QuoteRecord[], max: number): QuoteRecord[] {
  const group = (quote: QuoteRecord) => (quote.available === true ? 0 : quote.available === false ? 1 : 2);
  return [...quotes]
    .sort((a, b) => group(a) - group(b) || (group(a) === 0 ? byPrice(a, b) : a.seller_id < b.seller_id ? -1 : 1))
    .slice(0, max);
}

/**
 * Why no new order may be placed for the request now: its account was frozen or closed since it
 * was made (SPEC §10: no money leaves it). An order already sent is still settled (it is owed).
 */
async function orderRefusal(ctx: PurchaseContext): Promise<string | undefined> {
  const account = await ctx.deps.transactions.read((tx) => findAccount(tx, ctx.request.account_id));
  return account?.status === 'active' ? undefined : `the account is ${account?.status ?? 'gone'}: no order was placed`;
}

type Tried = { decisive?: Exclude<AttemptResult, { failed: AttemptOutcome }>; stopped?: string };

/**
 * Tries sellers cheapest first until one confirms or leaves its order's outcome unknown (each
 * ends the search), or the account may no longer pay.
 */
async function tryCheapestFirst(ctx: PurchaseContext, quotes: readonly QuoteRecord[], attempts: Attempt[]): Promise<Tried> {
  const { quote_expiry_margin_ms } = ctx.deps.config.sellers;
  // A seller is tried once per request (an interrupted attempt was already carried on by resumeAttemptInFlight).
  const settled = new Set(attempts.map((attempt) => attempt.seller_id));
  const wanted = { ...purchaseCurrency(ctx), max_price_minor: ctx.request.max_price_minor };
  const untried = candidates(quotes, wanted, Date.now(), quote_expiry_margin_ms).filter((quote) => !settled.has(quote.seller_id));
  let outbid: { seller: Seller; quote: QuoteRecord; hold: SellerHold } | undefined;
  for (const [index, quote] of untried.entries()) {
    if (Date.now() >= ctx.deadline_ms) break;
    const seller = await ctx.deps.transactions.read((tx) => findSeller(tx, quote.seller_id));
    if (!seller?.active) continue;
    const stopped = await orderRefusal(ctx);
    if (stopped) return { stopped };
    const result = await attemptPurchase(ctx, seller, quote, attempts.length + 1, untried[index + 1]?.price ?? null);
    attempts.push(result.attempt);
    if (!('failed' in result)) return { decisive: result };
    const hold = result.outbid_hold;
    if (hold && hold.price_minor < (outbid?.hold.price_minor ?? Number.POSITIVE_INFINITY)) outbid = { seller, quote, hold };
  }
  // The cheapest hold left for a cheaper next quote (within max_price) is ordered on when no cheaper
  // seller sold (inactive, out of stock): the player would rather pay it than get nothing. On that
  // hold, not a new one: a second hold on one quote could find its last unit held by the first.
  if (!outbid || Date.now() >= ctx.deadline_ms) return {};
  const stopped = await orderRefusal(ctx);
  if (stopped) return { stopped };
  const result = await attemptPurchase(ctx, outbid.seller, outbid.quote, attempts.length + 1, null, outbid.hold);
  attempts.push(result.attempt);
  return 'failed' in result ? {} : { decisive: result };
}
