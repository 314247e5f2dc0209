import { isVisibleTo, requireReadScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { notFound } from '../../domain/errors.js';
import type { AppDeps } from '../../platform/deps.js';
import { listTopupEvents } from './psp-event-repository.js';
import { findTopup, topupView } from './topup-repository.js';

/** A top-up with the PSP events recorded against it, read over one snapshot so that both agree. */
export async function getTopup(deps: AppDeps, actor: Actor, id: string) {
  requireReadScope(actor, 'money');
  const found = await deps.transactions.run(
    'get_topup',
    async (tx) => {
      const topup = await findTopup(tx, id);
      return topup && { topup, events: await listTopupEvents(tx, id, deps.config.limits.page_size_max) };
    },
    { read_only_snapshot: true },
  );
  if (!found || !isVisibleTo(actor, found.topup.account_id)) throw notFound(`top-up ${id}`);
  return topupView(found.topup, found.events);
}
