import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, uniqueId } from '../support/cluster.js';
import { expectProblem } from '../support/shop.js';
import { walletHarness, type WalletHarness } from '../support/wallet.js';

// Merchants (issue 11): fee plans, merchant payments, revenue shares on catalog items and their
// proportional take-back on refunds, within the merchant credit limit.
const CREDIT_LIMIT_MINOR = 500;

let h: WalletHarness;
let catalog: string;
let refunds: string;

beforeAll(async () => {
  h = await walletHarness(await startCluster({ env: { MERCHANT_CREDIT_LIMIT_MINOR: String(CREDIT_LIMIT_MINOR) } }));
  catalog = await h.mint.service('catalog:write', 'back-office');
  refunds = await h.mint.service('refunds:write', 'support-desk');
});
afterAll(() => h?.stop());

async function merchant(fee_bps: number, fee_min?: number): Promise<string> {
  const id = uniqueId('m');
  const created = await h.post(
    '/v1/accounts',
    { id, currency: 'EUR', kind: 'merchant', fee_bps, ...(fee_min === undefined ? {} : { fee_min }) },
    h.service,
  );
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return id;
}

const pay = (from_account_id: string, merchant_id: string, amount: number, token = h.service) =>
  h.post('/v1/merchant-payments', { from_account_id, merchant_id, amount, currency: 'EUR', reference: 'cart-1' }, token);

/** What a ledger transaction moved to or from an account (@revenue is shared by every test: its balance says nothing). */
async function moved(transaction_id: string, account_id: string): Promise<number> {
  const transaction = await h.get(`/v1/transactions/${transaction_id}`, h.service);
  return transaction.body.entries
    .filter((entry: { account_id: string }) => entry.account_id === account_id)
    .reduce((sum: number, entry: { amount: number }) => sum + entry.amount, 0);
}

describe('merchant accounts', () => {
  it('when a service opens a merchant with a fee plan, then it is a merchant; players and bad plans are refused', async () => {
    const id = await merchant(250, 30);
    const read = await h.get(`/v1/accounts/${id}`, h.service);
    expect(read.body).toMatchObject({ id, kind: 'merchant', status: 'active', fee_plan: { fee_bps: 250, fee_min: 30 } });
    expect((await h.get(`/v1/accounts/${await h.openAccount(0)}`, h.service)).body.fee_plan).toBeNull();

    const player_id = uniqueId('p');
    const as_player = await h.post('/v1/accounts', { id: player_id, kind: 'merchant', fee_bps: 1 }, await h.mint.player(player_id));
    expectProblem(as_player, 403, 'forbidden');
    for (const body of [
      { id: uniqueId('m'), kind: 'merchant' },
      { id: uniqueId('m'), kind: 'merchant', fee_bps: 10_001 },
      { id: uniqueId('m'), kind: 'merchant', fee_bps: -1 },
      { id: uniqueId('m'), kind: 'merchant', fee_bps: '100' },
      { id: uniqueId('m'), kind: 'merchant', fee_bps: 100, fee_min: 1.5 },
      { id: uniqueId('m'), kind: 'system', fee_bps: 100 },
      { id: uniqueId('p'), fee_bps: 100 },
    ]) {
      expectProblem(await h.post('/v1/accounts', body, h.service), 400, 'validation_error');
    }
  });
});

