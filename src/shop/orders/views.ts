import Joi from 'joi';
import { idSchema, minorSchema, timestampSchema, unionMembers, viewPart, viewSchema, type ViewKeys } from '../../platform/view-schema.js';
import { itemKindSchema } from '../catalog/item.js';
import type { EntitlementView } from './entitlement-repository.js';
import type { Order, OrderMode, OrderStatus } from './order-repository.js';
import type { RefundView } from './refund-order.js';

export function orderView(order: Order) {
  return {
    id: order.id,
    account_id: order.account_id,
    mode: order.mode,
    status: order.status,
    currency: order.currency,
    total: order.total_minor,
    refunded_amount: order.refunded_minor,
    lines: order.lines.map((line) => ({
      item_id: line.item_id,
      name: line.item_name,
      kind: line.kind,
      quantity: line.quantity,
      unit_price: line.unit_price_minor,
      amount: line.unit_price_minor * line.quantity,
      refunded_quantity: line.refunded_quantity,
      grants: line.grants ? { currency: line.grants.currency, amount: line.grants.amount_minor * line.quantity } : null,
    })),
    hold_id: order.hold_id,
    payment_transaction_id: order.payment_transaction_id,
    pending_until: order.pending_until,
    completed_at: order.completed_at,
    status_history: order.status_history,
    created_at: order.created_at,
    updated_at: order.updated_at,
  };
}
export type OrderView = ReturnType<typeof orderView>;

const orderStatusSchema = Joi.string().valid(
  ...unionMembers<OrderStatus>({ PENDING: true, COMPLETED: true, CANCELLED: true, FAILED: true, PARTIALLY_REFUNDED: true, REFUNDED: true }),
);

export const orderViewSchema = viewSchema('Order', {
  id: idSchema,
  account_id: Joi.string(),
  mode: Joi.string().valid(...unionMembers<OrderMode>({ immediate: true, two_step: true })),
  status: orderStatusSchema,
  currency: Joi.string(),
  total: minorSchema,
  refunded_amount: minorSchema,
  lines: Joi.array().items(
    viewPart({
      item_id: Joi.string(),
      name: Joi.string(),
      kind: itemKindSchema,
      quantity: Joi.number().integer(),
      unit_price: minorSchema,
      amount: minorSchema,
      refunded_quantity: Joi.number().integer(),
      grants: viewPart({ currency: Joi.string(), amount: minorSchema })
        .allow(null)
        .description('What the line credits in game currency (currency packs)'),
    }),
  ),
  hold_id: idSchema.allow(null).description('Two-step orders: the hold paying for it'),
  payment_transaction_id: idSchema.allow(null),
  pending_until: timestampSchema.allow(null).description('Two-step orders: cancelled by the recovery worker after this'),
  completed_at: timestampSchema.allow(null),
  status_history: Joi.array().items(viewPart({ status: orderStatusSchema, reason: Joi.string().allow(null), at: timestampSchema })),
  created_at: timestampSchema,
  updated_at: timestampSchema,
} satisfies ViewKeys<OrderView>);

/** A refund of an order, as refund-order.ts answers it. */
export const orderRefundViewSchema = viewSchema('OrderRefund', {
  id: idSchema,
  order_id: idSchema,
  amount: minorSchema,
  currency: Joi.string(),
  lines: Joi.array().items(viewPart({ item_id: Joi.string(), quantity: Joi.number().integer() })),
  reason: Joi.string(),
  override_policy: Joi.boolean(),
  policy_overridden_by: Joi.string().allow(null).description('Who overrode the refund policy, when someone did'),
  transaction_id: idSchema,
  order_status: orderStatusSchema,
  created_at: timestampSchema,
} satisfies ViewKeys<RefundView>);

/** What an account owns, as entitlement-repository.ts lists it. */
export const entitlementViewSchema = viewSchema('Entitlement', {
  id: idSchema,
  order_id: idSchema,
  item_id: Joi.string(),
  quantity: Joi.number().integer().description('Units still owned'),
  quantity_granted: Joi.number().integer(),
  status: Joi.string().valid('ACTIVE', 'REVOKED'),
  granted_at: timestampSchema,
  revoked_at: timestampSchema.allow(null),
} satisfies ViewKeys<EntitlementView>);
