import { requireAccountAccess } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { CommandResult, IdempotencyScope } from '../idempotency/command-runner.js';
import type { AppDeps } from '../platform/deps.js';
import { postTransaction } from './ledger-repository.js';
import { movement } from './postings.js';
import { transactionView, type TransactionView } from './views.js';

export interface DebitInput {
  account_id: string;
  amount: number;
  currency: string;
  reason: string;
  reference?: string;
}

/** A player spends from their own wallet, or a service (credits:write) spends for them; the money goes to @revenue. */
export async function debitWallet(deps: AppDeps, actor: Actor, input: DebitInput, idempotency: IdempotencyScope): Promise<CommandResult<TransactionView>> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  return deps.commands.run(
    'debit_wallet',
    idempotency,
    async (tx, placement) => {
      const posted = await postTransaction(
        tx,
        {
          type: 'debit',
          account_id: input.account_id,
          currency: input.currency,
          amount_minor: input.amount,
          reason: input.reason,
          reference: input.reference ?? null,
          postings: movement(input.account_id, '@revenue', input.currency, input.amount),
        },
        deps.config.limits,
      );
      placement.region = posted.region;
      return transactionView(posted);
    },
    { contended_accounts: [input.account_id] },
  );
}
