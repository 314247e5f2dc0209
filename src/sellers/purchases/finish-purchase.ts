import { captureHold, releaseHold } from '../../ledger/holds.js';
import type { ClaimedJob } from '../jobs/job-queue.js';
import { assertLeaseIn, finishJobIn, LeaseLost, rescheduleJobIn } from '../jobs/job-queue.js';
import type { AppDeps } from '../../platform/deps.js';
import type { SellerOrder } from '../client/seller-protocol.js';
import { sellerMetrics } from '../seller-metrics.js';
import { invariant } from '../../domain/errors.js';
import { orderIdempotencyKey } from './purchase-context.js';
import { settleConfirmedOrder, type ReviewCause } from './purchase-outcome.js';
import { confirmAttempt, finishJob, finishRequest, holdsLease, markForReview, pendingRequest } from './purchase-book.js';
import {
  findPurchaseRequest,
  markForReview as markForReviewIn,
  noteAttempt,
  type Attempt,
  type FinalFields,
  type PurchaseRequest,
} from './purchase-repository.js';

type Deps = Pick<AppDeps, 'transactions' | 'writes' | 'config' | 'logger' | 'metrics'>;
/** A request this run flagged for review; `first`: it was not flagged before. */
type Reviewed = { review: ReviewCause; first: boolean };

/**
 * A seller confirmed an order: in ONE serializable transaction the attempt is confirmed and the
 * pure rule (settleConfirmedOrder) decides. Captured: the order price goes from the wallet hold
 * to @sellers (the rest of the hold released), the request becomes `purchased` and the job ends.
 * Not capturable (a price above the held or quoted one, a hold no longer active): the request
 * stays pending for review with its hold, and the job ends without buying elsewhere. The hold
 * can be captured only while ACTIVE and the request finished only while pending, so a retried
 * or duplicated finish captures nothing twice.
 */
export async function finishConfirmed(
  deps: Deps,
  job: ClaimedJob,
  request: PurchaseRequest,
  bought: { attempt: Attempt; order: SellerOrder },
): Promise<void> {
  const { attempt, order } = bought;
  const settled = await deps.writes.run({
    name: 'finish_purchase',
    region: request.region,
    needs: { accounts: [request.account_id], holds: [request.hold_id], purchase_requests: [request.id] },
    decide: (unit): Reviewed | { status: 'purchased' } | 'lease_lost' | undefined => {
      if (!holdsLease(unit, job)) return 'lease_lost';
      const current = pendingRequest(unit, request.id);
      if (!current) {
        finishJob(unit, job);
        return undefined;
      }
      const hold = unit.holds.get(request.hold_id);
      const settlement = settleConfirmedOrder({ attempt, order, max_price_minor: request.max_price_minor, hold_status: hold?.status });
      if (settlement.kind === 'review') {
        confirmAttempt(unit, request.id, attempt.position, order, settlement.attempt_outcome, settlement.reason);
        markForReview(unit, request.id, settlement.reason);
        finishJob(unit, job);
        return { review: settlement.cause, first: current.review_reason === null };
      }
      invariant(hold, `hold ${request.hold_id} is missing`);
      confirmAttempt(unit, request.id, attempt.position, order, null, null);
      captureHold(
        unit,
        hold,
        settlement.charged_minor,
        { type: 'seller_purchase', purchase_request_id: request.id, reference: `${attempt.seller_id}:${order.order_id}` },
        deps.config.limits,
      );
      finishRequest(unit, request.id, {
        status: 'purchased',
        final_price_minor: settlement.charged_minor,
        seller_id: attempt.seller_id,
        confirmation: {
          seller_id: attempt.seller_id,
          order_id: order.order_id,
          price: order.price_minor,
          idempotency_key: orderIdempotencyKey(request.id, attempt.seller_id),
        },
      });
      finishJob(unit, job);
      return { status: 'purchased' };
    },
  });
  if (settled === 'lease_lost') throw new LeaseLost(job.id);
  if (settled && 'review' in settled) return countReview(deps, request, settled);
  countFinished(deps, request, settled?.status);
}

/**
 * The request stays pending with its wallet hold, flagged for review: the job comes back after
 * `recheck_after_ms` to ask the seller again (any pod may run it), or ends (null) and leaves the
 * request to a person. The attempt in flight records what is known of it.
 */
export async function keepForReview(
  deps: Deps,
  job: ClaimedJob,
  request: PurchaseRequest,
  review: { cause: ReviewCause; reason: string; attempt_position: number; recheck_after_ms: number | null },
): Promise<void> {
  const marked = await deps.transactions.run('review_purchase', async (tx): Promise<Reviewed | undefined> => {
    await assertLeaseIn(tx, job);
    const current = await findPurchaseRequest(tx, request.id, { for_update: true });
    if (current?.status !== 'pending') return finishJobIn(tx, job).then(() => undefined);
    await markForReviewIn(tx, request.id, review.reason);
    await noteAttempt(tx, request.id, review.attempt_position, review.reason);
    if (review.recheck_after_ms === null) await finishJobIn(tx, job);
    else await rescheduleJobIn(tx, job, review.recheck_after_ms, review.reason);
    return { review: review.cause, first: current.review_reason === null };
  });
  if (marked) countReview(deps, request, marked);
}

/** Nothing bought: the wallet hold is voided and the request gets its final status, in one operation. */
export async function finishUnpurchased(deps: Deps, job: ClaimedJob, request: PurchaseRequest, outcome: FinalFields): Promise<void> {
  const status = await deps.writes.run({
    name: 'finish_purchase',
    region: request.region,
    needs: { accounts: [request.account_id], holds: [request.hold_id], purchase_requests: [request.id] },
    decide: (unit) => {
      if (!holdsLease(unit, job)) return 'lease_lost' as const;
      if (!pendingRequest(unit, request.id)) {
        finishJob(unit, job);
        return undefined;
      }
      const hold = unit.holds.get(request.hold_id);
      if (hold?.status === 'ACTIVE') releaseHold(unit, hold, 'VOIDED');
      finishRequest(unit, request.id, outcome);
      finishJob(unit, job);
      return outcome.status;
    },
  });
  if (status === 'lease_lost') throw new LeaseLost(job.id);
  countFinished(deps, request, status);
}

/** After the commit: a request flagged for review by this run (counted and logged once, when first flagged). */
function countReview(deps: Deps, request: PurchaseRequest, marked: Reviewed): void {
  if (!marked.first) return;
  sellerMetrics(deps.metrics).purchase_requests_review_total.inc({ cause: marked.review });
  deps.logger.warn({ purchase_request_id: request.id, cause: marked.review }, 'purchase request kept for review with its wallet hold');
}

/** After the commit: a request finished by this run (undefined: it was already final). */
function countFinished(deps: Deps, request: PurchaseRequest, status: string | undefined): void {
  if (status === undefined) return;
  const metrics = sellerMetrics(deps.metrics);
  metrics.purchase_requests_finished_total.inc({ status });
  metrics.purchase_request_duration_seconds.observe({ status }, (Date.now() - Date.parse(request.created_at)) / 1000);
}
