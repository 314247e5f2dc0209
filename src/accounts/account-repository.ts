import type { EntityManager } from '@mikro-orm/postgresql';
import { int8, timestamp, type SqlTx } from '../db/sql.js';
import { walletBalance, type WalletBalance } from '../domain/money.js';
import { AccountEntity, WalletEntity, type AccountRow, type WalletRow } from './account-entities.js';

export interface AccountView {
  id: string;
  kind: 'player' | 'system';
  home_region: string;
  created_at: string;
  wallets: WalletBalance[];
}

export function toWalletBalance(row: Pick<WalletRow, 'currency' | 'balance_minor' | 'held_minor'>): WalletBalance {
  return walletBalance(row.currency, int8(row.balance_minor), int8(row.held_minor));
}

export function toAccountView(account: AccountRow, wallets: WalletRow[]): AccountView {
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

export async function insertAccount(tx: SqlTx, account: { id: string; kind: 'player' | 'system'; region: string }): Promise<void> {
  await tx.execute('INSERT INTO accounts (id, kind, crdb_region) VALUES (?, ?, ?)', [account.id, account.kind, account.region]);
}

/** Creates the wallet if it is missing; the wallet lives in its account's home region. */
export async function ensureWallet(tx: SqlTx, account_id: string, currency: string, region: string): Promise<void> {
  await tx.execute(
    'INSERT INTO wallets (account_id, currency, crdb_region) VALUES (?, ?, ?) ON CONFLICT (account_id, currency) DO NOTHING',
    [account_id, currency, region],
  );
}
