import Joi from 'joi';
import { DomainError, InvariantViolation } from '../../domain/errors.js';
import { UUID_PATTERN } from '../../domain/ids.js';
import { int8, type SqlTx } from '../../db/sql.js';
import { postTransaction, readWallet } from '../../ledger/ledger-repository.js';
import type { Posting } from '../../ledger/postings.js';
import type { AppDeps } from '../../platform/deps.js';
import { verifySignature } from './psp-signature.js';
import { findTopup, settleTopup, type Topup } from './topup-repository.js';

interface PspEvent {
  id: string;
  type: 'payment.succeeded' | 'payment.failed' | 'payment.refunded';
  data: { topup_id: string; amount: number; currency: string; psp_payment_id: string };
}

// PSPs add fields over time: unknown ones are kept in the stored payload, not refused.
const eventSchema = Joi.object<PspEvent>({
  id: Joi.string().min(1).max(255).required(),
  type: Joi.string().valid('payment.succeeded', 'payment.failed', 'payment.refunded').required(),
  data: Joi.object({
    topup_id: Joi.string().pattern(UUID_PATTERN).required(),
    amount: Joi.number().integer().strict().min(1).max(1e15).required(),
    currency: Joi.string().max(10).required(),
    psp_payment_id: Joi.string().min(1).max(255).required(),
  })
    .unknown(true)
    .required(),
}).unknown(true);

export type EventOutcome =
  | 'credited'
  | 'failed'
  | 'reversed'
  | 'duplicate'
  | 'amount_mismatch'
  | 'held_for_review'
  | 'unknown_topup'
  | 'ignored_state'
  | 'ignored_malformed';

/**
 * A PSP callback. Only a valid signature over the raw body gets in; then every event is stored
 * once by its id in the same transaction as its effect, so a redelivered event changes nothing
 * and still gets 200. Amount or currency mismatches are never credited: they wait for review.
 */
