import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { notFound } from '../domain/errors.js';
import type { CommandResult, IdempotencyScope } from '../idempotency/command-runner.js';
import type { AppDeps } from '../platform/deps.js';
import { findHold } from './ledger-queries.js';
import { releaseHold, requireLiveHold } from './hold-repository.js';
import { holdView, type HoldView } from './views.js';

export async function voidHold(
  deps: AppDeps,
  actor: Actor,
  hold_id: string,
  idempotency: IdempotencyScope,
): Promise<CommandResult<HoldView>> {
  requireScope(actor, 'credits:write');
  const known = await deps.transactions.read((tx) => findHold(tx, hold_id));
  if (!known) throw notFound(`hold ${hold_id}`);
  return deps.commands.run(
    'void_hold',
    idempotency,
    async (tx, placement) => {
      const voided = await releaseHold(tx, await requireLiveHold(tx, hold_id, 'api'), 'VOIDED');
      placement.region = known.crdb_region;
      return holdView(voided);
    },
    { contended_accounts: [known.account_id] },
  );
}
