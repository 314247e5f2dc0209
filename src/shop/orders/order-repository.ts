import { decodeCursor, encodeCursor } from '../../db/cursor.js';
import { int8, timestamp, type SqlTx } from '../../db/sql.js';
import { invariant } from '../../domain/errors.js';
import { reserveAccountSequence } from '../../ledger/ledger-repository.js';
import type { PricedLine, PricedOrder } from './pricing.js';

export type OrderStatus = 'PENDING' | 'COMPLETED' | 'CANCELLED' | 'FAILED' | 'PARTIALLY_REFUNDED' | 'REFUNDED';
export type OrderMode = 'immediate' | 'two_step';

export interface OrderLine extends PricedLine {
  refunded_quantity: number;
}

export interface Order {
  id: string;
  account_id: string;
  mode: OrderMode;
  status: OrderStatus;
  currency: string;
  total_minor: number;
  refunded_minor: number;
  hold_id: string | null;
  payment_transaction_id: string | null;
  pending_until: string | null;
  completed_at: string | null;
  region: string;
  created_at: string;
  updated_at: string;
  lines: OrderLine[];
  status_history: StatusChange[];
}

interface OrderRow {
  id: string;
  account_id: string;
  account_seq: string;
  mode: OrderMode;
  status: OrderStatus;
  currency: string;
  total_minor: string;
  refunded_minor: string;
  hold_id: string | null;
  payment_transaction_id: string | null;
  pending_until: string | null;
  completed_at: string | null;
  status_history: Array<{ status: OrderStatus; reason: string | null; at: string }>;
  crdb_region: string;
  created_at: string;
  updated_at: string;
}

interface LineRow {
  line_no: number;
  item_id: string;
  item_name: string;
  kind: PricedLine['kind'];
  quantity: number;
  refunded_quantity: number;
  unit_price_minor: string;
  refundable: boolean;
  grants_currency: string | null;
  grants_amount_minor: string | null;
}

export interface StatusChange {
  status: OrderStatus;
  reason: string | null;
  at: string;
}

/**
 * Inserts an order directly in the state its transaction leaves it in (history included), so
 * the transaction never updates or reads back a row it just inserted: on PostgreSQL such reads
 * predicate-lock index pages that every concurrent order inserts into. The order takes the
 * account's next sequence number, which orders the account's order list by commit.
 */