describe('merchant payments', () => {
  it('when a player pays a merchant, then one transaction: player -amount, merchant +(amount - fee), @revenue +fee', async () => {
    const shop = await merchant(250, 30);
    const id = await h.openAccount(20_000);
    const player = await h.mint.player(id);
    const paid = await pay(id, shop, 10_001, player);
    expect(paid.status, JSON.stringify(paid.body)).toBe(201);
    // 10,001 x 2.5 % = 250.025, rounded half up: 250.
    expect(paid.body).toMatchObject({
      from_account_id: id,
      merchant_id: shop,
      amount: 10_001,
      fee: 250,
      net_amount: 9_751,
      balance_after: 9_999,
    });
    const transaction = await h.get(`/v1/transactions/${paid.body.transaction_id}`, h.service);
    expect(transaction.body).toMatchObject({ type: 'merchant_payment', merchant_id: shop, reference: 'cart-1' });
    expect(
      transaction.body.entries.map((entry: { account_id: string; amount: number }) => [entry.account_id, entry.amount]).sort(),
    ).toEqual(
      [
        [id, -10_001],
        [shop, 9_751],
        ['@revenue', 250],
      ].sort(),
    );
    expect(await h.wallet(shop)).toMatchObject({ balance: 9_751 });

    // The minimum fee, and a fee as large as the amount: the merchant's net is 0, never negative.
    expect((await pay(id, shop, 1_000)).body).toMatchObject({ fee: 30, net_amount: 970 });
    expect((await pay(id, shop, 20)).body).toMatchObject({ fee: 20, net_amount: 0 });
    expect(await h.wallet(shop)).toMatchObject({ balance: 9_751 + 970 });

    // Readable by the payer, the merchant (without the payer's balance) and services; 404 to others.
    const by_merchant = await h.get(`/v1/merchant-payments/${paid.body.id}`, await h.mint.player(shop));
    expect(by_merchant.body).toMatchObject({ id: paid.body.id, balance_after: null });
    expect((await h.get(`/v1/merchant-payments/${paid.body.id}`, player)).body.balance_after).toBe(9_999);
    expectProblem(await h.get(`/v1/merchant-payments/${paid.body.id}`, await h.mint.player('someone-else')), 404, 'not_found');
    await h.expectReconcileClean();
  });

  it('when the merchant is no merchant, lacks the currency, the payer is short or it is paid by transfer, then refused', async () => {
    const shop = await merchant(100);
    const id = await h.openAccount(1_000);
    const other_player = await h.openAccount(0);
    expectProblem(await pay(id, other_player, 100), 404, 'not_found');
    expectProblem(await pay(id, 'no-such-merchant', 100), 404, 'not_found');
    expectProblem(
      await h.post('/v1/merchant-payments', { from_account_id: id, merchant_id: shop, amount: 1, currency: 'USD' }, h.service),
      422,
      'currency_mismatch',
    );
    expectProblem(await pay(id, shop, 1_001), 409, 'insufficient_funds');
    expectProblem(await pay(shop, shop, 1), 400, 'validation_error');
    // Not by transfer either, either way: no fee, and the merchant side has no player limits.
    for (const [from_account_id, to_account_id] of [
      [id, shop],
      [shop, id],
    ]) {
      const transfer = { from_account_id, to_account_id, amount: 1, currency: 'EUR' };
      expectProblem(await h.post('/v1/transfers', transfer, h.service), 400, 'validation_error');
    }
    expectProblem(await pay(id, shop, 100, await h.mint.player(other_player)), 404, 'not_found');
    const good = { from_account_id: id, merchant_id: shop, amount: 1, currency: 'EUR' };
    for (const body of [
      { ...good, amount: 0 },
      { ...good, amount: 1.5 },
      { ...good, merchant_id: '@revenue' },
      { ...good, reference: '' },
      { ...good, fee: 0 },
      { ...good, metadata: { '': 'x' } },
    ]) {
      expectProblem(await h.post('/v1/merchant-payments', body, h.service), 400, 'validation_error');
    }
    expect(await h.wallet(id)).toMatchObject({ balance: 1_000 });
    expect(await h.wallet(shop)).toMatchObject({ balance: 0 });
  });
});

