import Joi from 'joi';
import {
  eventReviewKeys,
  idSchema,
  metadataViewSchema,
  minorSchema,
  timestampSchema,
  unionMembers,
  viewPart,
  viewSchema,
  type ViewKeys,
} from '../platform/view-schema.js';
import type { PayoutEventRecord, WithdrawalRecord, WithdrawalStatus } from './withdrawal-records.js';

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
    settled_by: event.review_settled_by,
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

const statusSchema = Joi.string().valid(...unionMembers<WithdrawalStatus>({ PENDING: true, PAID: true, FAILED: true }));

export const payoutEventReviewSchema = viewSchema(
  'PayoutEventReview',
  eventReviewKeys("The provider's", 'PUT /v1/payouts/events/{id}/review') satisfies ViewKeys<ReturnType<typeof payoutReviewView>>,
);

export const withdrawalViewSchema = viewSchema('Withdrawal', {
  id: idSchema,
  account_id: Joi.string(),
  amount: minorSchema,
  currency: Joi.string(),
  destination: viewPart({ type: Joi.string(), reference: Joi.string() }),
  status: statusSchema,
  payout_id: Joi.string().allow(null).description("The provider's payout, once it accepted the payout call or a callback named it"),
  provider_status: Joi.string().allow(null).description('What the provider said of the payout when it accepted it'),
  failure_reason: Joi.string().allow(null),
  debit_transaction_id: idSchema.description('The ledger transaction that moved the money to @payouts_pending'),
  settlement_transaction_id: idSchema.allow(null).description('To @payouts (PAID) or back to the wallet (FAILED)'),
  status_history: Joi.array().items(viewPart({ status: statusSchema, reason: Joi.string().allow(null), at: timestampSchema })),
  needs_reconciliation: Joi.boolean().description('PENDING for longer than WITHDRAWAL_PENDING_TIMEOUT_SECONDS'),
  metadata: metadataViewSchema,
  events: Joi.array().items(
    viewPart({ id: Joi.string(), log_id: Joi.string(), type: Joi.string(), outcome: Joi.string(), received_at: timestampSchema }),
  ),
  review: Joi.array().items(payoutEventReviewSchema).description('Callbacks that could not be applied'),
  review_reason: Joi.string().allow(null).description('The latest reason nobody has settled yet'),
  created_at: timestampSchema,
  updated_at: timestampSchema,
  settled_at: timestampSchema.allow(null),
} satisfies ViewKeys<WithdrawalView>);
