import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';

let cluster: TestCluster;
let mint: ReturnType<typeof tokens>;
let service: string;
let catalog_admin: string;
let refunds: string;
let admin: string;

beforeAll(async () => {
  cluster = await startCluster();
  mint = tokens(cluster.config);
  service = await mint.service('accounts:write credits:write', 'game-server');
  catalog_admin = await mint.service('catalog:write', 'back-office');
  refunds = await mint.service('refunds:write', 'support-desk');
  admin = await mint.service('admin', 'ops');
});
afterAll(() => cluster.stop());

const eu = () => cluster.pod('eu-west').url;
const us = () => cluster.pod('us-east').url;
const ap = () => cluster.pod('ap-south').url;
const key = () => uniqueId('k');

async function putItem(fields: Record<string, unknown>) {
  const id = uniqueId('item');
  const response = await request(
    eu(),
    'PUT',
    `/v1/items/${id}`,
    { active: true, refundable: true, currency: 'EUR', ...fields },
    { token: catalog_admin },
  );
  expect(response.status).toBe(201);
  return id;
}

async function player(balance: number) {
  const id = uniqueId('p');
  expect((await request(eu(), 'POST', '/v1/accounts', { id, currency: 'EUR' }, { token: service, key: key() })).status).toBe(201);
  if (balance > 0) {
    expect(
      (
        await request(
          eu(),
          'POST',
          `/v1/accounts/${id}/credits`,
          { amount: balance, currency: 'EUR', reason: 'top up' },
          { token: service, key: key() },
        )
      ).status,
    ).toBe(201);
  }
  return { id, token: await mint.player(id) };
}

async function balance(id: string, currency = 'EUR') {
  const wallets = await request(eu(), 'GET', `/v1/accounts/${id}/wallets`, undefined, { token: service });
  return wallets.body.data.find((wallet: any) => wallet.currency === currency) ?? { balance: 0, held: 0, available: 0 };
}

describe('immediate orders', () => {
  it('when a player buys two lines, then one transaction debits the server price, grants entitlements and completes', async () => {
    const game = await putItem({ name: 'Game', kind: 'game', price: 1500 });
    const skin = await putItem({ name: 'Skin', kind: 'skin', price: 250 });
    const buyer = await player(5000);
    const k = key();
    const body = {
      account_id: buyer.id,
      lines: [
        { item_id: game, quantity: 1 },
        { item_id: skin, quantity: 2 },
      ],
      expected_total: 2000,
    };
    const order = await request(us(), 'POST', '/v1/orders', body, { token: buyer.token, key: k });
    expect(order.body).toMatchObject({ status: 'COMPLETED' });
    expect(order.status).toBe(201);
    expect(order.body).toMatchObject({ status: 'COMPLETED', total: 2000, currency: 'EUR', mode: 'immediate' });
    expect(order.body.status_history.map((change: any) => change.status)).toEqual(['PENDING', 'COMPLETED']);
    const replay = await request(ap(), 'POST', '/v1/orders', body, { token: buyer.token, key: k });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(order.body);
    expect((await balance(buyer.id)).balance).toBe(3000);
    const entitlements = await request(eu(), 'GET', `/v1/accounts/${buyer.id}/entitlements`, undefined, { token: buyer.token });
    expect(entitlements.body.data.map((e: any) => [e.item_id, e.quantity]).sort()).toEqual(
      [
        [game, 1],
        [skin, 2],
      ].sort(),
    );
  });

  it('when the price changed, then 422 price_changed and nothing is charged', async () => {
    const game = await putItem({ name: 'Game', kind: 'game', price: 1500 });
    const buyer = await player(5000);
    const refused = await request(
      eu(),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: game, quantity: 1 }], expected_total: 1400 },
      { token: buyer.token, key: key() },
    );
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ code: 'price_changed', total: 1500 });
    expect((await balance(buyer.id)).balance).toBe(5000);
  });

  it('when a currency pack is bought with EUR, then GEMS are credited in the same transaction', async () => {
    const pack = await putItem({
      name: 'Gems',
      kind: 'currency_pack',
      price: 499,
      grants: { currency: 'GEMS', amount: 500 },
      refundable: false,
    });
    const buyer = await player(1000);
    const order = await request(
      eu(),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: pack, quantity: 2 }] },
      { token: buyer.token, key: key() },
    );
    expect(order.status).toBe(201);
    expect((await balance(buyer.id)).balance).toBe(2);
    expect((await balance(buyer.id, 'GEMS')).balance).toBe(1000);
  });
});

