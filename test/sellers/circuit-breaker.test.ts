import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedSeller, SellerWorld } from './support.js';

// The first test's purchases while open must all end within it (some 200 ms on an idle machine,
// 2.5 s was too close on a loaded one); the next two each wait it out once.
const COOLDOWN_MS = 5000;
let world: SellerWorld;
let buyer: { id: string; token: string };

// Every request fans out (no cache, no coalescing), so each one would call the flaky seller. The
// slow seller answers after the fan-out stopped waiting (quorum 2 of 3, then the grace), so the
// outcomes of each fan-out's calls are recorded only after the purchase went on to its hold.
beforeAll(async () => {
  world = await SellerWorld.start({
    sellers: [
      fixedSeller('flaky', 900, { error_rate: 1 }),
      fixedSeller('steady', 1000),
      fixedSeller('slow', 1100, { latency_ms: { median: 900, p99: 900 } }),
    ],
    env: {
      SELLER_FANOUT_QUORUM: '0.5',
      SELLER_FANOUT_STRAGGLER_GRACE_MS: '100',
      SELLER_QUOTE_CACHE_TTL_MS: '0',
      SELLER_COALESCING: 'false',
      SELLER_CIRCUIT_MIN_CALLS: '3',
      SELLER_CIRCUIT_FAILURE_RATE: '0.5',
      SELLER_CIRCUIT_COOLDOWN_MS: String(COOLDOWN_MS),
    },
  });
  buyer = await world.player(1_000_000);
});
afterAll(() => world?.stop());

const calls = () => world.simulator.stats('flaky').quote_calls;
const circuit = async () => (await world.seller('flaky')).health;

async function buy(pod = 0) {
  return world.final(buyer, await world.purchase(buyer, 'book-1', 2000, pod));
}

/** Outcomes are recorded just after a fan-out's calls end: wait for the shared state to show `state`. */
async function circuitBecomes(state: string, within_ms = 3000) {
  const deadline = Date.now() + within_ms;
  for (;;) {
    const health = await circuit();
    if (health.circuit_state === state || Date.now() > deadline) return health;
    await sleep(25);
  }
}

describe('a shared circuit breaker', () => {
  it('opens after the minimum number of calls fail, and while open no pod calls the seller', async () => {
    for (let request = 0; request < 3; request += 1) expect(await buy(request)).toMatchObject({ status: 'purchased', seller_id: 'steady' });
    const opened = await circuitBecomes('open');
    expect(opened).toMatchObject({ circuit_state: 'open', recent_calls: 3, recent_failures: 3, recent_error_rate: 1 });
    expect(opened.last_error).toMatch(/server_error/);
    const calls_when_opened = calls();

    const while_open = await Promise.all([buy(0), buy(1), buy(2)]);
    // Past the cooldown a probe may call the seller: the check below would then prove nothing.
    expect(Date.now(), 'the purchases while open ended before the cooldown').toBeLessThan(Date.parse(opened.circuit_probe_after));
    expect(calls()).toBe(calls_when_opened);
    for (const final of while_open) {
      expect(final).toMatchObject({ status: 'purchased', seller_id: 'steady' });
      expect(final.quotes.find((quote: any) => quote.seller_id === 'flaky')).toMatchObject({ error: 'circuit_open' });
    }
  });

  it('half-opens after the cooldown: one probe for the whole fleet; a failed probe opens it again', async () => {
    expect(await circuitBecomes('half_open', COOLDOWN_MS + 2000)).toMatchObject({ circuit_state: 'half_open' });
    const before = calls();
    await Promise.all([buy(0), buy(1), buy(2)]);
    expect(calls()).toBe(before + 1);
    const reopened = await circuitBecomes('open');
    expect(reopened.circuit_state).toBe('open');
    expect(Date.parse(reopened.circuit_probe_after)).toBeGreaterThan(Date.now());
  });

  it('closes when the probe succeeds after the seller recovered: the probing purchase and later ones buy there', async () => {
    world.simulator.setFailing('flaky', 0);
    expect(await circuitBecomes('half_open', COOLDOWN_MS + 2000)).toMatchObject({ circuit_state: 'half_open' });
    const before = calls();
    const probed = await buy(1);
    expect(calls()).toBe(before + 1);
    expect(probed).toMatchObject({ status: 'purchased', seller_id: 'flaky', final_price: 900 });
    expect(await circuitBecomes('closed')).toMatchObject({ circuit_state: 'closed', recent_failures: 0 });
    expect(await buy(2)).toMatchObject({ status: 'purchased', seller_id: 'flaky' });
    expect(calls()).toBe(before + 2);
  });

  it('reconciliation is clean', async () => {
    expect(await world.reconcile()).toEqual({ ok: true, mismatches: [] });
  });
});
