import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type ApiResponse } from '../support/cluster.js';
import { expectProblem } from '../support/shop.js';
import { walletHarness, type WalletHarness } from '../support/wallet.js';

// Frozen and closed accounts (issue 11) against every write endpoint.
let h: WalletHarness;
let catalog: string;
let item_id: string;
let merchant_id: string;

beforeAll(async () => {
  h = await walletHarness(await startCluster());
  catalog = await h.mint.service('catalog:write', 'back-office');
  item_id = `item-${Date.now()}`;
  const item = { name: 'Hat', kind: 'skin', price: 500, currency: 'EUR', active: true, refundable: true };
  expect((await h.put(`/v1/items/${item_id}`, item, catalog)).status).toBe(201);
  merchant_id = `m-${Date.now()}`;
  const merchant = { id: merchant_id, currency: 'EUR', kind: 'merchant', fee_bps: 100 };
  expect((await h.post('/v1/accounts', merchant, h.service)).status).toBe(201);
});
afterAll(() => h?.stop());

const statusChange = (id: string, action: 'freeze' | 'unfreeze' | 'close', body: Record<string, unknown> = { reason: 'case 42' }) =>
  h.post(`/v1/accounts/${id}/${action}`, body, h.compliance);

/** Every request that would move money out of (or hold money on) `id`, by a service with credits:write. */
function outflows(id: string, other: string, open: { hold_id: string; order_id: string }): Array<[string, () => Promise<ApiResponse>]> {
  return [
    ['debit', () => h.post(`/v1/accounts/${id}/debits`, { amount: 100, currency: 'EUR', reason: 'x' }, h.service)],
    ['transfer out', () => h.post('/v1/transfers', { from_account_id: id, to_account_id: other, amount: 100, currency: 'EUR' }, h.service)],
    ['hold', () => h.post('/v1/holds', { account_id: id, amount: 100, currency: 'EUR', expires_in_seconds: 60 }, h.service)],
    ['capture', () => h.post(`/v1/holds/${open.hold_id}/capture`, {}, h.service)],
    ['order', () => h.post('/v1/orders', { account_id: id, lines: [{ item_id, quantity: 1 }] }, h.service)],
    ['two-step order', () => h.post('/v1/orders', { account_id: id, lines: [{ item_id, quantity: 1 }], mode: 'two_step' }, h.service)],
    ['complete order', () => h.post(`/v1/orders/${open.order_id}/complete`, {}, h.service)],
    [
      'merchant payment',
      () => h.post('/v1/merchant-payments', { from_account_id: id, merchant_id, amount: 100, currency: 'EUR' }, h.service),
    ],
    [
      'withdrawal',
      () =>
        h.post(
          '/v1/withdrawals',
          { account_id: id, amount: 100, currency: 'EUR', destination: { type: 'bank_account', reference: 'NL00BANK0123456789' } },
          h.service,
        ),
    ],
    [
      'purchase request',
      () => h.post('/v1/purchase-requests', { account_id: id, product_id: 'book-1', max_price: 100, currency: 'EUR' }, h.service),
    ],
  ];
}

async function openHoldAndOrder(id: string) {
  const hold = await h.post('/v1/holds', { account_id: id, amount: 200, currency: 'EUR', expires_in_seconds: 600 }, h.service);
  const order = await h.post('/v1/orders', { account_id: id, lines: [{ item_id, quantity: 1 }], mode: 'two_step' }, h.service);
  expect([hold.status, order.status]).toEqual([201, 201]);
  return { hold_id: hold.body.id as string, order_id: order.body.id as string };
}

