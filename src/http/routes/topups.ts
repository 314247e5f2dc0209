import Joi from 'joi';
import { isStorableText } from '../../domain/text.js';
import { amountSchema, currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { invariant } from '../../domain/errors.js';
import { createTopup } from '../../shop/topups/create-topup.js';
import { pspEventReceiptSchema, receivePspEvent } from '../../shop/topups/receive-psp-event.js';
import { settlePspEventReview } from '../../shop/topups/settle-psp-event-review.js';
import { createStripeTopup } from '../../shop/topups/stripe/create-stripe-topup.js';
import { receiveStripeEvent } from '../../shop/topups/stripe/receive-stripe-event.js';
import { getTopup } from '../../shop/topups/topup-reads.js';
import { pspEventReviewSchema, topupViewSchema } from '../../shop/topups/topup-repository.js';
import { defineRoute, readByIdRoute, type RouteSpec } from '../route.js';
import { accountIdSchema } from './schemas.js';

/** Text of at most `length_max` characters that the database can store. */
function storableText(length_max: number) {
  return Joi.string()
    .min(1)
    .max(length_max)
    .custom((value: string, helpers) =>
      isStorableText(value) ? value : helpers.message({ custom: '{{#label}} holds U+0000 or a lone surrogate' }),
    );
}

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
      }),
      responses: {
        201: stripe ? 'The PENDING top-up with its PaymentIntent (payment.client_secret)' : 'The PENDING top-up',
        400: stripe ? 'Invalid request, or a payment Stripe refuses (below its minimum amount, ...)' : 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such account',
        422: { description: 'Idempotency-Key reused', codes: [] },
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
    defineRoute({
      operation_id: 'receivePspEvent',
      method: 'post',
      path: '/v1/psp/events',
      summary:
        'PSP callback, signed with Psp-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "t.body">; ' +
        '200 for every validly signed body: duplicates, conflicts and malformed bodies are recorded, never refused',
      tag: 'topups',
      auth: 'psp_signature',
      responses: { 200: '{ received, outcome }', 401: 'Bad, stale or missing signature', 413: 'Body over the size limit' },
      response_schema: pspEventReceiptSchema,
      handler: async (ctx) => ({
        status: 200,
        body: await receivePspEvent(ctx.state.deps, ctx.state.raw_body ?? '', ctx.get('Psp-Signature')),
      }),
    }),
    ...(stripe ? [stripeEventsRoute()] : []),
    defineRoute({
      operation_id: 'settlePspEventReview',
      method: 'put',
      path: '/v1/psp/events/{id}/review',
      summary:
        'Settle a PSP event held for review (admin): {id} is its log_id (reconciliation, or review on the top-up); ' +
        'the note says what was done; nothing moves, reconciliation stops reporting it',
      tag: 'topups',
      auth: 'bearer',
      params: Joi.object({ id: storableText(300).required() }),
      body: Joi.object({ settlement: storableText(1000).required() }),
      responses: {
        200: 'The settled review item',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such event',
        409: { description: 'The event is not held for review', codes: ['invalid_state'] },
      },
      response_schema: pspEventReviewSchema,
      handler: async (ctx, { actor, params, body }) => ({
        status: 200,
        body: await settlePspEventReview(ctx.state.deps, actor, params.id, body.settlement),
      }),
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
      'Stripe webhook endpoint, verified with Stripe-Signature; 200 for every verified body (applied, duplicate, ' +
      'held for review or an event type creditshop does not use), 400 with nothing recorded when the signature does not verify',
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
      body: await receiveStripeEvent(ctx.state.deps, ctx.state.raw_body ?? '', ctx.get('Stripe-Signature')),
    }),
  });
}
