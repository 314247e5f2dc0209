import { describe, expect, it } from 'vitest';
import { assertBalanced } from '../../src/ledger/postings.js';
import {
  decideTopupEvent,
  type MachineOutcome,
  type PspEvent,
  type PspEventType,
  type TopupLimits,
  type TopupState,
  type WalletBalance,
} from '../../src/shop/topups/topup-state-machine.js';
import { permutations } from '../support/psp.js';

// The pure state machine on its own: every order of events, duplicates under new ids, partial
// reversals, and the invariants that must hold after every step of every sequence.

const ACCOUNT = 'player-1';
const AMOUNT = 1000;
const LIMITS: TopupLimits = { balance_max_minor: 1e15, reversals_max: 100 };

function pending(overrides: Partial<TopupState> = {}): TopupState {
  return {
    account_id: ACCOUNT,
    amount_minor: AMOUNT,
    currency: 'EUR',
    status: 'PENDING',
    psp_payment_id: null,
    reversed_minor: 0,
    unrecovered_minor: 0,
    reversals: [],
    ...overrides,
  };
}

function event(id: string, type: PspEventType, amount = AMOUNT, data: Partial<PspEvent['data']> = {}): PspEvent {
  return { id, type, data: { topup_id: 't-1', amount, currency: 'EUR', psp_payment_id: 'pay_1', ...data } };
}

const S = event('s', 'payment.succeeded');
const F = event('f', 'payment.failed');

interface Run {
  topup: TopupState;
  wallet: WalletBalance;
  outcomes: MachineOutcome[];
  reviews: string[];
  credits: number;
  reversal_amounts: number[];
  chargeback_losses: number[];
}

/**
 * Feeds events to the machine as the use case does, and books its ledger transactions on an
 * in-memory wallet; `spend` is taken from the wallet before the event with that index.
 */
