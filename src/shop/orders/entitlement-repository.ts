import Joi from 'joi';
import { decodeCursor, encodeCursor } from '../../db/cursor.js';
import { int8, timestamp, type SqlTx } from '../../db/sql.js';
import { idSchema, timestampSchema, unionMembers, viewSchema, type ViewKeys } from '../../platform/view-schema.js';
import { entitlementView } from './views.js';

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
    data: rows
      .slice(0, page.limit)
      .map((row) =>
        entitlementView({ ...row, granted_at: timestamp(row.granted_at), revoked_at: row.revoked_at && timestamp(row.revoked_at) }),
      ),
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
