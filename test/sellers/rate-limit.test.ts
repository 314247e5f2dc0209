import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedSeller, SellerWorld } from './support.js';

const WINDOW_MS = 2000;
const LIMIT = 5;
let world: SellerWorld;

// Neither the quote cache nor coalescing: every request fans out on its own, so the only thing
// between the three pods and the limited seller is the shared rate window.
beforeAll(async () => {
  world = await SellerWorld.start({
    sellers: [
      fixedSeller('limited', 900, { rate_limit_per_minute: LIMIT, latency_ms: { median: 20, p99: 40 } }),
      fixedSeller('plenty-1', 1000),
      fixedSeller('plenty-2', 1100),
    ],
    window_ms: WINDOW_MS,
    // The guard is the time a call may take from its reservation to the seller; on a machine running
    // every test file at once, event loops lag by more than production's 250 ms.
    env: { SELLER_QUOTE_CACHE_TTL_MS: '0', SELLER_COALESCING: 'false', SELLER_RATE_BOUNDARY_GUARD_MS: '600' },
  });
});
afterAll(() => world?.stop());

describe('a seller rate limit shared by three pods', () => {
  it('when 36 requests over three windows hit a seller allowing 5 calls a window, then it never sees more than 5 in a window', async () => {
    // Six buyers with six requests each: the load is on the seller, not on account creation.
    const buyers = (await world.players(6, 100_000)).flatMap((buyer) => Array.from({ length: 6 }, () => buyer));
    const ids: string[] = [];
    for (let wave = 0; wave < 3; wave += 1) {
      const batch = buyers.slice(wave * 12, wave * 12 + 12);
      ids.push(...(await Promise.all(batch.map((buyer, index) => world.purchase(buyer, 'book-1', 2000, index)))));
      await sleep(WINDOW_MS * 0.8);
    }
    const finals = await Promise.all(ids.map((id, index) => world.final(buyers[index]!, id)));

    const stats = world.simulator.stats('limited');
    expect(stats.rejected_429).toBe(0);
    expect(stats.max_calls_in_fixed_window).toBeLessThanOrEqual(LIMIT);
    expect(Math.max(...stats.calls_by_window.values())).toBeLessThanOrEqual(LIMIT);
    // The seller was used, and requests that found no budget skipped it. Not necessarily up to its
    // limit: near a window's end a call is counted in two windows, and a reservation answered late
    // is not used (budget may be wasted, never exceeded), more often on a loaded machine.
    expect(stats.quote_calls + stats.hold_calls + stats.order_calls).toBeGreaterThan(0);
    const skipped = finals.filter((final) =>
      final.quotes.some((quote: any) => quote.seller_id === 'limited' && quote.error === 'rate_limited'),
    );
    expect(skipped.length).toBeGreaterThan(0);
    expect(finals.every((final) => final.status === 'purchased')).toBe(true);
    expect(new Set(finals.map((final) => final.seller_id))).toContain('plenty-1');

    const health = await world.seller('limited');
    expect(health.health.calls_in_current_window).toBeLessThanOrEqual(LIMIT);
  });

  it('reconciliation is clean', async () => {
    expect(await world.reconcile()).toEqual({ ok: true, mismatches: [] });
  });
});

describe('a rate reservation that comes back after its window', () => {
  let late: SellerWorld;
  beforeAll(async () => {
    late = await SellerWorld.start({
      sellers: [fixedSeller('held-up', 900, { rate_limit_per_minute: LIMIT }), fixedSeller('plenty-1', 1000)],
      window_ms: WINDOW_MS,
      env: { SELLER_QUOTE_CACHE_TTL_MS: '0', SELLER_COALESCING: 'false' },
    });
  });
  afterAll(() => late?.stop());

  it('when the database answers the reservation only once the next window began, then no seller is called in that window', async () => {
    const [buyer] = await late.players(1, 100_000);
    // The reservation's counter rows of this window and the next are held by another session, as a
    // database under load would hold them: the reservation waits past the window's end.
    const lock = new pg.Client({ connectionString: late.database.url });
    await lock.connect();
    try {
      const window_start_ms = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS;
      await lock.query('BEGIN');
      await lock.query(
        `INSERT INTO seller_rate_windows (seller_id, window_start_ms, call_limit, calls)
         SELECT 'held-up', w, ${LIMIT}, 0 FROM unnest($1::int8[]) AS w`,
        [[window_start_ms, window_start_ms + WINDOW_MS]],
      );
      const id = await late.purchase(buyer!, 'book-1', 2000);
      await sleep(window_start_ms + WINDOW_MS + 300 - Date.now());
      await lock.query('COMMIT');
      const final = await late.final(buyer!, id);
      // Every seller of that reservation is skipped (it ran late for all of them): the request ends without a seller.
      expect(final.quotes.map((quote: any) => [quote.seller_id, quote.error]).sort()).toEqual([
        ['held-up', 'rate_limited'],
        ['plenty-1', 'rate_limited'],
      ]);
      const stats = late.simulator.stats('held-up');
      expect(stats.quote_calls + stats.hold_calls + stats.order_calls).toBe(0);
    } finally {
      await lock.end();
    }
  });
});
