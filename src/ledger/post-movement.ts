import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import type { Unit } from '../batch/unit.js';
import type { AppDeps } from '../platform/deps.js';
import type { Metadata, TransactionReferences, TransactionType } from './ledger-records.js';
import { postTransaction, type PostedTransaction } from './posting.js';
import { isSystemAccount, movement } from './postings.js';

export interface Movement extends TransactionReferences {
  type: TransactionType;
  from: string;
  to: string;
  amount: number;
  currency: string;
  /** Crediting may open the recipient's wallet in this currency (service credits); transfers never do. */
  opens_wallet?: boolean;
  metadata?: Metadata;
}

/**
 * One idempotent operation that moves money between two accounts: the credits, debits and
 * transfers of the API, batched. The payer (the player the transaction is about) is `from`,
 * unless it is a system account; its home region picks the batcher.
 */
export async function postMovement(
  deps: AppDeps,
  name: string,
  idempotency: RequestIdempotency,
  input: Movement,
  present: (posted: PostedTransaction) => unknown,
  /** A business rule on the batch's state that may refuse the movement before anything is written. */
  precondition?: (unit: Unit) => void,
): Promise<RequestAnswer> {
  const { type, from, to, amount, currency, opens_wallet = false, ...references } = input;
  const account_id = isSystemAccount(from) ? to : from;
  const region = (await deps.directory.regionOf(account_id)) ?? deps.region;
  const postings = movement(from, to, currency, amount, opens_wallet);
  return deps.writes.request(
    {
      name,
      region,
      needs: { accounts: [from, to].filter((account) => !isSystemAccount(account)) },
      decide: (unit) => {
        precondition?.(unit);
        return present(
          postTransaction(unit, { ...references, type, account_id, currency, amount_minor: amount, postings }, deps.config.limits),
        );
      },
    },
    idempotency,
  );
}
