import { describe, expect, it } from 'vitest';
import { CallSlots } from '../../src/sellers/client/call-slots.js';
import { reservationCovers, windowsForCall } from '../../src/sellers/guard/rate-limiter.js';
import {
  candidates,
  orderCallVerdict,
  recheckPlan,
  resendDelayMs,
  settleConfirmedOrder,
  unpurchasedOutcome,
} from '../../src/sellers/purchases/purchase-outcome.js';
import type { Attempt } from '../../src/sellers/purchases/purchase-repository.js';
import { planPhases, type SellerHistory } from '../../src/sellers/quotes/phase-plan.js';
import type { QuoteRecord } from '../../src/sellers/quotes/quote-record.js';
import { settleWithQuorum } from '../../src/sellers/quotes/settle-with-quorum.js';

const NOW = Date.parse('2026-11-22T10:00:00Z');
const quote = (
  seller_id: string,
  price: number | null,
  available: boolean | null = true,
  overrides: Partial<QuoteRecord> = {},
): QuoteRecord => ({
  seller_id,
  available,
  price,
  currency: 'EUR',
  quote_id: available === null ? null : `q-${seller_id}`,
  expires_at: available === null ? null : new Date(NOW + 30_000).toISOString(),
  latency_ms: 10,
  error: available === null ? 'timeout' : null,
  cached: false,
  ...overrides,
});
const attempt = (seller_id: string, outcome: Attempt['outcome'], price_minor: number | null = null): Attempt => ({
  position: 1,
  seller_id,
  quote_id: 'q',
  quoted_price_minor: 1,
  order_route: 'hold',
  seller_hold_id: null,
  held_price_minor: null,
  state: 'failed',
  outcome,
  detail: null,
  order_id: null,
  price_minor,
  started_at: '',
  finished_at: null,
});

describe('purchase candidates and outcomes', () => {
  const request = { currency: 'EUR', quote_currency_default: 'EUR', max_price_minor: 1000 };

  it('tries available, unexpired quotes in the currency at or below the maximum, cheapest first', () => {
    const quotes = [
      quote('c', 900),
      quote('a', 700),
      quote('gbp', 500, true, { currency: 'GBP' }),
      quote('dear', 1100),
      quote('none', 100, false),
      quote('late', 600, true, { expires_at: new Date(NOW + 1000).toISOString() }),
      quote('b', 700, true, { latency_ms: 5 }),
      quote('plain', 800, true, { currency: null }),
    ];
    expect(candidates(quotes, request, NOW, 2000).map((candidate) => candidate.seller_id)).toEqual(['b', 'a', 'plain', 'c']);
    // A quote naming no currency is in SELLER_QUOTE_CURRENCY: never bought with another one (free game currency).
    const in_coins = { ...request, currency: 'COINS' };
    expect(candidates(quotes, in_coins, NOW, 2000)).toEqual([]);
    expect(unpurchasedOutcome({ quotes, attempts: [], ...in_coins }).status).toBe('not_available');
    expect(candidates(quotes, { ...request, currency: 'GBP' }, NOW, 2000).map((candidate) => candidate.seller_id)).toEqual(['gbp']);
  });

  it('decides price_not_met, not_available and failed from quotes and attempts', () => {
    expect(unpurchasedOutcome({ quotes: [quote('a', 1200), quote('b', 1100)], attempts: [], ...request })).toEqual({
      status: 'price_not_met',
      lowest_price_minor: 1100,
    });
    expect(unpurchasedOutcome({ quotes: [quote('a', null, false), quote('b', null, null)], attempts: [], ...request }).status).toBe(
      'not_available',
    );
    expect(unpurchasedOutcome({ quotes: [quote('b', null, null)], attempts: [], ...request }).status).toBe('failed');
    expect(unpurchasedOutcome({ quotes: [quote('a', 900)], attempts: [attempt('a', 'out_of_stock')], ...request }).status).toBe(
      'not_available',
    );
    expect(unpurchasedOutcome({ quotes: [quote('a', 900)], attempts: [attempt('a', 'price_moved', 1300)], ...request })).toEqual({
      status: 'price_not_met',
      lowest_price_minor: 1300,
    });
    expect(
      unpurchasedOutcome({
        quotes: [quote('a', 900), quote('b', 950)],
        attempts: [attempt('a', 'out_of_stock'), attempt('b', 'timeout')],
        ...request,
      }).status,
    ).toBe('failed');
  });
});