export async function receivePspEvent(
  deps: AppDeps,
  raw_body: string,
  signature_header: string,
): Promise<{ received: true; outcome: EventOutcome }> {
  const check = verifySignature(
    signature_header,
    raw_body,
    deps.config.psp_webhook_secret,
    Math.floor(Date.now() / 1000),
    deps.config.psp_signature_tolerance_seconds,
  );
  if (!check.ok) throw new DomainError('unauthenticated', check.reason);
  const { value: event, error } = eventSchema.validate(parseJson(raw_body), { convert: false });
  if (error) {
    deps.logger.warn({ detail: error.message }, 'signed PSP event with an unexpected shape ignored');
    return { received: true, outcome: 'ignored_malformed' };
  }
  const known = await deps.transactions.read((tx) => findTopup(tx, event.data.topup_id));
  const outcome = await deps.transactions.run(
    'psp_event',
    async (tx) => {
      // The effect first, then the event row with its outcome: a redelivery finds the top-up
      // settled (no effect) and its insert of the same id does nothing, so it is a duplicate.
      // Inserting last means no row is written and then updated or read back in one transaction.
      const topup = await findTopup(tx, event.data.topup_id);
      const result = topup ? await apply(deps, tx, topup, event) : 'unknown_topup';
      const stored = await tx.rows(
        `INSERT INTO psp_events (id, type, topup_id, payload, outcome, crdb_region) VALUES (?, ?, ?, ?::jsonb, ?, ?)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [event.id, event.type, event.data.topup_id, raw_body, result, known?.region ?? tx.context.region],
      );
      if (stored.length === 1) return result;
      if (result === 'credited' || result === 'failed' || result === 'reversed')
        throw new InvariantViolation(`PSP event ${event.id} took effect twice`);
      return 'duplicate' as const;
    },
    { contended_accounts: known ? [known.account_id] : [] },
  );
  if (outcome === 'amount_mismatch' || outcome === 'held_for_review' || outcome === 'unknown_topup')
    deps.logger.warn({ event_id: event.id, outcome }, 'PSP event kept for review');
  return { received: true, outcome };
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

async function apply(deps: AppDeps, tx: SqlTx, topup: Topup, event: PspEvent): Promise<EventOutcome> {
  const { amount, currency, psp_payment_id } = event.data;
  if (event.type === 'payment.failed') {
    return (await settleTopup(tx, topup.id, 'PENDING', { status: 'FAILED', psp_payment_id })) ? 'failed' : 'ignored_state';
  }
  const too_much = event.type === 'payment.succeeded' ? amount !== topup.amount_minor : amount > topup.amount_minor;
  if (currency !== topup.currency || too_much) {
    await settleTopup(tx, topup.id, topup.status, {
      review_reason: `event ${event.id} says ${amount} ${currency}; the top-up is ${topup.amount_minor} ${topup.currency}`,
    });
    return 'amount_mismatch';
  }
  if (event.type === 'payment.succeeded') return credit(deps, tx, topup, psp_payment_id);
  return reverse(deps, tx, topup, amount);
}

async function credit(deps: AppDeps, tx: SqlTx, topup: Topup, psp_payment_id: string): Promise<EventOutcome> {
  if (topup.status !== 'PENDING') return 'ignored_state';
  // A PSP event is always acknowledged: money that would break the wallet cap waits for review.
  const wallet = await tx.maybeOne<{ balance_minor: string }>('SELECT balance_minor FROM wallets WHERE account_id = ? AND currency = ?', [
    topup.account_id,
    topup.currency,
  ]);
  if (wallet && int8(wallet.balance_minor) + topup.amount_minor > deps.config.limits.balance_max_minor) {
    await settleTopup(tx, topup.id, 'PENDING', {
      review_reason: `crediting ${topup.amount_minor} would exceed the wallet maximum of ${deps.config.limits.balance_max_minor}`,
    });
    return 'held_for_review';
  }
  const posted = await postTransaction(
    tx,
    {
      type: 'topup',
      account_id: topup.account_id,
      currency: topup.currency,
      amount_minor: topup.amount_minor,
      topup_id: topup.id,
      reference: psp_payment_id,
      postings: [
        { account_id: '@psp', currency: topup.currency, amount_minor: -topup.amount_minor },
        { account_id: topup.account_id, currency: topup.currency, amount_minor: topup.amount_minor },
      ],
    },
    deps.config.limits,
  );
  await settleTopup(tx, topup.id, 'PENDING', { status: 'SUCCEEDED', psp_payment_id, credit_transaction_id: posted.id });
  return 'credited';
}

/**
 * Chargeback clawback policy: take back what the wallet still has available (never below zero,
 * never from held money); whatever was already spent is booked as a loss on @chargebacks and
 * recorded on the top-up as unrecovered, for collections or an account review.
 */
async function reverse(deps: AppDeps, tx: SqlTx, topup: Topup, amount_minor: number): Promise<EventOutcome> {
  if (topup.status !== 'SUCCEEDED') return 'ignored_state';
  const wallet = await readWallet(tx, topup.account_id, topup.currency);
  const recovered = Math.max(0, Math.min(amount_minor, wallet.balance_minor - wallet.held_minor));
  const unrecovered = amount_minor - recovered;
  const postings: Posting[] = [{ account_id: '@psp', currency: topup.currency, amount_minor }];
  if (recovered > 0) postings.push({ account_id: topup.account_id, currency: topup.currency, amount_minor: -recovered });
  if (unrecovered > 0) postings.push({ account_id: '@chargebacks', currency: topup.currency, amount_minor: -unrecovered });
  const posted = await postTransaction(
    tx,
    {
      type: 'topup_reversal',
      account_id: topup.account_id,
      currency: topup.currency,
      amount_minor,
      topup_id: topup.id,
      original_transaction_id: topup.credit_transaction_id,
      postings,
    },
    deps.config.limits,
  );
  await settleTopup(tx, topup.id, 'SUCCEEDED', { status: 'REVERSED', reversal_transaction_id: posted.id, unrecovered_minor: unrecovered });
  return 'reversed';
}
