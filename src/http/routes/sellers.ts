import Joi from 'joi';
import { LEASE_CALL_RESERVE_MS } from '../../sellers/jobs/job-lease.js';
import { amountSchema, currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { createPurchaseRequest, type Accepted } from '../../sellers/purchases/create-purchase-request.js';
import { accountPurchaseRequests, getPurchaseRequest, purchaseRequestsInReview } from '../../sellers/purchases/get-purchase-request.js';
import { putSeller } from '../../sellers/registry/put-seller.js';
import { settlePurchaseReview } from '../../sellers/purchases/settle-purchase-review.js';
import { getSeller, listSellers } from '../../sellers/registry/read-sellers.js';
import { sellerViewSchema } from '../../sellers/registry/seller-view.js';
import { acceptedSchema } from '../../sellers/purchases/create-purchase-request.js';
import { purchaseRequestViewSchema } from '../../sellers/purchases/get-purchase-request.js';
import { accountPageRoute, defineRoute, reviewQueueRoute, type RouteSpec } from '../route.js';
import { accountIdSchema, pageQuery, pageSchema, partnerUrlSchema, spendingRefusals, textSchema, uuidParams } from './schemas.js';

const SELLER_ID = /^[A-Za-z0-9_-]{1,64}$/;
// Product ids travel in seller URLs: a conservative alphabet keeps them unambiguous there.
const PRODUCT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// Fields of a settlement that captures an order: required with it, refused without.
// biome-ignore lint/suspicious/noThenProperty: Joi names a condition's branch `then`; this object is no thenable
const PURCHASED_ONLY = { is: 'purchased', then: Joi.required(), otherwise: Joi.forbidden() };
const sellerParams = Joi.object({ id: Joi.string().pattern(SELLER_ID).required() });
const SELLER_URL_LENGTH_MAX = 2048;

export function sellerRoutes(config: Config): RouteSpec[] {
  const sellerBody = Joi.object({
    // Sellers are the operator's own configuration, inside its network or not.
    base_url: partnerUrlSchema({ length_max: SELLER_URL_LENGTH_MAX, private_urls: 'allow' }).required(),
    rate_limit_per_minute: Joi.number().integer().strict().min(1).max(1_000_000).required(),
    // A call is made within its job's lease (JOB_LEASE_MS): a longer timeout could never be given.
    timeout_ms: Joi.number()
      .integer()
      .strict()
      .min(10)
      .max(Math.min(60_000, config.sellers.job_lease_ms - LEASE_CALL_RESERVE_MS))
      .required(),
    supports_holds: Joi.boolean().strict().required(),
    active: Joi.boolean().strict().default(true),
  });
  const adminResponses = { 401: 'Unauthenticated', 403: 'Requires admin' };
  return [
    defineRoute({
      operation_id: 'putSeller',
      method: 'put',
      path: '/v1/sellers/{id}',
      summary: 'Register or replace a seller (admin); 201 when created, 200 when replaced',
      tag: 'sellers',
      auth: 'bearer',
      params: sellerParams,
      body: sellerBody,
      responses: { 200: 'The replaced seller with its health', 201: 'The new seller', 400: 'Invalid request', ...adminResponses },
      response_schema: sellerViewSchema,
      handler: async (ctx, { actor, params, body }) => {
        const { created, seller } = await putSeller(ctx.state.deps, actor, params.id, {
          ...body,
          base_url: body.base_url.replace(/\/+$/, ''),
        });
        return { status: created ? 201 : 200, body: seller };
      },
    }),
    defineRoute({
      operation_id: 'getSeller',
      method: 'get',
      path: '/v1/sellers/{id}',
      summary: 'A seller and its health: circuit state, recent error rate and latency, calls in the current rate window (admin)',
      tag: 'sellers',
      auth: 'bearer',
      params: sellerParams,
      responses: { 200: 'The seller', 404: 'No such seller', ...adminResponses },
      response_schema: sellerViewSchema,
      handler: async (ctx, { actor, params }) => ({ status: 200, body: await getSeller(ctx.state.deps, actor, params.id) }),
    }),
    defineRoute({
      operation_id: 'listSellers',
      method: 'get',
      path: '/v1/sellers',
      summary: 'Sellers with their health, newest first (admin)',
      tag: 'sellers',
      auth: 'bearer',
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default),
      responses: { 200: 'A page of sellers', 400: 'Invalid query', ...adminResponses },
      response_schema: pageSchema('SellerPage', sellerViewSchema),
      handler: async (ctx, { actor, query }) => ({ status: 200, body: await listSellers(ctx.state.deps, actor, query) }),
    }),
    defineRoute({
      operation_id: 'createPurchaseRequest',
      method: 'post',
      path: '/v1/purchase-requests',
      summary: 'Buy a product from the cheapest seller at or below max_price (the owner, or credits:write); answered 202, poll status_url',
      tag: 'purchase-requests',
      auth: 'bearer',
      idempotent: { success_status: 202 },
      body: Joi.object({
        account_id: accountIdSchema.required(),
        product_id: Joi.string().pattern(PRODUCT_ID).required(),
        max_price: amountSchema(config.limits.amount_max_minor).required(),
        currency: currencySchema(config.currencies).required(),
      }),
      responses: {
        202: { description: 'Accepted: poll status_url', headers: { Location: 'status_url' } },
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        ...spendingRefusals(),
        503: 'Retry with the same key',
      },
      response_schema: acceptedSchema,
      present: (_deps, answer) =>
        answer.status === 202 ? { ...answer, headers: { Location: (JSON.parse(answer.body as string) as Accepted).status_url } } : answer,
      handler: async (ctx, { actor, body, idempotency }) => createPurchaseRequest(ctx.state.deps, actor, body, idempotency),
    }),
    defineRoute({
      operation_id: 'getPurchaseRequest',
      method: 'get',
      path: '/v1/purchase-requests/{id}',
      summary:
        'Status of a purchase request (pending with needs_review and review_reason while kept for review), the quotes and the attempts',
      tag: 'purchase-requests',
      auth: 'bearer',
      params: uuidParams,
      responses: { 200: 'The purchase request', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'Not found' },
      response_schema: purchaseRequestViewSchema,
      handler: async (ctx, { actor, params }) => ({ status: 200, body: await getPurchaseRequest(ctx.state.deps, actor, params.id) }),
    }),
    accountPageRoute({
      operation_id: 'listAccountPurchaseRequests',
      list: 'purchase-requests',
      summary: "The account's purchase requests with their quotes and attempts, newest first",
      tag: 'purchase-requests',
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default),
      page: ['PurchaseRequestPage', purchaseRequestViewSchema],
      read: accountPurchaseRequests,
    }),
    defineRoute({
      operation_id: 'settlePurchaseRequestReview',
      method: 'put',
      path: '/v1/purchase-requests/{id}/review',
      summary:
        'Settle a purchase request kept for review (admin), as agreed with the seller: `purchased` captures its order at `price` ' +
        '(at most the wallet hold), `not_purchased` voids the hold and ends it `failed`; the note is kept as review_settlement',
      tag: 'purchase-requests',
      auth: 'bearer',
      params: uuidParams,
      body: Joi.object({
        outcome: Joi.string().valid('purchased', 'not_purchased').required(),
        settlement: textSchema(1000).required().description('How the person settled it with the seller'),
        order_id: Joi.string().min(1).max(255).when('outcome', PURCHASED_ONLY).description("purchased only: the seller's order id"),
        price: amountSchema(config.limits.amount_max_minor)
          .when('outcome', PURCHASED_ONLY)
          .description('purchased only: the price agreed with the seller, in minor units'),
      }),
      responses: {
        200: 'The settled purchase request',
        400: 'Invalid request (a price above the wallet hold)',
        ...adminResponses,
        404: 'Not found',
        409: {
          description: 'Not pending in review, no order to settle, or another order id than the confirmed one',
          codes: ['invalid_state'],
        },
      },
      response_schema: purchaseRequestViewSchema,
      handler: async (ctx, { actor, params, body }) => {
        const decision =
          body.outcome === 'purchased'
            ? { outcome: 'purchased' as const, order_id: body.order_id, price_minor: body.price, settlement: body.settlement }
            : { outcome: 'not_purchased' as const, settlement: body.settlement };
        return { status: 200, body: await settlePurchaseReview(ctx.state.deps, actor, params.id, decision) };
      },
    }),
    reviewQueueRoute({
      operation_id: 'listPurchaseRequestsInReview',
      path: '/v1/admin/review/purchase-requests',
      summary: 'Purchase requests kept pending for a person or a late seller answer, their wallet holds kept, newest first (admin)',
      tag: 'purchase-requests',
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default),
      page: ['PurchaseRequestReviewPage', purchaseRequestViewSchema],
      read: purchaseRequestsInReview,
    }),
  ];
}
