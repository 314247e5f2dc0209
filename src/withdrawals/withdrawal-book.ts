import { randomUUID } from 'node:crypto';
import type { Unit } from '../batch/unit.js';
import { invariant, notFound } from '../domain/errors.js';
import type { Metadata } from '../ledger/ledger-records.js';
import { postTransaction, requireAccount, requireWallet, takeSequence, type LedgerLimits } from '../ledger/posting.js';
import { movement } from '../ledger/postings.js';
import { emitEvent } from '../events/emit.js';
import { insertJob } from '../sellers/purchases/purchase-records.js';
import {
  CALLBACKS_SHOWN_MAX,
  PAYOUT_EVENTS,
  WITHDRAWALS,
  type Destination,
  type WithdrawalRecord,
  type WithdrawalStatus,
} from './withdrawal-records.js';
import { withdrawalView } from './withdrawal-view.js';

/** Withdrawals as a batch sees and changes them (in memory): every status change of a withdrawal passes here. */

export const PENDING_PAYOUTS = '@payouts_pending';
export const PAID_PAYOUTS = '@payouts';

export function requireWithdrawal(unit: Unit, id: string): WithdrawalRecord {
  const withdrawal = unit.table(WITHDRAWALS).get(id);
  if (!withdrawal) throw notFound(`withdrawal ${id}`);
  return withdrawal;
}

export interface NewWithdrawal {
  account_id: string;
  amount_minor: number;
  currency: string;
  destination: Destination;
  metadata: Metadata;
}

/**
 * Opens a withdrawal: the money leaves the wallet for @payouts_pending (so it can neither be
 * spent nor withdrawn twice; the account's status and KYC limits are checked by the posting),
 * the withdrawal is PENDING, and a durable payout job asks the provider to pay it after commit.
 */
export function insertWithdrawal(unit: Unit, input: NewWithdrawal, limits: LedgerLimits): WithdrawalRecord {
  const account = requireAccount(unit, input.account_id);
  requireWallet(unit, account.id, input.currency);
  const id = randomUUID();
  const posted = postTransaction(
    unit,
    {
      type: 'withdrawal',
      account_id: account.id,
      currency: input.currency,
      amount_minor: input.amount_minor,
      withdrawal_id: id,
      reference: `${input.destination.type}:${input.destination.reference}`.slice(0, 200),
      metadata: input.metadata,
      postings: movement(account.id, PENDING_PAYOUTS, input.currency, input.amount_minor),
    },
    limits,
  );
  insertJob(unit, 'payout', id, account.region);
  return unit.table(WITHDRAWALS).insert({
    id,
    account_id: account.id,
    account_seq: takeSequence(unit, account.id, 1),
    amount_minor: input.amount_minor,
    currency: input.currency,
    destination: input.destination,
    metadata: input.metadata,
    status: 'PENDING',
    payout_id: null,
    provider_status: null,
    failure_reason: null,
    debit_transaction_id: posted.id,
    settlement_transaction_id: null,
    status_history: [{ status: 'PENDING', reason: null, at: unit.now }],
    reconciliation_required_at: null,
    region: account.region,
    created_at: unit.now,
    updated_at: unit.now,
    settled_at: null,
  });
}

/** What the provider answered to the payout call: its payout id, recorded once (the call's key makes every answer the same payout). */
export function recordPayout(unit: Unit, withdrawal: WithdrawalRecord, payout: { payout_id: string; status: string }): WithdrawalRecord {
  if (withdrawal.payout_id !== null) return withdrawal;
  return unit
    .table(WITHDRAWALS)
    .update(withdrawal.id, { payout_id: payout.payout_id, provider_status: payout.status, updated_at: unit.now });
}

/**
 * Settles a PENDING withdrawal: PAID moves its money from @payouts_pending to @payouts, FAILED
 * returns it to the wallet. The one place a withdrawal reaches a final status.
 */
export function settleWithdrawal(
  unit: Unit,
  withdrawal: WithdrawalRecord,
  settlement: { status: Exclude<WithdrawalStatus, 'PENDING'>; payout_id: string | null; reason: string | null },
  limits: LedgerLimits,
): WithdrawalRecord {
  invariant(withdrawal.status === 'PENDING', `withdrawal ${withdrawal.id} is ${withdrawal.status} already`);
  const paid = settlement.status === 'PAID';
  const posted = postTransaction(
    unit,
    {
      type: paid ? 'payout' : 'withdrawal_return',
      account_id: withdrawal.account_id,
      currency: withdrawal.currency,
      amount_minor: withdrawal.amount_minor,
      withdrawal_id: withdrawal.id,
      reason: settlement.reason,
      metadata: withdrawal.metadata,
      postings: movement(PENDING_PAYOUTS, paid ? PAID_PAYOUTS : withdrawal.account_id, withdrawal.currency, withdrawal.amount_minor),
      ...(paid ? {} : { undoes_outflow: { made_at: withdrawal.created_at } }),
    },
    limits,
  );
  const settled = unit.table(WITHDRAWALS).update(withdrawal.id, {
    status: settlement.status,
    payout_id: withdrawal.payout_id ?? settlement.payout_id,
    failure_reason: paid ? null : settlement.reason,
    settlement_transaction_id: posted.id,
    status_history: [...withdrawal.status_history, { status: settlement.status, reason: settlement.reason, at: unit.now }],
    updated_at: unit.now,
    settled_at: unit.now,
  });
  const data = withdrawalView(settled, callbacksOf(unit, settled.id));
  emitEvent(unit, { type: paid ? 'withdrawal.paid' : 'withdrawal.failed', account_id: settled.account_id, data });
  return settled;
}

/**
 * The callbacks of a withdrawal the batch holds (read with the withdrawal; those it records itself
 * must be inserted before it settles): those its GET shows, chosen and listed as it lists them.
 */
export function callbacksOf(unit: Unit, withdrawal_id: string) {
  return unit
    .table(PAYOUT_EVENTS)
    .all()
    .filter((event) => event.withdrawal_id === withdrawal_id)
    .sort(
      (a, b) =>
        Number(a.review_reason === null) - Number(b.review_reason === null) ||
        a.received_at.localeCompare(b.received_at) ||
        a.id.localeCompare(b.id),
    )
    .slice(0, CALLBACKS_SHOWN_MAX)
    .sort((a, b) => a.received_at.localeCompare(b.received_at));
}
