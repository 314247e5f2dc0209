import Joi from 'joi';
import { requireAccountRead } from '../auth/access.js';
import { transactionTypeSchema } from '../ledger/views.js';
import { idSchema, metadataViewSchema, minorSchema, timestampSchema, viewPart, viewSchema } from '../platform/view-schema.js';
import type { Actor } from '../auth/tokens.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { int8, int8Total, timestamp, type SqlTx } from '../db/sql.js';
import { DomainError, notFound } from '../domain/errors.js';
import type { Metadata, TransactionType } from '../ledger/ledger-records.js';
import type { AppDeps } from '../platform/deps.js';
import type { TimeRange } from './time-range.js';

/**
 * An account's statement in one currency over [from, to): the balance it opened with (its last
 * entry before `from`), the entries in between, the balance it closed with (its last entry
 * before `to`), and the totals in and out of all those entries. One snapshot per page (REPEATABLE
 * READ READ ONLY), so the page, its totals and its balances agree while writes go on; pages are
 * cut on (created_at, account sequence), so paging a closed range never skips or repeats an entry.
 */

const LAST_BEFORE = `SELECT balance_after_minor FROM ledger_entries
  WHERE account_id = ? AND currency = ? AND account_seq IS NOT NULL AND created_at < CAST(? AS TIMESTAMPTZ)
  ORDER BY created_at DESC, account_seq DESC LIMIT 1`;

interface EntryRow {
  entry_id: string;
  transaction_id: string;
  type: TransactionType;
  amount_minor: string;
  balance_after_minor: string;
  account_seq: string;
  reason: string | null;
  reference: string | null;
  metadata: Metadata;
  created_at: string;
}

export async function accountStatement(
  deps: AppDeps,
  actor: Actor,
  input: { account_id: string; currency: string; range: TimeRange; limit: number; cursor?: string },
) {
  requireAccountRead(actor, input.account_id, 'money');
  const after = decodeCursor(input.cursor, ['timestamp', 'number']);
  return deps.transactions.run('statement', (tx) => statementPage(tx, input, after), { read_only_snapshot: true });
}

async function statementPage(
  tx: SqlTx,
  input: { account_id: string; currency: string; range: TimeRange; limit: number },
  after: Array<string | number> | undefined,
) {
  const { account_id, currency, range } = input;
  const account = await tx.maybeOne<{ kind: string }>('SELECT kind FROM accounts WHERE id = ?', [account_id]);
  if (!account) throw notFound(`account ${account_id}`);
  if (account.kind === 'system') throw new DomainError('validation_error', 'statements are kept for player and merchant wallets');
  const balanceBefore = async (instant: string) => {
    const row = await tx.maybeOne<{ balance_after_minor: string }>(LAST_BEFORE, [account_id, currency, instant]);
    return row ? int8(row.balance_after_minor) : 0;
  };
  const totals = await tx.one<{ credits: string | null; debits: string | null; entries: string }>(
    `SELECT SUM(amount_minor) FILTER (WHERE amount_minor > 0) AS credits, SUM(amount_minor) FILTER (WHERE amount_minor < 0) AS debits,
       COUNT(*) AS entries
     FROM ledger_entries WHERE account_id = ? AND currency = ? AND account_seq IS NOT NULL
       AND created_at >= CAST(? AS TIMESTAMPTZ) AND created_at < CAST(? AS TIMESTAMPTZ)`,
    [account_id, currency, range.from, range.to],
  );
  const rows = await tx.rows<EntryRow>(
    `SELECT e.id AS entry_id, e.transaction_id, t.type, e.amount_minor, e.balance_after_minor, e.account_seq, t.reason, t.reference,
       t.metadata, e.created_at
     FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
     WHERE e.account_id = ? AND e.currency = ? AND e.account_seq IS NOT NULL
       AND e.created_at >= CAST(? AS TIMESTAMPTZ) AND e.created_at < CAST(? AS TIMESTAMPTZ)
       ${after ? 'AND (e.created_at, e.account_seq) > (CAST(? AS TIMESTAMPTZ), ?)' : ''}
     ORDER BY e.created_at, e.account_seq LIMIT ?`,
    [account_id, currency, range.from, range.to, ...(after ?? []), input.limit + 1],
  );
  const page = rows.slice(0, input.limit);
  const last = rows.length > input.limit ? page[page.length - 1] : undefined;
  return {
    account_id,
    currency,
    from: range.from,
    to: range.to,
    opening_balance: await balanceBefore(range.from),
    closing_balance: await balanceBefore(range.to),
    totals: {
      credits: int8Total(totals.credits),
      debits: int8Total(totals.debits),
      entries: int8(totals.entries),
    },
    data: page.map((row) => ({
      id: row.entry_id,
      transaction_id: row.transaction_id,
      type: row.type,
      amount: int8(row.amount_minor),
      balance_after: int8(row.balance_after_minor),
      reason: row.reason,
      reference: row.reference,
      metadata: row.metadata,
      created_at: timestamp(row.created_at),
    })),
    next_cursor: last ? encodeCursor([last.created_at, int8(last.account_seq)]) : null,
  };
}

export const statementSchema = viewSchema('Statement', {
  account_id: Joi.string(),
  currency: Joi.string(),
  from: timestampSchema,
  to: timestampSchema,
  opening_balance: minorSchema.description('The balance after the last entry before `from`'),
  closing_balance: minorSchema.description('The balance after the last entry before `to`'),
  totals: viewPart({
    credits: minorSchema.description('Sum of the entries in (may pass 2^53: read it as an exact integer)'),
    debits: minorSchema.description('Sum of the entries out (negative; may pass -2^53)'),
    entries: Joi.number().integer(),
  }).description('Of every entry of the range, not only this page'),
  data: Joi.array().items(
    viewPart({
      id: idSchema,
      transaction_id: idSchema,
      type: transactionTypeSchema,
      amount: minorSchema,
      balance_after: minorSchema,
      reason: Joi.string().allow(null),
      reference: Joi.string().allow(null),
      metadata: metadataViewSchema,
      created_at: timestampSchema,
    }),
  ),
  next_cursor: Joi.string().allow(null),
});
