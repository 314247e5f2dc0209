import Joi from 'joi';
import { int8, timestamp, type SqlTx } from '../../db/sql.js';
import type { Metadata } from '../../ledger/ledger-records.js';
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
} from '../../platform/view-schema.js';
import type { TopupEvent } from './psp-event-repository.js';
import type { Reversal, TopupState, TopupStatus } from './topup-state-machine.js';

/** Who takes the payment of a top-up (PSP_PROVIDER when it was opened). */
export type PspProvider = 'generic' | 'stripe';

export interface Topup extends TopupState {
  id: string;
  psp_provider: PspProvider;
  /** The PaymentIntent the client pays (Stripe); null until Stripe has created it. */
  stripe_payment_intent_id: string | null;
  /** What the client confirms the PaymentIntent with; never logged. */
  stripe_client_secret: string | null;
  credit_transaction_id: string | null;
  /** The latest reversal's ledger transaction. */
  reversal_transaction_id: string | null;
  reconciliation_required_at: string | null;
  metadata: Metadata;
  region: string;
  created_at: string;
  updated_at: string;
}

export interface TopupRow {
  id: string;
  account_id: string;
  amount_minor: string;
  currency: string;
  status: Topup['status'];
  psp_payment_id: string | null;
  psp_provider: PspProvider;
  stripe_payment_intent_id: string | null;
  stripe_client_secret: string | null;
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

export function toTopup(row: TopupRow): Topup {
  return {
    id: row.id,
    account_id: row.account_id,
    amount_minor: int8(row.amount_minor),
    currency: row.currency,
    status: row.status,
    psp_payment_id: row.psp_payment_id,
    psp_provider: row.psp_provider,
    stripe_payment_intent_id: row.stripe_payment_intent_id,
    stripe_client_secret: row.stripe_client_secret,
    credit_transaction_id: row.credit_transaction_id,
    reversal_transaction_id: row.reversal_transaction_id,
    reversed_minor: int8(row.reversed_minor),
    unrecovered_minor: int8(row.unrecovered_minor),
    reversals: row.reversals.map((reversal) => ({
      event_id: reversal.event_id,
      amount_minor: int8(reversal.amount_minor),
      status: reversal.status,
      ...(reversal.psp_payment_id === undefined ? {} : { psp_payment_id: reversal.psp_payment_id }),
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

export const TOPUP_COLUMNS = `id, account_id, amount_minor, currency, status, psp_payment_id, psp_provider, stripe_payment_intent_id,
  stripe_client_secret, credit_transaction_id, reversal_transaction_id, reversed_minor, unrecovered_minor, reversals,
  reconciliation_required_at, metadata, crdb_region, created_at, updated_at`;

export async function findTopup(tx: SqlTx, id: string): Promise<Topup | undefined> {
  const row = await tx.maybeOne<TopupRow>(`SELECT ${TOPUP_COLUMNS} FROM topups WHERE id = ?`, [id]);
  return row && toTopup(row);
}

/** The top-up a Stripe PaymentIntent pays, if it is one of ours. */
export async function findTopupIdByPaymentIntent(tx: SqlTx, payment_intent_id: string): Promise<string | undefined> {
  const row = await tx.maybeOne<{ id: string }>('SELECT id FROM topups WHERE stripe_payment_intent_id = ?', [payment_intent_id]);
  return row?.id;
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
    settled_by: event.review_settled_by,
  };
}

export const pspEventReviewSchema = viewSchema(
  'PspEventReview',
  eventReviewKeys("The PSP's", 'PUT /v1/psp/events/{id}/review') satisfies ViewKeys<ReturnType<typeof reviewView>>,
);

/**
 * What the stuck-top-up worker flags (flag-stuck-topups.ts): PENDING, or FAILED with a refund
 * waiting for a success. A flag stays on the row; it means nothing once a signed event settled it.
 */
function isWaitingOnThePsp(topup: Topup): boolean {
  return topup.status === 'PENDING' || (topup.status === 'FAILED' && topup.reversals.some((reversal) => reversal.status === 'waiting'));
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
    needs_reconciliation: topup.reconciliation_required_at !== null && isWaitingOnThePsp(topup),
    events: events.map((event) => ({
      id: event.id,
      type: event.type,
      amount: event.amount_minor,
      currency: event.currency,
      outcome: event.outcome,
      received_at: event.received_at,
    })),
    payment: paymentView(topup),
    metadata: topup.metadata,
    created_at: topup.created_at,
    updated_at: topup.updated_at,
  };
}
export type TopupView = ReturnType<typeof topupView>;

/**
 * A top-up as its events carry it: the view of its GET without the Stripe client secret. The
 * secret lets whoever holds it confirm the payment; it belongs to the paying client, while events
 * are read by any events:read service and sent to every subscribed webhook endpoint.
 */
export function topupEventData(topup: Topup, events: TopupEvent[]): TopupView {
  const view = topupView(topup, events);
  if (!('client_secret' in view.payment)) return view;
  const { client_secret: _withheld, ...payment } = view.payment;
  return { ...view, payment };
}

/** What the client needs to pay: for the generic PSP, the top-up id as the payment reference; for Stripe, the PaymentIntent. */
function paymentView(topup: Topup) {
  const generic = { provider: 'simulated-psp', reference: topup.id, amount: topup.amount_minor, currency: topup.currency };
  if (topup.psp_provider === 'generic') return generic;
  // The client secret pays the intent: shown only while there is something to pay.
  const client_secret = topup.status === 'PENDING' ? topup.stripe_client_secret : null;
  return { ...generic, provider: 'stripe', payment_intent_id: topup.stripe_payment_intent_id, client_secret };
}

export const topupViewSchema = viewSchema('Topup', {
  id: idSchema,
  account_id: Joi.string(),
  amount: minorSchema,
  currency: Joi.string(),
  status: Joi.string().valid(...unionMembers<TopupStatus>({ PENDING: true, SUCCEEDED: true, FAILED: true, REVERSED: true })),
  psp_payment_id: Joi.string().allow(null),
  credit_transaction_id: idSchema.allow(null),
  reversal_transaction_id: idSchema.allow(null).description("The latest reversal's ledger transaction"),
  reversed_amount: minorSchema.description('Sum of the applied reversals'),
  pending_reversal_amount: minorSchema.description('Refunds that arrived before the success, waiting for it'),
  unrecovered_amount: minorSchema.description('Reversed amounts the wallet could not cover, booked on @chargebacks'),
  reversals: Joi.array().items(
    viewPart({
      event_id: Joi.string(),
      amount: minorSchema,
      status: Joi.string().valid(...unionMembers<Reversal['status']>({ waiting: true, applied: true })),
      recovered_amount: minorSchema,
      unrecovered_amount: minorSchema,
    }),
  ),
  review: Joi.array().items(pspEventReviewSchema).description('Events that could not be applied automatically'),
  review_reason: Joi.string().allow(null).description('The latest reason nobody has settled yet'),
  needs_reconciliation: Joi.boolean().description(
    'PENDING (or FAILED with a refund waiting) for longer than TOPUP_PENDING_TIMEOUT_SECONDS, and still so',
  ),
  events: Joi.array().items(
    viewPart({
      id: Joi.string(),
      type: Joi.string(),
      amount: minorSchema.allow(null),
      currency: Joi.string().allow(null),
      outcome: Joi.string(),
      received_at: timestampSchema,
    }),
  ),
  payment: viewPart({
    provider: Joi.string().valid('simulated-psp', 'stripe'),
    reference: Joi.string().description("What the client hands to the PSP's checkout"),
    amount: minorSchema,
    currency: Joi.string(),
    payment_intent_id: Joi.string()
      .allow(null)
      .optional()
      .description('Stripe only: the PaymentIntent to confirm (null until Stripe has created it)'),
    client_secret: Joi.string()
      .allow(null)
      .optional()
      .description('Stripe only: what Stripe.js confirms the PaymentIntent with; shown while the top-up is PENDING, null after'),
  }),
  metadata: metadataViewSchema,
  created_at: timestampSchema,
  updated_at: timestampSchema,
} satisfies ViewKeys<TopupView>);
