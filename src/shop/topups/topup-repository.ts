import { randomUUID } from 'node:crypto';
import { int8, timestamp, type SqlTx } from '../../db/sql.js';
import type { Metadata } from '../../ledger/ledger-records.js';
import type { TopupEvent } from './psp-event-repository.js';
import type { Reversal, TopupState, WalletBalance } from './topup-state-machine.js';

export interface Topup extends TopupState {
  id: string;
  credit_transaction_id: string | null;
  /** The latest reversal's ledger transaction. */
  reversal_transaction_id: string | null;
  reconciliation_required_at: string | null;
  metadata: Metadata;
  region: string;
  created_at: string;
  updated_at: string;
}

interface TopupRow {
  id: string;
  account_id: string;
  amount_minor: string;
  currency: string;
  status: Topup['status'];
  psp_payment_id: string | null;
  credit_transaction_id: string | null;
  reversal_transaction_id: string | null;
  reversed_minor: string;
  unrecovered_minor: string;
  reversals: Reversal[];
  reconciliation_required_at: string | null;
  metadata: Metadata;
  crdb_region: string;
  created_at: string;
  updated_at: string;
}

function toTopup(row: TopupRow): Topup {
  return {
    id: row.id,
    account_id: row.account_id,
    amount_minor: int8(row.amount_minor),
    currency: row.currency,
    status: row.status,
    psp_payment_id: row.psp_payment_id,
    credit_transaction_id: row.credit_transaction_id,
    reversal_transaction_id: row.reversal_transaction_id,
    reversed_minor: int8(row.reversed_minor),
    unrecovered_minor: int8(row.unrecovered_minor),
    reversals: row.reversals.map((reversal) => ({
      event_id: reversal.event_id,
      amount_minor: int8(reversal.amount_minor),
      status: reversal.status,
      recovered_minor: int8(reversal.recovered_minor),
      unrecovered_minor: int8(reversal.unrecovered_minor),
    })),
    reconciliation_required_at: row.reconciliation_required_at && timestamp(row.reconciliation_required_at),
    metadata: row.metadata,
    region: row.crdb_region,
    created_at: timestamp(row.created_at),
    updated_at: timestamp(row.updated_at),
  };
}

const COLUMNS = `id, account_id, amount_minor, currency, status, psp_payment_id, credit_transaction_id, reversal_transaction_id,
  reversed_minor, unrecovered_minor, reversals, reconciliation_required_at, metadata, crdb_region, created_at, updated_at`;

export async function insertTopup(
  tx: SqlTx,
  topup: { account_id: string; amount_minor: number; currency: string; metadata: Metadata; region: string },
): Promise<Topup> {
  const row = await tx.one<TopupRow>(
    `INSERT INTO topups (id, account_id, amount_minor, currency, status, metadata, crdb_region)
     VALUES (?, ?, ?, ?, 'PENDING', ?::jsonb, ?) RETURNING ${COLUMNS}`,
    [randomUUID(), topup.account_id, topup.amount_minor, topup.currency, JSON.stringify(topup.metadata), topup.region],
  );
  return toTopup(row);
}

export async function findTopup(tx: SqlTx, id: string): Promise<Topup | undefined> {
  const row = await tx.maybeOne<TopupRow>(`SELECT ${COLUMNS} FROM topups WHERE id = ?`, [id]);
  return row && toTopup(row);
}

/** The wallet a top-up would move; an account without a wallet in its currency gets one on the credit. */
export async function findWalletBalance(tx: SqlTx, account_id: string, currency: string): Promise<WalletBalance> {
  const row = await tx.maybeOne<{ balance_minor: string; held_minor: string }>(
    'SELECT balance_minor, held_minor FROM wallets WHERE account_id = ? AND currency = ?',
    [account_id, currency],
  );
  return { balance_minor: row ? int8(row.balance_minor) : 0, held_minor: row ? int8(row.held_minor) : 0 };
}

/**
 * Writes the state machine's result over the state it was decided from: the status condition
 * makes a racing change lose (the serializable transaction alone would, this says it out loud).
 */
export async function saveTopup(
  tx: SqlTx,
  topup: Topup,
  next: TopupState,
  ledger: { credit_transaction_id: string | null; reversal_transaction_id: string | null },
): Promise<boolean> {
  const updated = await tx.execute(
    `UPDATE topups SET status = ?, psp_payment_id = ?, credit_transaction_id = ?, reversal_transaction_id = ?,
       reversed_minor = ?, unrecovered_minor = ?, reversals = ?::jsonb, updated_at = now()
     WHERE id = ? AND status = ?`,
    [
      next.status,
      next.psp_payment_id,
      ledger.credit_transaction_id,
      ledger.reversal_transaction_id,
      next.reversed_minor,
      next.unrecovered_minor,
      JSON.stringify(next.reversals),
      topup.id,
      topup.status,
    ],
  );
  return updated === 1;
}

/** An event held for review, settled or not: what an operator needs to find it and deal with it. */
export function reviewView(event: TopupEvent) {
  return {
    event_id: event.id,
    log_id: event.log_id,
    outcome: event.outcome,
    reason: event.review_reason,
    received_at: event.received_at,
    settled_at: event.review_settled_at,
    settlement: event.review_settlement,
  };
}

export function topupView(topup: Topup, events: TopupEvent[]) {
  const review = events.filter((event) => event.review_reason !== null);
  return {
    id: topup.id,
    account_id: topup.account_id,
    amount: topup.amount_minor,
    currency: topup.currency,
    status: topup.status,
    psp_payment_id: topup.psp_payment_id,
    credit_transaction_id: topup.credit_transaction_id,
    reversal_transaction_id: topup.reversal_transaction_id,
    reversed_amount: topup.reversed_minor,
    pending_reversal_amount: topup.reversals
      .filter((reversal) => reversal.status === 'waiting')
      .reduce((sum, reversal) => sum + reversal.amount_minor, 0),
    unrecovered_amount: topup.unrecovered_minor,
    reversals: topup.reversals.map((reversal) => ({
      event_id: reversal.event_id,
      amount: reversal.amount_minor,
      status: reversal.status,
      recovered_amount: reversal.recovered_minor,
      unrecovered_amount: reversal.unrecovered_minor,
    })),
    // Events that could not be applied automatically: they wait for an operator and count in reconciliation.
    review: review.map(reviewView),
    // The latest reason nobody has settled yet.
    review_reason: review.filter((event) => event.review_settled_at === null).at(-1)?.review_reason ?? null,
    needs_reconciliation: topup.reconciliation_required_at !== null,
    events: events.map((event) => ({
      id: event.id,
      type: event.type,
      amount: event.amount_minor,
      currency: event.currency,
      outcome: event.outcome,
      received_at: event.received_at,
    })),
    // What the client hands to the PSP's checkout: the top-up id is the payment reference.
    payment: { provider: 'simulated-psp', reference: topup.id, amount: topup.amount_minor, currency: topup.currency },
    metadata: topup.metadata,
    created_at: topup.created_at,
    updated_at: topup.updated_at,
  };
}
export type TopupView = ReturnType<typeof topupView>;
