import type { TableSpec } from '../../batch/table-writer.js';
import { int8, timestamp } from '../../db/sql.js';
import type { Metadata } from '../../ledger/ledger-records.js';
import type { ItemKind } from '../catalog/item.js';
import type { PricedLine } from './pricing.js';

export type OrderStatus = 'PENDING' | 'COMPLETED' | 'CANCELLED' | 'FAILED' | 'PARTIALLY_REFUNDED' | 'REFUNDED';
export type OrderMode = 'immediate' | 'two_step';

export interface StatusChange {
  status: OrderStatus;
  reason: string | null;
  at: string;
}

export interface OrderRecord {
  id: string;
  account_id: string;
  /** Position in the account's history sequence: orders are listed in commit order. */
  account_seq: number;
  mode: OrderMode;
  status: OrderStatus;
  currency: string;
  total_minor: number;
  refunded_minor: number;
  hold_id: string | null;
  payment_transaction_id: string | null;
  pending_until: string | null;
  completed_at: string | null;
  status_history: StatusChange[];
  metadata: Metadata;
  region: string;
  created_at: string;
  updated_at: string;
}

export const ORDERS: TableSpec<OrderRecord> = {
  table: 'orders',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    account_id: 'text',
    account_seq: 'int8',
    mode: 'text',
    status: 'text',
    currency: 'text',
    total_minor: 'int8',
    refunded_minor: 'int8',
    hold_id: 'uuid',
    payment_transaction_id: 'uuid',
    pending_until: 'timestamptz',
    completed_at: 'timestamptz',
    status_history: 'jsonb',
    metadata: 'jsonb',
    region: 'region',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
  },
  key: ['id'],
  mutable: ['status', 'refunded_minor', 'payment_transaction_id', 'pending_until', 'completed_at', 'status_history', 'updated_at'],
  guarded: 'status',
  guards: ['status', 'refunded_minor'],
};

const optionalTimestamp = (value: unknown) => (value === null || value === undefined ? null : timestamp(value as string));

export function toOrderRecord(row: Record<string, unknown>): OrderRecord {
  const history = row['status_history'] as Array<{ status: OrderStatus; reason: string | null; at: string }>;
  return {
    id: row['id'] as string,
    account_id: row['account_id'] as string,
    account_seq: int8(row['account_seq'] as string),
    mode: row['mode'] as OrderMode,
    status: row['status'] as OrderStatus,
    currency: row['currency'] as string,
    total_minor: int8(row['total_minor'] as string),
    refunded_minor: int8(row['refunded_minor'] as string),
    hold_id: (row['hold_id'] as string | null) ?? null,
    payment_transaction_id: (row['payment_transaction_id'] as string | null) ?? null,
    pending_until: optionalTimestamp(row['pending_until']),
    completed_at: optionalTimestamp(row['completed_at']),
    status_history: history.map((change) => ({ status: change.status, reason: change.reason, at: timestamp(change.at) })),
    metadata: row['metadata'] as Metadata,
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
    updated_at: timestamp(row['updated_at'] as string),
  };
}

export interface OrderLineRecord {
  order_id: string;
  line_no: number;
  item_id: string;
  item_name: string;
  kind: ItemKind;
  quantity: number;
  refunded_quantity: number;
  unit_price_minor: number;
  refundable: boolean;
  grants_currency: string | null;
  grants_amount_minor: number | null;
  merchant_id: string | null;
  merchant_share_minor: number;
  /** Money refunded against the line (by lines, or its part of an amount): the merchant's take-back follows it. */
  refunded_minor: number;
  region: string;
}

export const ORDER_LINES: TableSpec<OrderLineRecord> = {
  table: 'order_lines',
  keyOf: (row) => `${row.order_id}#${row.line_no}`,
  columns: {
    order_id: 'uuid',
    line_no: 'int4',
    item_id: 'text',
    item_name: 'text',
    kind: 'text',
    quantity: 'int4',
    refunded_quantity: 'int4',
    unit_price_minor: 'int8',
    refundable: 'bool',
    grants_currency: 'text',
    grants_amount_minor: 'int8',
    merchant_id: 'text',
    merchant_share_minor: 'int8',
    refunded_minor: 'int8',
    region: 'region',
  },
  key: ['order_id', 'line_no'],
  mutable: ['refunded_quantity', 'refunded_minor'],
  guarded: 'refunded_quantity',
  guards: ['refunded_quantity', 'refunded_minor'],
};

