import Joi from 'joi';
import { createAccount } from '../../accounts/create-account.js';
import { getAccount, listWallets } from '../../accounts/get-account.js';
import { accountViewSchema, walletViewSchema } from '../../accounts/account-repository.js';
import { currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import type { Topology } from '../../platform/regions.js';
import { defineRoute, type RouteSpec } from '../route.js';
import { walletsAsOf } from '../../statements/past-balances.js';
import { pastInstant } from '../../statements/time-range.js';
import { timestampSchema, viewSchema } from '../../platform/view-schema.js';
import { accountIdSchema, accountParams, instantSchema } from './schemas.js';

/** The wallets of an account, now or (with `as_of`) as they were at an instant. */
const walletPageSchema = viewSchema('WalletPage', {
  data: Joi.array().items(walletViewSchema),
  next_cursor: Joi.valid(null),
  as_of: timestampSchema.optional().description('The instant the balances are of, when asked for'),
});

export function accountRoutes(config: Config, topology: Topology): RouteSpec[] {
  return [
    defineRoute({
      operation_id: 'createAccount',
      method: 'post',
      path: '/v1/accounts',
      summary:
        'Open an account with its wallet; a player opens their own, a service (accounts:write) any, ' +
        'and merchants ("kind": "merchant" with a fee plan: fee_bps, fee_min)',
      tag: 'accounts',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      body: Joi.object({
        id: accountIdSchema,
        currency: currencySchema(config.currencies),
        home_region: Joi.string().valid(...topology.regions.map((region) => region.name)),
        kind: Joi.string().valid('player', 'merchant'),
        fee_bps: Joi.number().integer().strict().min(0).max(10_000),
        fee_min: Joi.number().integer().strict().min(0).max(config.limits.amount_max_minor),
      }),
      responses: {
        201: 'The account',
        400: 'Invalid request',
        401: 'Unauthenticated',
        403: 'Forbidden',
        409: { description: 'Account id taken', codes: ['already_exists'] },
        422: 'Idempotency-Key reused',
      },
      response_schema: accountViewSchema,
      handler: async (ctx, { actor, body, idempotency }) => createAccount(ctx.state.deps, actor, body, idempotency),
    }),
    defineRoute({
      operation_id: 'getAccount',
      method: 'get',
      path: '/v1/accounts/{id}',
      summary: 'An account with its wallets',
      tag: 'accounts',
      auth: 'bearer',
      params: accountParams,
      responses: { 200: 'The account', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      response_schema: accountViewSchema,
      handler: async (ctx, { actor, params }) => ({ status: 200, body: await getAccount(ctx.state.deps, actor, params.id) }),
    }),
    defineRoute({
      operation_id: 'listWallets',
      method: 'get',
      path: '/v1/accounts/{id}/wallets',
      summary:
        "The account's wallets: balance, held and available per currency; with as_of=<RFC 3339>, as they were at that " +
        'instant (from the balance after each entry, over one snapshot; reading it needs the scope that reads money)',
      tag: 'accounts',
      auth: 'bearer',
      params: accountParams,
      query: Joi.object({ as_of: instantSchema }),
      responses: { 200: 'The wallets', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      response_schema: walletPageSchema,
      handler: async (ctx, { actor, params, query }) => {
        const { deps } = ctx.state;
        if (query.as_of === undefined) return { status: 200, body: { data: await listWallets(deps, actor, params.id), next_cursor: null } };
        const as_of = pastInstant(query.as_of, Date.now());
        return { status: 200, body: { data: await walletsAsOf(deps, actor, params.id, as_of), next_cursor: null, as_of } };
      },
    }),
  ];
}