describe('a frozen account', () => {
  it('when frozen, then nothing leaves it (409 account_frozen), money still comes in, and unfreezing restores it', async () => {
    const id = await h.openAccount(10_000);
    const other = await h.openAccount(1_000);
    const debit = await h.post(`/v1/accounts/${id}/debits`, { amount: 300, currency: 'EUR', reason: 'before' }, h.service);
    const open = await openHoldAndOrder(id);
    const frozen = await statusChange(id, 'freeze');
    expect(frozen.status, JSON.stringify(frozen.body)).toBe(200);
    expect(frozen.body).toMatchObject({ id, status: 'frozen' });
    const before = await h.wallet(id);

    for (const [what, send] of outflows(id, other, open)) {
      const response = await send();
      expect({ what, status: response.status, code: response.body?.code }).toEqual({ what, status: 409, code: 'account_frozen' });
    }
    expect(await h.wallet(id)).toEqual(before);

    // In: credits, transfers to it, refunds, void of its own hold, cancel of its order, a top-up.
    expect((await h.post(`/v1/accounts/${id}/credits`, { amount: 50, currency: 'EUR', reason: 'in' }, h.service)).status).toBe(201);
    expect(
      (await h.post('/v1/transfers', { from_account_id: other, to_account_id: id, amount: 25, currency: 'EUR' }, h.service)).status,
    ).toBe(201);
    expect((await h.post(`/v1/transactions/${debit.body.id}/refunds`, { amount: 100 }, h.service)).status).toBe(201);
    expect((await h.post(`/v1/holds/${open.hold_id}/void`, {}, h.service)).status).toBe(200);
    expect((await h.post(`/v1/orders/${open.order_id}/cancel`, {}, h.service)).status).toBe(200);
    expect((await h.post('/v1/topups', { account_id: id, amount: 1_000, currency: 'EUR' }, h.service)).status).toBe(201);
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 9_875, held: 0, available: 9_875 });

    expectProblem(await statusChange(id, 'freeze'), 409, 'invalid_state');
    expect((await statusChange(id, 'unfreeze', {})).body).toMatchObject({ status: 'active' });
    expect((await h.post(`/v1/accounts/${id}/debits`, { amount: 100, currency: 'EUR', reason: 'after' }, h.service)).status).toBe(201);
    await h.expectReconcileClean();
  });

  it('when the player of a frozen account pays, then 409 too; a frozen merchant still receives', async () => {
    const id = await h.openAccount(5_000);
    const player = await h.mint.player(id);
    expect((await statusChange(merchant_id, 'freeze')).status).toBe(200);
    const paid = await h.post('/v1/merchant-payments', { from_account_id: id, merchant_id, amount: 1_000, currency: 'EUR' }, player);
    expect(paid.status, JSON.stringify(paid.body)).toBe(201);
    expect((await statusChange(merchant_id, 'unfreeze', {})).status).toBe(200);
    expect((await statusChange(id, 'freeze')).status).toBe(200);
    expectProblem(await h.post(`/v1/accounts/${id}/debits`, { amount: 1, currency: 'EUR', reason: 'x' }, player), 409, 'account_frozen');
  });
});

