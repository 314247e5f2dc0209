import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import type { AppDeps } from '../platform/deps.js';
import type { Metadata } from './ledger-records.js';
import { postMovement } from './post-movement.js';
import { transactionView } from './views.js';

export interface CreditInput {
  account_id: string;
  amount: number;
  currency: string;
  reason: string;
  reference?: string;
  metadata?: Metadata;
}

/** A service grants credits to a player (from @bonus); the wallet is opened if missing. */
export async function creditWallet(
  deps: AppDeps,
  actor: Actor,
  input: CreditInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireScope(actor, 'credits:write');
  const { account_id, reference, ...rest } = input;
  return postMovement(
    deps,
    'credit_wallet',
    idempotency,
    { ...rest, type: 'credit', from: '@bonus', to: account_id, reference: reference ?? null, opens_wallet: true },
    transactionView,
  );
}
