import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedSeller, SellerWorld } from './support.js';

let world: SellerWorld;

// The seller answers its quote after 1.5 s: the account is frozen while the request waits for it.
beforeAll(async () => {
  world = await SellerWorld.start({
    sellers: [fixedSeller('slow', 700, { latency_ms: { median: 1500, p99: 1500 } })],
    timeout_ms: 3000,
    env: { SELLER_QUOTE_CACHE_TTL_MS: '0' },
  });
});
afterAll(() => world?.stop());

describe('a purchase request whose account is frozen before it orders', () => {
  it('places no order: it fails saying why, the hold is given back, nothing is paid', async () => {
    const buyer = await world.player(5_000);
    const id = await world.purchase(buyer, 'book-1', 1_000);
    await world.write('POST', `/v1/accounts/${buyer.id}/freeze`, { reason: 'fraud review' }, world.admin);
    const final = await world.final(buyer, id);
    expect(final).toMatchObject({ status: 'failed', reason: 'the account is frozen: no order was placed' });
    expect(world.simulator.stats('slow')).toMatchObject({ quote_calls: 1, hold_calls: 0, order_calls: 0 });
    expect(await world.wallet(buyer)).toMatchObject({ balance: 5_000, held: 0 });
    expect(await world.reconcile()).toEqual({ ok: true, mismatches: [] });
  });
});
