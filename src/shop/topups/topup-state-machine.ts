import { invariant } from '../../domain/errors.js';
import type { Posting } from '../../ledger/postings.js';

/**
 * The top-up state machine for a PSP that delivers out of order, in parts and repeatedly. Pure:
 * given the top-up, one PSP event and the wallet it would move, it returns the top-up after the
 * event, the ledger transactions to post (in order) and, when the event cannot be applied
 * automatically, the reason it is held for review. No SQL, no I/O.
 *
 * Statuses keep SPEC's meaning: PENDING (no money yet), SUCCEEDED (credited; stays so while
 * partial reversals add up below the amount), FAILED (the PSP reported a failure and no success),
 * REVERSED (reversals add up to the whole amount).
 *
 * - Whatever the order, a success credits once: a failure reported before it is superseded
 *   (FAILED → SUCCEEDED), one reported after it changes nothing.
 * - A refund (chargeback) before the success waits on the top-up and is applied right after the
 *   credit; refunds accumulate, in parts, up to the amount.
 * - Each applied reversal follows the clawback policy: take back what the wallet still has
 *   available (never below zero, never held money), book the rest on @chargebacks as unrecovered.
 * - Held for review, never applied: an amount or currency that differs from the top-up, reversals
 *   beyond the amount, more reversals than the limit, a success after a full reversal, a second
 *   payment for an already credited top-up, a refund of another payment than the credited one, a
 *   credit that would break the wallet maximum.
 */

export type TopupStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'REVERSED';

export type PspEventType = 'payment.succeeded' | 'payment.failed' | 'payment.refunded';

export interface PspEvent {
  id: string;
  type: PspEventType;
  data: { topup_id: string; amount: number; currency: string; psp_payment_id: string };
}

/** A refund the PSP reported: waiting for the credit, or applied to the ledger. */
export interface Reversal {
  event_id: string;
  amount_minor: number;
  status: 'waiting' | 'applied';
  /** The payment the refund is of (absent on reversals recorded before it was kept). */
  psp_payment_id?: string;
  /** Taken back from the wallet (0 while waiting). */
  recovered_minor: number;
  /** Booked as a loss on @chargebacks (0 while waiting). */
  unrecovered_minor: number;
}

export interface TopupState {
  account_id: string;
  amount_minor: number;
  currency: string;
  status: TopupStatus;
  psp_payment_id: string | null;
  /** Sum of the applied reversals. */
  reversed_minor: number;
  /** Sum of the applied reversals' unrecovered parts. */
  unrecovered_minor: number;
  /** Every reversal recorded against the top-up, in arrival order. */
  reversals: Reversal[];
}

export interface WalletBalance {
  balance_minor: number;
  held_minor: number;
}

export interface TopupLimits {
  balance_max_minor: number;
  /** Reversals (waiting or applied) one top-up may record; more are held for review. */
  reversals_max: number;
}

/** What happened to an event; the ones with a review reason also count in reconciliation. */
export type MachineOutcome =
  | 'credited'
  | 'failed'
  | 'reversed'
  | 'reversal_waiting'
  | 'superseded'
  | 'ignored_state'
  | 'duplicate'
  | 'amount_mismatch'
  | 'held_for_review';

export interface PlannedTransaction {
  type: 'topup' | 'topup_reversal';
  amount_minor: number;
  /** The PSP payment for a credit; the refund event for a reversal. */
  reference: string;
  postings: Posting[];
}

export interface Decision {
  outcome: MachineOutcome;
  review_reason: string | null;
  /** The top-up after the event: the very same object when the event changed nothing. */
  next: TopupState;
  transactions: PlannedTransaction[];
}

export function decideTopupEvent(topup: TopupState, event: PspEvent, wallet: WalletBalance, limits: TopupLimits): Decision {
  const mismatch = describeMismatch(topup, event);
  if (mismatch) return { outcome: 'amount_mismatch', review_reason: mismatch, next: topup, transactions: [] };
  switch (event.type) {
    case 'payment.succeeded':
      return succeed(topup, event, wallet, limits);
    case 'payment.failed':
      return fail(topup);
    case 'payment.refunded':
      return refund(topup, event, wallet, limits);
  }
}

