import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { CommandResult, IdempotencyScope } from '../idempotency/command-runner.js';
import type { AppDeps } from '../platform/deps.js';
import { postTransaction } from './ledger-repository.js';
import { movement } from './postings.js';
import { transactionView, type TransactionView } from './views.js';

export interface CreditInput {
  account_id: string;
  amount: number;
  currency: string;
  reason: string;
  reference?: string;
}

/** A service grants credits to a player (from @bonus); the wallet is opened if missing. */
export async function creditWallet(deps: AppDeps, actor: Actor, input: CreditInput, idempotency: IdempotencyScope): Promise<CommandResult<TransactionView>> {
  requireScope(actor, 'credits:write');
  return deps.commands.run(
    'credit_wallet',
    idempotency,
    async (tx, placement) => {
      const posted = await postTransaction(
        tx,
        {
          type: 'credit',
          account_id: input.account_id,
          currency: input.currency,
          amount_minor: input.amount,
          reason: input.reason,
          reference: input.reference ?? null,
          postings: movement('@bonus', input.account_id, input.currency, input.amount),
        },
        deps.config.limits,
      );
      placement.region = posted.region;
      return transactionView(posted);
    },
    { contended_accounts: [input.account_id] },
  );
}