export async function insertOrder(
  tx: SqlTx,
  order: {
    id: string;
    account_id: string;
    mode: OrderMode;
    priced: PricedOrder;
    statuses: OrderStatus[];
    pending_until_seconds: number | null;
    hold_id: string | null;
    payment_transaction_id: string | null;
  },
): Promise<Order> {
  const { first_seq, region } = await reserveAccountSequence(tx, order.account_id, 1);
  const status = order.statuses[order.statuses.length - 1]!;
  const row = await tx.one<OrderRow>(
    `INSERT INTO orders (id, account_id, account_seq, mode, status, currency, total_minor, hold_id, payment_transaction_id,
       pending_until, completed_at, status_history, crdb_region)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now() + CAST(? AS INTERVAL), CASE WHEN ? = 'COMPLETED' THEN now() END,
       (SELECT jsonb_agg(jsonb_build_object('status', s, 'reason', NULL, 'at', now())) FROM unnest(?::text[]) AS s), ?)
     RETURNING *`,
    [
      order.id,
      order.account_id,
      first_seq,
      order.mode,
      status,
      order.priced.currency,
      order.priced.total_minor,
      order.hold_id,
      order.payment_transaction_id,
      order.pending_until_seconds === null ? null : `${order.pending_until_seconds} seconds`,
      status,
      order.statuses,
      region,
    ],
  );
  await tx.execute(
    `INSERT INTO order_lines (order_id, line_no, item_id, item_name, kind, quantity, unit_price_minor, refundable,
       grants_currency, grants_amount_minor, crdb_region)
     VALUES ${order.priced.lines.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    order.priced.lines.flatMap((line) => [
      order.id,
      line.line_no,
      line.item_id,
      line.item_name,
      line.kind,
      line.quantity,
      line.unit_price_minor,
      line.refundable,
      line.grants?.currency ?? null,
      line.grants?.amount_minor ?? null,
      region,
    ]),
  );
  return toOrder(
    row,
    order.priced.lines.map((line) => ({ ...line, refunded_quantity: 0 })),
  );
}

/** Moves an order from one status to another; the status condition makes a racing change fail loudly. */
export async function changeStatus(
  tx: SqlTx,
  order: Order,
  to: OrderStatus,
  changes: { reason?: string; refunded_minor?: number; payment_transaction_id?: string } = {},
): Promise<Order> {
  const appended = to === order.status ? '[]' : JSON.stringify([{ status: to, reason: changes.reason ?? null }]);
  const row = await tx.maybeOne<OrderRow>(
    `UPDATE orders SET status = ?, refunded_minor = COALESCE(?, refunded_minor),
       payment_transaction_id = COALESCE(?, payment_transaction_id),
       completed_at = CASE WHEN ? = 'COMPLETED' THEN now() ELSE completed_at END,
       pending_until = CASE WHEN ? = 'PENDING' THEN pending_until ELSE NULL END,
       status_history = status_history || (
         SELECT COALESCE(jsonb_agg(change || jsonb_build_object('at', now())), '[]'::jsonb) FROM jsonb_array_elements(?::jsonb) AS change
       ),
       updated_at = now()
     WHERE id = ? AND status = ? RETURNING *`,
    [to, changes.refunded_minor ?? null, changes.payment_transaction_id ?? null, to, to, appended, order.id, order.status],
  );
  invariant(row !== undefined, `order ${order.id} changed status under a serializable transaction`);
  return toOrder(row, order.lines);
}

/** The order and its lines: primary-key reads only, safe inside write transactions. */
export async function findOrder(tx: SqlTx, id: string): Promise<Order | undefined> {
  const row = await tx.maybeOne<OrderRow>('SELECT * FROM orders WHERE id = ?', [id]);
  if (!row) return undefined;
  const lines = await tx.rows<LineRow>('SELECT * FROM order_lines WHERE order_id = ? ORDER BY line_no', [id]);
  return toOrder(
    row,
    lines.map((line) => ({
      line_no: line.line_no,
      item_id: line.item_id,
      item_name: line.item_name,
      kind: line.kind,
      quantity: line.quantity,
      refunded_quantity: line.refunded_quantity,
      unit_price_minor: int8(line.unit_price_minor),
      refundable: line.refundable,
      grants: line.grants_currency === null ? null : { currency: line.grants_currency, amount_minor: int8(line.grants_amount_minor) },
    })),
  );
}

function toOrder(row: OrderRow, lines: OrderLine[]): Order {
  return {
    id: row.id,
    account_id: row.account_id,
    mode: row.mode,
    status: row.status,
    currency: row.currency,
    total_minor: int8(row.total_minor),
    refunded_minor: int8(row.refunded_minor),
    hold_id: row.hold_id,
    payment_transaction_id: row.payment_transaction_id,
    pending_until: row.pending_until && timestamp(row.pending_until),
    completed_at: row.completed_at && timestamp(row.completed_at),
    region: row.crdb_region,
    created_at: timestamp(row.created_at),
    updated_at: timestamp(row.updated_at),
    lines,
    status_history: row.status_history.map((change) => ({ status: change.status, reason: change.reason, at: timestamp(change.at) })),
  };
}

export async function markLinesRefunded(
  tx: SqlTx,
  order_id: string,
  lines: ReadonlyArray<{ line_no: number; quantity: number }>,
): Promise<void> {
  for (const line of lines) {
    const updated = await tx.execute(
      `UPDATE order_lines SET refunded_quantity = refunded_quantity + ?
       WHERE order_id = ? AND line_no = ? AND refunded_quantity + ? <= quantity`,
      [line.quantity, order_id, line.line_no, line.quantity],
    );
    invariant(updated === 1, `order ${order_id} line ${line.line_no} would be refunded beyond its quantity`);
  }
}

export async function insertRefund(
  tx: SqlTx,
  refund: {
    id: string;
    order: Order;
    amount_minor: number;
    lines: Array<{ item_id: string; quantity: number }>;
    reason: string;
    transaction_id: string;
    policy_overridden_by: string | null;
  },
): Promise<string> {
  const row = await tx.one<{ created_at: string }>(
    `INSERT INTO order_refunds (id, order_id, amount_minor, lines, reason, transaction_id, policy_overridden_by, crdb_region)
     VALUES (?, ?, ?, ?::jsonb, ?, ?, ?, ?) RETURNING created_at`,
    [
      refund.id,
      refund.order.id,
      refund.amount_minor,
      JSON.stringify(refund.lines),
      refund.reason,
      refund.transaction_id,
      refund.policy_overridden_by,
      refund.order.region,
    ],
  );
  return timestamp(row.created_at);
}

/** An account's orders, newest first, paged on the account sequence (commit order). */
export async function listOrders(tx: SqlTx, account_id: string, page: { limit: number; cursor?: string }) {
  const before = decodeCursor(page.cursor, ['number'])?.[0];
  const rows = await tx.rows<{ id: string; account_seq: string }>(
    `SELECT id, account_seq FROM orders WHERE account_id = ? ${before === undefined ? '' : 'AND account_seq < ?'}
     ORDER BY account_seq DESC LIMIT ?`,
    [account_id, ...(before === undefined ? [] : [before]), page.limit + 1],
  );
  const orders: Order[] = [];
  for (const row of rows.slice(0, page.limit)) orders.push((await findOrder(tx, row.id))!);
  const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
  return { orders, next_cursor: last ? encodeCursor([int8(last.account_seq)]) : null };
}
