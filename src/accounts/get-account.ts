import { requireAccountRead } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { notFound } from '../domain/errors.js';
import type { WalletBalance } from '../domain/money.js';
import type { AppDeps } from '../platform/deps.js';
import { findAccount, findBalances } from './account-repository.js';
import { accountView, type AccountView } from './account-view.js';

export async function getAccount(deps: AppDeps, actor: Actor, id: string): Promise<AccountView> {
  requireAccountRead(actor, id, 'account');
  return deps.transactions.read(async (tx) => {
    const account = await findAccount(tx, id);
    if (!account) throw notFound(`account ${id}`);
    return accountView(account, await findBalances(tx, account));
  });
}

export async function listWallets(deps: AppDeps, actor: Actor, id: string): Promise<WalletBalance[]> {
  requireAccountRead(actor, id, 'account');
  return deps.transactions.read(async (tx) => {
    const account = await findAccount(tx, id);
    if (!account) throw notFound(`account ${id}`);
    return findBalances(tx, account);
  });
}
