import { int8, int8Exact, type SqlTx } from '../db/sql.js';
import type { Mismatch } from './reconcile.js';

/** Invariant 1, globally: per currency, every entry ever written sums to zero. */
export async function currencyTotals(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ currency: string; total: string }>(
    'SELECT currency, SUM(amount_minor) AS total FROM ledger_entries GROUP BY currency HAVING SUM(amount_minor) <> 0',
  );
  return rows.map((row) => ({ check: 'currency_sum', currency: row.currency, expected: 0, actual: int8Exact(row.total) }));
}

/** Every player wallet: balance = sum of its entries = balance_after of its latest entry. */
export async function walletBalances(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{
    account_id: string;
    currency: string;
    balance_minor: string;
    entries_total: string | null;
    last_balance_after: string | null;
  }>(
    `SELECT w.account_id, w.currency, w.balance_minor, sums.total AS entries_total, last.balance_after_minor AS last_balance_after
     FROM wallets w
     LEFT JOIN (SELECT account_id, currency, SUM(amount_minor) AS total, MAX(account_seq) AS last_seq
                FROM ledger_entries WHERE account_seq IS NOT NULL GROUP BY account_id, currency) sums
       ON sums.account_id = w.account_id AND sums.currency = w.currency
     LEFT JOIN ledger_entries last ON last.account_id = w.account_id AND last.account_seq = sums.last_seq
     WHERE w.balance_minor <> COALESCE(sums.total, 0) OR w.balance_minor <> COALESCE(last.balance_after_minor, 0)`,
  );
  return rows.flatMap((row) => {
    const balance = int8Exact(row.balance_minor);
    const found: Mismatch[] = [];
    const total = int8Exact(row.entries_total);
    const last = int8Exact(row.last_balance_after);
    if (balance !== total)
      found.push({ check: 'wallet_balance', account_id: row.account_id, currency: row.currency, expected: total, actual: balance });
    if (balance !== last)
      found.push({
        check: 'wallet_last_balance_after',
        account_id: row.account_id,
        currency: row.currency,
        expected: last,
        actual: balance,
      });
    return found;
  });
}

/** Entries of a player account's currency that have no wallet row at all. */
export async function orphanEntries(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ account_id: string; currency: string; total: string }>(
    `SELECT e.account_id, e.currency, SUM(e.amount_minor) AS total FROM ledger_entries e
     LEFT JOIN wallets w ON w.account_id = e.account_id AND w.currency = e.currency
     WHERE e.account_seq IS NOT NULL AND w.account_id IS NULL GROUP BY e.account_id, e.currency`,
  );
  return rows.map((row) => ({
    check: 'entries_without_wallet',
    account_id: row.account_id,
    currency: row.currency,
    expected: 0,
    actual: int8Exact(row.total),
  }));
}

/** Every system-account shard: balance = sum of the entries written against it. */
export async function systemShards(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{
    account_id: string;
    currency: string;
    shard: number;
    balance_minor: string | null;
    entries_total: string | null;
  }>(
    `SELECT COALESCE(s.account_id, e.account_id) AS account_id, COALESCE(s.currency, e.currency) AS currency,
            COALESCE(s.shard, e.shard) AS shard, s.balance_minor, e.total AS entries_total
     FROM system_balance_shards s
     FULL OUTER JOIN (SELECT account_id, currency, shard, SUM(amount_minor) AS total FROM ledger_entries
                      WHERE shard IS NOT NULL GROUP BY account_id, currency, shard) e
       ON e.account_id = s.account_id AND e.currency = s.currency AND e.shard = s.shard
     WHERE COALESCE(s.balance_minor, 0) <> COALESCE(e.total, 0)`,
  );
  return rows.map((row) => ({
    check: 'system_shard_balance',
    account_id: row.account_id,
    currency: row.currency,
    shard: row.shard,
    expected: int8Exact(row.entries_total),
    actual: int8Exact(row.balance_minor),
  }));
}

