import { isSystemAccount } from './postings.js';
import type { HoldRecord, TransactionReferences } from './ledger-records.js';
import type { PostedTransaction } from './posting.js';

/** The public shape of a ledger transaction. System balances are sharded, so their legs carry no balance_after. */
export function transactionView(posted: PostedTransaction) {
  const own_entry = posted.entries.find((entry) => entry.account_id === posted.account_id && entry.currency === posted.currency);
  return {
    id: posted.id,
    type: posted.type,
    account_id: posted.account_id,
    amount: posted.amount_minor,
    currency: posted.currency,
    balance_after: own_entry && !isSystemAccount(own_entry.account_id) ? own_entry.balance_after_minor : null,
    ...referencesView(posted),
    metadata: posted.metadata,
    entries: posted.entries.map((entry) => ({
      account_id: entry.account_id,
      currency: entry.currency,
      amount: entry.amount_minor,
      ...(isSystemAccount(entry.account_id) ? {} : { balance_after: entry.balance_after_minor }),
    })),
    created_at: posted.created_at,
  };
}
export type TransactionView = ReturnType<typeof transactionView>;

export function referencesView(references: TransactionReferences) {
  return {
    reason: references.reason ?? null,
    reference: references.reference ?? null,
    note: references.note ?? null,
    original_transaction_id: references.original_transaction_id ?? null,
    hold_id: references.hold_id ?? null,
    order_id: references.order_id ?? null,
    refund_id: references.refund_id ?? null,
    topup_id: references.topup_id ?? null,
    purchase_request_id: references.purchase_request_id ?? null,
    withdrawal_id: references.withdrawal_id ?? null,
    merchant_id: references.merchant_id ?? null,
  };
}

export function holdView(hold: HoldRecord) {
  return {
    id: hold.id,
    account_id: hold.account_id,
    amount: hold.amount_minor,
    captured_amount: hold.captured_minor,
    currency: hold.currency,
    status: hold.status,
    owner: hold.owner,
    reference: hold.reference,
    capture_transaction_id: hold.capture_transaction_id,
    metadata: hold.metadata,
    expires_at: hold.expires_at,
    created_at: hold.created_at,
    updated_at: hold.updated_at,
  };
}
export type HoldView = ReturnType<typeof holdView>;

export function transferView(posted: PostedTransaction) {
  const destination = posted.entries.find((entry) => entry.amount_minor > 0)!;
  return {
    id: posted.id,
    from_account_id: posted.account_id,
    to_account_id: destination.account_id,
    amount: posted.amount_minor,
    currency: posted.currency,
    note: posted.note ?? null,
    metadata: posted.metadata,
    status: 'COMPLETED' as const,
    transaction_id: posted.id,
    created_at: posted.created_at,
  };
}
