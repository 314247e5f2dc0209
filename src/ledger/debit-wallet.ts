import { requireAccountAccess } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import type { AppDeps } from '../platform/deps.js';
import type { Metadata } from './ledger-records.js';
import { postMovement } from './post-movement.js';
import { transactionView } from './views.js';

export interface DebitInput {
  account_id: string;
  amount: number;
  currency: string;
  reason: string;
  reference?: string;
  metadata?: Metadata;
}

/** A player spends from their own wallet, or a service (credits:write) spends for them; the money goes to @revenue. */
export async function debitWallet(deps: AppDeps, actor: Actor, input: DebitInput, idempotency: RequestIdempotency): Promise<RequestAnswer> {
  requireAccountAccess(actor, input.account_id, 'credits:write');
  const { account_id, reference, ...rest } = input;
  return postMovement(
    deps,
    'debit_wallet',
    idempotency,
    { ...rest, type: 'debit', from: account_id, to: '@revenue', reference: reference ?? null },
    transactionView,
  );
}
