import { randomUUID } from 'node:crypto';
import Joi from 'joi';
import { decodeCursor, encodeCursor } from '../../db/cursor.js';
import { int8, timestamp, type SqlTx } from '../../db/sql.js';
import { invariant } from '../../domain/errors.js';
import { reserveAccountSequence } from '../../ledger/ledger-repository.js';
import { idSchema, timestampSchema, unionMembers, viewSchema, type ViewKeys } from '../../platform/view-schema.js';
import type { Order } from './order-repository.js';

/** One entitlement per order line: what the player owns because they paid for it. */
export async function grantEntitlements(tx: SqlTx, order: Order): Promise<void> {
  const { first_seq } = await reserveAccountSequence(tx, order.account_id, order.lines.length);
  await tx.execute(
    `INSERT INTO entitlements (id, account_id, account_seq, order_id, line_no, item_id, quantity, status, crdb_region)
     VALUES ${order.lines.map(() => "(?, ?, ?, ?, ?, ?, ?, 'ACTIVE', ?)").join(', ')}`,
    order.lines.flatMap((line, index) => [
      randomUUID(),
      order.account_id,
      first_seq + index,
      order.id,
      line.line_no,
      line.item_id,
      line.quantity,
      order.region,
    ]),
  );
}

/** Revokes refunded units; an entitlement with every unit revoked becomes REVOKED. */
export async function revokeEntitlements(
  tx: SqlTx,
  order_id: string,
  lines: ReadonlyArray<{ line_no: number; quantity: number }>,
): Promise<void> {
  for (const line of lines) {
    const updated = await tx.execute(
      `UPDATE entitlements SET revoked_quantity = revoked_quantity + ?,
         status = CASE WHEN revoked_quantity + ? = quantity THEN 'REVOKED' ELSE status END,
         revoked_at = CASE WHEN revoked_quantity + ? = quantity THEN now() ELSE revoked_at END
       WHERE order_id = ? AND line_no = ? AND revoked_quantity + ? <= quantity`,
      [line.quantity, line.quantity, line.quantity, order_id, line.line_no, line.quantity],
    );
    invariant(updated === 1, `entitlement of order ${order_id} line ${line.line_no} cannot lose ${line.quantity} more units`);
  }
}

interface EntitlementRow {
  id: string;
  account_seq: string;
  order_id: string;
  item_id: string;
  quantity: number;
  revoked_quantity: number;
  status: 'ACTIVE' | 'REVOKED';
  granted_at: string;
  revoked_at: string | null;
}

export async function listEntitlements(tx: SqlTx, account_id: string, page: { limit: number; cursor?: string; status?: string }) {
  const before = decodeCursor(page.cursor, ['number'])?.[0];
  const rows = await tx.rows<EntitlementRow>(
    `SELECT * FROM entitlements WHERE account_id = ?
       ${before === undefined ? '' : 'AND account_seq < ?'} ${page.status ? 'AND status = ?' : ''}
     ORDER BY account_seq DESC LIMIT ?`,
    [account_id, ...(before === undefined ? [] : [before]), ...(page.status ? [page.status] : []), page.limit + 1],
  );
  const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
  return {
    data: rows.slice(0, page.limit).map((row) => ({
      id: row.id,
      order_id: row.order_id,
      item_id: row.item_id,
      quantity: row.quantity - row.revoked_quantity,
      quantity_granted: row.quantity,
      status: row.status,
      granted_at: timestamp(row.granted_at),
      revoked_at: row.revoked_at && timestamp(row.revoked_at),
    })),
    next_cursor: last ? encodeCursor([int8(last.account_seq)]) : null,
  };
}

export type EntitlementView = Awaited<ReturnType<typeof listEntitlements>>['data'][number];

export const entitlementViewSchema = viewSchema('Entitlement', {
  id: idSchema,
  order_id: idSchema,
  item_id: Joi.string(),
  quantity: Joi.number().integer().description('Units still owned'),
  quantity_granted: Joi.number().integer(),
  status: Joi.string().valid(...unionMembers<EntitlementRow['status']>({ ACTIVE: true, REVOKED: true })),
  granted_at: timestampSchema,
  revoked_at: timestampSchema.allow(null),
} satisfies ViewKeys<EntitlementView>);
