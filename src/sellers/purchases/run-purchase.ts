import type { SellerDeps } from '../seller-services.js';
import type { CallSlots } from '../client/call-slots.js';
import type { JobLease } from '../jobs/job-lease.js';
import type { QuoteCoalescer } from '../quotes/quote-coalescer.js';
import { byPrice, type QuoteRecord } from '../quotes/quote-record.js';
import { findSeller } from '../registry/seller-repository.js';
import { sellerMetrics } from '../seller-metrics.js';
import { attemptPurchase, continueAttempt, type AttemptResult } from './attempt-purchase.js';
import { finishPurchased, finishUnpurchased } from './finish-purchase.js';
import { fenced, type PurchaseContext } from './purchase-context.js';
import { candidates, unpurchasedOutcome } from './purchase-outcome.js';
import { failAttempt, findPurchaseRequest, listAttempts, storeQuotes, type Attempt } from './purchase-repository.js';

export interface PurchaseServices {
  slots: CallSlots;
  coalescer: QuoteCoalescer;
}

// Time kept after the quote phase for at least one hold and order.
const ATTEMPT_RESERVE_MS = 1000;

/**
 * One run of a purchase job, from wherever a previous run stopped: settle an attempt left in
 * flight, collect quotes (once), try sellers cheapest first, then capture or void. Every step is
 * recorded before the next external call, so a run killed at any point is resumed by another
 * pod without buying twice.
 */
export async function runPurchase(deps: SellerDeps, services: PurchaseServices, lease: JobLease): Promise<void> {
  const { job } = lease;
  const request = await deps.transactions.read((tx) => findPurchaseRequest(tx, job.subject_id));
  if (!request) throw new Error(`job ${job.id}: purchase request ${job.subject_id} does not exist`);
  const ctx: PurchaseContext = { deps, slots: services.slots, lease, request, deadline_ms: Date.parse(request.deadline_at) };
  // Already final (a previous run committed its finish but died before its job ended): end the job only.
  if (request.status !== 'pending') return finishUnpurchased(deps, job, request, { status: 'failed' });
  const attempts = await deps.transactions.read((tx) => listAttempts(tx, request.id));
  if (job.claims > deps.config.sellers.job_claims_max) {
    // An attempt left in flight may have bought: it stays `started`, which reconciliation reports for review.
    const in_flight = attempts.some((attempt) => attempt.state === 'started');
    const failure_reason = `gave up after ${job.claims - 1} runs${in_flight ? '; a seller order may have been placed: needs review' : ''}`;
    return finishUnpurchased(deps, job, request, { status: 'failed', failure_reason });
  }
  const resumed = await resumeAttemptInFlight(ctx, attempts);
  if (resumed && 'confirmed' in resumed)
    return finishPurchased(deps, job, request, {
      position: resumed.attempt.position,
      seller_id: resumed.attempt.seller_id,
      order: resumed.confirmed,
    });
  const quotes = request.quotes ?? (await collectQuotes(ctx, services.coalescer));
  const bought = await tryCheapestFirst(ctx, quotes, attempts);
  if (bought) return finishPurchased(deps, job, request, bought);
  const reason = Date.now() >= ctx.deadline_ms ? 'deadline reached before a seller could deliver' : undefined;
  return finishUnpurchased(
    deps,
    job,
    request,
    unpurchasedOutcome({ quotes, attempts, currency: request.currency, max_price_minor: request.max_price_minor, reason }),
  );
}

/** An attempt still `started` belongs to a run that died: finish it first (it may have bought). */
async function resumeAttemptInFlight(ctx: PurchaseContext, attempts: Attempt[]): Promise<AttemptResult | undefined> {
  const index = attempts.findIndex((attempt) => attempt.state === 'started');
  const open = attempts[index];
  if (!open) return undefined;
  const seller = await ctx.deps.transactions.read((tx) => findSeller(tx, open.seller_id));
  const order_never_sent = seller?.supports_holds === true && open.seller_hold_id === null;
  let result: AttemptResult;
  if (!seller) result = await failOpenAttempt(ctx, open, 'interrupted', 'the seller is no longer registered');
  else if (!order_never_sent) {
    // The order may have been sent: confirming it may run past the deadline by one seller timeout.
    result = await continueAttempt(ctx, seller, open, { deadline_ms: Math.max(ctx.deadline_ms, Date.now() + seller.timeout_ms) });
  } else if (Date.now() < ctx.deadline_ms) result = await continueAttempt(ctx, seller, open, { deadline_ms: ctx.deadline_ms });
  else result = await failOpenAttempt(ctx, open, 'deadline', 'interrupted before ordering; the deadline has passed');
  attempts[index] = result.attempt;
  return result;
}

async function failOpenAttempt(
  ctx: PurchaseContext,
  attempt: Attempt,
  outcome: 'interrupted' | 'deadline',
  detail: string,
): Promise<AttemptResult> {
  await fenced(ctx, 'fail_purchase_attempt', (tx) => failAttempt(tx, ctx.request.id, attempt.position, outcome, detail, null));
  return { failed: outcome, attempt: { ...attempt, state: 'failed', outcome, detail } };
}

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

async function tryCheapestFirst(ctx: PurchaseContext, quotes: readonly QuoteRecord[], attempts: Attempt[]) {
  const { quote_expiry_margin_ms } = ctx.deps.config.sellers;
  // A seller is tried once per request (an interrupted attempt was already carried on by resumeAttemptInFlight).
  const settled = new Set(attempts.map((attempt) => attempt.seller_id));
  for (const quote of candidates(quotes, ctx.request, Date.now(), quote_expiry_margin_ms)) {
    if (settled.has(quote.seller_id)) continue;
    if (Date.now() >= ctx.deadline_ms) break;
    const seller = await ctx.deps.transactions.read((tx) => findSeller(tx, quote.seller_id));
    if (!seller?.active) continue;
    const result = await attemptPurchase(ctx, seller, quote, attempts.length + 1);
    attempts.push(result.attempt);
    if ('confirmed' in result) return { position: result.attempt.position, seller_id: seller.id, order: result.confirmed };
  }
  return undefined;
}
