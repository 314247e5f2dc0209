import Joi from 'joi';
import { amountSchema, currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { invariant } from '../../domain/errors.js';
import { transactionViewSchema } from '../../ledger/views.js';
import { createTopup } from '../../shop/topups/create-topup.js';
import { recoverChargebackLoss } from '../../shop/topups/recover-chargeback-loss.js';
import { pspEventReceiptSchema, receivePspEvent } from '../../shop/topups/receive-psp-event.js';
import { settlePspEventReview } from '../../shop/topups/settle-psp-event-review.js';
import { createStripeTopup } from '../../shop/topups/stripe/create-stripe-topup.js';
import { receiveStripeEvent } from '../../shop/topups/stripe/receive-stripe-event.js';
import { accountTopups, getTopup, heldPspEventSchema, heldPspEvents } from '../../shop/topups/topup-reads.js';
import { pspEventReviewSchema, topupViewSchema } from '../../shop/topups/topup-repository.js';
import {
  accountPageRoute,
  defineRoute,
  readByIdRoute,
  reviewQueueRoute,
  reviewSettlementRoute,
  signedCallbackRoute,
  type RouteSpec,
  signedBodyOf,
} from '../route.js';
import { accountIdSchema, metadataSchema, pageQuery, textSchema, uuidParams } from './schemas.js';

export function topupRoutes(config: Config): RouteSpec[] {
  const stripe = config.psp_provider === 'stripe';
  return [
    defineRoute({
      operation_id: 'createTopup',
      method: 'post',
      path: '/v1/topups',
      summary: stripe
        ? 'Start a pay-in through Stripe: a PaymentIntent whose client secret the client confirms; the wallet is credited when Stripe says'
        : 'Start a pay-in through the PSP; the wallet is credited when the PSP confirms',
      tag: 'topups',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      body: Joi.object({
        account_id: accountIdSchema.required(),
        amount: amountSchema(config.limits.amount_max_minor).required(),
        currency: currencySchema(stripe ? config.stripe.currencies : config.currencies).required(),
        metadata: metadataSchema(config.wallet),
      }),
      responses: {
        201: stripe ? 'The PENDING top-up with its PaymentIntent (payment.client_secret)' : 'The PENDING top-up',
        400: stripe ? 'Invalid request, or a payment Stripe refuses (below its minimum amount, ...)' : 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such account',
        409: { description: 'The account is closed', codes: ['account_closed'] },
        422: { description: "The KYC tier's maximum balance, or Idempotency-Key reused", codes: ['limit_exceeded'] },
      },
      response_schema: topupViewSchema,
      handler: async (ctx, { actor, body, idempotency }) => {
        const { deps } = ctx.state;
        if (!stripe) return createTopup(deps, actor, body, idempotency);
        invariant(deps.stripe, 'PSP_PROVIDER=stripe without a Stripe client');
        return createStripeTopup(deps, deps.stripe, actor, body, idempotency);
      },
    }),
    readByIdRoute({
      operation_id: 'getTopup',
      path: '/v1/topups/{id}',
      summary: 'A top-up (PENDING, SUCCEEDED, FAILED or REVERSED) with its reversals, PSP events and what is held for review',
      tag: 'topups',
      read: getTopup,
      response_schema: topupViewSchema,
    }),
    accountPageRoute({
      operation_id: 'listAccountTopups',
      list: 'topups',
      summary: "The account's top-ups, newest first, each as GET /v1/topups/{id} shows it",
      tag: 'topups',
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default),
      page: ['TopupPage', topupViewSchema],
      read: accountTopups,
    }),
    defineRoute({
      operation_id: 'recoverChargebackLoss',
      method: 'post',
      path: '/v1/topups/{id}/recover',
      summary:
        "Take back what a chargeback could not (compliance:write): the loss booked on @chargebacks, from the wallet's " +
        'available money (a hold released since, a purchase refunded), frozen or not; all that is available, or `amount`',
      tag: 'topups',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      params: uuidParams,
      body: Joi.object({ amount: amountSchema(config.limits.amount_max_minor), reason: textSchema(500).required() }),
      responses: {
        201: 'The chargeback_recovery transaction: the wallet -amount, @chargebacks +amount',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such top-up',
        409: {
          description: 'No loss left to recover, more asked than is left, nothing available, or the account is closed',
          codes: ['invalid_state', 'insufficient_funds', 'account_closed'],
        },
        503: 'Retry with the same key',
      },
      response_schema: transactionViewSchema,
      handler: async (ctx, { actor, params, body, idempotency }) =>
        recoverChargebackLoss(ctx.state.deps, actor, { topup_id: params.id, ...body }, idempotency),
    }),
    reviewQueueRoute({
      operation_id: 'listHeldPspEvents',
      path: '/v1/admin/review/psp-events',
      summary: 'PSP events held for review and not settled yet, newest first, with the top-up each names (admin)',
      tag: 'topups',
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default),
      page: ['HeldPspEventPage', heldPspEventSchema],
      read: heldPspEvents,
    }),
    signedCallbackRoute({
      operation_id: 'receivePspEvent',
      path: '/v1/psp/events',
      summary:
        'PSP callback, signed with Psp-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "t.body">; ' +
        '200 for every validly signed body: conflicts and malformed bodies are recorded, never refused; a redelivery gets its first answer',
      tag: 'topups',
      auth: 'psp_signature',
      signature_header: 'Psp-Signature',
      receive: receivePspEvent,
      response_schema: pspEventReceiptSchema,
    }),
    ...(stripe ? [stripeEventsRoute()] : []),
    reviewSettlementRoute({
      operation_id: 'settlePspEventReview',
      path: '/v1/psp/events/{id}/review',
      summary:
        'Settle a PSP event held for review (admin): {id} is its log_id (reconciliation, or review on the top-up); ' +
        'the note says what was done; nothing moves, reconciliation stops reporting it',
      tag: 'topups',
      settle: settlePspEventReview,
      response_schema: pspEventReviewSchema,
    }),
  ];
}

/** Stripe's webhooks (PSP_PROVIDER=stripe only: without it no secret of ours signs them). */
function stripeEventsRoute(): RouteSpec {
  return defineRoute({
    operation_id: 'receiveStripeEvent',
    method: 'post',
    path: '/v1/psp/stripe/events',
    summary:
      'Stripe webhook endpoint, verified with Stripe-Signature; 200 for every verified body (applied, held for review or an ' +
      'event type creditshop does not use; a redelivery gets its first answer), ' +
      '400 with nothing recorded when the signature does not verify',
    tag: 'topups',
    auth: 'stripe_signature',
    responses: {
      200: '{ received, outcome }',
      400: { description: 'Bad, stale or missing Stripe-Signature', codes: ['validation_error'] },
      413: 'Body over the size limit',
    },
    response_schema: pspEventReceiptSchema,
    handler: async (ctx) => ({
      status: 200,
      body: await receiveStripeEvent(ctx.state.deps, signedBodyOf(ctx), ctx.get('Stripe-Signature')),
    }),
  });
}
