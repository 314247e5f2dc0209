import { randomUUID } from 'node:crypto';
import type { Unit } from '../../batch/unit.js';
import { invariant, notFound } from '../../domain/errors.js';
import { emitEvent } from '../../events/emit.js';
import type { EventType } from '../../events/event-types.js';
import { requireAccount, takeSequence } from '../../ledger/posting.js';
import {
  ENTITLEMENTS,
  ORDER_LINES,
  ORDER_REFUNDS,
  ORDERS,
  orderOf,
  type Order,
  type OrderMode,
  type OrderRefundRecord,
  type OrderStatus,
} from './order-records.js';
import type { Metadata } from '../../ledger/ledger-records.js';
import type { PricedOrder } from './pricing.js';
import { entitlementView, orderView } from './views.js';

/** The statuses an integrator hears about: an order's other changes (PENDING) stay internal. */
const ORDER_EVENTS: Partial<Record<OrderStatus, EventType>> = {
  COMPLETED: 'order.completed',
  CANCELLED: 'order.cancelled',
  PARTIALLY_REFUNDED: 'order.partially_refunded',
  REFUNDED: 'order.refunded',
};

function emitOrderEvent(unit: Unit, order: Order): Order {
  const type = ORDER_EVENTS[order.status];
  if (type) emitEvent(unit, { type, account_id: order.account_id, data: orderView(order) });
  return order;
}

/** Orders, their lines, entitlements and refunds as a batch sees and changes them (in memory). */

export function loadedOrder(unit: Unit, order_id: string): Order | undefined {
  const record = unit.table(ORDERS).get(order_id);
  if (!record) return undefined;
  return orderOf(
    record,
    unit
      .table(ORDER_LINES)
      .all()
      .filter((line) => line.order_id === order_id),
  );
}

export function requireOrder(unit: Unit, order_id: string): Order {
  const order = loadedOrder(unit, order_id);
  if (!order) throw notFound(`order ${order_id}`);
  return order;
}

/**
 * A new order in the state its batch leaves it in, with its lines. It takes the account's next
 * history number, which lists the account's orders in commit order.
 */
export function insertOrder(
  unit: Unit,
  order: {
    id: string;
    account_id: string;
    mode: OrderMode;
    priced: PricedOrder;
    statuses: OrderStatus[];
    pending_until: string | null;
    hold_id: string | null;
    payment_transaction_id: string | null;
    metadata: Metadata;
  },
): Order {
  const account = requireAccount(unit, order.account_id);
  const status = order.statuses[order.statuses.length - 1]!;
  unit.table(ORDERS).insert({
    id: order.id,
    account_id: order.account_id,
    account_seq: takeSequence(unit, order.account_id, 1),
    mode: order.mode,
    status,
    currency: order.priced.currency,
    total_minor: order.priced.total_minor,
    refunded_minor: 0,
    hold_id: order.hold_id,
    payment_transaction_id: order.payment_transaction_id,
    pending_until: order.pending_until,
    completed_at: status === 'COMPLETED' ? unit.now : null,
    status_history: order.statuses.map((change) => ({ status: change, reason: null, at: unit.now })),
    metadata: order.metadata,
    region: account.region,
    created_at: unit.now,
    updated_at: unit.now,
  });
  for (const line of order.priced.lines) {
    unit.table(ORDER_LINES).insert({
      order_id: order.id,
      line_no: line.line_no,
      item_id: line.item_id,
      item_name: line.item_name,
      kind: line.kind,
      quantity: line.quantity,
      refunded_quantity: 0,
      unit_price_minor: line.unit_price_minor,
      refundable: line.refundable,
      grants_currency: line.grants?.currency ?? null,
      grants_amount_minor: line.grants?.amount_minor ?? null,
      merchant_id: line.merchant_id,
      merchant_share_minor: line.merchant_share_minor,
      refunded_minor: 0,
      region: account.region,
    });
  }
  return emitOrderEvent(unit, requireOrder(unit, order.id));
}

