import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { readStripeEvent, stripeMeaning, type StripeEvent } from '../../src/shop/topups/stripe/stripe-event.js';
import type { EventOutcome } from '../../src/shop/topups/receive-psp-event.js';
import type { Topup } from '../../src/shop/topups/topup-repository.js';
import { decideTopupEvent } from '../../src/shop/topups/topup-state-machine.js';
import { permutations } from '../support/psp.js';

// Stripe events read and mapped onto the pure top-up state machine, with no database: every
// order of refund totals, of dispute events, and the bodies that are not events we act on.

const TOPUP_ID = '6f1c1c0e-3f7a-4c39-9a4e-0d6f1d2b7c11';
const INTENT = 'pi_1';
const CHARGE = 'ch_1';
const LIMITS = { balance_max_minor: 1e15, reversals_max: 100 };

function pendingTopup(): Topup {
  const created_at = new Date(0).toISOString();
  const money = { account_id: 'player-1', amount_minor: 1000, currency: 'EUR', reversed_minor: 0, unrecovered_minor: 0, reversals: [] };
  const stripe = { psp_provider: 'stripe', stripe_payment_intent_id: INTENT, stripe_client_secret: 'pi_1_secret_x' } as const;
  const ledger = { psp_payment_id: null, credit_transaction_id: null, reversal_transaction_id: null, reconciliation_required_at: null };
  const place = { metadata: {}, region: 'eu-west', created_at, updated_at: created_at };
  return { id: TOPUP_ID, status: 'PENDING', ...money, ...stripe, ...ledger, ...place };
}

let sequence = 0;
function body(type: string, object: Record<string, unknown>): string {
  sequence += 1;
  return JSON.stringify({ id: `evt_${sequence}`, object: 'event', type, api_version: Stripe.API_VERSION, data: { object } });
}

const metadata = { creditshop_topup_id: TOPUP_ID };
const intent = (status: string, amount_received: number) => ({
  id: INTENT,
  object: 'payment_intent',
  amount: 1000,
  amount_received,
  currency: 'eur',
  status,
  metadata,
});
const charge = (amount_refunded: number) => ({
  id: CHARGE,
  object: 'charge',
  amount: 1000,
  amount_refunded,
  currency: 'eur',
  payment_intent: INTENT,
  metadata,
});
const dispute = (status: string, amount = 1000) => ({
  id: 'dp_1',
  object: 'dispute',
  amount,
  currency: 'eur',
  status,
  charge: CHARGE,
  payment_intent: INTENT,
  metadata: {},
});

const succeeded = () => body('payment_intent.succeeded', intent('succeeded', 1000));
const refunded = (total: number) => body('charge.refunded', charge(total));

function read(raw: string): StripeEvent {
  const event = readStripeEvent(raw, 32);
  if (event.kind !== 'event') throw new Error(`not an event: ${event.reason}`);
  return event;
}

/** Feeds events to the machine as the batch does: the meaning is decided on the top-up as it stands. */
function feed(raws: string[]): { topup: Topup; outcomes: EventOutcome[] } {
  let topup = pendingTopup();
  const outcomes: EventOutcome[] = [];
  for (const raw of raws) {
    const meaning = stripeMeaning(read(raw), TOPUP_ID, topup);
    if (!('event' in meaning)) {
      outcomes.push(meaning.outcome);
      continue;
    }
    const decision = decideTopupEvent(topup, meaning.event, { balance_minor: 5000, held_minor: 0 }, LIMITS);
    topup = { ...topup, ...decision.next };
    outcomes.push(decision.outcome);
  }
  return { topup, outcomes };
}

describe('Stripe refunds: the charge refunded total, in any order', () => {
  it('when the totals 200, 500, 600 and a repeat arrive in each of the 24 orders around the success, then 600 is reversed', () => {
    const events = [succeeded(), refunded(200), refunded(500), refunded(600)];
    for (const order of permutations(events)) {
      const { topup, outcomes } = feed([...order, refunded(500)]);
      expect(topup).toMatchObject({ status: 'SUCCEEDED', reversed_minor: 600 });
      expect(topup.reversals.every((reversal) => reversal.status === 'applied')).toBe(true);
      expect(outcomes.filter((outcome) => outcome === 'credited')).toHaveLength(1);
    }
  });

  it('when refunds reach the whole amount, then the top-up is REVERSED; a later smaller total changes nothing', () => {
    const { topup, outcomes } = feed([succeeded(), refunded(1000), refunded(400)]);
    expect(topup).toMatchObject({ status: 'REVERSED', reversed_minor: 1000 });
    expect(outcomes).toEqual(['credited', 'reversed', 'superseded']);
  });
});

