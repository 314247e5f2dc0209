import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { DomainError, notFound } from '../domain/errors.js';
import { int8, type SqlTx } from '../db/sql.js';
import type { CommandResult, IdempotencyScope } from '../idempotency/command-runner.js';
import type { AppDeps } from '../platform/deps.js';
import type { LedgerLimits, PostedTransaction, TransactionReferences } from './ledger-repository.js';
import { postTransaction, releaseFunds } from './ledger-repository.js';
import { findHold } from './ledger-queries.js';
import { finishHold, requireLiveHold } from './hold-repository.js';
import { movement } from './postings.js';
import { holdView, type HoldRow, type HoldView } from './views.js';

/**
 * Takes `amount_minor` (at most the hold) from an ACTIVE hold to its destination and releases
 * the rest, inside the caller's transaction. Shared by the holds API, orders and purchases.
 */
export async function captureHoldIn(
  tx: SqlTx,
  hold: HoldRow,
  amount_minor: number,
  references: TransactionReferences & { type?: 'hold_capture' | 'purchase' | 'seller_purchase' },
  limits: LedgerLimits,
): Promise<{ hold: HoldRow; posted: PostedTransaction }> {
  const held_minor = int8(hold.amount_minor);
  if (amount_minor > held_minor) throw new DomainError('invalid_state', `cannot capture ${amount_minor}: the hold is for ${held_minor}`);
  await releaseFunds(tx, hold.account_id, hold.currency, held_minor);
  const { type = 'hold_capture', ...rest } = references;
  const posted = await postTransaction(
    tx,
    {
      ...rest,
      type,
      account_id: hold.account_id,
      currency: hold.currency,
      amount_minor,
      hold_id: hold.id,
      reference: rest.reference ?? hold.reference,
      postings: movement(hold.account_id, hold.destination_account_id, hold.currency, amount_minor),
    },
    limits,
  );
  const finished = await finishHold(tx, hold, { status: 'CAPTURED', captured_minor: amount_minor, capture_transaction_id: posted.id });
  return { hold: finished, posted };
}

export async function captureHold(
  deps: AppDeps,
  actor: Actor,
  input: { hold_id: string; amount?: number },
  idempotency: IdempotencyScope,
): Promise<CommandResult<HoldView>> {
  requireScope(actor, 'credits:write');
  const known = await deps.transactions.read((tx) => findHold(tx, input.hold_id));
  if (!known) throw notFound(`hold ${input.hold_id}`);
  return deps.commands.run(
    'capture_hold',
    idempotency,
    async (tx, placement) => {
      const hold = await requireLiveHold(tx, input.hold_id, 'api');
      const { hold: captured, posted } = await captureHoldIn(tx, hold, input.amount ?? int8(hold.amount_minor), {}, deps.config.limits);
      placement.region = posted.region;
      return holdView(captured);
    },
    { contended_accounts: [known.account_id] },
  );
}
