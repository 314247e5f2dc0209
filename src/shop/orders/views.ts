import type { Order } from './order-records.js';

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
