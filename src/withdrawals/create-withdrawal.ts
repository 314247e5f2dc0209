import { requireAccountAccess } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import type { Metadata } from '../ledger/ledger-records.js';
import type { AppDeps } from '../platform/deps.js';
import { insertWithdrawal } from './withdrawal-book.js';
import type { Destination } from './withdrawal-records.js';
import { withdrawalView } from './withdrawal-view.js';

export interface CreateWithdrawalInput {
  account_id: string;
  amount: number;
  currency: string;
  destination: Destination;
  metadata?: Metadata;
}

/**
 * A cash-out (the account's owner, or credits:write): ONE batched operation moves the money to
 * @payouts_pending, records the withdrawal PENDING and its durable payout job; the job calls the
 * payout provider after the commit (never inside a transaction), and the provider's signed
 * callback settles it. This pod starts the job at once; any pod resumes it.
 */
export async function createWithdrawal(
  deps: AppDeps,
  actor: Actor,
  input: CreateWithdrawalInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  const answer = await deps.writes.request(
    {
      name: 'create_withdrawal',
      region: (await deps.directory.regionOf(input.account_id)) ?? deps.region,
      needs: { accounts: [input.account_id] },
      decide: (unit) =>
        withdrawalView(
          insertWithdrawal(
            unit,
            {
              account_id: input.account_id,
              amount_minor: input.amount,
              currency: input.currency,
              destination: input.destination,
              metadata: input.metadata ?? {},
            },
            deps.config.limits,
          ),
        ),
    },
    idempotency,
  );
  if (answer.status === 201 && !answer.replayed) deps.payouts.jobs.kick((JSON.parse(answer.body) as { id: string }).id);
  return answer;
}