describe('Stripe disputes', () => {
  const opened = () => body('charge.dispute.created', dispute('needs_response', 400));
  const lost = () => body('charge.dispute.closed', dispute('lost', 400));
  const won = () => body('charge.dispute.closed', dispute('won', 400));

  it('when a dispute opens and is lost, in each of the 6 orders around the success, then 400 is reversed once', () => {
    for (const order of permutations([succeeded(), opened(), lost()])) {
      const { topup, outcomes } = feed(order);
      expect(topup).toMatchObject({ status: 'SUCCEEDED', reversed_minor: 400 });
      expect(topup.reversals).toEqual([expect.objectContaining({ event_id: 'dp_1', amount_minor: 400, status: 'applied' })]);
      expect(outcomes.filter((outcome) => outcome === 'ignored_state')).toHaveLength(1);
    }
  });

  it('when a dispute is won, in any order, then the reversal of its opening stands and the win is held for review', () => {
    for (const order of permutations([succeeded(), opened(), won()])) {
      const { topup, outcomes } = feed(order);
      expect(topup.reversed_minor).toBe(400);
      expect(outcomes).toContain('held_for_review');
    }
    const meaning = stripeMeaning(read(won()), TOPUP_ID, pendingTopup());
    expect(meaning).toEqual({ outcome: 'held_for_review', review_reason: expect.stringMatching(/^dispute dp_1 was won: .* 400 EUR/) });
  });

  it('when an inquiry opens and closes, then nothing is reversed', () => {
    const inquiry = feed([succeeded(), body('charge.dispute.created', dispute('warning_needs_response'))]);
    const closed = feed([succeeded(), body('charge.dispute.closed', dispute('warning_closed'))]);
    expect([inquiry.topup.reversed_minor, closed.topup.reversed_minor]).toEqual([0, 0]);
    expect([inquiry.outcomes, closed.outcomes]).toEqual([
      ['credited', 'ignored_state'],
      ['credited', 'ignored_state'],
    ]);
  });
});

describe('reading Stripe bodies', () => {
  it('when the type is one creditshop does not act on, then it is read as ignored, with the top-up its metadata names', () => {
    const event = read(body('payment_intent.created', intent('requires_payment_method', 0)));
    expect(event).toMatchObject({ subject: { kind: 'ignored' }, metadata_topup_id: TOPUP_ID, payment_intent_id: null });
    expect(stripeMeaning(event, TOPUP_ID, pendingTopup())).toEqual({ outcome: 'ignored_type', review_reason: null });
  });

  it('when a dispute has no metadata of ours, then it names its PaymentIntent to find the top-up by', () => {
    expect(read(body('charge.dispute.created', dispute('needs_response')))).toMatchObject({
      metadata_topup_id: null,
      payment_intent_id: INTENT,
    });
  });

  it('when a payment is traced to no top-up, then it is unrelated; when its metadata names one that does not exist, it is held', () => {
    const event = read(succeeded());
    expect(stripeMeaning(event, null, undefined)).toEqual({ outcome: 'unrelated', review_reason: null });
    expect(stripeMeaning(event, TOPUP_ID, undefined)).toEqual({ outcome: 'unknown_topup', review_reason: `no top-up ${TOPUP_ID}` });
  });

  it('when its metadata names a top-up of the generic PSP, then it is held: Stripe proves only its own payments', () => {
    const generic: Topup = { ...pendingTopup(), psp_provider: 'generic', stripe_payment_intent_id: null, stripe_client_secret: null };
    expect(stripeMeaning(read(succeeded()), TOPUP_ID, generic)).toEqual({
      outcome: 'provider_mismatch',
      review_reason: `top-up ${TOPUP_ID} is paid through generic, not Stripe`,
    });
  });

  it('when metadata carries something that is not a top-up id, then it is not taken for one', () => {
    const object = { ...intent('succeeded', 1000), metadata: { creditshop_topup_id: "'; DROP TABLE topups; --" } };
    expect(read(body('payment_intent.succeeded', object)).metadata_topup_id).toBeNull();
  });

  it('when a body is no Stripe event, or a known type lacks what creditshop reads, then it is malformed, with why', () => {
    const cases: Array<[string, RegExp]> = [
      ['[1, 2]', /must be of type object/],
      [JSON.stringify({ id: 'evt_x', object: 'charge', type: 'charge.refunded', data: { object: {} } }), /"object" must be \[event\]/],
      [body('charge.refunded', { ...charge(100), amount_refunded: '100' }), /charge.refunded: "amount_refunded" must be a number/],
      [body('charge.dispute.created', { ...dispute('needs_response'), amount: 0 }), /"amount" must be greater than or equal to 1/],
      [body('payment_intent.succeeded', { ...intent('succeeded', 1000), currency: 'EUR' }), /"currency"/],
    ];
    for (const [raw, reason] of cases) {
      const event = readStripeEvent(raw, 32);
      expect(event.kind, raw).toBe('malformed');
      expect(event.kind === 'malformed' && event.reason, raw).toMatch(reason);
    }
  });
});
