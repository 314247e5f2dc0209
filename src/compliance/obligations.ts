import type { Unit } from '../batch/unit.js';
import { TOPUPS } from '../shop/topups/topup-records.js';
import { WITHDRAWALS } from '../withdrawals/withdrawal-records.js';
import type { Obligations } from './account-status.js';

/**
 * What an account still owes or is owed, as the batch reads it (Needs.obligations): its wallets
 * not at zero (money or holds: held money is an active hold, a pending two-step order or
 * purchase), its pending withdrawals and top-ups.
 */
export function obligationsOf(unit: Unit, account_id: string): Obligations {
  return {
    wallets_not_empty: unit.wallets
      .all()
      .filter((wallet) => wallet.account_id === account_id && (wallet.balance_minor !== 0 || wallet.held_minor !== 0))
      .map((wallet) => wallet.currency)
      .sort(),
    pending_withdrawals: unit
      .table(WITHDRAWALS)
      .all()
      .filter((withdrawal) => withdrawal.account_id === account_id && withdrawal.status === 'PENDING').length,
    pending_topups: unit
      .table(TOPUPS)
      .all()
      .filter((topup) => topup.account_id === account_id && topup.status === 'PENDING').length,
  };
}
