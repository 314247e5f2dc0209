import type { PayoutEventRecord, WithdrawalRecord } from './withdrawal-records.js';

/** A payout callback as a withdrawal shows it. */
function eventView(event: PayoutEventRecord) {
  return {
    id: event.conflicts_with ?? event.id,
    log_id: event.id,
    type: event.type,
    outcome: event.outcome,
    received_at: event.received_at,
  };
}

/** A callback held for review, settled or not: what an operator needs to find it and deal with it. */
export function payoutReviewView(event: PayoutEventRecord) {
  return {
    event_id: event.conflicts_with ?? event.id,
    log_id: event.id,
    outcome: event.outcome,
    reason: event.review_reason,
    received_at: event.received_at,
    settled_at: event.review_settled_at,
    settlement: event.review_settlement,
  };
}

export function withdrawalView(withdrawal: WithdrawalRecord, events: readonly PayoutEventRecord[] = []) {
  const review = events.filter((event) => event.review_reason !== null);
  return {
    id: withdrawal.id,
    account_id: withdrawal.account_id,
    amount: withdrawal.amount_minor,
    currency: withdrawal.currency,
    destination: withdrawal.destination,
    status: withdrawal.status,
    payout_id: withdrawal.payout_id,
    provider_status: withdrawal.provider_status,
    failure_reason: withdrawal.failure_reason,
    debit_transaction_id: withdrawal.debit_transaction_id,
    settlement_transaction_id: withdrawal.settlement_transaction_id,
    status_history: withdrawal.status_history,
    // The provider has not settled it in WITHDRAWAL_PENDING_TIMEOUT_SECONDS: a person must ask it.
    needs_reconciliation: withdrawal.status === 'PENDING' && withdrawal.reconciliation_required_at !== null,
    metadata: withdrawal.metadata,
    events: events.map(eventView),
    review: review.map(payoutReviewView),
    review_reason: review.filter((event) => event.review_settled_at === null).at(-1)?.review_reason ?? null,
    created_at: withdrawal.created_at,
    updated_at: withdrawal.updated_at,
    settled_at: withdrawal.settled_at,
  };
}
export type WithdrawalView = ReturnType<typeof withdrawalView>;
