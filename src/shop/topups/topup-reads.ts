import { requireAccountRead } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { notFound } from '../../domain/errors.js';
import type { AppDeps } from '../../platform/deps.js';
import { findTopup, topupView } from './topup-repository.js';

export async function getTopup(deps: AppDeps, actor: Actor, id: string) {
  const topup = await deps.transactions.read((tx) => findTopup(tx, id));
  if (!topup || (actor.kind === 'player' && actor.id !== topup.account_id)) throw notFound(`top-up ${id}`);
  requireAccountRead(actor, topup.account_id);
  return topupView(topup);
}
