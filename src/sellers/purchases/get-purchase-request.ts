import Joi from 'joi';
import type { Actor } from '../../auth/tokens.js';
import { readAccountPage } from '../../accounts/account-pages.js';
import { isVisibleTo, requireReadScope, requireScope } from '../../auth/access.js';
import { newestFirstPage, type NewestFirstQuery } from '../../db/keyset-page.js';
import type { SqlTx } from '../../db/sql.js';
import { notFound } from '../../domain/errors.js';
import type { AppDeps } from '../../platform/deps.js';
import { idSchema, minorSchema, timestampSchema, unionMembers, viewPart, viewSchema, type ViewKeys } from '../../platform/view-schema.js';
import {
  findPurchaseRequest,
  listAttempts,
  listAttemptsOf,
  toRequest,
  type Attempt,
  type AttemptOutcome,
  type PurchaseRequest,
  type PurchaseStatus,
} from './purchase-repository.js';

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

type Page = { limit: number; cursor?: string };

/** A page of purchase requests with their attempts, newest first. */
async function requestPage(tx: SqlTx, query: Pick<NewestFirstQuery, 'condition' | 'params'>, page: Page) {
  const { rows, next_cursor } = await newestFirstPage<Parameters<typeof toRequest>[0]>(
    tx,
    { ...query, columns: '*', table: 'purchase_requests', time_column: 'created_at', id_type: 'uuid' },
    page,
  );
  const requests = rows.map(toRequest);
  const attempts = await listAttemptsOf(
    tx,
    requests.map((request) => request.id),
  );
  return { data: requests.map((request) => purchaseRequestView(request, attempts.get(request.id) ?? [])), next_cursor };
}

/** An account's purchase requests, newest first. */
export async function accountPurchaseRequests(deps: AppDeps, actor: Actor, account_id: string, page: Page) {
  return readAccountPage(deps, actor, account_id, 'list_purchase_requests', (tx) =>
    requestPage(tx, { condition: 'account_id = ?', params: [account_id] }, page),
  );
}

/** Purchase requests kept pending for a person or a late seller answer, newest first (admin). */
export async function purchaseRequestsInReview(deps: AppDeps, actor: Actor, page: Page) {
  requireScope(actor, 'admin');
  return deps.transactions.run(
    'list_purchase_requests_in_review',
    (tx) => requestPage(tx, { condition: 'review_reason IS NOT NULL', params: [] }, page),
    {
      read_only_snapshot: true,
    },
  );
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
    review_settlement: request.review_settlement,
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

const attemptOutcomes = unionMembers<AttemptOutcome>({
  out_of_stock: true,
  quote_expired: true,
  hold_expired: true,
  price_moved: true,
  refused: true,
  timeout: true,
  error: true,
  rate_limited: true,
  circuit_open: true,
  busy: true,
  deadline: true,
  interrupted: true,
});

export const purchaseRequestViewSchema = viewSchema('PurchaseRequest', {
  id: idSchema,
  status: Joi.string().valid(
    ...unionMembers<PurchaseStatus>({ pending: true, purchased: true, price_not_met: true, not_available: true, failed: true }),
  ),
  needs_review: Joi.boolean().description('Pending and waiting for a person or a late seller answer, its wallet hold kept'),
  review_reason: Joi.string().allow(null),
  review_settlement: Joi.string().allow(null).description("A person's note on how they settled the request after review"),
  status_url: Joi.string(),
  account_id: Joi.string(),
  product_id: Joi.string(),
  max_price: minorSchema,
  currency: Joi.string(),
  hold_id: idSchema,
  final_price: minorSchema.allow(null).optional().description('purchased only'),
  seller_id: Joi.string().allow(null).optional().description('purchased only'),
  confirmation: viewPart({ seller_id: Joi.string(), order_id: Joi.string(), price: minorSchema, idempotency_key: Joi.string() })
    .allow(null)
    .optional()
    .description("purchased only: the seller's order"),
  lowest_price: minorSchema.allow(null).optional().description('price_not_met only: the cheapest available quote'),
  reason: Joi.string().allow(null).optional().description('not_available and failed only'),
  quotes: Joi.array().items(
    viewPart({
      seller_id: Joi.string(),
      available: Joi.boolean().allow(null).description('null when the seller gave no usable answer (see error)'),
      price: minorSchema.allow(null),
      currency: Joi.string().allow(null),
      latency_ms: Joi.number().allow(null),
      error: Joi.string().allow(null),
      shared: Joi.boolean().description("Shared from a concurrent request's fan-out"),
    }),
  ),
  attempts: Joi.array().items(
    viewPart({
      position: Joi.number().integer(),
      seller_id: Joi.string(),
      quoted_price: minorSchema.allow(null),
      held_price: minorSchema.allow(null),
      state: Joi.string().valid(...unionMembers<Attempt['state']>({ started: true, confirmed: true, failed: true })),
      outcome: Joi.string()
        .valid(...attemptOutcomes, 'confirmed')
        .allow(null),
      detail: Joi.string().allow(null),
      order_id: Joi.string().allow(null),
      price: minorSchema.allow(null),
      started_at: timestampSchema,
      finished_at: timestampSchema.allow(null),
    }),
  ),
  deadline_at: timestampSchema,
  created_at: timestampSchema,
  updated_at: timestampSchema,
  finished_at: timestampSchema.allow(null),
} satisfies ViewKeys<ReturnType<typeof purchaseRequestView>>);
