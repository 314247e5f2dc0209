import { requireScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../../batch/operation.js';
import { invalidState, notFound } from '../../domain/errors.js';
import { walletKey } from '../../ledger/ledger-records.js';
import { postTransaction } from '../../ledger/posting.js';
import { movement } from '../../ledger/postings.js';
import { transactionView } from '../../ledger/views.js';
import type { AppDeps } from '../../platform/deps.js';
import { TOPUPS } from './topup-records.js';
import { findTopup } from './topup-repository.js';
import type { Reversal } from './topup-state-machine.js';

/**
 * Takes back what a chargeback could not: the part of it booked as a loss on @chargebacks because
 * the wallet held or had spent the money. A hold released or a purchase refunded later gives it
 * back to a wallet that chargebacks left frozen, where nothing may leave by the player's doing:
 * compliance (compliance:write) recovers it, all that is available or `amount`, in one batch; the
 * top-up's unrecovered amount goes down by as much, its oldest reversals first.
 */
export async function recoverChargebackLoss(
  deps: AppDeps,
  actor: Actor,
  input: { topup_id: string; amount?: number; reason: string },
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireScope(actor, 'compliance:write');
  const read = await deps.transactions.read((tx) => findTopup(tx, input.topup_id));
  if (!read) throw notFound(`top-up ${input.topup_id}`);
  return deps.writes.request(
    {
      name: 'recover_chargeback_loss',
      region: read.region,
      needs: { accounts: [read.account_id], topups: [read.id] },
      decide: (unit) => {
        const topup = unit.table(TOPUPS).get(read.id)!;
        const wallet = unit.wallets.get(walletKey(topup.account_id, topup.currency));
        const available_minor = wallet ? wallet.balance_minor - wallet.held_minor : 0;
        if (topup.unrecovered_minor === 0) throw invalidState(`top-up ${topup.id} has no chargeback loss left to recover`);
        if (input.amount !== undefined && input.amount > topup.unrecovered_minor)
          throw invalidState(`${topup.unrecovered_minor} ${topup.currency} of top-up ${topup.id} is left to recover`);
        const amount_minor = input.amount ?? Math.min(topup.unrecovered_minor, available_minor);
        if (amount_minor === 0) throw invalidState(`account ${topup.account_id} has nothing available to recover from`);
        const posted = postTransaction(
          unit,
          {
            type: 'chargeback_recovery',
            account_id: topup.account_id,
            currency: topup.currency,
            amount_minor,
            topup_id: topup.id,
            original_transaction_id: topup.reversal_transaction_id,
            reason: `recovered by ${actor.id}: ${input.reason}`,
            postings: movement(topup.account_id, '@chargebacks', topup.currency, amount_minor),
          },
          deps.config.limits,
        );
        unit.table(TOPUPS).update(topup.id, {
          unrecovered_minor: topup.unrecovered_minor - amount_minor,
          reversals: recoveredInOrder(topup.reversals, amount_minor),
          updated_at: unit.now,
        });
        return transactionView(posted);
      },
    },
    idempotency,
  );
}

/** The reversals with `amount_minor` more recovered, from their unrecovered parts, oldest first. */
function recoveredInOrder(reversals: readonly Reversal[], amount_minor: number): Reversal[] {
  let left_minor = amount_minor;
  return reversals.map((reversal) => {
    const taken_minor = Math.min(left_minor, reversal.unrecovered_minor);
    left_minor -= taken_minor;
    return {
      ...reversal,
      recovered_minor: reversal.recovered_minor + taken_minor,
      unrecovered_minor: reversal.unrecovered_minor - taken_minor,
    };
  });
}
