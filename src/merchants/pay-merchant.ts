import Joi from 'joi';
import { requireAccountAccess, requireReadScope, isVisibleTo } from '../auth/access.js';
import { idSchema, metadataViewSchema, minorSchema, timestampSchema, viewSchema, type ViewKeys } from '../platform/view-schema.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import type { Unit } from '../batch/unit.js';
import { DomainError, notFound } from '../domain/errors.js';
import { walletKey, type AccountRecord, type Metadata } from '../ledger/ledger-records.js';
import { findTransaction, refundedAmount } from '../ledger/ledger-queries.js';
import { postTransaction, requireAccount, type PostedTransaction } from '../ledger/posting.js';
import type { Posting } from '../ledger/postings.js';
import type { AppDeps } from '../platform/deps.js';
import { merchantFee } from './fees.js';

export interface MerchantPaymentInput {
  from_account_id: string;
  merchant_id: string;
  amount: number;
  currency: string;
  reference?: string;
  metadata?: Metadata;
}

/** A merchant account of the batch, or not_found (a player's id is no merchant). */
export function requireMerchant(unit: Unit, merchant_id: string): AccountRecord & { fee_bps: number; fee_min_minor: number } {
  const merchant = unit.account(merchant_id);
  if (merchant?.kind !== 'merchant' || merchant.fee_bps === null || merchant.fee_min_minor === null)
    throw notFound(`merchant ${merchant_id}`);
  return { ...merchant, fee_bps: merchant.fee_bps, fee_min_minor: merchant.fee_min_minor };
}

/**
 * A player pays a merchant: ONE ledger transaction, the player −amount, the merchant +(amount −
 * fee) and @revenue +fee, the fee from the merchant's plan (fees.ts). The merchant must hold a
 * wallet in the currency (422 currency_mismatch otherwise, like a transfer's recipient).
 */
export async function payMerchant(
  deps: AppDeps,
  actor: Actor,
  input: MerchantPaymentInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireAccountAccess(actor, input.from_account_id, 'credits:write');
  if (input.from_account_id === input.merchant_id) throw new DomainError('validation_error', 'a merchant cannot pay itself');
  return deps.writes.request(
    {
      name: 'merchant_payment',
      region: (await deps.directory.regionOf(input.from_account_id)) ?? deps.region,
      needs: { accounts: [input.from_account_id, input.merchant_id] },
      decide: (unit) => {
        const payer = requireAccount(unit, input.from_account_id);
        if (payer.kind !== 'player') throw new DomainError('validation_error', 'merchant payments are paid from player accounts');
        const merchant = requireMerchant(unit, input.merchant_id);
        if (!unit.wallets.has(walletKey(merchant.id, input.currency)))
          throw new DomainError('currency_mismatch', `the merchant cannot receive ${input.currency}`);
        const { fee_minor, net_minor } = merchantFee(input.amount, merchant);
        const postings: Posting[] = [
          { account_id: payer.id, currency: input.currency, amount_minor: -input.amount },
          ...(net_minor > 0 ? [{ account_id: merchant.id, currency: input.currency, amount_minor: net_minor }] : []),
          ...(fee_minor > 0 ? [{ account_id: '@revenue', currency: input.currency, amount_minor: fee_minor }] : []),
        ];
        const posted = postTransaction(
          unit,
          {
            type: 'merchant_payment',
            account_id: payer.id,
            currency: input.currency,
            amount_minor: input.amount,
            merchant_id: merchant.id,
            reference: input.reference ?? null,
            metadata: input.metadata,
            postings,
          },
          deps.config.limits,
        );
        return merchantPaymentView(posted, true, 0);
      },
    },
    idempotency,
  );
}

/**
 * A merchant payment as its ledger transaction records it: the fee is what went to @revenue. The
 * payer's balance after it is shown to the payer and to services, never to the merchant.
 */
export function merchantPaymentView(posted: PostedTransaction, show_payer_balance: boolean, refunded_minor: number) {
  const fee_minor = posted.entries.find((entry) => entry.account_id === '@revenue')?.amount_minor ?? 0;
  return {
    id: posted.id,
    from_account_id: posted.account_id,
    merchant_id: posted.merchant_id ?? null,
    amount: posted.amount_minor,
    fee: fee_minor,
    net_amount: posted.amount_minor - fee_minor,
    currency: posted.currency,
    reference: posted.reference ?? null,
    amount_refunded: refunded_minor,
    metadata: posted.metadata,
    transaction_id: posted.id,
    // The payer's balance only: the merchant's is not the payer's business, nor the reverse.
    balance_after: show_payer_balance
      ? (posted.entries.find((entry) => entry.account_id === posted.account_id)?.balance_after_minor ?? null)
      : null,
    created_at: posted.created_at,
  };
}

/** A merchant payment: to services reading money, the payer, and the merchant. */
export async function getMerchantPayment(deps: AppDeps, actor: Actor, id: string) {
  requireReadScope(actor, 'money');
  const found = await deps.transactions.read(async (tx) => {
    const posted = await findTransaction(tx, id);
    return posted && { posted, refunded_minor: await refundedAmount(tx, id) };
  });
  const posted = found?.posted;
  const visible = posted && [posted.account_id, posted.merchant_id].some((party) => party && isVisibleTo(actor, party));
  if (posted?.type !== 'merchant_payment' || !visible) throw notFound(`merchant payment ${id}`);
  return merchantPaymentView(posted, actor.kind === 'service' || actor.id === posted.account_id, found.refunded_minor);
}

export const merchantPaymentViewSchema = viewSchema('MerchantPayment', {
  id: idSchema,
  from_account_id: Joi.string(),
  merchant_id: Joi.string().allow(null),
  amount: minorSchema,
  fee: minorSchema.description('round half up of amount x fee_bps / 10,000, at least fee_min, at most amount'),
  net_amount: minorSchema.description('What the merchant received: amount - fee'),
  currency: Joi.string(),
  reference: Joi.string().allow(null),
  amount_refunded: minorSchema.description('Refunded so far by POST /transactions/{id}/refunds (0 in the answer to the payment)'),
  metadata: metadataViewSchema,
  transaction_id: idSchema,
  balance_after: minorSchema.allow(null).description("The payer's balance after it: shown to the payer and to services"),
  created_at: timestampSchema,
} satisfies ViewKeys<ReturnType<typeof merchantPaymentView>>);
