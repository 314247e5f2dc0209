import Joi from 'joi';
import { createHold } from '../../ledger/create-hold.js';
import { createTransfer } from '../../ledger/create-transfer.js';
import { creditWallet } from '../../ledger/credit-wallet.js';
import { debitWallet } from '../../ledger/debit-wallet.js';
import { accountHistory, accountHolds, getHold, getTransaction, getTransfer } from '../../ledger/ledger-reads.js';
import { refundTransaction } from '../../ledger/refund-transaction.js';
import { captureHoldRequest, voidHoldRequest } from '../../ledger/settle-hold.js';
import { amountSchema, currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { historyEntrySchema, holdViewSchema, transactionViewSchema, transferViewSchema } from '../../ledger/views.js';
import { accountPageRoute, defineRoute, readByIdRoute, type RouteSpec } from '../route.js';
import {
  accountIdSchema,
  accountParams,
  metadataFilterOf,
  metadataFilterQuery,
  metadataSchema,
  pageQuery,
  pageSchema,
  playerAccountParams,
  uuidParams,
  spendingRefusals,
  textSchema,
} from './schemas.js';

export function ledgerRoutes(config: Config): RouteSpec[] {
  const amount = amountSchema(config.limits.amount_max_minor);
  const currency = currencySchema(config.currencies);
  const metadata = metadataSchema(config.wallet);
  const filter = metadataFilterQuery(config.wallet);
  const movementBody = Joi.object({
    amount: amount.required(),
    currency: currency.required(),
    reason: textSchema(200).required(),
    reference: textSchema(200),
    metadata,
  });
  const transactionResponses = {
    201: 'The ledger transaction',
    400: 'Invalid request',
    401: 'Unauthenticated',
    403: 'Forbidden',
    404: 'No such account',
    409: {
      description: 'Insufficient funds, the wallet cannot receive this amount, or the account is frozen or closed',
      codes: ['insufficient_funds', 'invalid_state', 'account_frozen', 'account_closed'],
    },
    422: {
      description:
        'No wallet in this currency, a KYC limit (limit_exceeded: limit, value, remaining, resets_at), or Idempotency-Key reused',
      codes: ['currency_mismatch', 'limit_exceeded'],
    },
    503: 'Retry with the same key',
  } as const;
  const holdResponses = {
    400: 'Invalid request',
    401: 'Unauthenticated',
    403: 'Forbidden',
    404: 'No such hold',
    409: {
      description: 'The hold is not ACTIVE or belongs to an order or a purchase request, or the account is frozen (capture) or closed',
      codes: ['invalid_state', 'account_frozen', 'account_closed'],
    },
    422: { description: 'A KYC limit (capture), or Idempotency-Key reused', codes: ['limit_exceeded'] },
    503: 'Retry with the same key',
  } as const;
  const movementRoute = (operation_id: string, resource: 'credits' | 'debits', summary: string, run: typeof creditWallet) =>
    defineRoute({
      operation_id,
      method: 'post',
      path: `/v1/accounts/{id}/${resource}`,
      summary,
      tag: 'credits',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      params: playerAccountParams,
      body: movementBody,
      responses: transactionResponses,
      response_schema: transactionViewSchema,
      handler: async (ctx, { actor, params, body, idempotency }) =>
        run(ctx.state.deps, actor, { account_id: params.id, ...body }, idempotency),
    });
  return [
    movementRoute('creditAccount', 'credits', 'Add credits to a wallet (credits:write), from @bonus', creditWallet),
    movementRoute('debitAccount', 'debits', 'Spend credits from a wallet (the owner, or credits:write), to @revenue', debitWallet),
    defineRoute({
      operation_id: 'refundTransaction',
      method: 'post',
      path: '/v1/transactions/{id}/refunds',
      summary:
        'Refund all (default) or part of a previous debit, capture or merchant payment (credits:write or refunds:write); ' +
        'a merchant payment is given back by the merchant and @revenue in proportion to its net and fee',
      tag: 'credits',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      params: uuidParams,
      body: Joi.object({ amount, reason: textSchema(200) }),
      responses: {
        ...transactionResponses,
        409: {
          description:
            'Not a refundable transaction, the wallet cannot receive this amount, the account is closed, ' +
            'or the merchant cannot give its share back within its credit limit',
          codes: ['invalid_state', 'account_closed', 'insufficient_funds'],
        },
        422: { description: 'Refund exceeds what is left, or Idempotency-Key reused', codes: ['refund_exceeds_remaining'] },
      },
      response_schema: transactionViewSchema,
      handler: async (ctx, { actor, params, body, idempotency }) =>
        refundTransaction(ctx.state.deps, actor, { transaction_id: params.id, ...body }, idempotency),
    }),
    readByIdRoute({
      operation_id: 'getTransaction',
      path: '/v1/transactions/{id}',
      summary: 'A ledger transaction with its entries',
      tag: 'credits',
      read: getTransaction,
      response_schema: transactionViewSchema,
    }),
    defineRoute({
      operation_id: 'listAccountTransactions',
      method: 'get',
      path: '/v1/accounts/{id}/transactions',
      summary:
        "The account's ledger history, newest first (cursor pagination); metadata[<key>]=<value> keeps the entries " +
        'whose transaction carries that metadata (one such filter)',
      tag: 'credits',
      auth: 'bearer',
      params: accountParams,
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default, { currency }).pattern(filter.pattern, filter.value),
      responses: { 200: 'A page of history', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      response_schema: pageSchema('HistoryPage', historyEntrySchema),
      handler: async (ctx, { actor, params, query }) => ({
        status: 200,
        body: await accountHistory(ctx.state.deps, actor, params.id, {
          limit: query.limit,
          cursor: query.cursor,
          currency: query.currency,
          metadata: metadataFilterOf(query),
        }),
      }),
    }),
    defineRoute({
      operation_id: 'createHold',
      method: 'post',
      path: '/v1/holds',
      summary: 'Authorize an amount on a wallet (credits:write)',
      tag: 'holds',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      body: Joi.object({
        account_id: accountIdSchema.required(),
        amount: amount.required(),
        currency: currency.required(),
        expires_in_seconds: Joi.number().integer().strict().min(1).max(config.limits.hold_ttl_max_seconds).required(),
        reference: textSchema(200),
        metadata,
      }),
      responses: {
        ...holdResponses,
        201: 'The ACTIVE hold',
        ...spendingRefusals(),
      },
      response_schema: holdViewSchema,
      handler: async (ctx, { actor, body, idempotency }) => createHold(ctx.state.deps, actor, body, idempotency),
    }),
    readByIdRoute({
      operation_id: 'getHold',
      path: '/v1/holds/{id}',
      summary: 'A hold',
      tag: 'holds',
      read: getHold,
      response_schema: holdViewSchema,
    }),
    accountPageRoute({
      operation_id: 'listAccountHolds',
      list: 'holds',
      summary: "The account's holds, newest first; status=ACTIVE for what is held right now",
      tag: 'holds',
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default, {
        status: Joi.string().valid('ACTIVE', 'CAPTURED', 'VOIDED', 'EXPIRED'),
      }),
      page: ['HoldPage', holdViewSchema],
      read: accountHolds,
    }),
    defineRoute({
      operation_id: 'captureHold',
      method: 'post',
      path: '/v1/holds/{id}/capture',
      summary: 'Capture all (default) or part of an ACTIVE hold; the rest is released',
      tag: 'holds',
      auth: 'bearer',
      idempotent: { success_status: 200 },
      params: uuidParams,
      body: Joi.object({ amount }),
      responses: { ...holdResponses, 200: 'The captured hold' },
      response_schema: holdViewSchema,
      handler: async (ctx, { actor, params, body, idempotency }) =>
        captureHoldRequest(ctx.state.deps, actor, { hold_id: params.id, ...body }, idempotency),
    }),
    defineRoute({
      operation_id: 'voidHold',
      method: 'post',
      path: '/v1/holds/{id}/void',
      summary: 'Void an ACTIVE hold, releasing its money',
      tag: 'holds',
      auth: 'bearer',
      idempotent: { success_status: 200 },
      params: uuidParams,
      body: Joi.object({}),
      responses: { ...holdResponses, 200: 'The voided hold' },
      response_schema: holdViewSchema,
      handler: async (ctx, { actor, params, idempotency }) => voidHoldRequest(ctx.state.deps, actor, params.id, idempotency),
    }),
    defineRoute({
      operation_id: 'createTransfer',
      method: 'post',
      path: '/v1/transfers',
      summary:
        'Send credits to another player, in any region, in one transaction. The recipient must already hold a wallet in ' +
        'the currency (422 currency_mismatch otherwise; a transfer never opens one) with room for the amount (409 invalid_state)',
      tag: 'transfers',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      body: Joi.object({
        from_account_id: accountIdSchema.required(),
        to_account_id: accountIdSchema.required(),
        amount: amount.required(),
        currency: currency.required(),
        note: textSchema(500),
        metadata,
      }),
      responses: {
        ...transactionResponses,
        201: 'The transfer',
        400: 'Invalid request, or the same account on both sides',
        404: 'No such account',
        409: {
          description:
            'Insufficient funds, the recipient cannot receive this amount, the sender is frozen or closed, or the recipient is closed',
          codes: ['insufficient_funds', 'invalid_state', 'account_frozen', 'account_closed'],
        },
        422: {
          description: "The recipient cannot receive this currency, a KYC limit of the sender's, or Idempotency-Key reused",
          codes: ['currency_mismatch', 'limit_exceeded'],
        },
      },
      response_schema: transferViewSchema,
      handler: async (ctx, { actor, body, idempotency }) => createTransfer(ctx.state.deps, actor, body, idempotency),
    }),
    readByIdRoute({
      operation_id: 'getTransfer',
      path: '/v1/transfers/{id}',
      summary: 'A transfer',
      tag: 'transfers',
      read: getTransfer,
      response_schema: transferViewSchema,
    }),
  ];
}
