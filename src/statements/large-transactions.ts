import Joi from 'joi';
import { requireScope } from '../auth/access.js';
import { minorSchema, timestampSchema, viewSchema } from '../platform/view-schema.js';
import type { Actor } from '../auth/tokens.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import type { SqlTx } from '../db/sql.js';
import { findTransaction } from '../ledger/ledger-queries.js';
import { transactionView, transactionViewSchema } from '../ledger/views.js';
import type { AppDeps } from '../platform/deps.js';
import type { TimeRange } from './time-range.js';

/**
 * AML review: ledger transactions moving at least `threshold` minor units of one currency over
 * [from, to), newest first (admin). The range is bounded (EXPORT_RANGE_MAX_DAYS) and walked
 * through the transactions' time index; pages are cut on (created_at, id).
 */
export async function largeTransactions(
  deps: AppDeps,
  actor: Actor,
  query: { range: TimeRange; currency: string; threshold: number; limit: number; cursor?: string },
) {
  requireScope(actor, 'admin');
  const before = decodeCursor(query.cursor, ['timestamp', 'uuid']);
  return deps.transactions.run('large_transactions', (tx) => reportPage(tx, query, before), { read_only_snapshot: true });
}

async function reportPage(
  tx: SqlTx,
  query: { range: TimeRange; currency: string; threshold: number; limit: number },
  before: Array<string | number> | undefined,
) {
  const rows = await tx.rows<{ id: string; created_at: string }>(
    // A transaction in another currency may move this one too (a currency pack's grant): its entries say.
    `SELECT t.id, t.created_at FROM ledger_transactions t
     WHERE t.created_at >= CAST(? AS TIMESTAMPTZ) AND t.created_at < CAST(? AS TIMESTAMPTZ)
       AND ((t.currency = ? AND t.amount_minor >= ?)
         OR (t.currency <> ? AND EXISTS (SELECT 1 FROM ledger_entries e
               WHERE e.transaction_id = t.id AND e.currency = ? AND abs(e.amount_minor) >= ?)))
       ${before ? 'AND (t.created_at, t.id) < (CAST(? AS TIMESTAMPTZ), CAST(? AS UUID))' : ''}
     ORDER BY t.created_at DESC, t.id DESC LIMIT ?`,
    [
      query.range.from,
      query.range.to,
      query.currency,
      query.threshold,
      query.currency,
      query.currency,
      query.threshold,
      ...(before ?? []),
      query.limit + 1,
    ],
  );
  const page = rows.slice(0, query.limit);
  const transactions = [];
  for (const row of page) transactions.push(transactionView((await findTransaction(tx, row.id))!));
  const last = rows.length > query.limit ? page[page.length - 1] : undefined;
  return {
    from: query.range.from,
    to: query.range.to,
    currency: query.currency,
    threshold: query.threshold,
    data: transactions,
    next_cursor: last ? encodeCursor([last.created_at, last.id]) : null,
  };
}

export const largeTransactionsSchema = viewSchema('LargeTransactionsPage', {
  from: timestampSchema,
  to: timestampSchema,
  currency: Joi.string(),
  threshold: minorSchema,
  data: Joi.array().items(transactionViewSchema),
  next_cursor: Joi.string().allow(null),
});
