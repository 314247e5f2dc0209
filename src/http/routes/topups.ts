import Joi from 'joi';
import { amountSchema, currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { createTopup } from '../../shop/topups/create-topup.js';
import { pspEventReceiptSchema, receivePspEvent } from '../../shop/topups/receive-psp-event.js';
import { settlePspEventReview } from '../../shop/topups/settle-psp-event-review.js';
import { getTopup } from '../../shop/topups/topup-reads.js';
import { pspEventReviewSchema, topupViewSchema } from '../../shop/topups/topup-repository.js';
import { defineRoute, readByIdRoute, reviewSettlementRoute, signedCallbackRoute, type RouteSpec } from '../route.js';
import { accountIdSchema, metadataSchema } from './schemas.js';

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
        metadata: metadataSchema(config.wallet),
      }),
      responses: {
        201: 'The PENDING top-up',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such account',
        409: { description: 'The account is closed', codes: ['account_closed'] },
        422: { description: "The KYC tier's maximum balance, or Idempotency-Key reused", codes: ['limit_exceeded'] },
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
    signedCallbackRoute({
      operation_id: 'receivePspEvent',
      path: '/v1/psp/events',
      summary:
        'PSP callback, signed with Psp-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "t.body">; ' +
        '200 for every validly signed body: duplicates, conflicts and malformed bodies are recorded, never refused',
      tag: 'topups',
      auth: 'psp_signature',
      signature_header: 'Psp-Signature',
      receive: receivePspEvent,
      response_schema: pspEventReceiptSchema,
    }),
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
