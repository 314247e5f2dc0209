import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type TestCluster } from '../support/cluster.js';
import { expectProblem, key, type ShopHarness, startShopCluster } from '../support/shop.js';

// Issue 8, item 6: what an order grants and costs is bounded like any amount, so arithmetic on
// client quantities can never reach a posting unbounded: 400 (or 409 at the wallet cap), never 500.
// The wallet maximum is lowered to 5 * 10^12 so a wallet can be brought near it with 10^12 credits.
const AMOUNT_MAX_MINOR = 1e12;
const BALANCE_MAX_MINOR = 5e12;

let cluster: TestCluster;
let h: ShopHarness;

beforeAll(async () => {
  ({ cluster, h } = await startShopCluster({ env: { BALANCE_MAX_MINOR: String(BALANCE_MAX_MINOR) } }));
});
afterAll(() => cluster?.stop());

const pack = (grants_minor: number, price = 1) =>
  h.putItem({ name: 'Gem hoard', kind: 'currency_pack', price, grants: { currency: 'GEMS', amount: grants_minor } });

async function order(account_id: string, token: string, lines: Array<{ item_id: string; quantity: number }>) {
  return request(h.pod(1), 'POST', '/v1/orders', { account_id, lines }, { token, key: key() });
}

async function credit(account_id: string, amount: number, currency: string) {
  const response = await request(
    h.pod(0),
    'POST',
    `/v1/accounts/${account_id}/credits`,
    { amount, currency, reason: 'seed' },
    { token: h.service, key: key() },
  );
  expect(response.status, JSON.stringify(response.body)).toBe(201);
}

describe('item 6: currency-pack grants are bounded', () => {
  it('when ten packs granting 10^12 each are ordered 1,000 times, then 400 validation_error (not 500) and nothing moves', async () => {
    const packs = await Promise.all(Array.from({ length: 10 }, () => pack(AMOUNT_MAX_MINOR)));
    const buyer = await h.player(100_000);
    const hoard = await order(
      buyer.id,
      buyer.token,
      packs.map((item_id) => ({ item_id, quantity: 1_000 })),
    );
    expectProblem(hoard, 400, 'validation_error');
    expect(hoard.body.detail).toBe(`the currency packs of this order grant more GEMS than the maximum of ${AMOUNT_MAX_MINOR}`);
    // One unit over the per-operation maximum, spread over two lines, is refused as well.
    const small = await pack(1);
    const over = await order(buyer.id, buyer.token, [
      { item_id: packs[0]!, quantity: 1 },
      { item_id: small, quantity: 1 },
    ]);
    expectProblem(over, 400, 'validation_error');
    expect(await h.wallet(buyer.id)).toMatchObject({ balance: 100_000 });
    expect(await h.wallet(buyer.id, 'GEMS')).toMatchObject({ balance: 0 });
    expect(await h.orders(buyer.id)).toEqual([]);
    // Exactly the maximum is fine: the bound is inclusive.
    const exact = await order(buyer.id, buyer.token, [{ item_id: packs[0]!, quantity: 1 }]);
    expect(exact.status, JSON.stringify(exact.body)).toBe(201);
    expect(exact.body.lines[0].grants).toEqual({ currency: 'GEMS', amount: AMOUNT_MAX_MINOR });
    expect(await h.wallet(buyer.id, 'GEMS')).toMatchObject({ balance: AMOUNT_MAX_MINOR });
    await h.expectReconcileClean();
  });

  it('when a pack grant would take the wallet over its maximum, then 409 invalid_state and nothing moves', async () => {
    const hoard = await pack(AMOUNT_MAX_MINOR);
    const buyer = await h.player(1_000);
    for (let i = 0; i < 4; i += 1) await credit(buyer.id, AMOUNT_MAX_MINOR, 'GEMS');
    await credit(buyer.id, AMOUNT_MAX_MINOR / 2, 'GEMS');
    const refused = await order(buyer.id, buyer.token, [{ item_id: hoard, quantity: 1 }]);
    expectProblem(refused, 409, 'invalid_state');
    expect(refused.body.detail).toBe('the receiving account cannot receive this amount');
    expect(await h.wallet(buyer.id)).toMatchObject({ balance: 1_000 });
    expect(await h.wallet(buyer.id, 'GEMS')).toMatchObject({ balance: 4.5e12 });
    expect(await h.orders(buyer.id)).toEqual([]);
    await h.expectReconcileClean();
  });

  it('when prices times quantities exceed the maximum amount, then 400 validation_error, never an unsafe total', async () => {
    const dear = await h.putItem({ name: 'Castle', kind: 'game', price: AMOUNT_MAX_MINOR });
    const buyer = await h.player(1_000);
    for (const quantity of [2, 1_000]) {
      const response = await order(buyer.id, buyer.token, [{ item_id: dear, quantity }]);
      expectProblem(response, 400, 'validation_error');
      expect(response.body.detail).toBe(`the order total exceeds the maximum amount of ${AMOUNT_MAX_MINOR}`);
    }
    expect(await h.orders(buyer.id)).toEqual([]);
  });
});