/** A refund may be a part of the amount; a success or a failure is about the whole of it. */
function describeMismatch(topup: TopupState, event: PspEvent): string | null {
  const { amount, currency } = event.data;
  const amount_differs = event.type === 'payment.refunded' ? amount > topup.amount_minor : amount !== topup.amount_minor;
  if (currency === topup.currency && !amount_differs) return null;
  return `event ${event.id} says ${amount} ${currency}; the top-up is ${topup.amount_minor} ${topup.currency}`;
}

function succeed(topup: TopupState, event: PspEvent, wallet: WalletBalance, limits: TopupLimits): Decision {
  const { psp_payment_id } = event.data;
  if (topup.status === 'REVERSED') return held(topup, `success ${event.id} arrived after the top-up was fully reversed`);
  if (topup.status === 'SUCCEEDED') {
    if (topup.psp_payment_id === psp_payment_id) return unchanged(topup, 'ignored_state');
    return held(topup, `second payment ${psp_payment_id} for a top-up already paid by ${topup.psp_payment_id}`);
  }
  if (wallet.balance_minor + topup.amount_minor > limits.balance_max_minor) {
    return held(topup, `crediting ${topup.amount_minor} would exceed the wallet maximum of ${limits.balance_max_minor}`);
  }
  const transactions: PlannedTransaction[] = [
    {
      type: 'topup',
      amount_minor: topup.amount_minor,
      reference: psp_payment_id,
      postings: [
        { account_id: '@psp', currency: topup.currency, amount_minor: -topup.amount_minor },
        // A top-up may be the account's first money in its currency (accepted as such at creation).
        { account_id: topup.account_id, currency: topup.currency, amount_minor: topup.amount_minor, opens_wallet: true },
      ],
    },
  ];
  // A refund that waited for the credit may turn out to be of another payment: it takes nothing from
  // this one. It leaves the top-up's reversals, and the success that shows it is held for review.
  const waiting = topup.reversals.filter((reversal) => reversal.status === 'waiting');
  const foreign = waiting.filter((reversal) => reversal.psp_payment_id !== undefined && reversal.psp_payment_id !== psp_payment_id);
  let next: TopupState = {
    ...topup,
    status: 'SUCCEEDED',
    psp_payment_id,
    reversals: topup.reversals.filter((reversal) => !foreign.includes(reversal)),
  };
  let balance: WalletBalance = { ...wallet, balance_minor: wallet.balance_minor + topup.amount_minor };
  for (const reversal of waiting.filter((candidate) => !foreign.includes(candidate))) {
    const applied = applyReversal(next, reversal, balance);
    transactions.push(applied.transaction);
    next = applied.next;
    balance = applied.balance;
  }
  const review_reason =
    foreign.length === 0
      ? null
      : `credited; ${foreign.map((reversal) => `refund ${reversal.event_id} (of payment ${reversal.psp_payment_id})`).join(', ')} ` +
        `waited for it but this top-up was paid by ${psp_payment_id}: not applied`;
  return { outcome: 'credited', review_reason, next, transactions };
}

/** A failure before any success fails the top-up; after a success it is an earlier attempt's, reported late. */
function fail(topup: TopupState): Decision {
  if (topup.status === 'PENDING') return { outcome: 'failed', review_reason: null, next: { ...topup, status: 'FAILED' }, transactions: [] };
  return unchanged(topup, topup.status === 'FAILED' ? 'ignored_state' : 'superseded');
}

