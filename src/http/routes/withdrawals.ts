import Joi from 'joi';
import { amountSchema, currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { createWithdrawal } from '../../withdrawals/create-withdrawal.js';
import { payoutEventReceiptSchema, receivePayoutEvent } from '../../withdrawals/receive-payout-event.js';
import { payoutEventReviewSchema, withdrawalViewSchema } from '../../withdrawals/withdrawal-view.js';
import { settlePayoutEventReview } from '../../withdrawals/settle-payout-event-review.js';
import { getWithdrawal, listWithdrawals } from '../../withdrawals/withdrawal-reads.js';
import { settleWithdrawalByHand } from '../../withdrawals/settle-withdrawal-by-hand.js';
import { defineRoute, reviewSettlementRoute, signedCallbackRoute, type RouteSpec } from '../route.js';
import {
  accountIdSchema,
  metadataSchema,
  pageQuery,
  pageSchema,
  playerAccountParams,
  spendingRefusals,
  textSchema,
  uuidParams,
} from './schemas.js';

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
          reference: textSchema(200).required(),
        }).required(),
        metadata: metadataSchema(config.wallet),
      }),
      responses: {
        201: 'The PENDING withdrawal',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        ...spendingRefusals('a KYC limit (withdrawals_allowed, withdrawal_max_minor, daily_withdrawals_max_minor)'),
        503: 'Retry with the same key',
      },
      response_schema: withdrawalViewSchema,
      handler: async (ctx, { actor, body, idempotency }) => createWithdrawal(ctx.state.deps, actor, body, idempotency),
    }),
    defineRoute({
      operation_id: 'settleWithdrawalByHand',
      method: 'post',
      path: '/v1/withdrawals/{id}/settle',
      summary:
        'Settle by hand a withdrawal flagged for reconciliation (admin), once the provider said what became of it: ' +
        'PAID (money to @payouts) or FAILED (money back in the wallet), once; a later callback is applied as any late one',
      tag: 'withdrawals',
      auth: 'bearer',
      idempotent: { success_status: 200 },
      params: uuidParams,
      body: Joi.object({
        status: Joi.string().valid('PAID', 'FAILED').required(),
        settlement: textSchema(1000).required().description('What the provider said, and how it was asked'),
        payout_id: Joi.string().min(1).max(255).description("The provider's payout, when the withdrawal has none recorded"),
      }),
      responses: {
        200: 'The settled withdrawal',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        404: 'No such withdrawal',
        409: {
          description: 'Settled already, or not flagged for reconciliation (its job or callback settles it)',
          codes: ['invalid_state'],
        },
        503: 'Retry with the same key',
      },
      response_schema: withdrawalViewSchema,
      handler: async (ctx, { actor, params, body, idempotency }) =>
        settleWithdrawalByHand(ctx.state.deps, actor, { withdrawal_id: params.id, ...body }, idempotency),
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
      response_schema: withdrawalViewSchema,
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
      response_schema: pageSchema('WithdrawalPage', withdrawalViewSchema),
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
        '(PAYOUT_WEBHOOK_SECRET); 200 for every validly signed body: conflicts and malformed bodies are recorded; ' +
        'a redelivery gets its first answer',
      tag: 'withdrawals',
      auth: 'payout_signature',
      signature_header: 'Payout-Signature',
      receive: receivePayoutEvent,
      response_schema: payoutEventReceiptSchema,
    }),
    reviewSettlementRoute({
      operation_id: 'settlePayoutEventReview',
      path: '/v1/payouts/events/{id}/review',
      summary: 'Settle a payout callback held for review (admin): {id} is its log_id; nothing moves, reconciliation stops reporting it',
      tag: 'withdrawals',
      settle: settlePayoutEventReview,
      response_schema: payoutEventReviewSchema,
    }),
  ];
}
