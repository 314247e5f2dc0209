import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSellers, type SimulatedSellerSpec } from '../../tools/seller-simulator/seller-simulator.js';
import { SellerWorld } from './support.js';

const PRODUCT = 'game-key-7';
const DEADLINE_MS = 15_000;
let world: SellerWorld;
let cheapest: SimulatedSellerSpec[];

/**
 * 200 generated sellers (latency medians 5-150 ms with long tails, up to 5% errors and 2%
 * hanging calls, 10% out of stock), and the three cheapest made unable to deliver: one far too
 * slow for its 2.5 s timeout (a busy machine must not make the quick ones late), one sold out, one failing every call.
 */
function population(): SimulatedSellerSpec[] {
  const sellers = generateSellers({ count: 200, seed: 7, product_ids: [PRODUCT] });
  cheapest = [...sellers].sort((a, b) => a.prices[PRODUCT]! - b.prices[PRODUCT]!).slice(0, 3);
  const [slow, sold_out, failing] = cheapest;
  Object.assign(slow!, { latency_ms: { median: 5000, p99: 5000 } });
  slow!.stock[PRODUCT] = 50;
  sold_out!.stock[PRODUCT] = 0;
  // Sold out is what it must say, so it answers every call, and quickly (not one of the hanging 2%).
  Object.assign(sold_out!, { error_rate: 0, timeout_rate: 0, latency_ms: { median: 10, p99: 20 } });
  Object.assign(failing!, { error_rate: 1, timeout_rate: 0, latency_ms: { median: 10, p99: 20 } });
  return sellers;
}

beforeAll(async () => {
  world = await SellerWorld.start({ sellers: population(), timeout_ms: 2500 });
});
afterAll(() => world?.stop());

describe('200 sellers, some slow, some failing, some out of stock', () => {
  it('finishes within the deadline and buys from the cheapest seller that could deliver, charging exactly its price', async () => {
    const buyer = await world.player(100_000);
    const started_ms = Date.now();
    const id = await world.purchase(buyer, PRODUCT, 100_000);
    const final = await world.final(buyer, id, DEADLINE_MS + 5000);
    const elapsed_ms = Date.now() - started_ms;

    expect(final.status, JSON.stringify(final.attempts)).toBe('purchased');
    expect(elapsed_ms).toBeLessThan(DEADLINE_MS);
    expect(Date.parse(final.finished_at)).toBeLessThanOrEqual(Date.parse(final.deadline_at));

    const by_seller = new Map<string, any>(final.quotes.map((quote: any) => [quote.seller_id, quote]));
    const [slow, sold_out, failing] = cheapest;
    expect(by_seller.get(slow!.id).error).toMatch(/timeout|no_answer_in_time/);
    // Sold out is read as such (never as a bad response); only a machine too busy to hear it in time leaves it unanswered.
    const sold_out_quote = by_seller.get(sold_out!.id);
    if (sold_out_quote.available === null) expect(sold_out_quote.error).toMatch(/timeout|no_answer_in_time/);
    else expect(sold_out_quote).toMatchObject({ available: false });
    expect(by_seller.get(failing!.id).error).toBe('server_error');

    // Attempts follow the available quotes cheapest first; all but the last failed, the last bought.
    const offers = final.quotes
      .filter((quote: any) => quote.available)
      .sort((a: any, b: any) => a.price - b.price || a.latency_ms - b.latency_ms);
    expect(offers.length).toBeGreaterThan(150);
    const attempts = final.attempts;
    expect(attempts.map((attempt: any) => attempt.seller_id)).toEqual(
      offers.slice(0, attempts.length).map((offer: any) => offer.seller_id),
    );
    expect(attempts.slice(0, -1).every((attempt: any) => attempt.state === 'failed')).toBe(true);
    const bought = attempts.at(-1);
    expect(bought).toMatchObject({ state: 'confirmed', seller_id: final.seller_id, price: final.final_price });
    expect(final.final_price).toBe(by_seller.get(final.seller_id).price);
    expect(final.confirmation).toMatchObject({
      seller_id: final.seller_id,
      price: final.final_price,
      idempotency_key: `${id}:${final.seller_id}`,
    });

    expect(await world.wallet(buyer)).toEqual({
      currency: 'EUR',
      balance: 100_000 - final.final_price,
      held: 0,
      available: 100_000 - final.final_price,
    });
    expect(world.simulator.orders(final.seller_id).filter((order) => order.idempotency_key === `${id}:${final.seller_id}`)).toHaveLength(1);
  });

  it('reconciliation is clean', async () => {
    expect(await world.reconcile()).toEqual({ ok: true, mismatches: [] });
  });
});