function feed(events: PspEvent[], options: { wallet?: WalletBalance; limits?: TopupLimits; spend?: Record<number, number> } = {}): Run {
  const run: Run = {
    topup: pending(),
    wallet: { ...(options.wallet ?? { balance_minor: 0, held_minor: 0 }) },
    outcomes: [],
    reviews: [],
    credits: 0,
    reversal_amounts: [],
    chargeback_losses: [],
  };
  events.forEach((next, index) => {
    run.wallet.balance_minor -= options.spend?.[index] ?? 0;
    const decision = decideTopupEvent(run.topup, next, run.wallet, options.limits ?? LIMITS);
    const problems: string[] = [];
    // An event that is ignored or held changes nothing at all, and only held ones carry a reason.
    const held = decision.outcome === 'amount_mismatch' || decision.outcome === 'held_for_review';
    const unchanged = ['ignored_state', 'superseded', 'duplicate'].includes(decision.outcome);
    if ((held || unchanged) && decision.next !== run.topup) {
      problems.push(`${decision.outcome} changed the top-up`);
    }
    // Besides held events, a success carries a reason when it left out a refund of another payment that waited for it.
    const left_out = decision.outcome === 'credited' && decision.next.reversals.length < run.topup.reversals.length;
    if ((decision.review_reason !== null) !== (held || left_out)) {
      problems.push(`${decision.outcome} with review reason ${decision.review_reason}`);
    }
    for (const transaction of decision.transactions) {
      assertBalanced(transaction.postings);
      for (const posting of transaction.postings) {
        if (posting.account_id === ACCOUNT) run.wallet.balance_minor += posting.amount_minor;
        if (posting.account_id === '@chargebacks') run.chargeback_losses.push(-posting.amount_minor);
      }
      if (transaction.type === 'topup') run.credits += 1;
      else run.reversal_amounts.push(transaction.amount_minor);
    }
    run.topup = decision.next;
    run.outcomes.push(decision.outcome);
    if (decision.review_reason !== null) run.reviews.push(decision.review_reason);
    problems.push(...violations(run));
    // One assertion per step: the exhaustive sequence test runs tens of thousands of steps.
    if (problems.length > 0) expect(problems, `after ${events.slice(0, index + 1).map((fed) => fed.id)}`).toEqual([]);
  });
  return run;
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** The invariants that hold after every step, as the list of those broken. */
function violations(run: Run): string[] {
  const { topup, wallet } = run;
  const applied = topup.reversals.filter((reversal) => reversal.status === 'applied');
  const waiting = topup.reversals.filter((reversal) => reversal.status === 'waiting');
  const credited = topup.status === 'SUCCEEDED' || topup.status === 'REVERSED';
  const checks: Array<[boolean, string]> = [
    [run.credits === (credited ? 1 : 0), `${run.credits} credits for a ${topup.status} top-up`],
    [wallet.balance_minor - wallet.held_minor >= 0, 'the wallet is overdrawn'],
    [topup.reversed_minor === sum(run.reversal_amounts), 'reversed_minor differs from the reversal transactions'],
    [topup.unrecovered_minor === sum(run.chargeback_losses), 'unrecovered_minor differs from the @chargebacks postings'],
    [sum(applied.map((reversal) => reversal.amount_minor)) === topup.reversed_minor, 'applied reversals differ from reversed_minor'],
    [sum(topup.reversals.map((reversal) => reversal.amount_minor)) <= topup.amount_minor, 'reversals exceed the amount'],
    [
      applied.every((reversal) => reversal.recovered_minor + reversal.unrecovered_minor === reversal.amount_minor),
      'a reversal split wrong',
    ],
    [(topup.status === 'REVERSED') === (credited && topup.reversed_minor === topup.amount_minor), 'REVERSED iff fully reversed'],
    [credited ? waiting.length === 0 : applied.length === 0, 'reversals waiting after the credit, or applied before it'],
  ];
  return checks.filter(([holds]) => !holds).map(([, broken]) => broken);
}

describe('top-up state machine: every order of two events', () => {
  const R = event('r', 'payment.refunded', 400);
  const cases: Array<{ order: PspEvent[]; outcomes: MachineOutcome[]; status: string; balance: number; waiting: number }> = [
    { order: [S, { ...S, id: 's2' }], outcomes: ['credited', 'ignored_state'], status: 'SUCCEEDED', balance: 1000, waiting: 0 },
    { order: [S, F], outcomes: ['credited', 'superseded'], status: 'SUCCEEDED', balance: 1000, waiting: 0 },
    { order: [S, R], outcomes: ['credited', 'reversed'], status: 'SUCCEEDED', balance: 600, waiting: 0 },
    { order: [F, S], outcomes: ['failed', 'credited'], status: 'SUCCEEDED', balance: 1000, waiting: 0 },
    { order: [F, { ...F, id: 'f2' }], outcomes: ['failed', 'ignored_state'], status: 'FAILED', balance: 0, waiting: 0 },
    { order: [F, R], outcomes: ['failed', 'reversal_waiting'], status: 'FAILED', balance: 0, waiting: 400 },
    { order: [R, S], outcomes: ['reversal_waiting', 'credited'], status: 'SUCCEEDED', balance: 600, waiting: 0 },
    { order: [R, F], outcomes: ['reversal_waiting', 'failed'], status: 'FAILED', balance: 0, waiting: 400 },
    { order: [R, { ...R, id: 'r2' }], outcomes: ['reversal_waiting', 'reversal_waiting'], status: 'PENDING', balance: 0, waiting: 800 },
  ];
  for (const { order, outcomes, status, balance, waiting } of cases) {
    const name = `${order.map((next) => next.type).join(' then ')} (${order.map((next) => next.id).join(', ')})`;
    it(`${name}: ${status}, wallet ${balance}`, () => {
      const run = feed(order);
      expect(run.outcomes).toEqual(outcomes);
      expect(run.topup.status).toBe(status);
      expect(run.wallet.balance_minor).toBe(balance);
      expect(sum(run.topup.reversals.filter((reversal) => reversal.status === 'waiting').map((reversal) => reversal.amount_minor))).toBe(
        waiting,
      );
      expect(run.reviews).toEqual([]);
    });
  }
});

describe('top-up state machine: order does not matter', () => {
  it('success, failure, two partial refunds and a re-notified success end the same in all 120 orders', () => {
    const events = [S, { ...S, id: 's-again' }, F, event('r1', 'payment.refunded', 300), event('r2', 'payment.refunded', 300)];
    for (const order of permutations(events)) {
      const run = feed(order);
      expect(run.topup, order.map((next) => next.id).join(',')).toMatchObject({
        status: 'SUCCEEDED',
        reversed_minor: 600,
        unrecovered_minor: 0,
        psp_payment_id: 'pay_1',
      });
      expect(run.wallet.balance_minor).toBe(400);
      expect(run.reversal_amounts).toEqual(order.filter((next) => next.type === 'payment.refunded').map(() => 300));
      expect(run.reviews).toEqual([]);
    }
  });

  it('a refund already recorded (a twin delivery that committed first) is a duplicate, before or after the credit', () => {
    const refund = event('r', 'payment.refunded', 300);
    for (const before of [[refund], [S, refund], [refund, S]]) {
      const run = feed(before);
      const again = decideTopupEvent(run.topup, refund, run.wallet, LIMITS);
      expect(again).toEqual({ outcome: 'duplicate', review_reason: null, next: run.topup, transactions: [] });
    }
  });

  it('a full refund before or after the success reverses the top-up either way', () => {
    for (const order of permutations([S, event('r', 'payment.refunded', 1000)])) {
      const run = feed(order);
      expect(run.topup).toMatchObject({ status: 'REVERSED', reversed_minor: 1000 });
      expect(run.wallet.balance_minor).toBe(0);
    }
  });

  it('refunds waiting for the success are applied right after the credit, in arrival order', () => {
    const run = feed([event('r1', 'payment.refunded', 200), F, event('r2', 'payment.refunded', 300), S]);
    expect(run.outcomes).toEqual(['reversal_waiting', 'failed', 'reversal_waiting', 'credited']);
    expect(run.reversal_amounts).toEqual([200, 300]);
    expect(run.topup.reversals.map((reversal) => [reversal.event_id, reversal.status])).toEqual([
      ['r1', 'applied'],
      ['r2', 'applied'],
    ]);
    expect(run.wallet.balance_minor).toBe(500);
  });
});

describe('top-up state machine: partial reversals and the clawback policy', () => {
  it('two partial chargebacks of 300 on 1000 accumulate to 600; the rest reverses it fully', () => {
    const run = feed([S, event('r1', 'payment.refunded', 300), event('r2', 'payment.refunded', 300)]);
    expect(run.outcomes).toEqual(['credited', 'reversed', 'reversed']);
    expect(run.topup).toMatchObject({ status: 'SUCCEEDED', reversed_minor: 600 });
    const rest = decideTopupEvent(run.topup, event('r3', 'payment.refunded', 400), run.wallet, LIMITS);
    expect(rest.next).toMatchObject({ status: 'REVERSED', reversed_minor: 1000 });
  });

  it('takes back only what is available; the spent part is a loss on @chargebacks, per reversal', () => {
    // 1000 credited, 800 spent before the first refund: 200 available.
    const run = feed([S, event('r1', 'payment.refunded', 300), event('r2', 'payment.refunded', 300)], { spend: { 1: 800 } });
    expect(run.topup.reversals.map(({ recovered_minor, unrecovered_minor }) => [recovered_minor, unrecovered_minor])).toEqual([
      [200, 100],
      [0, 300],
    ]);
    expect(run.topup).toMatchObject({ reversed_minor: 600, unrecovered_minor: 400 });
    expect(run.wallet.balance_minor).toBe(0);
  });

  it('never takes held money', () => {
    const run = feed([S, event('r', 'payment.refunded', 1000)], { wallet: { balance_minor: 500, held_minor: 1200 } });
    // 1500 balance after the credit, 1200 of it held: 300 can come back.
    expect(run.topup.reversals[0]).toMatchObject({ recovered_minor: 300, unrecovered_minor: 700 });
    expect(run.wallet).toEqual({ balance_minor: 1200, held_minor: 1200 });
  });
});

describe('top-up state machine: held for review, never applied', () => {
  const cases: Array<{ name: string; events: PspEvent[]; outcome: MachineOutcome; reason: RegExp; limits?: TopupLimits }> = [
    { name: 'a success for another amount', events: [event('s', 'payment.succeeded', 999)], outcome: 'amount_mismatch', reason: /999 EUR/ },
    {
      name: 'a success in another currency',
      events: [event('s', 'payment.succeeded', AMOUNT, { currency: 'USD' })],
      outcome: 'amount_mismatch',
      reason: /1000 USD; the top-up is 1000 EUR/,
    },
    { name: 'a failure for another amount', events: [event('f', 'payment.failed', 1)], outcome: 'amount_mismatch', reason: /says 1 EUR/ },
    {
      name: 'a refund above the amount',
      events: [S, event('r', 'payment.refunded', 1001)],
      outcome: 'amount_mismatch',
      reason: /1001 EUR/,
    },
    {
      name: 'reversals beyond the amount (applied)',
      events: [S, event('r1', 'payment.refunded', 600), event('r2', 'payment.refunded', 600)],
      outcome: 'held_for_review',
      reason: /reversals to 1200 of 1000/,
    },
    {
      name: 'reversals beyond the amount (waiting)',
      events: [event('r1', 'payment.refunded', 600), event('r2', 'payment.refunded', 600)],
      outcome: 'held_for_review',
      reason: /reversals to 1200 of 1000/,
    },
    {
      name: 'a success after a full reversal',
      events: [S, event('r', 'payment.refunded', 1000), { ...S, id: 's2' }],
      outcome: 'held_for_review',
      reason: /after the top-up was fully reversed/,
    },
    {
      name: 'a second payment for a credited top-up',
      events: [S, event('s2', 'payment.succeeded', AMOUNT, { psp_payment_id: 'pay_2' })],
      outcome: 'held_for_review',
      reason: /second payment pay_2/,
    },
    {
      name: 'more reversals than the limit',
      events: [S, event('r1', 'payment.refunded', 1), event('r2', 'payment.refunded', 1)],
      outcome: 'held_for_review',
      reason: /already has 1 reversals/,
      limits: { ...LIMITS, reversals_max: 1 },
    },
    {
      name: 'a credit above the wallet maximum',
      events: [S],
      outcome: 'held_for_review',
      reason: /exceed the wallet maximum of 999/,
      limits: { ...LIMITS, balance_max_minor: 999 },
    },
  ];
  for (const { name, events, outcome, reason, limits } of cases) {
    it(`${name}: the last event changes nothing and says why`, () => {
      const before = feed(events.slice(0, -1), { limits });
      const run = feed(events, { limits });
      expect(run.outcomes.at(-1)).toBe(outcome);
      expect(run.reviews).toHaveLength(1);
      expect(run.reviews[0]).toMatch(reason);
      expect(run.topup).toEqual(before.topup);
      expect(run.wallet).toEqual(before.wallet);
    });
  }

  it('a success held for the wallet maximum is credited by a later success once there is room', () => {
    const held = feed([S], { limits: { ...LIMITS, balance_max_minor: 999 } });
    expect(held.topup.status).toBe('PENDING');
    const later = decideTopupEvent(held.topup, { ...S, id: 's2' }, held.wallet, LIMITS);
    expect(later.outcome).toBe('credited');
  });
});

describe('top-up state machine: every sequence of up to five events', () => {
  // Matching and mismatching events, re-notifications under new ids, and refunds that fit or overshoot.
  const alphabet: PspEvent[] = [
    S,
    F,
    event('s-other-payment', 'payment.succeeded', AMOUNT, { psp_payment_id: 'pay_2' }),
    event('s-wrong-amount', 'payment.succeeded', 10),
    event('r300', 'payment.refunded', 300),
    event('r800', 'payment.refunded', 800),
    event('r-usd', 'payment.refunded', 300, { currency: 'USD' }),
  ];

  function* sequences(length: number): Generator<PspEvent[]> {
    if (length === 0) {
      yield [];
      return;
    }
    for (const prefix of sequences(length - 1)) for (const next of alphabet) yield [...prefix, next];
  }

  it('keeps every invariant after every step (19,607 sequences), credits at most once, and holds or applies each event', () => {
    let checked = 0;
    for (let length = 1; length <= 5; length += 1) {
      for (const sequence of sequences(length)) {
        // The event log records each id once: a repeated id never reaches the machine.
        const delivered = sequence.filter((next, index) => sequence.findIndex((other) => other.id === next.id) === index);
        const run = feed(delivered, { spend: { 2: 100 }, wallet: { balance_minor: 150, held_minor: 50 } });
        const credited = delivered.some((next) => next === S || next.id === 's-other-payment');
        expect(run.credits).toBe(credited ? 1 : 0);
        expect(run.outcomes.filter((outcome) => outcome === 'amount_mismatch').length).toBe(
          delivered.filter((next) => next.id === 's-wrong-amount' || next.id === 'r-usd').length,
        );
        checked += 1;
      }
    }
    expect(checked).toBe(7 + 49 + 343 + 2401 + 16807);
  });
});