describe('seller selection by history', () => {
  const known = (
    last_available: boolean | null,
    last_price_minor: number | null,
    latency_ms_avg: number,
    observed_at_ms: number | null,
    recent_error_rate = 0,
  ): SellerHistory => ({
    last_available,
    last_price_minor,
    observed_at_ms,
    latency_ms_avg,
    recent_error_rate,
  });
  const history = new Map<string, SellerHistory>([
    ['cheap', known(true, 500, 300, 50)],
    ['dear', known(true, 900, 10, 40)],
    ['none', known(false, 100, 10, 30)],
    ['broken', known(true, 100, 10, 5, 0.9)],
    ['unknown-slow', known(null, null, 400, null)],
    ['unknown-fast', known(null, null, 20, null)],
  ]);
  const sellers = ['unknown-slow', 'cheap', 'dear', 'none', 'broken', 'unknown-fast'].map((id) => ({ id }));

  it('with fewer sellers than a phase, asks everyone at once, likely winners first', () => {
    const phases = planPhases(sellers, history, { phase_size: 10, sellers_max: 100, explore_share: 0.5 });
    expect(phases.map((phase) => phase.map((seller) => seller.id))).toEqual([
      ['cheap', 'dear', 'unknown-fast', 'unknown-slow', 'none', 'broken'],
    ]);
  });

  it('otherwise fills phase one with likely winners (known available, cheapest first) and the stalest, then phases the rest', () => {
    const exploit_only = planPhases(sellers, history, { phase_size: 4, sellers_max: 100, explore_share: 0 });
    expect(exploit_only.map((phase) => phase.map((seller) => seller.id))).toEqual([
      ['cheap', 'dear', 'unknown-fast', 'unknown-slow'],
      ['none', 'broken'],
    ]);
    // Half of the first phase explores: the seller known the longest ago is asked although it had none then.
    const aging = new Map<string, SellerHistory>([
      ['a', known(true, 100, 10, 50)],
      ['b', known(true, 200, 10, 60)],
      ['c', known(true, 300, 10, 70)],
      ['d', known(false, null, 10, 1)],
    ]);
    const four = ['a', 'b', 'c', 'd'].map((id) => ({ id }));
    expect(
      planPhases(four, aging, { phase_size: 2, sellers_max: 100, explore_share: 0 }).map((phase) => phase.map((seller) => seller.id)),
    ).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(
      planPhases(four, aging, { phase_size: 2, sellers_max: 100, explore_share: 0.5 }).map((phase) => phase.map((seller) => seller.id)),
    ).toEqual([
      ['a', 'd'],
      ['b', 'c'],
    ]);
    expect(planPhases(sellers, history, { phase_size: 4, sellers_max: 3, explore_share: 0 }).flat()).toHaveLength(3);
  });
});

describe('rate windows', () => {
  it('counts a call in the next window too when it is made within the boundary guard of the window end', () => {
    expect(windowsForCall(10_000, 2000, 250)).toEqual([10_000]);
    expect(windowsForCall(11_700, 2000, 250)).toEqual([10_000]);
    expect(windowsForCall(11_800, 2000, 250)).toEqual([10_000, 12_000]);
    expect(windowsForCall(11_999, 2000, 0)).toEqual([10_000]);
  });

  it('uses a reservation only while a call made now lands in no window it did not reserve', () => {
    expect(reservationCovers(10_000, 11_700, 2000, 250)).toBe(true);
    // Reserved early in the window (the current one only); by now a call may land in the next.
    expect(reservationCovers(10_000, 11_800, 2000, 250)).toBe(false);
    // Reserved near the end (both windows): still covered until the guard reaches the third.
    expect(reservationCovers(11_800, 13_700, 2000, 250)).toBe(true);
    expect(reservationCovers(11_800, 13_800, 2000, 250)).toBe(false);
  });
});