export function toOrderLineRecord(row: Record<string, unknown>): OrderLineRecord {
  const grants = row['grants_amount_minor'] as string | null;
  return {
    order_id: row['order_id'] as string,
    line_no: row['line_no'] as number,
    item_id: row['item_id'] as string,
    item_name: row['item_name'] as string,
    kind: row['kind'] as ItemKind,
    quantity: row['quantity'] as number,
    refunded_quantity: row['refunded_quantity'] as number,
    unit_price_minor: int8(row['unit_price_minor'] as string),
    refundable: row['refundable'] as boolean,
    grants_currency: (row['grants_currency'] as string | null) ?? null,
    grants_amount_minor: grants === null ? null : int8(grants),
    merchant_id: (row['merchant_id'] as string | null) ?? null,
    merchant_share_minor: int8(row['merchant_share_minor'] as string),
    refunded_minor: int8(row['refunded_minor'] as string),
    region: row['crdb_region'] as string,
  };
}

export interface EntitlementRecord {
  id: string;
  account_id: string;
  account_seq: number;
  order_id: string;
  line_no: number;
  item_id: string;
  quantity: number;
  revoked_quantity: number;
  status: 'ACTIVE' | 'REVOKED';
  region: string;
  granted_at: string;
  revoked_at: string | null;
}

export const ENTITLEMENTS: TableSpec<EntitlementRecord> = {
  table: 'entitlements',
  keyOf: (row) => `${row.order_id}#${row.line_no}`,
  columns: {
    id: 'uuid',
    account_id: 'text',
    account_seq: 'int8',
    order_id: 'uuid',
    line_no: 'int4',
    item_id: 'text',
    quantity: 'int4',
    revoked_quantity: 'int4',
    status: 'text',
    region: 'region',
    granted_at: 'timestamptz',
    revoked_at: 'timestamptz',
  },
  key: ['id'],
  mutable: ['revoked_quantity', 'status', 'revoked_at'],
  guarded: 'revoked_quantity',
  guards: ['revoked_quantity'],
};

export function toEntitlementRecord(row: Record<string, unknown>): EntitlementRecord {
  return {
    id: row['id'] as string,
    account_id: row['account_id'] as string,
    account_seq: int8(row['account_seq'] as string),
    order_id: row['order_id'] as string,
    line_no: row['line_no'] as number,
    item_id: row['item_id'] as string,
    quantity: row['quantity'] as number,
    revoked_quantity: row['revoked_quantity'] as number,
    status: row['status'] as EntitlementRecord['status'],
    region: row['crdb_region'] as string,
    granted_at: timestamp(row['granted_at'] as string),
    revoked_at: optionalTimestamp(row['revoked_at']),
  };
}

export interface OrderRefundRecord {
  id: string;
  order_id: string;
  amount_minor: number;
  lines: Array<{ item_id: string; quantity: number }>;
  reason: string;
  transaction_id: string;
  /** Who refunded against the items' refund policy, explicitly; null when the policy allowed it. */
  policy_overridden_by: string | null;
  region: string;
  created_at: string;
}

export const ORDER_REFUNDS: TableSpec<OrderRefundRecord> = {
  table: 'order_refunds',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    order_id: 'uuid',
    amount_minor: 'int8',
    lines: 'jsonb',
    reason: 'text',
    transaction_id: 'uuid',
    policy_overridden_by: 'text',
    region: 'region',
    created_at: 'timestamptz',
  },
  key: ['id'],
};

/** An order line as the domain prices and refunds it. */
export interface OrderLine extends PricedLine {
  refunded_quantity: number;
  refunded_minor: number;
}

/** An order with its lines: what views show and rules decide on. */
export interface Order extends Omit<OrderRecord, 'account_seq'> {
  lines: OrderLine[];
}

export function orderOf(record: OrderRecord, lines: readonly OrderLineRecord[]): Order {
  const { account_seq: _, ...order } = record;
  return { ...order, lines: [...lines].sort((a, b) => a.line_no - b.line_no).map(lineOf) };
}

function lineOf(line: OrderLineRecord): OrderLine {
  return {
    line_no: line.line_no,
    item_id: line.item_id,
    item_name: line.item_name,
    kind: line.kind,
    quantity: line.quantity,
    refunded_quantity: line.refunded_quantity,
    unit_price_minor: line.unit_price_minor,
    refundable: line.refundable,
    grants: line.grants_currency === null ? null : { currency: line.grants_currency, amount_minor: line.grants_amount_minor! },
    merchant_id: line.merchant_id,
    merchant_share_minor: line.merchant_share_minor,
    refunded_minor: line.refunded_minor,
  };
}
