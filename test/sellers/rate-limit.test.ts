import { setTimeout as sleep } from 'node:timers/promises';
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
    env: { SELLER_QUOTE_CACHE_TTL_MS: '0', SELLER_COALESCING: 'false' },
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
    // The seller was used up to its limit, and requests that found no budget skipped it.
    expect(stats.quote_calls + stats.hold_calls + stats.order_calls).toBeGreaterThanOrEqual(LIMIT);
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
