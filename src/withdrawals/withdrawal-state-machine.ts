import type { PayoutEvent } from './payout-event.js';
import type { WithdrawalStatus } from './withdrawal-records.js';

/**
 * What a payout provider's callback does to a withdrawal, pure. The first definite answer
 * settles it: `payout.paid` moves the money from @payouts_pending to @payouts (PAID),
 * `payout.failed` returns it to the wallet (FAILED). A repeat of the same answer (a new event id
 * for the same news) changes nothing. Anything that cannot be applied is held for review and
 * never applied: an amount, currency or payout id other than the withdrawal's, or an answer that
 * contradicts the settlement (paid after failed: the money may have left twice).
 */

export interface PayoutSubject {
  status: WithdrawalStatus;
  amount_minor: number;
  currency: string;
  /** Recorded when the provider accepted the payout call, or learnt from the settling callback. */
  payout_id: string | null;
}

export type PayoutOutcome = 'paid' | 'failed' | 'already_paid' | 'already_failed' | 'contradiction' | 'amount_mismatch' | 'payout_mismatch';

export interface PayoutDecision {
  outcome: PayoutOutcome;
  /** The status the withdrawal settles to, if this event settles it. */
  settle: 'PAID' | 'FAILED' | null;
  review_reason: string | null;
}

export function decidePayoutEvent(withdrawal: PayoutSubject, event: PayoutEvent): PayoutDecision {
  const { amount, currency, payout_id } = event.data;
  if (amount !== withdrawal.amount_minor || currency !== withdrawal.currency) {
    return review(
      'amount_mismatch',
      `the event says ${amount} ${currency}; the withdrawal is ${withdrawal.amount_minor} ${withdrawal.currency}`,
    );
  }
  // A failure that names no payout names no other one (a provider may fail a payout before giving it
  // an id, or leave it out): one withdrawal is one payout, asked under its own Idempotency-Key.
  if (withdrawal.payout_id !== null && payout_id && payout_id !== withdrawal.payout_id) {
    return review('payout_mismatch', `the event names payout ${payout_id}; the withdrawal's payout is ${withdrawal.payout_id}`);
  }
  const paid = event.type === 'payout.paid';
  if (withdrawal.status === 'PENDING') return { outcome: paid ? 'paid' : 'failed', settle: paid ? 'PAID' : 'FAILED', review_reason: null };
  if (withdrawal.status === (paid ? 'PAID' : 'FAILED'))
    return { outcome: paid ? 'already_paid' : 'already_failed', settle: null, review_reason: null };
  return review(
    'contradiction',
    paid
      ? 'payout.paid after the withdrawal failed and its money went back to the wallet: it may have been paid out twice'
      : 'payout.failed after the withdrawal was paid',
  );
}

function review(outcome: PayoutOutcome, review_reason: string): PayoutDecision {
  return { outcome, settle: null, review_reason };
}
