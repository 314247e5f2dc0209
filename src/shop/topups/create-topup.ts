import { requireAccountAccess } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { notFound } from '../../domain/errors.js';
import type { CommandResult, IdempotencyScope } from '../../idempotency/command-runner.js';
import type { AppDeps } from '../../platform/deps.js';
import { insertTopup, topupView, type TopupView } from './topup-repository.js';

/** A PENDING pay-in: the wallet is credited only when the PSP confirms it (POST /v1/psp/events). */
export async function createTopup(
  deps: AppDeps,
  actor: Actor,
  input: { account_id: string; amount: number; currency: string },
  idempotency: IdempotencyScope,
): Promise<CommandResult<TopupView>> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  return deps.commands.run('create_topup', idempotency, async (tx, placement) => {
    const account = await tx.maybeOne<{ crdb_region: string }>("SELECT crdb_region FROM accounts WHERE id = ? AND kind = 'player'", [
      input.account_id,
    ]);
    if (!account) throw notFound(`account ${input.account_id}`);
    placement.region = account.crdb_region;
    const topup = await insertTopup(tx, {
      account_id: input.account_id,
      amount_minor: input.amount,
      currency: input.currency,
      region: account.crdb_region,
    });
    // A new top-up has no PSP events yet.
    return topupView(topup, []);
  });
}
