import { requireScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import type { Unit } from '../../batch/unit.js';
import { DomainError, invalidState, notFound } from '../../domain/errors.js';
import { captureHold, releaseHold } from '../../ledger/holds.js';
import type { AppDeps } from '../../platform/deps.js';
import { finishRequest, pendingRequest } from './purchase-book.js';
import { orderIdempotencyKey } from './purchase-context.js';
import { JOBS, PURCHASE_ATTEMPTS, PURCHASE_REQUESTS, type AttemptRecord } from './purchase-records.js';
import { findPurchaseRequest, listAttempts, type Attempt, type PurchaseRequest } from './purchase-repository.js';
import { purchaseRequestView } from './get-purchase-request.js';

/** A person's decision on a request kept for review, with their note (`settlement`). */
export type PurchaseSettlement =
  | { outcome: 'purchased'; order_id: string; price_minor: number; settlement: string }
  | { outcome: 'not_purchased'; settlement: string };

/**
 * A person settles a purchase request kept for review (they asked the seller): `purchased` captures
 * the seller's order at the price agreed with it, at most the wallet hold (max_price), as a
 * confirmation would have; `not_purchased` voids the hold and ends the request `failed`. Either way the
 * note is kept, and a seller order the request did not capture is no longer reported by
 * reconciliation (the person settled it with the seller). Only a request still pending and in review
 * is settled: one a late seller answer settled first answers 409, and so does another decision on a
 * settled one; the same decision again gets the settled request (a retry after a lost answer).
 */
export async function settlePurchaseReview(deps: AppDeps, actor: Actor, id: string, decision: PurchaseSettlement) {
  requireScope(actor, 'admin');
  const found = await deps.transactions.read(async (tx) => {
    const request = await findPurchaseRequest(tx, id);
    return request && { request, attempts: await listAttempts(tx, id) };
  });
  if (!found) throw notFound(`purchase request ${id}`);
  // PUT is idempotent: the same decision again (a retry after an answer lost) gets the settled request.
  if (!settledAs(found.request, decision)) {
    await settle(deps, found.request, found.attempts, decision);
  }
  return deps.transactions.read(async (tx) => purchaseRequestView((await findPurchaseRequest(tx, id))!, await listAttempts(tx, id)));
}

/** Whether a person already settled `request` with this very decision. */
function settledAs(request: PurchaseRequest, decision: PurchaseSettlement): boolean {
  if (request.review_settlement !== decision.settlement) return false;
  if (decision.outcome === 'not_purchased') return request.status === 'failed';
  return (
    request.status === 'purchased' &&
    request.confirmation?.order_id === decision.order_id &&
    request.final_price_minor === decision.price_minor
  );
}

async function settle(deps: AppDeps, request: PurchaseRequest, attempts: readonly Attempt[], decision: PurchaseSettlement): Promise<void> {
  const { id } = request;
  await deps.writes.run({
    name: 'settle_purchase_review',
    region: request.region,
    needs: { accounts: [request.account_id], holds: [request.hold_id], purchase_requests: [request.id] },
    decide: (unit) => {
      if (pendingRequest(unit, id)?.review_reason == null) throw invalidState(`purchase request ${id} is not pending in review`);
      endRechecks(unit, id);
      const hold = unit.holds.get(request.hold_id);
      const open = attemptInReview(unit, id);
      const note = `settled by a person: ${decision.settlement}`;
      if (decision.outcome === 'not_purchased') {
        unit.table(PURCHASE_REQUESTS).update(id, { review_settlement: decision.settlement });
        if (hold?.status === 'ACTIVE') releaseHold(unit, hold, 'VOIDED');
        if (open?.state === 'started') endAttempt(unit, open, { state: 'failed', outcome: 'refused', detail: note });
        finishRequest(unit, id, { status: 'failed', failure_reason: note });
        return;
      }
      if (!open) throw invalidState(`purchase request ${id} has no order at a seller to settle`);
      if (hold?.status !== 'ACTIVE') throw invalidState(`the wallet hold of purchase request ${id} is ${hold?.status ?? 'missing'}`);
      if (decision.price_minor > hold.amount_minor)
        throw new DomainError('validation_error', `price ${decision.price_minor} is above the wallet hold ${hold.amount_minor}`);
      if (open.state === 'confirmed' && open.order_id !== decision.order_id)
        throw invalidState(`seller ${open.seller_id} confirmed order ${open.order_id}, not ${decision.order_id}`);
      if (open.state === 'started') refuseAboveOffer(attempts, open, decision.price_minor);
      unit.table(PURCHASE_REQUESTS).update(id, { review_settlement: decision.settlement });
      const order = open.state === 'started' ? { order_id: decision.order_id, price_minor: decision.price_minor } : {};
      endAttempt(unit, open, { state: 'confirmed', outcome: null, detail: note, ...order });
      const reference = `${open.seller_id}:${decision.order_id}`;
      captureHold(unit, hold, decision.price_minor, { type: 'seller_purchase', purchase_request_id: id, reference }, deps.config.limits);
      finishRequest(unit, id, {
        status: 'purchased',
        final_price_minor: decision.price_minor,
        seller_id: open.seller_id,
        confirmation: {
          seller_id: open.seller_id,
          order_id: decision.order_id,
          price: decision.price_minor,
          idempotency_key: orderIdempotencyKey(id, open.seller_id),
        },
      });
    },
  });
}

/**
 * An order whose answer never came is paid at most what the seller held or quoted for it, as a
 * confirmation would be (a seller's confirmed price above it is what a person weighs, in review
 * as `confirmed`): a price above it is a typing slip or an unproven claim, not the seller's offer.
 */
function refuseAboveOffer(attempts: readonly Attempt[], open: AttemptRecord, price_minor: number): void {
  const attempt = attempts.find((candidate) => candidate.position === open.position);
  const offer_minor = attempt?.held_price_minor ?? attempt?.quoted_price_minor ?? null;
  if (offer_minor === null || price_minor <= offer_minor) return;
  const offered = attempt?.held_price_minor == null ? 'quoted' : 'held';
  throw new DomainError('validation_error', `price ${price_minor} is above what seller ${open.seller_id} ${offered} (${offer_minor})`);
}

/**
 * No recheck follows a person's settlement, and none may be asking the seller while it is made:
 * an order the seller made on that call would come back to a request already final, unpaid. A
 * recheck in flight (its job leased) is 409, to be settled again once it ends (a moment: a seller
 * call's timeout); otherwise the job ends here (a claim between the read and the commit changes
 * its lease token, and the batch reruns).
 */
function endRechecks(unit: Unit, request_id: string): void {
  const job = unit
    .table(JOBS)
    .all()
    .find((row) => row.subject_id === request_id && row.finished_at === null);
  if (!job) return;
  if (job.lease_expires_at !== null && Date.parse(job.lease_expires_at) > unit.now_ms) {
    throw invalidState(`purchase request ${request_id} is being rechecked with the seller right now; settle it once that ends`);
  }
  unit.table(JOBS).update(job.id, { finished_at: unit.now, lease_token: null, lease_expires_at: null, updated_at: unit.now });
}

/** The attempt a review is about: the one in flight, or the one confirmed at a price not paid. At most one ends the search. */
function attemptInReview(unit: Unit, request_id: string): AttemptRecord | undefined {
  return unit
    .table(PURCHASE_ATTEMPTS)
    .all()
    .find((attempt) => attempt.purchase_request_id === request_id && (attempt.state === 'started' || attempt.state === 'confirmed'));
}

function endAttempt(
  unit: Unit,
  attempt: AttemptRecord,
  fields: Pick<AttemptRecord, 'state' | 'outcome' | 'detail'> & Partial<Pick<AttemptRecord, 'order_id' | 'price_minor'>>,
): void {
  unit.table(PURCHASE_ATTEMPTS).update(`${attempt.purchase_request_id}#${attempt.position}`, {
    ...fields,
    detail: fields.detail?.slice(0, 300) ?? null,
    finished_at: unit.now,
  });
}
