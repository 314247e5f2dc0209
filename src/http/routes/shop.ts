import Joi from 'joi';
import { amountSchema, currencySchema } from '../../domain/money.js';
import type { Config } from '../../platform/config.js';
import { browseItems, getItem } from '../../shop/catalog/catalog-reads.js';
import { itemViewSchema } from '../../shop/catalog/item.js';
import { putItem } from '../../shop/catalog/put-item.js';
import { cancelOrder } from '../../shop/orders/cancel-order.js';
import { completeOrder } from '../../shop/orders/complete-order.js';
import { accountEntitlements, accountOrders, getOrder } from '../../shop/orders/order-reads.js';
import { placeOrder } from '../../shop/orders/place-order.js';
import { entitlementViewSchema } from '../../shop/orders/entitlement-repository.js';
import { orderRefundViewSchema, refundOrder } from '../../shop/orders/refund-order.js';
import { orderViewSchema } from '../../shop/orders/views.js';
import { defineRoute, readByIdRoute, type RouteSpec } from '../route.js';
import { accountIdSchema, accountParams, metadataSchema, pageQuery, pageSchema, textSchema, uuidParams } from './schemas.js';

export const ITEM_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const itemId = Joi.string().pattern(ITEM_ID_PATTERN);
const KINDS = ['game', 'currency_pack', 'skin', 'consumable'];

