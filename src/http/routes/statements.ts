import Joi from 'joi';
import { currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { exportTransactions } from '../../statements/export-transactions.js';
import { largeTransactions, largeTransactionsSchema } from '../../statements/large-transactions.js';
import { accountStatement, statementSchema } from '../../statements/statement.js';
import { timeRange } from '../../statements/time-range.js';
import { defineRoute, type RouteSpec } from '../route.js';
import { instantSchema, pageQuery, playerAccountParams } from './schemas.js';

export function statementRoutes(config: Config): RouteSpec[] {
  const { wallet, limits } = config;
  const currency = currencySchema(config.currencies);
  return [
    defineRoute({
      operation_id: 'getAccountStatement',
      method: 'get',
      path: '/v1/accounts/{id}/statement',
      summary:
        "An account's statement in one currency over [from, to): opening balance, the entries (cursor pagination), " +
        'closing balance and totals in and out, over one snapshot',
      tag: 'statements',
      auth: 'bearer',
      params: playerAccountParams,
      query: pageQuery(limits.page_size_max, limits.page_size_default, {
        currency: currency.required(),
        from: instantSchema.required(),
        to: instantSchema.required(),
      }),
      responses: { 200: 'A statement page', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      response_schema: statementSchema,
      handler: async (ctx, { actor, params, query }) => ({
        status: 200,
        body: await accountStatement(ctx.state.deps, actor, {
          account_id: params.id,
          currency: query.currency,
          range: timeRange(query.from, query.to, wallet.statement_range_max_days, Date.now()),
          limit: query.limit,
          cursor: query.cursor,
        }),
      }),
    }),
    defineRoute({
      operation_id: 'exportTransactions',
      method: 'get',
      path: '/v1/admin/exports/transactions',
      summary:
        'Every ledger entry of [from, to) with its transaction, streamed as CSV or JSON lines over one snapshot (admin); ' +
        'the range is at most EXPORT_RANGE_MAX_DAYS long',
      tag: 'statements',
      auth: 'bearer',
      query: Joi.object({
        from: instantSchema.required(),
        to: instantSchema.required(),
        format: Joi.string().valid('csv', 'jsonl').default('csv'),
      }),
      responses: {
        200: 'The export (text/csv or application/x-ndjson)',
        400: 'Invalid query',
        401: 'Unauthenticated',
        403: 'Forbidden',
        503: 'Too many exports streaming in this pod',
      },
      response_content_type: ['text/csv', 'application/x-ndjson'],
      handler: async (ctx, { actor, query }) => {
        const range = timeRange(query.from, query.to, wallet.export_range_max_days, Date.now());
        const body = await exportTransactions(ctx.state.deps, actor, range, query.format);
        const csv = query.format === 'csv';
        return {
          status: 200,
          body,
          headers: {
            'Content-Type': csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
            'Content-Disposition': `attachment; filename="transactions-${range.from}-${range.to}.${query.format}"`,
          },
        };
      },
    }),
    defineRoute({
      operation_id: 'largeTransactionsReport',
      method: 'get',
      path: '/v1/admin/reports/large-transactions',
      summary: 'Ledger transactions of at least `threshold` (minor units) in a currency over [from, to), newest first (admin, AML review)',
      tag: 'statements',
      auth: 'bearer',
      query: pageQuery(limits.page_size_max, limits.page_size_default, {
        from: instantSchema.required(),
        to: instantSchema.required(),
        currency: currency.required(),
        threshold: Joi.number().integer().min(1).max(limits.amount_max_minor).required(),
      }),
      responses: { 200: 'A page of transactions', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden' },
      response_schema: largeTransactionsSchema,
      handler: async (ctx, { actor, query }) => ({
        status: 200,
        body: await largeTransactions(ctx.state.deps, actor, {
          range: timeRange(query.from, query.to, wallet.export_range_max_days, Date.now()),
          currency: query.currency,
          threshold: query.threshold,
          limit: query.limit,
          cursor: query.cursor,
        }),
      }),
    }),
  ];
}
