import { int8, int8Total, optionalInt8, timestamp, type SqlTx } from '../db/sql.js';
import { notFound } from '../domain/errors.js';
import { systemBalance, walletBalance, type WalletBalance } from '../domain/money.js';
import type { AccountKind, AccountStatus } from '../ledger/ledger-records.js';
import type { AccountFacts } from './account-view.js';

export type { AccountKind };

/** An account as the application sees it: parsed from its row here, once. */
export type Account = AccountFacts;

export { accountViewSchema, walletViewSchema } from './account-view.js';

/** The columns as node-postgres returns them: INT8 as text, timestamps as PostgreSQL text. */
interface AccountRow {
  id: string;
  kind: AccountKind;
  status: AccountStatus;
  kyc_tier: number;
  fee_bps: number | null;
  fee_min_minor: string | null;
  crdb_region: string;
  created_at: string;
}

interface BalanceRow {
  currency: string;
  balance_minor: string;
  held_minor: string;
}

const ACCOUNT_COLUMNS = 'id, kind, status, kyc_tier, fee_bps, fee_min_minor, crdb_region, created_at';

function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    kyc_tier: row.kyc_tier,
    fee_bps: row.fee_bps,
    fee_min_minor: optionalInt8(row.fee_min_minor),
    region: row.crdb_region,
    created_at: timestamp(row.created_at),
  };
}

function toWalletBalance(row: BalanceRow): WalletBalance {
  return walletBalance(row.currency, int8(row.balance_minor), int8(row.held_minor));
}

/** 404 unless the account exists (lists of an account's things answer 404 for no account, not an empty page). */
export async function requireAccountExists(tx: SqlTx, id: string): Promise<void> {
  if (!(await tx.maybeOne('SELECT id FROM accounts WHERE id = ?', [id]))) throw notFound(`account ${id}`);
}

export async function findAccount(tx: SqlTx, id: string): Promise<Account | undefined> {
  const row = await tx.maybeOne<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`, [id]);
  return row && toAccount(row);
}

/**
 * What an account holds per currency, by currency: a player's or merchant's wallets, or for a
 * system account (which has no wallet row) the sum of its balance shards.
 */
export async function findBalances(tx: SqlTx, account: Account): Promise<WalletBalance[]> {
  if (account.kind === 'system') {
    const shards = await tx.rows<{ currency: string; balance_minor: string }>(
      `SELECT currency, SUM(balance_minor)::text AS balance_minor
         FROM system_balance_shards WHERE account_id = ? GROUP BY currency ORDER BY currency`,
      [account.id],
    );
    return shards.map((row) => systemBalance(row.currency, int8Total(row.balance_minor)));
  }
  const rows = await tx.rows<BalanceRow>('SELECT currency, balance_minor, held_minor FROM wallets WHERE account_id = ? ORDER BY currency', [
    account.id,
  ]);
  return rows.map(toWalletBalance);
}