function refund(topup: TopupState, event: PspEvent, wallet: WalletBalance, limits: TopupLimits): Decision {
  const amount_minor = event.data.amount;
  // The event log lets each id through once; a twin delivery that committed after the log was
  // looked up shows here first (its insert into the log then fails, and the caller retries).
  if (topup.reversals.some((reversal) => reversal.event_id === event.id)) return unchanged(topup, 'duplicate');
  // A refund of another payment than the one credited (a second payment, itself held) takes nothing from this credit.
  if (topup.psp_payment_id !== null && event.data.psp_payment_id !== topup.psp_payment_id) {
    return held(topup, `refund ${event.id} is of payment ${event.data.psp_payment_id}; the top-up was paid by ${topup.psp_payment_id}`);
  }
  if (topup.reversals.length >= limits.reversals_max) {
    return held(topup, `refund ${event.id}: the top-up already has ${topup.reversals.length} reversals, the most it takes`);
  }
  const recorded_minor = topup.reversals.reduce((sum, reversal) => sum + reversal.amount_minor, 0);
  if (recorded_minor + amount_minor > topup.amount_minor) {
    return held(
      topup,
      `refund ${event.id} of ${amount_minor} would bring reversals to ${recorded_minor + amount_minor} of ${topup.amount_minor}`,
    );
  }
  const reversal: Reversal = {
    event_id: event.id,
    amount_minor,
    status: 'waiting',
    psp_payment_id: event.data.psp_payment_id,
    recovered_minor: 0,
    unrecovered_minor: 0,
  };
  const recorded: TopupState = { ...topup, reversals: [...topup.reversals, reversal] };
  if (topup.status !== 'SUCCEEDED') return { outcome: 'reversal_waiting', review_reason: null, next: recorded, transactions: [] };
  const applied = applyReversal(recorded, reversal, wallet);
  return { outcome: 'reversed', review_reason: null, next: applied.next, transactions: [applied.transaction] };
}

/**
 * The clawback policy for one reversal of a credited top-up: what the wallet still has available
 * comes back to @psp, the rest is a loss on @chargebacks.
 */
function applyReversal(topup: TopupState, reversal: Reversal, wallet: WalletBalance) {
  invariant(topup.status === 'SUCCEEDED', `reversal ${reversal.event_id} applied to a ${topup.status} top-up`);
  const { amount_minor } = reversal;
  const recovered_minor = Math.max(0, Math.min(amount_minor, wallet.balance_minor - wallet.held_minor));
  const unrecovered_minor = amount_minor - recovered_minor;
  const postings: Posting[] = [{ account_id: '@psp', currency: topup.currency, amount_minor }];
  if (recovered_minor > 0) postings.push({ account_id: topup.account_id, currency: topup.currency, amount_minor: -recovered_minor });
  if (unrecovered_minor > 0) postings.push({ account_id: '@chargebacks', currency: topup.currency, amount_minor: -unrecovered_minor });
  const reversed_minor = topup.reversed_minor + amount_minor;
  invariant(reversed_minor <= topup.amount_minor, `reversals total ${reversed_minor} of a ${topup.amount_minor} top-up`);
  const next: TopupState = {
    ...topup,
    status: reversed_minor === topup.amount_minor ? 'REVERSED' : 'SUCCEEDED',
    reversed_minor,
    unrecovered_minor: topup.unrecovered_minor + unrecovered_minor,
    reversals: topup.reversals.map((recorded) =>
      recorded.event_id === reversal.event_id ? { ...recorded, status: 'applied' as const, recovered_minor, unrecovered_minor } : recorded,
    ),
  };
  const transaction: PlannedTransaction = { type: 'topup_reversal', amount_minor, reference: reversal.event_id, postings };
  return { next, transaction, balance: { ...wallet, balance_minor: wallet.balance_minor - recovered_minor } };
}

function held(topup: TopupState, review_reason: string): Decision {
  return { outcome: 'held_for_review', review_reason, next: topup, transactions: [] };
}

function unchanged(topup: TopupState, outcome: MachineOutcome): Decision {
  return { outcome, review_reason: null, next: topup, transactions: [] };
}
