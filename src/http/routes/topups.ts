import Joi from 'joi';
import { isStorableText } from '../../domain/text.js';
import { amountSchema, currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { createTopup } from '../../shop/topups/create-topup.js';
import { pspEventReceiptSchema, receivePspEvent } from '../../shop/topups/receive-psp-event.js';
import { settlePspEventReview } from '../../shop/topups/settle-psp-event-review.js';
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
  return [
    defineRoute({
      operation_id: 'createTopup',
      method: 'post',
      path: '/v1/topups',
      summary: 'Start a pay-in through the PSP; the wallet is credited when the PSP confirms',
      tag: 'topups',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      body: Joi.object({
        account_id: accountIdSchema.required(),
        amount: amountSchema(config.limits.amount_max_minor).required(),
        currency: currencySchema(config.currencies).required(),
      }),
      responses: {
        201: 'The PENDING top-up',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such account',
        422: { description: 'Idempotency-Key reused', codes: [] },
      },
      response_schema: topupViewSchema,
      handler: async (ctx, { actor, body, idempotency }) => createTopup(ctx.state.deps, actor, body, idempotency),
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
