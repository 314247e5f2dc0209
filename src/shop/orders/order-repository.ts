import { decodeCursor, encodeCursor } from '../../db/cursor.js';
import type { SqlTx } from '../../db/sql.js';
import { orderOf, toOrderLineRecord, toOrderRecord, type Order } from './order-records.js';

type Row = Record<string, unknown>;

/** The order and its lines: primary-key reads. */
export async function findOrder(tx: SqlTx, id: string): Promise<Order | undefined> {
  return (await findOrders(tx, [id]))[0];
}

async function findOrders(tx: SqlTx, ids: readonly string[]): Promise<Order[]> {
  if (ids.length === 0) return [];
  const rows = await tx.rows<Row>('SELECT * FROM orders WHERE id = ANY(?::uuid[])', [[...ids]]);
  const lines = (await tx.rows<Row>('SELECT * FROM order_lines WHERE order_id = ANY(?::uuid[])', [[...ids]])).map(toOrderLineRecord);
  const by_id = new Map(rows.map((row) => [row['id'] as string, toOrderRecord(row)]));
  return ids.flatMap((id) => {
    const record = by_id.get(id);
    return record
      ? [
          orderOf(
            record,
            lines.filter((line) => line.order_id === id),
          ),
        ]
      : [];
  });
}

/** An account's orders, newest first, paged on the account sequence (commit order). */
export async function listOrders(tx: SqlTx, account_id: string, page: { limit: number; cursor?: string }) {
  const before = decodeCursor(page.cursor, ['number'])?.[0];
  const rows = await tx.rows<{ id: string; account_seq: string }>(
    `SELECT id, account_seq FROM orders WHERE account_id = ? ${before === undefined ? '' : 'AND account_seq < ?'}
     ORDER BY account_seq DESC LIMIT ?`,
    [account_id, ...(before === undefined ? [] : [before]), page.limit + 1],
  );
  const orders = await findOrders(
    tx,
    rows.slice(0, page.limit).map((row) => row.id),
  );
  const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
  return { orders, next_cursor: last ? encodeCursor([Number(last.account_seq)]) : null };
}
