import Joi from 'joi';
import { createAccount } from '../../accounts/create-account.js';
import { getAccount, listWallets } from '../../accounts/get-account.js';
import { accountViewSchema, walletViewSchema } from '../../accounts/account-repository.js';
import { currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import type { Topology } from '../../platform/regions.js';
import { defineRoute, type RouteSpec } from '../route.js';
import { accountIdSchema, accountParams, pageSchema } from './schemas.js';

export function accountRoutes(config: Config, topology: Topology): RouteSpec[] {
  return [
    defineRoute({
      operation_id: 'createAccount',
      method: 'post',
      path: '/v1/accounts',
      summary: 'Open an account with its wallet; a player opens their own, a service (accounts:write) any',
      tag: 'accounts',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      body: Joi.object({
        id: accountIdSchema,
        currency: currencySchema(config.currencies),
        home_region: Joi.string().valid(...topology.regions.map((region) => region.name)),
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
      summary: "The account's wallets: balance, held and available per currency",
      tag: 'accounts',
      auth: 'bearer',
      params: accountParams,
      responses: { 200: 'The wallets', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      response_schema: pageSchema('WalletPage', walletViewSchema),
      handler: async (ctx, { actor, params }) => ({
        status: 200,
        body: { data: await listWallets(ctx.state.deps, actor, params.id), next_cursor: null },
      }),
    }),
  ];
}
