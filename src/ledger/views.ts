import Joi from 'joi';
import {
  idSchema,
  metadataViewSchema,
  minorSchema,
  timestampSchema,
  unionMembers,
  viewPart,
  viewSchema,
  type ViewKeys,
} from '../platform/view-schema.js';
import type { HistoryItem } from './ledger-queries.js';
import { isSystemAccount } from './postings.js';
import type { HoldOwner, HoldRecord, HoldStatus, TransactionReferences, TransactionType } from './ledger-records.js';
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

export const transactionTypeSchema = Joi.string().valid(
  ...unionMembers<TransactionType>({
    credit: true,
    debit: true,
    refund: true,
    transfer: true,
    hold_capture: true,
    purchase: true,
    order_refund: true,
    topup: true,
    topup_reversal: true,
    seller_purchase: true,
    merchant_payment: true,
    withdrawal: true,
    payout: true,
    withdrawal_return: true,
    chargeback_recovery: true,
  }),
);

const referencesSchema = {
  reason: Joi.string().allow(null),
  reference: Joi.string().allow(null),
  note: Joi.string().allow(null),
  original_transaction_id: idSchema.allow(null),
  hold_id: idSchema.allow(null),
  order_id: idSchema.allow(null),
  refund_id: idSchema.allow(null),
  topup_id: idSchema.allow(null),
  purchase_request_id: idSchema.allow(null),
  withdrawal_id: idSchema.allow(null),
  merchant_id: Joi.string().allow(null).description('The merchant a merchant payment paid, or its refund takes back from'),
} satisfies Record<keyof TransactionReferences, Joi.Schema>;

export const transactionViewSchema = viewSchema('Transaction', {
  id: idSchema,
  type: transactionTypeSchema,
  account_id: Joi.string().description('The account the transaction is about (the payer)'),
  amount: minorSchema,
  currency: Joi.string(),
  balance_after: minorSchema.allow(null).description("The account's balance after it; null for system accounts and for other players"),
  ...referencesSchema,
  metadata: metadataViewSchema,
  entries: Joi.array().items(
    viewPart({
      account_id: Joi.string(),
      currency: Joi.string(),
      amount: minorSchema.description('Signed: negative leaves the account'),
      balance_after: minorSchema.optional().description("Absent for system accounts and, for a player, on other players' legs"),
    }),
  ),
  created_at: timestampSchema,
} satisfies ViewKeys<TransactionView>);

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

export const holdViewSchema = viewSchema('Hold', {
  id: idSchema,
  account_id: Joi.string(),
  amount: minorSchema,
  captured_amount: minorSchema,
  currency: Joi.string(),
  status: Joi.string().valid(...unionMembers<HoldStatus>({ ACTIVE: true, CAPTURED: true, VOIDED: true, EXPIRED: true })),
  owner: Joi.string()
    .valid(...unionMembers<HoldOwner>({ api: true, order: true, purchase_request: true }))
    .description('What settles the hold: the holds API, or only its order or purchase request'),
  reference: Joi.string().allow(null),
  capture_transaction_id: idSchema.allow(null),
  metadata: metadataViewSchema,
  expires_at: timestampSchema,
  created_at: timestampSchema,
  updated_at: timestampSchema,
} satisfies ViewKeys<HoldView>);

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

export const transferViewSchema = viewSchema('Transfer', {
  id: idSchema,
  from_account_id: Joi.string(),
  to_account_id: Joi.string(),
  amount: minorSchema,
  currency: Joi.string(),
  note: Joi.string().allow(null),
  metadata: metadataViewSchema,
  status: Joi.valid('COMPLETED'),
  transaction_id: idSchema,
  created_at: timestampSchema,
} satisfies ViewKeys<ReturnType<typeof transferView>>);

/** An entry of an account's history (ledger-queries.ts listHistory). */
export const historyEntrySchema = viewSchema('HistoryEntry', {
  id: idSchema,
  transaction_id: idSchema,
  type: transactionTypeSchema,
  amount: minorSchema.description('Signed: negative left the account'),
  currency: Joi.string(),
  balance_after: minorSchema,
  reason: Joi.string().allow(null),
  reference: Joi.string().allow(null),
  references: viewPart({
    original_transaction_id: idSchema.optional(),
    hold_id: idSchema.optional(),
    order_id: idSchema.optional(),
    refund_id: idSchema.optional(),
    topup_id: idSchema.optional(),
    purchase_request_id: idSchema.optional(),
    withdrawal_id: idSchema.optional(),
    merchant_id: Joi.string().optional(),
  }).description('The objects the transaction belongs to; only those it has'),
  metadata: metadataViewSchema,
  created_at: timestampSchema,
} satisfies ViewKeys<HistoryItem>);
