import { requireAccountAccess } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { DomainError } from '../domain/errors.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import type { AppDeps } from '../platform/deps.js';
import { walletKey, type Metadata } from './ledger-records.js';
import { postMovement } from './post-movement.js';
import { requireAccount } from './posting.js';
import { assertRecipientCanReceive } from './transfer-rules.js';
import { transferView } from './views.js';

export interface TransferInput {
  from_account_id: string;
  to_account_id: string;
  amount: number;
  currency: string;
  note?: string;
  metadata?: Metadata;
}

/**
 * Moves credits between two players, wherever they are homed: one serializable transaction
 * that may span regions (no saga). A player sends only from their own wallet, and only in a
 * currency the recipient already holds (422 currency_mismatch otherwise).
 */
export async function createTransfer(
  deps: AppDeps,
  actor: Actor,
  input: TransferInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireAccountAccess(actor, input.from_account_id, 'credits:write');
  if (input.from_account_id === input.to_account_id) throw new DomainError('validation_error', 'a transfer needs two different accounts');
  const { from_account_id, to_account_id, note, ...rest } = input;
  return postMovement(
    deps,
    'create_transfer',
    idempotency,
    { ...rest, type: 'transfer', from: from_account_id, to: to_account_id, note: note ?? null },
    transferView,
    (unit) => {
      // A merchant is paid with its fee (merchant payments) and pays out by withdrawal: a transfer
      // to or from one bypassed both the fee and the KYC limits of the player on the other side.
      for (const account_id of [from_account_id, to_account_id]) {
        if (requireAccount(unit, account_id).kind !== 'player') {
          throw new DomainError(
            'validation_error',
            'transfers move money between player accounts; pay a merchant with /v1/merchant-payments',
          );
        }
      }
      assertRecipientCanReceive(
        unit.wallets.get(walletKey(to_account_id, input.currency)),
        { currency: input.currency, amount_minor: input.amount },
        deps.config.limits.balance_max_minor,
      );
    },
  );
}
