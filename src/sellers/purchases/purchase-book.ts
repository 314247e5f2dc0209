import type { Unit } from '../../batch/unit.js';
import { invariant } from '../../domain/errors.js';
import { emitEvent } from '../../events/emit.js';
import type { ClaimedJob } from '../jobs/job-queue.js';
import { JOBS, PURCHASE_ATTEMPTS, PURCHASE_REQUESTS } from './purchase-records.js';
import { purchaseRequestView } from './get-purchase-request.js';
import type { FinalFields, PurchaseRequest } from './purchase-repository.js';

/** A purchase request, its attempts and its job as a batch sees and changes them (in memory). */

/** The job's lease is still the one this run claimed (the fence of every write the job makes). */
export function holdsLease(unit: Unit, job: ClaimedJob): boolean {
  const row = unit.table(JOBS).get(job.id);
  return row !== undefined && row.finished_at === null && row.lease_token === job.lease_token;
}

export function finishJob(unit: Unit, job: ClaimedJob): void {
  invariant(holdsLease(unit, job), `job ${job.id} is finished by the holder of its lease only`);
  unit.table(JOBS).update(job.id, { finished_at: unit.now, lease_token: null, lease_expires_at: null, updated_at: unit.now });
}

export function pendingRequest(unit: Unit, id: string): PurchaseRequest | undefined {
  const request = unit.table(PURCHASE_REQUESTS).get(id);
  return request?.status === 'pending' ? request : undefined;
}

export function finishRequest(unit: Unit, id: string, fields: FinalFields): void {
  invariant(pendingRequest(unit, id), `purchase request ${id} is no longer pending`);
  const finished = unit.table(PURCHASE_REQUESTS).update(id, {
    status: fields.status,
    final_price_minor: fields.final_price_minor ?? null,
    seller_id: fields.seller_id ?? null,
    confirmation: fields.confirmation ?? null,
    lowest_price_minor: fields.lowest_price_minor ?? null,
    failure_reason: fields.failure_reason ?? null,
    review_reason: null,
    finished_at: unit.now,
    updated_at: unit.now,
  });
  const attempts = unit
    .table(PURCHASE_ATTEMPTS)
    .all()
    .filter((attempt) => attempt.purchase_request_id === id)
    .sort((a, b) => a.position - b.position);
  if (finished.status !== 'pending') {
    emitEvent(unit, {
      type: `purchase_request.${finished.status}`,
      account_id: finished.account_id,
      data: purchaseRequestView(finished, attempts),
    });
  }
}

/** Flags a pending request for review; it stays pending with its wallet hold. */
export function markForReview(unit: Unit, id: string, reason: string): void {
  invariant(pendingRequest(unit, id), `purchase request ${id} is no longer pending`);
  unit.table(PURCHASE_REQUESTS).update(id, { review_reason: reason.slice(0, 500), updated_at: unit.now });
}

/** The seller made the order: the attempt is confirmed (with `price_moved` when its price is not one we pay). */
export function confirmAttempt(
  unit: Unit,
  request_id: string,
  position: number,
  order: { order_id: string; price_minor: number },
  outcome: 'price_moved' | null,
  detail: string | null,
): void {
  const key = `${request_id}#${position}`;
  invariant(unit.table(PURCHASE_ATTEMPTS).get(key)?.state === 'started', `attempt ${key} is not started`);
  unit.table(PURCHASE_ATTEMPTS).update(key, {
    state: 'confirmed',
    order_id: order.order_id,
    price_minor: order.price_minor,
    outcome,
    detail: detail?.slice(0, 300) ?? null,
    finished_at: unit.now,
  });
}
