import { randomUUID } from 'node:crypto';
import { int8, timestamp, type SqlTx } from '../../db/sql.js';

export type TopupStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'REVERSED';

export interface Topup {
  id: string;
  account_id: string;
  amount_minor: number;
  currency: string;
  status: TopupStatus;
  psp_payment_id: string | null;
  credit_transaction_id: string | null;
  reversal_transaction_id: string | null;
  unrecovered_minor: number;
  review_reason: string | null;
  reconciliation_required_at: string | null;
  region: string;
  created_at: string;
  updated_at: string;
}

interface TopupRow extends Omit<Topup, 'amount_minor' | 'unrecovered_minor' | 'region'> {
  amount_minor: string;
  unrecovered_minor: string;
  crdb_region: string;
}

function toTopup(row: TopupRow): Topup {
  const { crdb_region, ...columns } = row;
  return {
    ...columns,
    region: crdb_region,
    amount_minor: int8(row.amount_minor),
    unrecovered_minor: int8(row.unrecovered_minor),
    reconciliation_required_at: row.reconciliation_required_at && timestamp(row.reconciliation_required_at),
    created_at: timestamp(row.created_at),
    updated_at: timestamp(row.updated_at),
  };
}

export async function insertTopup(
  tx: SqlTx,
  topup: { account_id: string; amount_minor: number; currency: string; region: string },
): Promise<Topup> {
  const row = await tx.one<TopupRow>(
    "INSERT INTO topups (id, account_id, amount_minor, currency, status, crdb_region) VALUES (?, ?, ?, ?, 'PENDING', ?) RETURNING *",
    [randomUUID(), topup.account_id, topup.amount_minor, topup.currency, topup.region],
  );
  return toTopup(row);
}

export async function findTopup(tx: SqlTx, id: string): Promise<Topup | undefined> {
  const row = await tx.maybeOne<TopupRow>('SELECT * FROM topups WHERE id = ?', [id]);
  return row && toTopup(row);
}

/** Moves a top-up out of `from`; the status condition makes a racing change lose. */
export async function settleTopup(
  tx: SqlTx,
  id: string,
  from: TopupStatus,
  changes: {
    status?: TopupStatus;
    psp_payment_id?: string;
    credit_transaction_id?: string;
    reversal_transaction_id?: string;
    unrecovered_minor?: number;
    review_reason?: string;
  },
): Promise<boolean> {
  const updated = await tx.execute(
    `UPDATE topups SET status = COALESCE(?, status), psp_payment_id = COALESCE(?, psp_payment_id),
       credit_transaction_id = COALESCE(?, credit_transaction_id), reversal_transaction_id = COALESCE(?, reversal_transaction_id),
       unrecovered_minor = COALESCE(?, unrecovered_minor), review_reason = COALESCE(?, review_reason), updated_at = now()
     WHERE id = ? AND status = ?`,
    [
      changes.status ?? null,
      changes.psp_payment_id ?? null,
      changes.credit_transaction_id ?? null,
      changes.reversal_transaction_id ?? null,
      changes.unrecovered_minor ?? null,
      changes.review_reason ?? null,
      id,
      from,
    ],
  );
  return updated === 1;
}

export function topupView(topup: Topup) {
  return {
    id: topup.id,
    account_id: topup.account_id,
    amount: topup.amount_minor,
    currency: topup.currency,
    status: topup.status,
    psp_payment_id: topup.psp_payment_id,
    credit_transaction_id: topup.credit_transaction_id,
    reversal_transaction_id: topup.reversal_transaction_id,
    unrecovered_amount: topup.unrecovered_minor,
    review_reason: topup.review_reason,
    needs_reconciliation: topup.reconciliation_required_at !== null,
    // What the client hands to the PSP's checkout: the top-up id is the payment reference.
    payment: { provider: 'simulated-psp', reference: topup.id, amount: topup.amount_minor, currency: topup.currency },
    created_at: topup.created_at,
    updated_at: topup.updated_at,
  };
}
export type TopupView = ReturnType<typeof topupView>;
