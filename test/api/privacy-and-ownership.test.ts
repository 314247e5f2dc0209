import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/db/cursor.js';
import { request, startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';

let cluster: TestCluster;
let mint: ReturnType<typeof tokens>;
let service: string;
let catalog: string;

beforeAll(async () => {
  cluster = await startCluster();
  mint = tokens(cluster.config);
  service = await mint.service('accounts:write credits:write', 'game-server');
  catalog = await mint.service('catalog:write', 'back-office');
});
afterAll(() => cluster.stop());

const eu = () => cluster.pod('eu-west').url;
const key = () => uniqueId('k');

async function player(balance: number) {
  const id = uniqueId('p');
  expect((await request(eu(), 'POST', '/v1/accounts', { id }, { token: service, key: key() })).status).toBe(201);
  if (balance > 0)
    expect(
      (
        await request(
          eu(),
          'POST',
          `/v1/accounts/${id}/credits`,
          { amount: balance, currency: 'EUR', reason: 'seed' },
          { token: service, key: key() },
        )
      ).status,
    ).toBe(201);
  return { id, token: await mint.player(id) };
}

async function item(kind: string, price: number, extra: Record<string, unknown> = {}) {
  const id = uniqueId('item');
  expect(
    (
      await request(
        eu(),
        'PUT',
        `/v1/items/${id}`,
        { name: id, kind, price, currency: 'EUR', active: true, refundable: true, ...extra },
        { token: catalog },
      )
    ).status,
  ).toBe(201);
  return id;
}

const balance = async (id: string, currency = 'EUR') =>
  (await request(eu(), 'GET', `/v1/accounts/${id}/wallets`, undefined, { token: service })).body.data.find(
    (wallet: any) => wallet.currency === currency,
  )?.balance ?? 0;

describe('isolation of balances', () => {
  it('when a player reads a transfer they sent, then they see the recipient leg but not the recipient balance', async () => {
    const sender = await player(1000);
    const recipient = await player(777);
    const transfer = await request(
      eu(),
      'POST',
      '/v1/transfers',
      { from_account_id: sender.id, to_account_id: recipient.id, amount: 1, currency: 'EUR' },
      { token: sender.token, key: key() },
    );
    expect(transfer.status).toBe(201);
    const as_sender = await request(eu(), 'GET', `/v1/transactions/${transfer.body.id}`, undefined, { token: sender.token });
    expect(as_sender.body.entries).toContainEqual({ account_id: recipient.id, currency: 'EUR', amount: 1 });
    expect(as_sender.body.entries).toContainEqual({ account_id: sender.id, currency: 'EUR', amount: -1, balance_after: 999 });
    const as_recipient = await request(eu(), 'GET', `/v1/transactions/${transfer.body.id}`, undefined, { token: recipient.token });
    expect(as_recipient.body.balance_after).toBeNull();
    expect(as_recipient.body.entries).toContainEqual({ account_id: sender.id, currency: 'EUR', amount: -1 });
    expect(as_recipient.body.entries.filter((entry: any) => 'balance_after' in entry).map((entry: any) => entry.account_id)).toEqual([
      recipient.id,
    ]);
  });
});

describe('holds that pay for an order', () => {
  it('when the holds API touches an order hold, then 409 invalid_state and the order still completes normally', async () => {
    const buyer = await player(10000);
    const game = await item('game', 5000);
    const order = await request(
      eu(),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: game, quantity: 1 }], mode: 'two_step' },
      { token: buyer.token, key: key() },
    );
    expect(order.status).toBe(201);
    for (const action of ['capture', 'void']) {
      const attempt = await request(eu(), 'POST', `/v1/holds/${order.body.hold_id}/${action}`, {}, { token: service, key: key() });
      expect(attempt.status).toBe(409);
      expect(attempt.body.code).toBe('invalid_state');
    }
    const completed = await request(eu(), 'POST', `/v1/orders/${order.body.id}/complete`, {}, { token: buyer.token, key: key() });
    expect(completed.body.status).toBe('COMPLETED');
    expect(await balance(buyer.id)).toBe(5000);
  });
});

describe('player refunds', () => {
  it('when a player asks for part of the price back without returning lines, then 422 not_refundable; support may', async () => {
    const buyer = await player(10000);
    const game = await item('game', 5000);
    const order = await request(
      eu(),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: game, quantity: 1 }] },
      { token: buyer.token, key: key() },
    );
    const partial = await request(
      eu(),
      'POST',
      `/v1/orders/${order.body.id}/refunds`,
      { amount: 4999, reason: 'x' },
      { token: buyer.token, key: key() },
    );
    expect(partial.status).toBe(422);
    expect(partial.body.code).toBe('not_refundable');
    expect(await balance(buyer.id)).toBe(5000);
    const support = await mint.service('refunds:write', 'support');
    const goodwill = await request(
      eu(),
      'POST',
      `/v1/orders/${order.body.id}/refunds`,
      { amount: 500, reason: 'late delivery' },
      { token: support, key: key() },
    );
    expect(goodwill.status).toBe(201);
    const rest = await request(
      eu(),
      'POST',
      `/v1/orders/${order.body.id}/refunds`,
      { amount: 4500, reason: 'changed my mind' },
      { token: buyer.token, key: key() },
    );
    expect(rest.status).toBe(201);
    expect(rest.body.order_status).toBe('REFUNDED');
    const entitlements = await request(eu(), 'GET', `/v1/accounts/${buyer.id}/entitlements`, undefined, { token: buyer.token });
    expect(entitlements.body.data[0].status).toBe('REVOKED');
  });
});

describe('malformed ids, cursors and subjects', () => {
  it('never reach the database: 400 validation_error (a malformed subject: 401)', async () => {
    const uuid = '8f14e45f-ceea-4e7a-9d5e-5b1c2b0e8a11';
    for (const id of [`(${uuid})`, `[${uuid}]`, uuid.replace(/-/g, ':'), `{${uuid}}`]) {
      const response = await request(eu(), 'GET', `/v1/orders/${encodeURIComponent(id)}`, undefined, { token: service });
      expect(response.status, id).toBe(400);
      expect(response.body.code).toBe('validation_error');
    }
    for (const cursor of [encodeCursor(['garbage', 'x']), encodeCursor(['2026-13-45 99:00:00+00', 'x']), encodeCursor([1, 'x'])]) {
      const response = await request(eu(), 'GET', `/v1/items?cursor=${cursor}`);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_error');
    }
    // A player token whose subject is no account id is refused outright (test/api/scopes.test.ts).
    const dotted = await mint.player('a.b');
    const created = await request(eu(), 'POST', '/v1/accounts', {}, { token: dotted, key: key() });
    expect(created.status).toBe(401);
    expect(created.body.code).toBe('unauthenticated');
  });
});

describe('requests Node rejects before the app', () => {
  it('when the headers are too large, then 431 problem+json with X-Region', async () => {
    const response = await request(eu(), 'GET', '/v1/accounts/x', undefined, {
      headers: { Authorization: `Bearer ${'a'.repeat(70_000)}` },
    });
    expect(response.status).toBe(431);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.headers.get('x-region')).toBe('eu-west');
    expect(response.body).toMatchObject({ status: 431, code: 'validation_error' });
  });
});