export function shopRoutes(config: Config): RouteSpec[] {
  const amount = amountSchema(config.limits.amount_max_minor);
  const currency = currencySchema(config.currencies);
  const quantity = Joi.number().integer().strict().min(1).max(config.limits.order_quantity_max);
  const orderResponses = {
    400: 'Invalid request',
    401: 'Unauthenticated',
    403: 'Forbidden',
    404: 'No such order',
    409: {
      description: 'Invalid state, insufficient funds, the wallet cannot receive what the order grants, or the account is frozen or closed',
      codes: ['invalid_state', 'insufficient_funds', 'account_frozen', 'account_closed'],
    },
    422: { description: 'A KYC limit (completing a two-step order), or Idempotency-Key reused', codes: ['limit_exceeded'] },
    503: 'Retry with the same key',
  } as const;
  const orderAction = (operation_id: 'completeOrder' | 'cancelOrder', verb: string, run: typeof completeOrder) =>
    defineRoute({
      operation_id,
      method: 'post',
      path: `/v1/orders/{id}/${verb}`,
      summary: `${verb === 'complete' ? 'Capture the hold and grant the items of' : 'Void the hold of'} a PENDING two-step order`,
      tag: 'orders',
      auth: 'bearer',
      idempotent: { success_status: 200 },
      params: uuidParams,
      body: Joi.object({}),
      responses: { 200: 'The order', ...orderResponses },
      response_schema: orderViewSchema,
      handler: async (ctx, { actor, params, idempotency }) => run(ctx.state.deps, actor, params.id, idempotency),
    });
  return [
    defineRoute({
      operation_id: 'listItems',
      method: 'get',
      path: '/v1/items',
      summary: 'The catalog, newest first',
      tag: 'catalog',
      auth: 'public',
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default, {
        kind: Joi.string().valid(...KINDS),
        active: Joi.boolean(),
      }),
      responses: { 200: 'A page of items', 400: 'Invalid query' },
      response_schema: pageSchema('ItemPage', itemViewSchema),
      handler: async (ctx, { query }) => ({ status: 200, body: await browseItems(ctx.state.deps, query) }),
    }),
    defineRoute({
      operation_id: 'getItem',
      method: 'get',
      path: '/v1/items/{id}',
      summary: 'One catalog item',
      tag: 'catalog',
      auth: 'public',
      params: Joi.object({ id: itemId.required() }),
      responses: { 200: 'The item', 404: 'No such item' },
      response_schema: itemViewSchema,
      handler: async (ctx, { params }) => ({ status: 200, body: await getItem(ctx.state.deps, params.id) }),
    }),
    defineRoute({
      operation_id: 'putItem',
      method: 'put',
      path: '/v1/items/{id}',
      summary: 'Create or replace a catalog item (catalog:write)',
      tag: 'catalog',
      auth: 'bearer',
      params: Joi.object({ id: itemId.required() }),
      body: Joi.object({
        name: textSchema(200).required(),
        kind: Joi.string()
          .valid(...KINDS)
          .required(),
        price: amount.required(),
        currency: currency.required(),
        active: Joi.boolean().strict().required(),
        refundable: Joi.boolean().strict().required(),
        grants: Joi.object({ currency: currency.required(), amount: amount.required() }).allow(null),
        merchant_id: accountIdSchema.allow(null),
        revenue_share_bps: Joi.number().integer().strict().min(0).max(10_000).allow(null),
      }),
      responses: { 200: 'The replaced item', 201: 'The created item', 400: 'Invalid request', 401: 'Unauthenticated', 403: 'Forbidden' },
      response_schema: itemViewSchema,
      handler: async (ctx, { actor, params, body }) => putItem(ctx.state.deps, actor, { id: params.id, ...body }),
    }),
    defineRoute({
      operation_id: 'createOrder',
      method: 'post',
      path: '/v1/orders',
      summary: 'Buy items: priced by the server from the catalog; immediate (default) or two_step',
      tag: 'orders',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      body: Joi.object({
        account_id: accountIdSchema.required(),
        lines: Joi.array()
          .items(Joi.object({ item_id: itemId.required(), quantity: quantity.required() }))
          .min(1)
          .max(config.limits.order_lines_max)
          .unique('item_id')
          .required(),
        expected_total: Joi.number().integer().strict().min(1),
        mode: Joi.string().valid('immediate', 'two_step'),
        metadata: metadataSchema(config.wallet),
      }),
      responses: {
        201: 'The order',
        ...orderResponses,
        400: 'Invalid request: unknown or inactive items, items in several currencies, a total or grant over the limits',
        404: 'No such account',
        422: {
          description: 'Price changed, no wallet in this currency, a KYC limit, or Idempotency-Key reused',
          codes: ['price_changed', 'currency_mismatch', 'limit_exceeded'],
        },
      },
      response_schema: orderViewSchema,
      handler: async (ctx, { actor, body, idempotency }) => placeOrder(ctx.state.deps, actor, body, idempotency),
    }),
    readByIdRoute({
      operation_id: 'getOrder',
      path: '/v1/orders/{id}',
      summary: 'An order with its lines and status history',
      tag: 'orders',
      read: getOrder,
      response_schema: orderViewSchema,
    }),
    orderAction('completeOrder', 'complete', completeOrder),
    orderAction('cancelOrder', 'cancel', cancelOrder),
    defineRoute({
      operation_id: 'refundOrder',
      method: 'post',
      path: '/v1/orders/{id}/refunds',
      summary:
        'Refund an order by lines or by amount (everything left if neither); entitlements of refunded lines are revoked. ' +
        'Items that are not refundable, and consumables, are 422 not_refundable for everyone; a service with refunds:write ' +
        'may override that only explicitly with "override_policy": true, which the refund records (policy_overridden_by)',
      tag: 'orders',
      auth: 'bearer',
      idempotent: { success_status: 201 },
      params: uuidParams,
      body: Joi.object({
        lines: Joi.array()
          .items(Joi.object({ item_id: itemId.required(), quantity: quantity.required() }))
          .min(1)
          .max(config.limits.order_lines_max)
          .unique('item_id'),
        amount,
        reason: textSchema(200).required(),
        override_policy: Joi.boolean().strict(),
      }).oxor('lines', 'amount'),
      responses: {
        201: 'The refund',
        ...orderResponses,
        409: {
          description:
            'The order is not refundable in its state, the granted game currency was spent, a merchant cannot return its share, ' +
            'or the account is closed',
          codes: ['invalid_state', 'insufficient_funds', 'account_closed'],
        },
        422: {
          description: 'Not refundable, refund exceeds what is left, or Idempotency-Key reused',
          codes: ['not_refundable', 'refund_exceeds_remaining'],
        },
      },
      response_schema: orderRefundViewSchema,
      handler: async (ctx, { actor, params, body, idempotency }) =>
        refundOrder(ctx.state.deps, actor, { order_id: params.id, ...body }, idempotency),
    }),
    defineRoute({
      operation_id: 'listAccountOrders',
      method: 'get',
      path: '/v1/accounts/{id}/orders',
      summary: "The account's orders, newest first",
      tag: 'orders',
      auth: 'bearer',
      params: accountParams,
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default),
      responses: { 200: 'A page of orders', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      response_schema: pageSchema('OrderPage', orderViewSchema),
      handler: async (ctx, { actor, params, query }) => ({
        status: 200,
        body: await accountOrders(ctx.state.deps, actor, params.id, query),
      }),
    }),
    defineRoute({
      operation_id: 'listAccountEntitlements',
      method: 'get',
      path: '/v1/accounts/{id}/entitlements',
      summary: 'What the account owns, newest first',
      tag: 'orders',
      auth: 'bearer',
      params: accountParams,
      query: pageQuery(config.limits.page_size_max, config.limits.page_size_default, { status: Joi.string().valid('ACTIVE', 'REVOKED') }),
      responses: { 200: 'A page of entitlements', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
      response_schema: pageSchema('EntitlementPage', entitlementViewSchema),
      handler: async (ctx, { actor, params, query }) => ({
        status: 200,
        body: await accountEntitlements(ctx.state.deps, actor, params.id, query),
      }),
    }),
  ];
}
