import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedSeller, SellerWorld } from './support.js';

// Quotes are shared for 20 s: a request made after a fan-out buys on the cached quotes, so the
// sellers' stock and prices can change "between quote and purchase" deterministically.
let world: SellerWorld;
const PRODUCT = 'book-1';

beforeAll(async () => {
  world = await SellerWorld.start({
    sellers: [
      fixedSeller('seller-a', 1000),
      fixedSeller('seller-b', 1100, { supports_holds: false }),
      fixedSeller('seller-c', 1150),
      fixedSeller('seller-d', 1200),
      fixedSeller('seller-e', 1300),
    ],
    env: { SELLER_QUOTE_CACHE_TTL_MS: '20000' },
  });
});
afterAll(() => world?.stop());

describe('purchase fallbacks', () => {
  it('when every quote is above max_price, then price_not_met with the lowest price, and the hold is voided', async () => {
    const buyer = await world.player(5000);
    const id = await world.purchase(buyer, PRODUCT, 900);
    const final = await world.final(buyer, id);
    expect(final).toMatchObject({ status: 'price_not_met', lowest_price: 1000, attempts: [] });
    expect(final.quotes.filter((quote: any) => quote.available)).toHaveLength(5);
    expect(await world.wallet(buyer)).toEqual({ currency: 'EUR', balance: 5000, held: 0, available: 5000 });
  });

  it('when the cheapest sold out and the next two rose over max_price after quoting, the 4th cheapest is bought at its price', async () => {
    world.simulator.setStock('seller-a', PRODUCT, 0);
    world.simulator.setPrice('seller-b', PRODUCT, 1400);
    world.simulator.setPrice('seller-c', PRODUCT, 1300);
    const buyer = await world.player(5000);
    const id = await world.purchase(buyer, PRODUCT, 1250, 1);
    const final = await world.final(buyer, id);

    expect(final).toMatchObject({ status: 'purchased', final_price: 1200, seller_id: 'seller-d' });
    expect(final.confirmation).toMatchObject({ seller_id: 'seller-d', price: 1200, idempotency_key: `${id}:seller-d` });
    expect(final.attempts.map((attempt: any) => [attempt.seller_id, attempt.outcome])).toEqual([
      ['seller-a', 'out_of_stock'],
      ['seller-b', 'price_moved'],
      ['seller-c', 'price_moved'],
      ['seller-d', 'confirmed'],
    ]);
    // The request bought on shared quotes: quoted before the sellers changed.
    expect(final.quotes.every((quote: any) => quote.shared)).toBe(true);
    expect(await world.wallet(buyer)).toEqual({ currency: 'EUR', balance: 3800, held: 0, available: 3800 });
    const [capture] = await world.history(buyer);
    expect(capture).toMatchObject({ type: 'seller_purchase', amount: -1200, references: { purchase_request_id: id } });
    expect(world.simulator.orders('seller-d').filter((order) => order.idempotency_key === `${id}:seller-d`)).toHaveLength(1);
  });

  it('when every affordable seller fails before an order is made or refuses it, then the request fails, the hold is voided', async () => {
    // Holds answered 500 leave no order behind; the seller without holds refuses its order (409):
    // every outcome is definite, so the request ends (an order answered 500 would be kept for review).
    for (const seller of ['seller-a', 'seller-c', 'seller-d']) world.simulator.setFailing(seller, 1);
    world.simulator.setStock('seller-b', PRODUCT, 0);
    const buyer = await world.player(5000);
    const id = await world.purchase(buyer, PRODUCT, 1250, 2);
    const final = await world.final(buyer, id);
    expect(final).toMatchObject({ status: 'failed', needs_review: false, review_reason: null });
    expect(final.attempts.map((attempt: any) => [attempt.seller_id, attempt.state, attempt.outcome])).toEqual([
      ['seller-a', 'failed', 'error'],
      ['seller-b', 'failed', 'out_of_stock'],
      ['seller-c', 'failed', 'error'],
      ['seller-d', 'failed', 'error'],
    ]);
    expect(await world.wallet(buyer)).toEqual({ currency: 'EUR', balance: 5000, held: 0, available: 5000 });
    expect(await world.history(buyer)).toHaveLength(1);
  });

  it('reconciliation is clean', async () => {
    expect(await world.reconcile()).toEqual({ ok: true, mismatches: [] });
  });
});
