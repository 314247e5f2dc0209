import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedSeller, SellerWorld } from './support.js';

const SELLERS = Array.from({ length: 12 }, (_, index) =>
  fixedSeller(`shop-${index + 1}`, 1000 + index * 10, { latency_ms: { median: 150, p99: 250 } }),
);
let world: SellerWorld;

beforeAll(async () => {
  world = await SellerWorld.start({ sellers: SELLERS });
});
afterAll(() => world?.stop());

describe('request coalescing', () => {
  it('when 20 requests for one product arrive at once on three pods, then the sellers are asked for a quote once', async () => {
    const buyers = await world.players(5, 100_000);
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, index) => world.purchase(buyers[index % buyers.length]!, 'book-1', 5000, index)),
    );
    const finals = await Promise.all(ids.map((id, index) => world.final(buyers[index % buyers.length]!, id)));

    for (const seller of SELLERS) expect(world.simulator.stats(seller.id).quote_calls, seller.id).toBe(1);
    expect(finals.every((final) => final.status === 'purchased')).toBe(true);
    // One request ran the fan-out; the other 19 used its quotes (joined in flight, or from the cache).
    expect(finals.filter((final) => final.quotes.every((quote: any) => !quote.shared))).toHaveLength(1);
    expect(
      finals.filter((final) => final.quotes.length === SELLERS.length && final.quotes.every((quote: any) => quote.shared)),
    ).toHaveLength(19);
    const orders = SELLERS.reduce((total, seller) => total + world.simulator.orders(seller.id).length, 0);
    expect(orders).toBe(20);
  });

  it('reconciliation is clean', async () => {
    expect(await world.reconcile()).toEqual({ ok: true, mismatches: [] });
  });
});
