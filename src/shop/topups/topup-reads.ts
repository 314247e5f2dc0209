import { isVisibleTo, requireReadScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { notFound } from '../../domain/errors.js';
import type { AppDeps } from '../../platform/deps.js';
import { findTopup, topupView } from './topup-repository.js';

export async function getTopup(deps: AppDeps, actor: Actor, id: string) {
  requireReadScope(actor, 'money');
  const topup = await deps.transactions.read((tx) => findTopup(tx, id));
  if (!topup || !isVisibleTo(actor, topup.account_id)) throw notFound(`top-up ${id}`);
  return topupView(topup);
}
