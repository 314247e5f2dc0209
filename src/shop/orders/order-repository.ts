import { randomUUID } from 'node:crypto';
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
  status_history: Array<{ status: OrderStatus; reason: string | null; at: string }>;
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

/** Creates a PENDING order with its lines; it takes the account's next sequence number for listing. */
export async function insertOrder(tx: SqlTx, order: { account_id: string; mode: OrderMode; priced: PricedOrder; pending_until_seconds: number | null }): Promise<string> {
  const id = randomUUID();
  const { first_seq, region } = await reserveAccountSequence(tx, order.account_id, 1);
  await tx.execute(
    `INSERT INTO orders (id, account_id, account_seq, mode, status, currency, total_minor, pending_until, crdb_region)
     VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ${order.pending_until_seconds === null ? 'NULL' : 'now() + CAST(? AS INTERVAL)'}, ?)`,
    [
      id, order.account_id, first_seq, order.mode, order.priced.currency, order.priced.total_minor,
      ...(order.pending_until_seconds === null ? [] : [`${order.pending_until_seconds} seconds`]),
      region,
    ],
  );
  await tx.execute(
    `INSERT INTO order_lines (order_id, line_no, item_id, item_name, kind, quantity, unit_price_minor, refundable, grants_currency, grants_amount_minor, crdb_region)
     VALUES ${order.priced.lines.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    order.priced.lines.flatMap((line) => [
      id, line.line_no, line.item_id, line.item_name, line.kind, line.quantity, line.unit_price_minor, line.refundable,
      line.grants?.currency ?? null, line.grants?.amount_minor ?? null, region,
    ]),
  );
  await recordStatus(tx, id, 'PENDING', null, region);
  return id;
}

async function recordStatus(tx: SqlTx, order_id: string, status: OrderStatus, reason: string | null, region: string): Promise<void> {
  await tx.execute('INSERT INTO order_status_changes (id, order_id, status, reason, crdb_region) VALUES (?, ?, ?, ?, ?)', [randomUUID(), order_id, status, reason, region]);
}

/** Moves an order from one status to another; the status check makes a racing change fail. */
export async function changeStatus(
  tx: SqlTx,
  order: Order,
  to: OrderStatus,
  changes: { reason?: string; hold_id?: string; payment_transaction_id?: string; refunded_minor?: number } = {},
): Promise<void> {
  const updated = await tx.execute(
    `UPDATE orders SET status = ?, hold_id = COALESCE(?, hold_id), payment_transaction_id = COALESCE(?, payment_transaction_id),
       refunded_minor = COALESCE(?, refunded_minor), completed_at = CASE WHEN ? = 'COMPLETED' THEN now() ELSE completed_at END,
       pending_until = CASE WHEN ? = 'PENDING' THEN pending_until ELSE NULL END, updated_at = now()
     WHERE id = ? AND status = ?`,
    [to, changes.hold_id ?? null, changes.payment_transaction_id ?? null, changes.refunded_minor ?? null, to, to, order.id, order.status],
  );
  invariant(updated === 1, `order ${order.id} changed status under a serializable transaction`);
  if (to !== order.status) await recordStatus(tx, order.id, to, changes.reason ?? null, order.region);
}

export async function findOrder(tx: SqlTx, id: string): Promise<Order | undefined> {
  const row = await tx.maybeOne<OrderRow>('SELECT * FROM orders WHERE id = ?', [id]);
  if (!row) return undefined;
  const lines = await tx.rows<LineRow>('SELECT * FROM order_lines WHERE order_id = ? ORDER BY line_no', [id]);
  const history = await tx.rows<{ status: OrderStatus; reason: string | null; changed_at: string }>(
    'SELECT status, reason, changed_at FROM order_status_changes WHERE order_id = ? ORDER BY changed_at, id',
    [id],
  );
  return toOrder(row, lines, history);
}

function toOrder(row: OrderRow, lines: LineRow[], history: Array<{ status: OrderStatus; reason: string | null; changed_at: string }>): Order {
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
    lines: lines.map((line) => ({
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
    status_history: history.map((change) => ({ status: change.status, reason: change.reason, at: timestamp(change.changed_at) })),
  };
}

export async function markLinesRefunded(tx: SqlTx, order_id: string, lines: ReadonlyArray<{ line_no: number; quantity: number }>): Promise<void> {
  for (const line of lines) {
    const updated = await tx.execute(
      'UPDATE order_lines SET refunded_quantity = refunded_quantity + ? WHERE order_id = ? AND line_no = ? AND refunded_quantity + ? <= quantity',
      [line.quantity, order_id, line.line_no, line.quantity],
    );
    invariant(updated === 1, `order ${order_id} line ${line.line_no} would be refunded beyond its quantity`);
  }
}

export async function insertRefund(
  tx: SqlTx,
  refund: { id: string; order: Order; amount_minor: number; lines: Array<{ item_id: string; quantity: number }>; reason: string; transaction_id: string },
): Promise<string> {
  const row = await tx.one<{ created_at: string }>(
    'INSERT INTO order_refunds (id, order_id, amount_minor, lines, reason, transaction_id, crdb_region) VALUES (?, ?, ?, ?::jsonb, ?, ?, ?) RETURNING created_at',
    [refund.id, refund.order.id, refund.amount_minor, JSON.stringify(refund.lines), refund.reason, refund.transaction_id, refund.order.region],
  );
  return timestamp(row.created_at);
}

/** An account's orders, newest first, paged on the account sequence (commit order). */
export async function listOrders(tx: SqlTx, account_id: string, page: { limit: number; cursor?: string }) {
  const before = decodeCursor(page.cursor, ['number'])?.[0];
  const rows = await tx.rows<{ id: string; account_seq: string }>(
    `SELECT id, account_seq FROM orders WHERE account_id = ? ${before === undefined ? '' : 'AND account_seq < ?'} ORDER BY account_seq DESC LIMIT ?`,
    [account_id, ...(before === undefined ? [] : [before]), page.limit + 1],
  );
  const orders: Order[] = [];
  for (const row of rows.slice(0, page.limit)) orders.push((await findOrder(tx, row.id))!);
  const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
  return { orders, next_cursor: last ? encodeCursor([int8(last.account_seq)]) : null };
}
