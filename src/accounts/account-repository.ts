import Joi from 'joi';
import { int8, timestamp, type SqlTx } from '../db/sql.js';
import { walletBalance, type WalletBalance } from '../domain/money.js';
import { minorSchema, timestampSchema, unionMembers, viewSchema, type ViewKeys } from '../platform/view-schema.js';

export type AccountKind = 'player' | 'system';

/** An account as the application sees it: parsed from its row here, once. */
export interface Account {
  id: string;
  kind: AccountKind;
  home_region: string;
  created_at: string;
}

export interface AccountView extends Account {
  wallets: WalletBalance[];
}

export const walletViewSchema = viewSchema('Wallet', {
  currency: Joi.string(),
  balance: minorSchema,
  held: minorSchema.description('Held by active holds'),
  available: minorSchema.description('balance - held'),
} satisfies ViewKeys<WalletBalance>);

export const accountViewSchema = viewSchema('Account', {
  id: Joi.string(),
  kind: Joi.string().valid(...unionMembers<AccountKind>({ player: true, system: true })),
  home_region: Joi.string(),
  created_at: timestampSchema,
  wallets: Joi.array().items(walletViewSchema),
} satisfies ViewKeys<AccountView>);

/** The columns as node-postgres returns them: INT8 as text, timestamps as PostgreSQL text. */
interface AccountRow {
  id: string;
  kind: AccountKind;
  crdb_region: string;
  created_at: string;
}

interface BalanceRow {
  currency: string;
  balance_minor: string;
  held_minor: string;
}

const ACCOUNT_COLUMNS = 'id, kind, crdb_region, created_at';

function toAccount(row: AccountRow): Account {
  return { id: row.id, kind: row.kind, home_region: row.crdb_region, created_at: timestamp(row.created_at) };
}

function toWalletBalance(row: BalanceRow): WalletBalance {
  return walletBalance(row.currency, int8(row.balance_minor), int8(row.held_minor));
}

export function accountView(account: Account, wallets: readonly WalletBalance[]): AccountView {
  return { ...account, wallets: [...wallets].sort((a, b) => a.currency.localeCompare(b.currency)) };
}

export async function findAccount(tx: SqlTx, id: string): Promise<Account | undefined> {
  const row = await tx.maybeOne<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`, [id]);
  return row && toAccount(row);
}

/**
 * What an account holds per currency, by currency: a player's wallets, or for a system account
 * (which has no wallet row) the sum of its balance shards.
 */
export async function findBalances(tx: SqlTx, account: Account): Promise<WalletBalance[]> {
  const rows =
    account.kind === 'system'
      ? await tx.rows<BalanceRow>(
          `SELECT currency, SUM(balance_minor)::text AS balance_minor, '0' AS held_minor
             FROM system_balance_shards WHERE account_id = ? GROUP BY currency ORDER BY currency`,
          [account.id],
        )
      : await tx.rows<BalanceRow>('SELECT currency, balance_minor, held_minor FROM wallets WHERE account_id = ? ORDER BY currency', [
          account.id,
        ]);
  return rows.map(toWalletBalance);
}

/**
 * Inserts the account unless the id is taken (then undefined). No read first: on PostgreSQL a
 * lookup inside a serializable transaction would predicate-lock the index page that concurrent
 * sign-ups insert into. A twin still in flight makes this raise a serialization failure.
 */
export async function insertAccount(tx: SqlTx, account: { id: string; kind: AccountKind; region: string }): Promise<Account | undefined> {
  const row = await tx.maybeOne<AccountRow>(
    `INSERT INTO accounts (id, kind, crdb_region) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING ${ACCOUNT_COLUMNS}`,
    [account.id, account.kind, account.region],
  );
  return row && toAccount(row);
}

/** Opens an empty wallet of a new account; it lives in its account's home region. */
export async function insertWallet(tx: SqlTx, account_id: string, currency: string, region: string): Promise<WalletBalance> {
  const row = await tx.one<BalanceRow>(
    'INSERT INTO wallets (account_id, currency, crdb_region) VALUES (?, ?, ?) RETURNING currency, balance_minor, held_minor',
    [account_id, currency, region],
  );
  return toWalletBalance(row);
}