/** Moves an order to another status, recording the change in its history. */
export function changeStatus(
  unit: Unit,
  order: Order,
  to: OrderStatus,
  changes: { reason?: string; refunded_minor?: number; payment_transaction_id?: string } = {},
): Order {
  const current = unit.table(ORDERS).get(order.id)!;
  const history =
    to === current.status
      ? current.status_history
      : [...current.status_history, { status: to, reason: changes.reason ?? null, at: unit.now }];
  unit.table(ORDERS).update(order.id, {
    status: to,
    refunded_minor: changes.refunded_minor ?? current.refunded_minor,
    payment_transaction_id: changes.payment_transaction_id ?? current.payment_transaction_id,
    completed_at: to === 'COMPLETED' ? unit.now : current.completed_at,
    pending_until: to === 'PENDING' ? current.pending_until : null,
    status_history: history,
    updated_at: unit.now,
  });
  return emitOrderEvent(unit, requireOrder(unit, order.id));
}

/** Records what a refund takes back of each line: units (their entitlements go) and money (merchant shares follow it). */
export function markLinesRefunded(
  unit: Unit,
  order_id: string,
  lines: ReadonlyArray<{ line_no: number; quantity: number }>,
  line_amounts: ReadonlyMap<number, number>,
): void {
  const units = new Map(lines.map(({ line_no, quantity }) => [line_no, quantity]));
  for (const line_no of new Set([...units.keys(), ...line_amounts.keys()])) {
    const key = `${order_id}#${line_no}`;
    const line = unit.table(ORDER_LINES).get(key)!;
    const refunded_quantity = line.refunded_quantity + (units.get(line_no) ?? 0);
    const refunded_minor = line.refunded_minor + (line_amounts.get(line_no) ?? 0);
    invariant(refunded_quantity <= line.quantity, `order ${order_id} line ${line_no} would be refunded beyond its quantity`);
    invariant(
      refunded_minor <= line.unit_price_minor * line.quantity,
      `order ${order_id} line ${line_no} would be refunded beyond its amount`,
    );
    unit.table(ORDER_LINES).update(key, { refunded_quantity, refunded_minor });
  }
}

export function insertRefund(unit: Unit, refund: Omit<OrderRefundRecord, 'created_at'>): OrderRefundRecord {
  return unit.table(ORDER_REFUNDS).insert({ ...refund, created_at: unit.now });
}

/** One entitlement per order line: what the player owns because they paid for it. */
export function grantEntitlements(unit: Unit, order: Order): void {
  const first_seq = takeSequence(unit, order.account_id, order.lines.length);
  order.lines.forEach((line, index) => {
    const entitlement = unit.table(ENTITLEMENTS).insert({
      id: randomUUID(),
      account_id: order.account_id,
      account_seq: first_seq + index,
      order_id: order.id,
      line_no: line.line_no,
      item_id: line.item_id,
      quantity: line.quantity,
      revoked_quantity: 0,
      status: 'ACTIVE',
      region: order.region,
      granted_at: unit.now,
      revoked_at: null,
    });
    emitEvent(unit, { type: 'entitlement.granted', account_id: order.account_id, data: entitlementView(entitlement) });
  });
}

/** Revokes refunded units; an entitlement with every unit revoked becomes REVOKED. */
export function revokeEntitlements(unit: Unit, order_id: string, lines: ReadonlyArray<{ line_no: number; quantity: number }>): void {
  for (const { line_no, quantity } of lines) {
    const key = `${order_id}#${line_no}`;
    const entitlement = unit.table(ENTITLEMENTS).get(key);
    invariant(entitlement !== undefined, `order ${order_id} line ${line_no} has no entitlement`);
    const revoked_quantity = entitlement.revoked_quantity + quantity;
    invariant(
      revoked_quantity <= entitlement.quantity,
      `entitlement of order ${order_id} line ${line_no} cannot lose ${quantity} more units`,
    );
    const revoked = revoked_quantity === entitlement.quantity;
    const changed = unit.table(ENTITLEMENTS).update(key, {
      revoked_quantity,
      status: revoked ? 'REVOKED' : entitlement.status,
      revoked_at: revoked ? unit.now : entitlement.revoked_at,
    });
    emitEvent(unit, { type: 'entitlement.revoked', account_id: changed.account_id, data: entitlementView(changed) });
  }
}
