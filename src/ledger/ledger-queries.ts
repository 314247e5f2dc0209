import { int8, timestamp, type SqlTx } from '../db/sql.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { inEntryOrder, type PostedTransaction } from './posting.js';
import { REFERENCE_FIELDS, toHoldRecord, type HoldRecord, type Metadata, type TransactionType } from './ledger-records.js';

interface TransactionRow {
  id: string;
  type: TransactionType;
  account_id: string;
  currency: string;
  amount_minor: string;
  reason: string | null;
  reference: string | null;
  note: string | null;
  original_transaction_id: string | null;
  hold_id: string | null;
  order_id: string | null;
  refund_id: string | null;
  topup_id: string | null;
  purchase_request_id: string | null;
  withdrawal_id: string | null;
  merchant_id: string | null;
  metadata: Metadata;
  crdb_region: string;
  created_at: string;
}

export async function findTransaction(tx: SqlTx, id: string): Promise<PostedTransaction | undefined> {
  const row = await tx.maybeOne<TransactionRow>('SELECT * FROM ledger_transactions WHERE id = ?', [id]);
  if (!row) return undefined;
  const entries = await tx.rows<{ account_id: string; currency: string; amount_minor: string; balance_after_minor: string | null }>(
    `SELECT account_id, currency, amount_minor, balance_after_minor FROM ledger_entries
     WHERE transaction_id = ? ORDER BY amount_minor, account_id`,
    [id],
  );
  const { crdb_region, ...columns } = row;
  return {
    ...columns,
    region: crdb_region,
    amount_minor: int8(row.amount_minor),
    created_at: timestamp(row.created_at),
    entries: inEntryOrder(
      entries.map((entry) => ({
        account_id: entry.account_id,
        currency: entry.currency,
        amount_minor: int8(entry.amount_minor),
        balance_after_minor: entry.balance_after_minor === null ? null : int8(entry.balance_after_minor),
      })),
    ),
  };
}

/** Sum already refunded against a spend: racing refunds both read it, so serializability decides. */
export async function refundedAmount(tx: SqlTx, original_transaction_id: string): Promise<number> {
  const row = await tx.one<{ total: string | null }>(
    "SELECT SUM(amount_minor) AS total FROM ledger_transactions WHERE original_transaction_id = ? AND type = 'refund'",
    [original_transaction_id],
  );
  return row.total === null ? 0 : int8(row.total);
}

export async function findHold(tx: SqlTx, id: string): Promise<HoldRecord | undefined> {
  const row = await tx.maybeOne<Record<string, unknown>>('SELECT * FROM holds WHERE id = ?', [id]);
  return row && toHoldRecord(row);
}

/** The references a history item lists (reason and reference have fields of their own; a note is a transfer's). */
const HISTORY_REFERENCES = REFERENCE_FIELDS.filter((field) => field !== 'reason' && field !== 'reference' && field !== 'note');

export interface HistoryItem {
  id: string;
  transaction_id: string;
  type: TransactionType;
  amount: number;
  currency: string;
  balance_after: number;
  reason: string | null;
  reference: string | null;
  references: Record<string, string>;
  metadata: Metadata;
  created_at: string;
}

/**
 * A transaction `t` whose metadata holds one key and value (a JSON object parameter). The inverted
 * index on metadata holds only non-empty metadata: the filter says so (holding a key implies it)
 * so that the index may serve it.
 */
export const METADATA_CONTAINS = "t.metadata @> ?::jsonb AND t.metadata <> '{}'::jsonb";

/** One `metadata[key]=value` of a history query: entries whose transaction's metadata holds it. */
export interface MetadataFilter {
  key: string;
  value: string;
}

/**
 * An account's entries, newest first. Pages are cut on the account's history sequence, which
 * is assigned in commit order, so paging never skips or repeats an entry while others are written.
 * A metadata filter is containment (`@>`) on the transaction's metadata: the account's entries
 * are walked by sequence and joined by primary key, or, for a rare value, PostgreSQL finds the
 * transactions through the inverted index on metadata first (METADATA_CONTAINS).
 */
export async function listHistory(
  tx: SqlTx,
  account_id: string,
  options: { limit: number; cursor?: string; currency?: string; metadata?: MetadataFilter },
) {
  const before = decodeCursor(options.cursor, ['number'])?.[0];
  const contains = options.metadata && JSON.stringify({ [options.metadata.key]: options.metadata.value });
  const rows = await tx.rows<
    TransactionRow & { entry_id: string; entry_amount: string; balance_after_minor: string; account_seq: string; entry_currency: string }
  >(
    `SELECT e.id AS entry_id, e.amount_minor AS entry_amount, e.currency AS entry_currency, e.balance_after_minor, e.account_seq, t.*
     FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
     WHERE e.account_id = ? AND e.account_seq IS NOT NULL
       ${before === undefined ? '' : 'AND e.account_seq < ?'} ${options.currency ? 'AND e.currency = ?' : ''}
       ${contains ? `AND ${METADATA_CONTAINS}` : ''}
     ORDER BY e.account_seq DESC LIMIT ?`,
    [
      account_id,
      ...(before === undefined ? [] : [before]),
      ...(options.currency ? [options.currency] : []),
      ...(contains ? [contains] : []),
      options.limit + 1,
    ],
  );
  const page = rows.slice(0, options.limit);
  const data: HistoryItem[] = page.map((row) => ({
    id: row.entry_id,
    transaction_id: row.id,
    type: row.type,
    amount: int8(row.entry_amount),
    currency: row.entry_currency,
    balance_after: int8(row.balance_after_minor),
    reason: row.reason,
    reference: row.reference,
    references: Object.fromEntries(HISTORY_REFERENCES.filter((column) => row[column] !== null).map((column) => [column, row[column]!])),
    metadata: row.metadata,
    created_at: timestamp(row.created_at),
  }));
  const last = page[page.length - 1];
  return { data, next_cursor: rows.length > options.limit && last ? encodeCursor([int8(last.account_seq)]) : null };
}
