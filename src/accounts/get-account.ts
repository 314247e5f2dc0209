import { requireAccountRead } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { notFound } from '../domain/errors.js';
import type { WalletBalance } from '../domain/money.js';
import type { AppDeps } from '../platform/deps.js';
import { findAccount, findBalances, toAccountView, toWalletBalance, type AccountView } from './account-repository.js';

export async function getAccount(deps: AppDeps, actor: Actor, id: string): Promise<AccountView> {
  requireAccountRead(actor, id, 'account');
  const em = deps.db.orm.em.fork();
  const account = await findAccount(em, id);
  if (!account) throw notFound(`account ${id}`);
  return toAccountView(account, await findBalances(em, account));
}

export async function listWallets(deps: AppDeps, actor: Actor, id: string): Promise<WalletBalance[]> {
  requireAccountRead(actor, id, 'account');
  const em = deps.db.orm.em.fork();
  const account = await findAccount(em, id);
  if (!account) throw notFound(`account ${id}`);
  return (await findBalances(em, account)).map(toWalletBalance);
}
