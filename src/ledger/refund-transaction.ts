import { hasScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import { DomainError, forbidden, notFound } from '../domain/errors.js';
import type { PostedRecord, Unit } from '../batch/unit.js';
import { takeBackOf } from '../merchants/revenue-shares.js';
import type { AppDeps } from '../platform/deps.js';
import type { TransactionType } from './ledger-records.js';
import { findTransaction } from './ledger-queries.js';
import { postTransaction } from './posting.js';
import { isSystemAccount, movement, type Posting } from './postings.js';
import { transactionView } from './views.js';

const REFUNDABLE_TYPES: ReadonlySet<TransactionType> = new Set(['debit', 'hold_capture', 'merchant_payment']);

/**
 * Returns all or part of a previous spend to the wallet it came from, from the account it went
 * to. Partial refunds repeat until the spend is fully refunded, never beyond: the batch reads what
 * was refunded so far inside its transaction, and refunds of one spend in one batch add up in memory.
 */
export async function refundTransaction(
  deps: AppDeps,
  actor: Actor,
  input: { transaction_id: string; amount?: number; reason?: string },
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  if (!hasScope(actor, 'credits:write') && !hasScope(actor, 'refunds:write'))
    throw forbidden('requires scope credits:write or refunds:write');
  const spend = await deps.transactions.read((tx) => findTransaction(tx, input.transaction_id));
  if (!spend) throw notFound(`transaction ${input.transaction_id}`);
  // A merchant payment whose fee took the whole amount paid its merchant nothing (no entry), and the
  // refund still reads the merchant: whether it is closed decides who gives back.
  const players = [...spend.entries.map((entry) => entry.account_id), ...(spend.merchant_id ? [spend.merchant_id] : [])].filter(
    (account) => !isSystemAccount(account),
  );
  return deps.writes.request(
    {
      name: 'refund_transaction',
      region: spend.region,
      needs: { accounts: [...new Set(players)], transactions: [input.transaction_id] },
      decide: (unit) => {
        const posted = unit.posted.get(input.transaction_id);
        if (!posted) throw notFound(`transaction ${input.transaction_id}`);
        const original = posted.transaction;
        if (!REFUNDABLE_TYPES.has(original.type))
          throw new DomainError('invalid_state', `a ${original.type} transaction cannot be refunded`);
        const remaining = original.amount_minor - posted.refunded_minor;
        const amount = input.amount ?? remaining;
        if (remaining === 0 || amount > remaining) {
          throw new DomainError('refund_exceeds_remaining', `${remaining} of ${original.amount_minor} is left to refund`, { remaining });
        }
        const refund = postTransaction(
          unit,
          {
            type: 'refund',
            account_id: original.account_id,
            currency: original.currency,
            amount_minor: amount,
            reason: input.reason ?? 'refund',
            reference: original.reference,
            original_transaction_id: original.id,
            // A merchant payment's refund names its merchant too, as the payment does.
            merchant_id: original.merchant_id,
            // A refund carries what its spend carried: filtering history by metadata finds both.
            metadata: original.metadata,
            postings: refundPostings(unit, posted, amount),
          },
          deps.config.limits,
        );
        unit.posted.update(original.id, { refunded_minor: posted.refunded_minor + amount });
        return transactionView(refund);
      },
    },
    idempotency,
  );
}

/**
 * Where a refund's money comes from. A debit's or a capture's from the one account it went to; a
 * merchant payment's from the merchant and @revenue, the merchant giving back its net in proportion
 * on a running total (revenue-shares.ts), so partial refunds add up to the net and the fee exactly.
 * A closed merchant gives nothing back: @revenue bears it, as with revenue shares.
 */
function refundPostings(unit: Unit, posted: PostedRecord, amount_minor: number): Posting[] {
  const { transaction: original, entries } = posted;
  const merchant_id = original.type === 'merchant_payment' ? original.merchant_id : null;
  if (merchant_id === null) {
    const sink = entries.find((entry) => entry.amount_minor > 0 && entry.currency === original.currency)!;
    return movement(sink.account_id, original.account_id, original.currency, amount_minor);
  }
  const open = unit.account(merchant_id)?.status !== 'closed';
  const net_minor = entries.find((entry) => entry.account_id === merchant_id)?.amount_minor ?? 0;
  const line = {
    merchant_id,
    merchant_share_minor: open ? net_minor : 0,
    total_minor: original.amount_minor,
    refunded_minor: posted.refunded_minor,
  };
  const from_merchant_minor = takeBackOf(line, amount_minor);
  return [
    { account_id: original.account_id, currency: original.currency, amount_minor },
    ...(from_merchant_minor > 0 ? [{ account_id: merchant_id, currency: original.currency, amount_minor: -from_merchant_minor }] : []),
    ...(amount_minor > from_merchant_minor
      ? [{ account_id: '@revenue', currency: original.currency, amount_minor: from_merchant_minor - amount_minor }]
      : []),
  ];
}
