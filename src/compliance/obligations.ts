import type { TableSpec } from '../batch/table-writer.js';
import type { Unit } from '../batch/unit.js';
import { WITHDRAWALS } from '../withdrawals/withdrawal-records.js';
import type { Obligations } from './account-status.js';

/** A PENDING top-up of an account, as a batch closing the account reads it (never written by batches). */
export interface PendingTopup {
  id: string;
  account_id: string;
}

export const PENDING_TOPUPS: TableSpec<PendingTopup> = {
  table: 'topups',
  keyOf: (row) => row.id,
  columns: {},
  key: ['id'],
};

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
      .table(PENDING_TOPUPS)
      .all()
      .filter((topup) => topup.account_id === account_id).length,
  };
}