describe('refunds of merchant payments', () => {
  const refund = (payment_id: string, amount?: number) =>
    h.post(`/v1/transactions/${payment_id}/refunds`, { ...(amount === undefined ? {} : { amount }), reason: 'returned' }, refunds);

  it('when a merchant payment is refunded in parts, then the merchant and @revenue give back its net and fee exactly', async () => {
    const shop = await merchant(250, 30);
    const id = await h.openAccount(20_000);
    const paid = await pay(id, shop, 10_001);
    expect(paid.body).toMatchObject({ fee: 250, net_amount: 9_751, amount_refunded: 0 });

    const first = await refund(paid.body.id, 3_000);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({
      type: 'refund',
      account_id: id,
      amount: 3_000,
      original_transaction_id: paid.body.id,
      merchant_id: shop,
    });
    // The merchant gives back round half up(9,751 x 3,000 / 10,001) = 2,925; @revenue the rest of the 3,000.
    expect([await moved(first.body.id, id), await moved(first.body.id, shop), await moved(first.body.id, '@revenue')]).toEqual([
      3_000, -2_925, -75,
    ]);
    const rest = await refund(paid.body.id);
    expect(rest.body).toMatchObject({ amount: 7_001 });
    expect([await moved(rest.body.id, shop), await moved(rest.body.id, '@revenue')]).toEqual([-6_826, -175]);

    expect(await h.wallet(shop)).toMatchObject({ balance: 0 });
    expect(await h.wallet(id)).toMatchObject({ balance: 20_000 });
    expect((await h.get(`/v1/merchant-payments/${paid.body.id}`, await h.mint.player(shop))).body).toMatchObject({
      amount_refunded: 10_001,
    });
    expectProblem(await refund(paid.body.id, 1), 422, 'refund_exceeds_remaining');
    await h.expectReconcileClean();
  });

  it('when the merchant cannot give its part back within its credit limit, then 409; a closed merchant leaves it to @revenue', async () => {
    const shop = await merchant(0);
    const id = await h.openAccount(5_000);
    const paid = await pay(id, shop, 1_000);
    expect((await h.post(`/v1/accounts/${shop}/debits`, { amount: 800, currency: 'EUR', reason: 'fees' }, h.service)).status).toBe(201);

    // 1,000 back would leave the merchant at -800, past its credit limit of 500: nothing moves.
    expectProblem(await refund(paid.body.id), 409, 'insufficient_funds');
    expect(await h.wallet(shop)).toMatchObject({ balance: 200 });
    expect((await refund(paid.body.id, 700)).status).toBe(201);
    expect(await h.wallet(shop)).toMatchObject({ balance: -CREDIT_LIMIT_MINOR });

    // With a fee, @revenue gives back more than the fee it got: the closed merchant's share too.
    const closing = await merchant(100);
    const second = await pay(id, closing, 300);
    expect(second.body).toMatchObject({ fee: 3, net_amount: 297 });
    expect((await h.post(`/v1/accounts/${closing}/debits`, { amount: 297, currency: 'EUR', reason: 'fees' }, h.service)).status).toBe(201);
    expect(
      (await h.post(`/v1/accounts/${closing}/close`, { reason: 'gone' }, await h.mint.service('compliance:write', 'desk'))).status,
    ).toBe(200);
    // Its items can no longer be put on sale (no order of them could pay it), only taken off.
    const item = {
      name: 'Gone',
      kind: 'skin',
      price: 100,
      currency: 'EUR',
      refundable: true,
      merchant_id: closing,
      revenue_share_bps: 500,
    };
    const item_id = uniqueId('item');
    expectProblem(await h.put(`/v1/items/${item_id}`, { ...item, active: true }, catalog), 400, 'validation_error');
    expect((await h.put(`/v1/items/${item_id}`, { ...item, active: false }, catalog)).status).toBe(201);
    const returned = await refund(second.body.id);
    expect(returned.status, JSON.stringify(returned.body)).toBe(201);
    expect([await moved(returned.body.id, closing), await moved(returned.body.id, '@revenue')]).toEqual([0, -300]);
    expect(await h.wallet(id)).toMatchObject({ balance: 5_000 - 300 });

    // A fee of the whole amount paid the merchant nothing: the refund is @revenue's alone.
    const all_fee = await merchant(0, 30);
    const tiny = await pay(id, all_fee, 20);
    expect(tiny.body).toMatchObject({ fee: 20, net_amount: 0 });
    const back = await refund(tiny.body.id);
    expect(back.status, back.text).toBe(201);
    expect([await moved(back.body.id, id), await moved(back.body.id, all_fee), await moved(back.body.id, '@revenue')]).toEqual([
      20, 0, -20,
    ]);
    await h.expectReconcileClean();
  });
});

