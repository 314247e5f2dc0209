import type { Actor } from '../../auth/tokens.js';
import { isVisibleTo, requireReadScope } from '../../auth/access.js';
import { notFound } from '../../domain/errors.js';
import type { AppDeps } from '../../platform/deps.js';
import { findPurchaseRequest, listAttempts, type Attempt, type PurchaseRequest } from './purchase-repository.js';

export const statusUrl = (id: string) => `/v1/purchase-requests/${id}`;

/** A purchase request as its owner sees it: status, review flag, final fields when final, quotes and attempts. */
export async function getPurchaseRequest(deps: AppDeps, actor: Actor, id: string) {
  requireReadScope(actor, 'money');
  const { request, attempts } = await deps.transactions.read(async (tx) => {
    const found = await findPurchaseRequest(tx, id);
    return { request: found, attempts: found ? await listAttempts(tx, id) : [] };
  });
  // A player asking for someone else's request learns nothing, not even that it exists.
  if (!request || !isVisibleTo(actor, request.account_id)) throw notFound(`purchase request ${id}`);
  return purchaseRequestView(request, attempts);
}

function finalFields(request: PurchaseRequest) {
  switch (request.status) {
    case 'purchased':
      return { final_price: request.final_price_minor, seller_id: request.seller_id, confirmation: request.confirmation };
    case 'price_not_met':
      return { lowest_price: request.lowest_price_minor };
    case 'not_available':
    case 'failed':
      return { reason: request.failure_reason };
    case 'pending':
      return {};
  }
}

export function purchaseRequestView(request: PurchaseRequest, attempts: readonly Attempt[]) {
  return {
    id: request.id,
    status: request.status,
    // Pending and waiting for a person or a seller's late answer, its wallet hold kept (README "Seller aggregator").
    needs_review: request.review_reason !== null,
    review_reason: request.review_reason,
    status_url: statusUrl(request.id),
    account_id: request.account_id,
    product_id: request.product_id,
    max_price: request.max_price_minor,
    currency: request.currency,
    hold_id: request.hold_id,
    ...finalFields(request),
    quotes: (request.quotes ?? []).map((quote) => ({
      seller_id: quote.seller_id,
      available: quote.available,
      price: quote.price,
      currency: quote.currency,
      latency_ms: quote.latency_ms,
      error: quote.error,
      shared: quote.cached,
    })),
    attempts: attempts.map((attempt) => ({
      position: attempt.position,
      seller_id: attempt.seller_id,
      quoted_price: attempt.quoted_price_minor,
      held_price: attempt.held_price_minor,
      state: attempt.state,
      // A confirmed attempt has an outcome only when the order was not paid (price_moved).
      outcome: attempt.outcome ?? (attempt.state === 'confirmed' ? 'confirmed' : null),
      detail: attempt.detail,
      order_id: attempt.order_id,
      price: attempt.price_minor,
      started_at: attempt.started_at,
      finished_at: attempt.finished_at,
    })),
    deadline_at: request.deadline_at,
    created_at: request.created_at,
    updated_at: request.updated_at,
    finished_at: request.finished_at,
  };
}
