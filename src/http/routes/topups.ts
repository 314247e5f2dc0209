import Joi from 'joi';
import { amountSchema, currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { createTopup } from '../../shop/topups/create-topup.js';
import { receivePspEvent } from '../../shop/topups/receive-psp-event.js';
import { getTopup } from '../../shop/topups/topup-reads.js';
import { defineRoute, readByIdRoute, type RouteSpec } from '../route.js';
import { accountIdSchema } from './schemas.js';

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
        422: 'Idempotency-Key reused',
      },
      handler: async (ctx, { actor, body, idempotency }) => createTopup(ctx.state.deps, actor, body, idempotency),
    }),
    readByIdRoute({
      operation_id: 'getTopup',
      path: '/v1/topups/{id}',
      summary: 'A top-up (PENDING, SUCCEEDED, FAILED or REVERSED) with its reversals, PSP events and what is held for review',
      tag: 'topups',
      read: getTopup,
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
      handler: async (ctx) => ({
        status: 200,
        body: await receivePspEvent(ctx.state.deps, ctx.state.raw_body ?? '', ctx.get('Psp-Signature')),
      }),
    }),
  ];
}