describe('revenue shares of catalog items', () => {
  it('when an item names a merchant, then orders pay it its share and refunds take the share back in proportion', async () => {
    const shop = await merchant(0);
    const item_id = uniqueId('item');
    const item = { name: 'Shared', kind: 'skin', price: 1_000, currency: 'EUR', active: true, refundable: true };
    expectProblem(await h.put(`/v1/items/${item_id}`, { ...item, merchant_id: shop }, catalog), 400, 'validation_error');
    expectProblem(
      await h.put(`/v1/items/${item_id}`, { ...item, merchant_id: await h.openAccount(0), revenue_share_bps: 3_000 }, catalog),
      400,
      'validation_error',
    );
    const put = await h.put(`/v1/items/${item_id}`, { ...item, merchant_id: shop, revenue_share_bps: 3_000 }, catalog);
    expect(put.body).toMatchObject({ merchant_id: shop, revenue_share_bps: 3_000 });

    const buyer = await h.openAccount(10_000);
    const order = await h.post('/v1/orders', { account_id: buyer, lines: [{ item_id, quantity: 3 }] }, h.service);
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    expect(order.body.lines[0]).toMatchObject({ merchant_id: shop, merchant_share: 900 });
    expect(await h.wallet(shop)).toMatchObject({ balance: 900 });
    expect(await moved(order.body.payment_transaction_id, '@revenue')).toBe(2_100);
    // The merchant spends its share: refunds now take it below zero, within its credit limit.
    expect((await h.post(`/v1/accounts/${shop}/debits`, { amount: 900, currency: 'EUR', reason: 'spent' }, h.service)).status).toBe(201);

    const by_line = await h.post(`/v1/orders/${order.body.id}/refunds`, { lines: [{ item_id, quantity: 1 }], reason: 'one back' }, refunds);
    expect(by_line.status, JSON.stringify(by_line.body)).toBe(201);
    expect(await h.wallet(shop)).toMatchObject({ balance: -300 });
    // Goodwill of 500 on 2,000 left of the line: 150 more of the share (450 of 900 after 1,500 of 3,000).
    const goodwill = await h.post(`/v1/orders/${order.body.id}/refunds`, { amount: 500, reason: 'late delivery' }, refunds);
    expect(goodwill.status).toBe(201);
    expect(await h.wallet(shop)).toMatchObject({ balance: -450 });
    // The rest would take it to -900, past the credit limit of 500: refused, nothing changes.
    const rest = await h.post(`/v1/orders/${order.body.id}/refunds`, { reason: 'all of it' }, refunds);
    expectProblem(rest, 409, 'insufficient_funds');
    expect(rest.body.detail).toBe('the merchant cannot return its share of this refund');
    expect(await h.wallet(shop)).toMatchObject({ balance: -450 });
    // Its own outflow below zero is short of its own money, not of a refund's share.
    const own = await h.post(`/v1/accounts/${shop}/debits`, { amount: 1, currency: 'EUR', reason: 'fee' }, h.service);
    expectProblem(own, 409, 'insufficient_funds');
    expect(own.body.detail).not.toContain('refund');
    expect(await h.wallet(buyer)).toMatchObject({ balance: 10_000 - 3_000 + 1_000 + 500 });
    expect((await h.get(`/v1/orders/${order.body.id}`, h.service)).body).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refunded_amount: 1_500,
    });

    // Once the merchant has money again, the rest goes through and the whole share is back.
    expect((await h.post(`/v1/accounts/${shop}/credits`, { amount: 1_000, currency: 'EUR', reason: 'sales' }, h.service)).status).toBe(201);
    expect((await h.post(`/v1/orders/${order.body.id}/refunds`, { reason: 'all of it' }, refunds)).status).toBe(201);
    expect(await h.wallet(shop)).toMatchObject({ balance: 1_000 - 900 });
    await h.expectReconcileClean();
  });

  it('when a two-step order of a merchant item completes, then the share is paid; cancelled, nothing is', async () => {
    const shop = await merchant(0);
    const item_id = uniqueId('item');
    const item = { name: 'Two-step', kind: 'game', price: 2_000, currency: 'EUR', active: true, refundable: true, merchant_id: shop };
    expect((await h.put(`/v1/items/${item_id}`, { ...item, revenue_share_bps: 1_250 }, catalog)).status).toBe(201);
    const buyer = await h.openAccount(10_000);
    const lines = [{ item_id, quantity: 1 }];
    const first = await h.post('/v1/orders', { account_id: buyer, lines, mode: 'two_step' }, h.service);
    const second = await h.post('/v1/orders', { account_id: buyer, lines, mode: 'two_step' }, h.service);
    expect((await h.post(`/v1/orders/${first.body.id}/complete`, {}, h.service)).status).toBe(200);
    expect((await h.post(`/v1/orders/${second.body.id}/cancel`, {}, h.service)).status).toBe(200);
    expect(await h.wallet(shop)).toMatchObject({ balance: 250 });
    expect(await h.wallet(buyer)).toEqual({ currency: 'EUR', balance: 8_000, held: 0, available: 8_000 });
    await h.expectReconcileClean();
  });
});