/** Every wallet's held amount equals the sum of its ACTIVE holds. */
export async function heldAmounts(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ account_id: string; currency: string; held_minor: string; active_total: string | null }>(
    `SELECT w.account_id, w.currency, w.held_minor, h.total AS active_total FROM wallets w
     LEFT JOIN (SELECT account_id, currency, SUM(amount_minor) AS total FROM holds WHERE status = 'ACTIVE' GROUP BY account_id, currency) h
       ON h.account_id = w.account_id AND h.currency = w.currency
     WHERE w.held_minor <> COALESCE(h.total, 0)`,
  );
  return rows.map((row) => ({
    check: 'wallet_held',
    account_id: row.account_id,
    currency: row.currency,
    expected: int8Exact(row.active_total),
    actual: int8Exact(row.held_minor),
  }));
}

/** No player wallet below zero available (invariant 2), whatever the constraints say; merchants: wallet-checks.ts. */
export async function overdrafts(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ account_id: string; currency: string; available: string }>(
    `SELECT account_id, currency, balance_minor - held_minor AS available FROM wallets
     WHERE balance_minor - held_minor < 0 AND NOT overdraft_allowed`,
  );
  return rows.map((row) => ({
    check: 'overdraft',
    account_id: row.account_id,
    currency: row.currency,
    expected: 0,
    actual: int8(row.available),
  }));
}

/** Every ledger transaction balances on its own and every entry belongs to a transaction and an account. */
export async function transactionShapes(tx: SqlTx): Promise<Mismatch[]> {
  const unbalanced = await tx.rows<{ transaction_id: string; currency: string; total: string; entries: string }>(
    `SELECT t.id AS transaction_id, e.currency, COALESCE(SUM(e.amount_minor), 0) AS total, COUNT(e.id) AS entries
     FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
     GROUP BY t.id, e.currency HAVING COALESCE(SUM(e.amount_minor), 0) <> 0 OR COUNT(e.id) < 2`,
  );
  const dangling = await tx.rows<{ id: string; account_id: string }>(
    `SELECT e.id, e.account_id FROM ledger_entries e
     LEFT JOIN ledger_transactions t ON t.id = e.transaction_id LEFT JOIN accounts a ON a.id = e.account_id
     WHERE t.id IS NULL OR a.id IS NULL`,
  );
  return [
    ...unbalanced.map((row) => ({
      check: 'transaction_balance',
      transaction_id: row.transaction_id,
      currency: row.currency,
      expected: 0,
      actual: int8Exact(row.total),
      entries: int8(row.entries),
    })),
    ...dangling.map((row) => ({
      check: 'entry_reference',
      entry_id: row.id,
      account_id: row.account_id,
      expected: 'transaction and account',
      actual: 'missing',
    })),
  ];
}

/**
 * Refunds of a spend (a debit, a capture, a merchant payment) never add up past it, and each
 * player or merchant account it paid gives back at most what it received (a merchant its net).
 * A system account may give back more: @revenue bears the share of a merchant closed since.
 */
export async function transactionRefunds(tx: SqlTx): Promise<Mismatch[]> {
  const rows = await tx.rows<{ id: string; account_id: string | null; received: string; given_back: string }>(
    `SELECT o.id, NULL AS account_id, o.amount_minor AS received, r.total AS given_back FROM ledger_transactions o
     JOIN (SELECT original_transaction_id, SUM(amount_minor) AS total FROM ledger_transactions WHERE type = 'refund'
           GROUP BY original_transaction_id) r ON r.original_transaction_id = o.id
     WHERE r.total > o.amount_minor
     UNION ALL
     SELECT o.id, e.account_id, e.amount_minor AS received, -SUM(re.amount_minor) AS given_back FROM ledger_transactions r
     JOIN ledger_transactions o ON o.id = r.original_transaction_id
     JOIN ledger_entries e ON e.transaction_id = o.id AND e.amount_minor > 0 AND e.account_id NOT LIKE '@%'
     JOIN ledger_entries re ON re.transaction_id = r.id AND re.account_id = e.account_id AND re.currency = e.currency
     WHERE r.type = 'refund' GROUP BY o.id, e.account_id, e.amount_minor HAVING -SUM(re.amount_minor) > e.amount_minor`,
  );
  return rows.map((row) => ({
    check: 'transaction_refunds',
    transaction_id: row.id,
    ...(row.account_id === null ? {} : { account_id: row.account_id }),
    expected: `at most ${row.received} given back`,
    actual: `${row.given_back} given back`,
  }));
}

export const LEDGER_CHECKS = [
  currencyTotals,
  transactionShapes,
  transactionRefunds,
  walletBalances,
  orphanEntries,
  systemShards,
  heldAmounts,
  overdrafts,
];