describe('a closed account', () => {
  it('when it still holds money, an active hold or a pending top-up, then it cannot close (409 invalid_state)', async () => {
    const id = await h.openAccount(1_000);
    const refused = await statusChange(id, 'close');
    expectProblem(refused, 409, 'invalid_state');
    expect(refused.body.reasons).toEqual(['its EUR wallet is not at zero']);
    expect((await h.post(`/v1/accounts/${id}/debits`, { amount: 1_000, currency: 'EUR', reason: 'all' }, h.service)).status).toBe(201);
    const topup = await h.post('/v1/topups', { account_id: id, amount: 500, currency: 'EUR' }, h.service);
    expect(topup.status).toBe(201);
    expect((await statusChange(id, 'close')).body.reasons).toEqual(['1 top-up(s) are pending']);
  });

  it('when closed at zero, then nothing changes it (409 account_closed) and it stays readable', async () => {
    const id = await h.openAccount(1_000);
    const other = await h.openAccount(1_000);
    const open = await openHoldAndOrder(id);
    expect((await h.post(`/v1/holds/${open.hold_id}/void`, {}, h.service)).status).toBe(200);
    expect((await h.post(`/v1/orders/${open.order_id}/cancel`, {}, h.service)).status).toBe(200);
    const spend = await h.post(`/v1/accounts/${id}/debits`, { amount: 1_000, currency: 'EUR', reason: 'all' }, h.service);
    const closed = await statusChange(id, 'close', { reason: 'customer asked' });
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body).toMatchObject({ status: 'closed', wallets: [{ currency: 'EUR', balance: 0, held: 0, available: 0 }] });

    for (const [what, send] of outflows(id, other, open)) {
      const response = await send();
      expect({ what, status: response.status, code: response.body?.code }).toEqual({ what, status: 409, code: 'account_closed' });
    }
    const inflows: Array<[string, () => Promise<ApiResponse>]> = [
      ['credit', () => h.post(`/v1/accounts/${id}/credits`, { amount: 50, currency: 'EUR', reason: 'in' }, h.service)],
      ['transfer in', () => h.post('/v1/transfers', { from_account_id: other, to_account_id: id, amount: 25, currency: 'EUR' }, h.service)],
      ['refund', () => h.post(`/v1/transactions/${spend.body.id}/refunds`, { amount: 100 }, h.service)],
      ['top-up', () => h.post('/v1/topups', { account_id: id, amount: 1_000, currency: 'EUR' }, h.service)],
      ['freeze', () => statusChange(id, 'freeze')],
      ['close', () => statusChange(id, 'close')],
      ['kyc', () => h.put(`/v1/accounts/${id}/kyc`, { tier: 1, reason: 'x' }, h.compliance)],
      ['limits', () => h.put(`/v1/accounts/${id}/limits`, { debit_max_minor: 1 }, h.compliance)],
    ];
    for (const [what, send] of inflows) {
      const response = await send();
      expect({ what, status: response.status, code: response.body?.code }).toEqual({ what, status: 409, code: 'account_closed' });
    }
    expect(await h.wallet(other)).toMatchObject({ balance: 1_000 });

    const read = await h.get(`/v1/accounts/${id}`, await h.mint.player(id));
    expect(read.body).toMatchObject({ id, status: 'closed' });
    expect((await h.history(id)).map((item) => item.type)).toEqual(['debit', 'credit']);
    const log = await h.get(`/v1/accounts/${id}/compliance-actions`, h.compliance);
    expect(log.body.data).toEqual([
      expect.objectContaining({
        action: 'close',
        actor: 'service:compliance-desk',
        reason: 'customer asked',
        details: { from: 'active', to: 'closed' },
      }),
    ]);
    await h.expectReconcileClean();
  });
});

describe('who may change the status', () => {
  it('when a player or a service without compliance:write asks, then 403; every change is recorded with who, when and why', async () => {
    const id = await h.openAccount(0);
    for (const token of [await h.mint.player(id), h.service, await h.mint.service('accounts:write refunds:write', 'x')]) {
      expectProblem(await h.post(`/v1/accounts/${id}/freeze`, { reason: 'x' }, token), 403, 'forbidden');
    }
    expectProblem(await statusChange(id, 'freeze', {}), 400, 'validation_error');
    expectProblem(await statusChange(id, 'freeze', { reason: 'x', until: 'later' }), 400, 'validation_error');
    expectProblem(await statusChange('nobody-at-all', 'freeze'), 404, 'not_found');
    expectProblem(await h.post(`/v1/accounts/${id}/freeze`, { reason: 'x' }, h.compliance, { key: '' }), 400, 'idempotency_key_required');
    expect((await statusChange(id, 'freeze', { reason: 'fraud report' })).status).toBe(200);
    expect((await statusChange(id, 'unfreeze', { reason: 'cleared' })).status).toBe(200);
    const log = await h.get(`/v1/accounts/${id}/compliance-actions`, h.admin);
    expect(log.body.data.map((action: any) => [action.action, action.reason, action.actor])).toEqual([
      ['unfreeze', 'cleared', 'service:compliance-desk'],
      ['freeze', 'fraud report', 'service:compliance-desk'],
    ]);
    expect(log.body.data.every((action: any) => Date.parse(action.created_at) > Date.now() - 60_000)).toBe(true);
  });

  it('when the same freeze is retried with its Idempotency-Key, then it is replayed, not refused', async () => {
    const id = await h.openAccount(0);
    const k = `freeze-${id}`;
    const first = await h.post(`/v1/accounts/${id}/freeze`, { reason: 'x' }, h.compliance, { key: k });
    const again = await h.post(`/v1/accounts/${id}/freeze`, { reason: 'x' }, h.compliance, { key: k });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
  });
});
