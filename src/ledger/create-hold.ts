import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { CommandResult, IdempotencyScope } from '../idempotency/command-runner.js';
import type { AppDeps } from '../platform/deps.js';
import { insertHold } from './hold-repository.js';
import { holdView, type HoldView } from './views.js';

export interface CreateHoldInput {
  account_id: string;
  amount: number;
  currency: string;
  expires_in_seconds: number;
  reference?: string;
}

/** Authorizes an amount on a player's wallet; capture sends it to @revenue, void or expiry releases it. */
export async function createHold(
  deps: AppDeps,
  actor: Actor,
  input: CreateHoldInput,
  idempotency: IdempotencyScope,
): Promise<CommandResult<HoldView>> {
  requireScope(actor, 'credits:write');
  return deps.commands.run(
    'create_hold',
    idempotency,
    async (tx, placement) => {
      const hold = await insertHold(tx, {
        owner: 'api',
        account_id: input.account_id,
        currency: input.currency,
        amount_minor: input.amount,
        expires_in_seconds: input.expires_in_seconds,
        destination_account_id: '@revenue',
        reference: input.reference ?? null,
      });
      placement.region = hold.crdb_region;
      return holdView(hold);
    },
    { contended_accounts: [input.account_id] },
  );
}
