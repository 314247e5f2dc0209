import Joi from 'joi';
import {
  idSchema,
  minorSchema,
  timestampSchema,
  unionMembers,
  viewPart,
  viewSchema,
  type ViewKeys,
  metadataViewSchema,
} from '../../platform/view-schema.js';
import { itemKindSchema } from '../catalog/item.js';
import type { EntitlementRecord, Order, OrderMode, OrderStatus } from './order-records.js';

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
      merchant_id: line.merchant_id,
      merchant_share: line.merchant_share_minor,
      refunded_amount: line.refunded_minor,
    })),
    hold_id: order.hold_id,
    payment_transaction_id: order.payment_transaction_id,
    pending_until: order.pending_until,
    completed_at: order.completed_at,
    status_history: order.status_history,
    metadata: order.metadata,
    created_at: order.created_at,
    updated_at: order.updated_at,
  };
}
export type OrderView = ReturnType<typeof orderView>;

/** An entitlement as the account's list shows it: the units the player still owns, and how many were granted. */
export function entitlementView(
  entitlement: Pick<
    EntitlementRecord,
    'id' | 'order_id' | 'item_id' | 'quantity' | 'revoked_quantity' | 'status' | 'granted_at' | 'revoked_at'
  >,
) {
  return {
    id: entitlement.id,
    order_id: entitlement.order_id,
    item_id: entitlement.item_id,
    quantity: entitlement.quantity - entitlement.revoked_quantity,
    quantity_granted: entitlement.quantity,
    status: entitlement.status,
    granted_at: entitlement.granted_at,
    revoked_at: entitlement.revoked_at,
  };
}

export const orderStatusSchema = Joi.string().valid(
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
      merchant_id: Joi.string().allow(null).description('The merchant the item is sold for'),
      merchant_share: minorSchema.description("The merchant's revenue share of the whole line (0 without a merchant)"),
      refunded_amount: minorSchema.description('Money refunded against the line (by lines, or its part of an amount)'),
    }),
  ),
  hold_id: idSchema.allow(null).description('Two-step orders: the hold paying for it'),
  payment_transaction_id: idSchema.allow(null),
  pending_until: timestampSchema.allow(null).description('Two-step orders: cancelled by the recovery worker after this'),
  completed_at: timestampSchema.allow(null),
  status_history: Joi.array().items(viewPart({ status: orderStatusSchema, reason: Joi.string().allow(null), at: timestampSchema })),
  metadata: metadataViewSchema,
  created_at: timestampSchema,
  updated_at: timestampSchema,
} satisfies ViewKeys<OrderView>);
