import type { EntityManager } from '@mikro-orm/postgresql';
import Joi from 'joi';
import { int8, timestamp, type SqlTx } from '../db/sql.js';
import { walletBalance, type WalletBalance } from '../domain/money.js';
import { minorSchema, timestampSchema, unionMembers, viewSchema, type ViewKeys } from '../platform/view-schema.js';
import { AccountEntity, WalletEntity, type AccountRow, type WalletRow } from './account-entities.js';

export interface AccountView {
  id: string;
  kind: 'player' | 'system';
  home_region: string;
  created_at: string;
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
  kind: Joi.string().valid(...unionMembers<AccountView['kind']>({ player: true, system: true })),
  home_region: Joi.string(),
  created_at: timestampSchema,
  wallets: Joi.array().items(walletViewSchema),
} satisfies ViewKeys<AccountView>);

export function toWalletBalance(row: Pick<WalletRow, 'currency' | 'balance_minor' | 'held_minor'>): WalletBalance {
  return walletBalance(row.currency, int8(row.balance_minor), int8(row.held_minor));
}

export function toAccountView(
  account: AccountRow,
  wallets: ReadonlyArray<Pick<WalletRow, 'currency' | 'balance_minor' | 'held_minor'>>,
): AccountView {
  return {
    id: account.id,
    kind: account.kind,
    home_region: account.crdb_region,
    created_at: timestamp(account.created_at),
    wallets: wallets.map(toWalletBalance).sort((a, b) => a.currency.localeCompare(b.currency)),
  };
}

export async function findAccount(em: EntityManager, id: string): Promise<AccountRow | null> {
  return em.findOne(AccountEntity, { id });
}

export async function findWallets(em: EntityManager, account_id: string): Promise<WalletRow[]> {
  return em.find(WalletEntity, { account_id }, { orderBy: { currency: 'asc' } });
}

/** A system account's balance per currency: the sum of its shards (it has no wallet row). */
export async function findSystemBalances(
  em: EntityManager,
  account_id: string,
): Promise<Array<Pick<WalletRow, 'currency' | 'balance_minor' | 'held_minor'>>> {
  const result = (await em.getKnex().raw(
    `SELECT currency, SUM(balance_minor)::text AS balance_minor, '0' AS held_minor
       FROM system_balance_shards WHERE account_id = ? GROUP BY currency ORDER BY currency`,
    [account_id],
  )) as { rows: Array<Pick<WalletRow, 'currency' | 'balance_minor' | 'held_minor'>> };
  return result.rows;
}

/** What an account holds per currency: its wallets, or for a system account its summed shards. */
export async function findBalances(em: EntityManager, account: AccountRow) {
  return account.kind === 'system' ? findSystemBalances(em, account.id) : findWallets(em, account.id);
}

/**
 * Inserts the account unless the id is taken (then undefined). No read first: on PostgreSQL a
 * lookup inside a serializable transaction would predicate-lock the index page that concurrent
 * sign-ups insert into. A twin still in flight makes this raise a serialization failure.
 */
export async function insertAccount(
  tx: SqlTx,
  account: { id: string; kind: 'player' | 'system'; region: string },
): Promise<AccountRow | undefined> {
  return tx.maybeOne<AccountRow>(
    'INSERT INTO accounts (id, kind, crdb_region) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id, kind, crdb_region, created_at',
    [account.id, account.kind, account.region],
  );
}

/** Opens an empty wallet of a new account; it lives in its account's home region. */
export async function insertWallet(tx: SqlTx, account_id: string, currency: string, region: string): Promise<WalletRow> {
  return tx.one<WalletRow>('INSERT INTO wallets (account_id, currency, crdb_region) VALUES (?, ?, ?) RETURNING *', [
    account_id,
    currency,
    region,
  ]);
}