describe('settleWithQuorum', () => {
  const resolveAfter = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

  it('stops waiting for stragglers a grace after the quorum answered', async () => {
    const started = Date.now();
    const results = await settleWithQuorum([resolveAfter(5, 'a'), resolveAfter(10, 'b'), resolveAfter(2000, 'slow')], {
      deadline_ms: Date.now() + 5000,
      quorum: 0.6,
      grace_ms: 50,
    });
    expect(results).toEqual(['a', 'b', undefined]);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('never waits past the deadline, and returns at once when all have answered', async () => {
    expect(await settleWithQuorum([resolveAfter(2000, 'x')], { deadline_ms: Date.now() + 30, quorum: 1, grace_ms: 0 })).toEqual([
      undefined,
    ]);
    expect(
      await settleWithQuorum([resolveAfter(1, 'x'), resolveAfter(2, 'y')], { deadline_ms: Date.now() + 5000, quorum: 1, grace_ms: 5000 }),
    ).toEqual(['x', 'y']);
  });
});

describe('CallSlots', () => {
  it('grants slots all or nothing, first come first served, and gives up at the deadline', async () => {
    const slots = new CallSlots(3);
    expect(await slots.acquire(2, Date.now() + 100)).toBe(true);
    const waiting = slots.acquire(2, Date.now() + 1000);
    expect(await slots.acquire(1, Date.now() + 20)).toBe(false);
    slots.release(2);
    expect(await waiting).toBe(true);
    expect(await slots.acquire(3, Date.now() + 20)).toBe(false);
    await expect(slots.acquire(4, Date.now())).rejects.toThrow(RangeError);
  });
});

describe('seller protocol', () => {
  it('reads sellers tolerantly: any 2xx, {available: false} alone, unknown fields, any 409; only an unusable 2xx body is bad', async () => {
    const { createServer } = await import('node:http');
    const protocol = await import('../../src/sellers/client/seller-protocol.js');
    const expires_at = new Date(Date.now() + 60_000).toISOString();
    let reply: { status: number; body?: unknown } = { status: 200 };
    const server = createServer((_request, response) => {
      response.writeHead(reply.status, { 'Content-Type': 'application/json' });
      response.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const seller = { base_url: `http://127.0.0.1:${port}` } as Parameters<typeof protocol.requestQuote>[0];
    const { OutboundAgents } = await import('../../src/sellers/client/http-call.js');
    const agents = new OutboundAgents(4);
    const settings = protocol.callSettings({ response_bytes_max: 65_536 }, agents, 2000);
    const answer = async <T>(status: number, body: unknown, call: () => Promise<T>) => {
      reply = { status, body };
      return call();
    };
    const quote = () => protocol.requestQuote(seller, 'book-1', settings);
    const hold = () => protocol.requestHold(seller, 'q-1', settings);
    const order = () => protocol.placeOrder(seller, { hold_id: 'h-1' }, 'r:s', settings);
    try {
      expect(await answer(200, { available: false }, quote)).toMatchObject({ outcome: 'ok', value: { available: false } });
      expect(await answer(200, { available: false, price: 0, quote_id: 'q' }, quote)).toMatchObject({ outcome: 'ok' });
      expect(await answer(203, { available: true, price: 700, quote_id: 'q-1', expires_at, stars: 5 }, quote)).toMatchObject({
        outcome: 'ok',
        value: { available: true, price_minor: 700, quote_id: 'q-1', currency: null },
      });
      // A sale at 0 cannot be settled, an offer without a quote id cannot be bought, no body means nothing.
      expect(await answer(200, { available: true, price: 0, quote_id: 'q-1', expires_at }, quote)).toMatchObject({
        reason: 'bad_response',
      });
      expect(await answer(200, { available: true, price: 700, expires_at }, quote)).toMatchObject({ reason: 'bad_response' });
      // An offset Date cannot read (Joi's isoDate takes it): once a RangeError in every fan-out, now a bad answer.
      const offer = (at: string) => ({ available: true, price: 700, quote_id: 'q-1', expires_at: at });
      expect(await answer(200, offer('2030-01-01T00:00:00+01'), quote)).toMatchObject({ reason: 'bad_response' });
      expect(await answer(200, { ...offer(expires_at), currency: null }, quote)).toMatchObject({
        outcome: 'ok',
        value: { currency: null },
      });
      expect(await answer(200, offer('2030-01-01T00:00:00+01:00'), quote)).toMatchObject({
        outcome: 'ok',
        value: { expires_at_ms: Date.parse('2030-01-01T00:00:00+01:00') },
      });
      expect(await answer(204, undefined, quote)).toMatchObject({ outcome: 'failed', reason: 'bad_response' });

      expect(await answer(201, { hold_id: 'h-1', price: 700, ttl: 60 }, hold)).toMatchObject({
        outcome: 'ok',
        value: { price_minor: 700 },
      });
      expect(await answer(200, { order_id: 'o-1', status: 'confirmed', price: 700 }, order)).toMatchObject({ outcome: 'ok' });
      expect(await answer(201, { order_id: 'o-1', status: 'pending', price: 700 }, order)).toMatchObject({ reason: 'bad_response' });

      expect(await answer(409, undefined, order)).toMatchObject({ outcome: 'conflict', reason: 'refused', price_minor: null });
      expect(await answer(409, { error: 'price_changed', price: 900 }, order)).toMatchObject({ reason: 'price_changed', price_minor: 900 });
      expect(await answer(409, { error: 'sold_out_sorry' }, order)).toMatchObject({ outcome: 'conflict', reason: 'refused' });
      const rejected = await answer(400, { error: 'bad' }, order);
      expect(rejected).toMatchObject({ outcome: 'failed', reason: 'rejected' });
      expect(protocol.countsAsFailure(rejected)).toBe(true);
      expect(await answer(429, {}, order)).toMatchObject({ reason: 'rate_limited' });
      expect(await answer(503, {}, order)).toMatchObject({ reason: 'server_error' });
    } finally {
      agents.destroy();
      server.close();
    }
  });
});

describe('what a confirmed order costs, and what an unknown outcome waits for', () => {
  const attempted = (quoted: number, held: number | null) => ({ seller_id: 's', quoted_price_minor: quoted, held_price_minor: held });
  const order = (price_minor: number) => ({ order_id: 'o-1', price_minor });

  it('captures the order price up to what was held, or quoted without a hold; above it is price_moved, kept for review', () => {
    const settle = (quoted: number, held: number | null, price: number, hold_status = 'ACTIVE') =>
      settleConfirmedOrder({ attempt: attempted(quoted, held), order: order(price), max_price_minor: 1000, hold_status });
    expect(settle(100, 100, 100)).toEqual({ kind: 'capture', charged_minor: 100 });
    expect(settle(100, 120, 90)).toEqual({ kind: 'capture', charged_minor: 90 });
    expect(settle(900, null, 900)).toEqual({ kind: 'capture', charged_minor: 900 });
    // Above the held price although below the maximum: not paid.
    expect(settle(100, 100, 500)).toMatchObject({ kind: 'review', cause: 'price_moved', attempt_outcome: 'price_moved' });
    expect(settle(100, 100, 500)).toMatchObject({ reason: expect.stringContaining('above its held price 100') });
    expect(settle(900, null, 999_999)).toMatchObject({ kind: 'review', reason: expect.stringContaining('above its quoted price 900') });
    expect(settle(100, 100, 100, 'EXPIRED')).toMatchObject({ kind: 'review', cause: 'hold_inactive', attempt_outcome: null });
    expect(() => settle(1100, null, 1100)).toThrow(/no agreed price within the maximum/);
  });

  it('classifies order calls: refused, never sent, or unknown (the seller may have acted)', () => {
    for (const outcome of ['out_of_stock', 'hold_expired', 'quote_expired', 'price_moved', 'refused'] as const)
      expect(orderCallVerdict(outcome), outcome).toBe('refused');
    for (const outcome of ['rate_limited', 'circuit_open', 'busy', 'deadline'] as const)
      expect(orderCallVerdict(outcome), outcome).toBe('not_sent');
    for (const outcome of ['timeout', 'error'] as const) expect(orderCallVerdict(outcome), outcome).toBe('unknown');
  });

  it('re-sends with doubling pauses, then rechecks after half the time since the deadline, bounded, and stops after the limit', () => {
    const interval = { min_ms: 200, max_ms: 2000 };
    expect([1, 2, 3, 4, 5, 6, 100].map((sends) => resendDelayMs(sends, interval))).toEqual([200, 400, 800, 1600, 2000, 2000, 2000]);
    const config = { recheck_interval_min_ms: 1000, recheck_interval_max_ms: 60_000, recheck_duration_max_ms: 3_600_000 };
    expect(recheckPlan(0, config)).toEqual({ recheck_after_ms: 1000 });
    expect(recheckPlan(10_000, config)).toEqual({ recheck_after_ms: 5000 });
    expect(recheckPlan(1_000_000, config)).toEqual({ recheck_after_ms: 60_000 });
    expect(recheckPlan(3_600_000, config)).toBe('stop');
  });
});