describe('two-step orders and refunds', () => {
  it('when a two-step order is completed, then the hold is captured; a second order is cancelled and released', async () => {
    const game = await putItem({ name: 'Game', kind: 'game', price: 700 });
    const buyer = await player(1000);
    const pending = await request(
      eu(),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: game, quantity: 1 }], mode: 'two_step' },
      { token: buyer.token, key: key() },
    );
    expect(pending.status).toBe(201);
    expect(pending.body.status).toBe('PENDING');
    expect(await balance(buyer.id)).toMatchObject({ balance: 1000, held: 700, available: 300 });
    const completed = await request(us(), 'POST', `/v1/orders/${pending.body.id}/complete`, {}, { token: buyer.token, key: key() });
    expect(completed.status).toBe(200);
    expect(completed.body.status).toBe('COMPLETED');
    expect(await balance(buyer.id)).toMatchObject({ balance: 300, held: 0, available: 300 });
    const again = await request(us(), 'POST', `/v1/orders/${pending.body.id}/cancel`, {}, { token: buyer.token, key: key() });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('invalid_state');
  });

  it('when a player refunds one of two lines, then money returns, that entitlement is revoked, order is PARTIALLY_REFUNDED', async () => {
    const game = await putItem({ name: 'Game', kind: 'game', price: 600 });
    const skin = await putItem({ name: 'Skin', kind: 'skin', price: 100 });
    const potion = await putItem({ name: 'Potion', kind: 'consumable', price: 50, refundable: false });
    const buyer = await player(1000);
    const order = await request(
      eu(),
      'POST',
      '/v1/orders',
      {
        account_id: buyer.id,
        lines: [
          { item_id: game, quantity: 1 },
          { item_id: skin, quantity: 1 },
          { item_id: potion, quantity: 1 },
        ],
      },
      { token: buyer.token, key: key() },
    );
    expect(order.status).toBe(201);
    const refund = await request(
      eu(),
      'POST',
      `/v1/orders/${order.body.id}/refunds`,
      { lines: [{ item_id: skin, quantity: 1 }], reason: 'changed my mind' },
      { token: buyer.token, key: key() },
    );
    expect(refund.status).toBe(201);
    expect(refund.body).toMatchObject({ amount: 100, order_status: 'PARTIALLY_REFUNDED' });
    expect((await balance(buyer.id)).balance).toBe(350);
    const consumable = await request(
      eu(),
      'POST',
      `/v1/orders/${order.body.id}/refunds`,
      { lines: [{ item_id: potion, quantity: 1 }], reason: 'x' },
      { token: buyer.token, key: key() },
    );
    expect(consumable.status).toBe(422);
    expect(consumable.body.code).toBe('not_refundable');
    // What is left holds the consumable: support refunds it only by overriding the policy explicitly.
    const rest = await request(
      eu(),
      'POST',
      `/v1/orders/${order.body.id}/refunds`,
      { reason: 'support', override_policy: true },
      { token: refunds, key: key() },
    );
    expect(rest.status).toBe(201);
    expect(rest.body).toMatchObject({ amount: 650, order_status: 'REFUNDED', override_policy: true, policy_overridden_by: 'support-desk' });
    const entitlements = await request(eu(), 'GET', `/v1/accounts/${buyer.id}/entitlements`, undefined, { token: buyer.token });
    expect(entitlements.body.data.every((e: any) => e.status === 'REVOKED')).toBe(true);
    const report = await request(eu(), 'POST', '/v1/admin/reconcile', undefined, { token: admin });
    expect(report.body).toEqual({ ok: true, mismatches: [] });
  });
});
