import Joi from 'joi';
import { amountSchema, currencySchema } from '../../domain/money.js';
import { getMerchantPayment, merchantPaymentViewSchema, payMerchant } from '../../merchants/pay-merchant.js';
import type { Config } from '../../platform/config.js';
import { defineRoute, type RouteSpec } from '../route.js';
import { accountIdSchema, metadataSchema, textSchema, uuidParams } from './schemas.js';

export function merchantRoutes(config: Config): RouteSpec[] {
  return [
    defineRoute({
      operation_id: 'createMerchantPayment',
      method: 'post',
      path: '/v1/merchant-payments',
      summary:
        'Pay a merchant (the payer, or credits:write): one ledger transaction, payer -amount, merchant +(amount - fee), ' +
        '@revenue +fee; fee = round half up of amount x fee_bps / 10,000, at least fee_min, at most the amount',
      tag: 'merchants',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      body: Joi.object({
        from_account_id: accountIdSchema.required(),
        merchant_id: accountIdSchema.required(),
        amount: amountSchema(config.limits.amount_max_minor).required(),
        currency: currencySchema(config.currencies).required(),
        reference: textSchema(200),
        metadata: metadataSchema(config.wallet),
      }),
      responses: {
        201: 'The merchant payment',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such payer or merchant',
        409: {
          description: 'Insufficient funds, the payer frozen or closed, or a merchant that cannot receive this',
          codes: ['insufficient_funds', 'invalid_state', 'account_frozen', 'account_closed'],
        },
        422: {
          description: 'The merchant takes no payment in this currency, a KYC limit, or Idempotency-Key reused',
          codes: ['currency_mismatch', 'limit_exceeded'],
        },
        503: 'Retry with the same key',
      },
      response_schema: merchantPaymentViewSchema,
      handler: async (ctx, { actor, body, idempotency }) => payMerchant(ctx.state.deps, actor, body, idempotency),
    }),
    defineRoute({
      operation_id: 'getMerchantPayment',
      method: 'get',
      path: '/v1/merchant-payments/{id}',
      summary: 'A merchant payment (its payer, its merchant, or a service reading money)',
      tag: 'merchants',
      auth: 'bearer',
      params: uuidParams,
      responses: { 200: 'The merchant payment', 400: 'Malformed id', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'Not found' },
      response_schema: merchantPaymentViewSchema,
      handler: async (ctx, { actor, params }) => ({ status: 200, body: await getMerchantPayment(ctx.state.deps, actor, params.id) }),
    }),
  ];
}
