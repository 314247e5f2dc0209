import type { SqlTx } from '../db/sql.js';
import type { CommandResult, IdempotencyScope } from '../idempotency/command-runner.js';
import type { AppDeps } from '../platform/deps.js';
import { postTransaction, type PostedTransaction, type TransactionReferences, type TransactionType } from './ledger-repository.js';
import { isSystemAccount, movement } from './postings.js';

export interface Movement extends TransactionReferences {
  type: TransactionType;
  from: string;
  to: string;
  amount: number;
  currency: string;
}

/**
 * One idempotent command that moves money between two accounts: the credits, debits and
 * transfers of the API. The payer (the player the transaction is about) is `from`, unless it is
 * a system account; every player account in it queues as contended.
 */
export async function postMovement<T>(
  deps: AppDeps,
  name: string,
  idempotency: IdempotencyScope,
  input: Movement,
  present: (posted: PostedTransaction) => T,
  /** A business rule that reads what it needs and may refuse the movement before anything is written. */
  precondition?: (tx: SqlTx) => Promise<void>,
): Promise<CommandResult<T>> {
  const { type, from, to, amount, currency, ...references } = input;
  const account_id = isSystemAccount(from) ? to : from;
  return deps.commands.run(
    name,
    idempotency,
    async (tx, placement) => {
      await precondition?.(tx);
      const posted = await postTransaction(
        tx,
        { ...references, type, account_id, currency, amount_minor: amount, postings: movement(from, to, currency, amount) },
        deps.config.limits,
      );
      placement.region = posted.region;
      return present(posted);
    },
    { contended_accounts: [from, to].filter((account) => !isSystemAccount(account)) },
  );
}
