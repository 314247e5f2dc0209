import Joi from 'joi';
import { amountSchema, currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { createWithdrawal } from '../../withdrawals/create-withdrawal.js';
import { receivePayoutEvent } from '../../withdrawals/receive-payout-event.js';
import { settlePayoutEventReview } from '../../withdrawals/settle-payout-event-review.js';
import { getWithdrawal, listWithdrawals } from '../../withdrawals/withdrawal-reads.js';
import { defineRoute, reviewSettlementRoute, signedCallbackRoute, type RouteSpec } from '../route.js';
import { accountIdSchema, metadataSchema, pageQuery, playerAccountParams, uuidParams } from './schemas.js';

const withdrawalSchema = Joi.object({
  id: Joi.string().required(),
  account_id: Joi.string().required(),
  amount: Joi.number().integer().required(),
  currency: Joi.string().required(),
  destination: Joi.object({ type: Joi.string(), reference: Joi.string() }).required(),
  status: Joi.string().valid('PENDING', 'PAID', 'FAILED').required(),
  payout_id: Joi.string().allow(null).required(),
  provider_status: Joi.string().allow(null).required(),
  failure_reason: Joi.string().allow(null).required(),
  debit_transaction_id: Joi.string().required(),
  settlement_transaction_id: Joi.string().allow(null).required(),
  status_history: Joi.array()
    .items(Joi.object({ status: Joi.string(), reason: Joi.string().allow(null), at: Joi.string() }))
    .required(),
  needs_reconciliation: Joi.boolean().required(),
  metadata: Joi.object().pattern(Joi.string(), Joi.string().allow('')).required(),
  events: Joi.array().items(Joi.object().unknown(true)).required(),
  review: Joi.array().items(Joi.object().unknown(true)).required(),
  review_reason: Joi.string().allow(null).required(),
  created_at: Joi.string().isoDate().required(),
  updated_at: Joi.string().isoDate().required(),
  settled_at: Joi.string().isoDate().allow(null).required(),
});

export function withdrawalRoutes(config: Config): RouteSpec[] {
  return [
    defineRoute({
      operation_id: 'createWithdrawal',
      method: 'post',
      path: '/v1/withdrawals',
      summary:
        'Cash out (the account owner, or credits:write): the amount moves to @payouts_pending at once (201 PENDING); ' +
        'the payout provider pays it and its signed callback settles it PAID, or FAILED with the money back in the wallet',
      tag: 'withdrawals',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      body: Joi.object({
        account_id: accountIdSchema.required(),
        amount: amountSchema(config.limits.amount_max_minor).required(),
        currency: currencySchema(config.currencies).required(),
        destination: Joi.object({
          type: Joi.string()
            .pattern(/^[a-z][a-z0-9_]{0,31}$/)
            .required(),
          reference: Joi.string().min(1).max(200).required(),
        }).required(),
        metadata: metadataSchema(config.wallet),
      }),
      responses: {
        201: 'The PENDING withdrawal',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such account',
        409: 'Insufficient funds, or the account is frozen or closed',
        422:
          'No wallet in this currency, a KYC limit (withdrawals_allowed, withdrawal_max_minor, daily_withdrawals_max_minor), ' +
          'or Idempotency-Key reused',
        503: 'Retry with the same key',
      },
      response_schema: withdrawalSchema,
      handler: async (ctx, { actor, body, idempotency }) => createWithdrawal(ctx.state.deps, actor, body, idempotency),
    }),
    defineRoute({
      operation_id: 'getWithdrawal',
      method: 'get',
      path: '/v1/withdrawals/{id}',
      summary: 'A withdrawal with its payout callbacks and what is held for review',
      tag: 'withdrawals',
      auth: 'bearer',
      params: uuidParams,
      responses: { 200: 'The withdrawal', 400: 'Malformed id', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'Not found' },
      response_schema: withdrawalSchema,
      handler: async (ctx, { actor, params }) => ({ status: 200, body: await getWithdrawal(ctx.state.deps, actor, params.id) }),
    }),
    defineRoute({
      operation_id: 'listAccountWithdrawals',
      method: 'get',
      path: '/v1/accounts/{id}/withdrawals',
      summary: "The account's withdrawals, newest first (cursor pagination)",
      tag: 'withdrawals',
      auth: 'bearer',
      params: playerAccountParams,
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default),
      responses: { 200: 'A page of withdrawals', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      handler: async (ctx, { actor, params, query }) => ({
        status: 200,
        body: await listWithdrawals(ctx.state.deps, actor, params.id, query),
      }),
    }),
    signedCallbackRoute({
      operation_id: 'receivePayoutEvent',
      path: '/v1/payouts/events',
      summary:
        'Payout provider callback, signed with Payout-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "t.body"> ' +
        '(PAYOUT_WEBHOOK_SECRET); 200 for every validly signed body: duplicates, conflicts and malformed bodies are recorded',
      tag: 'withdrawals',
      auth: 'payout_signature',
      signature_header: 'Payout-Signature',
      receive: receivePayoutEvent,
    }),
    reviewSettlementRoute({
      operation_id: 'settlePayoutEventReview',
      path: '/v1/payouts/events/{id}/review',
      summary: 'Settle a payout callback held for review (admin): {id} is its log_id; nothing moves, reconciliation stops reporting it',
      tag: 'withdrawals',
      settle: settlePayoutEventReview,
    }),
  ];
}
