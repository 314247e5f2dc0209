import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';

let cluster: TestCluster;
let mint: ReturnType<typeof tokens>;
let service: string;
let admin: string;

beforeAll(async () => {
  cluster = await startCluster();
  mint = tokens(cluster.config);
  service = await mint.service('accounts:write credits:write', 'game-server');
  admin = await mint.service('admin', 'ops');
});
afterAll(() => cluster.stop());

const eu = () => cluster.pod('eu-west').url;
const us = () => cluster.pod('us-east').url;
const key = () => uniqueId('k');

async function openAccount(base: string, balance: number, currency = 'EUR', home_region?: string) {
  const id = uniqueId('p');
  const created = await request(
    base,
    'POST',
    '/v1/accounts',
    { id, currency, ...(home_region ? { home_region } : {}) },
    { token: service, key: key() },
  );
  expect(created.status).toBe(201);
  if (balance > 0) {
    const credit = await request(
      base,
      'POST',
      `/v1/accounts/${id}/credits`,
      { amount: balance, currency, reason: 'seed' },
      { token: service, key: key() },
    );
    expect(credit.status).toBe(201);
  }
  return id;
}

describe('credits and debits', () => {
  it('when a service credits and a player debits, then balances, entries and history agree', async () => {
    const id = await openAccount(eu(), 1000);
    const player = await mint.player(id);
    const debit = await request(
      us(),
      'POST',
      `/v1/accounts/${id}/debits`,
      { amount: 300, currency: 'EUR', reason: 'sword', reference: 'item-7' },
      { token: player, key: key() },
    );
    expect(debit.status).toBe(201);
    expect(debit.body).toMatchObject({
      type: 'debit',
      account_id: id,
      amount: 300,
      currency: 'EUR',
      balance_after: 700,
      reason: 'sword',
      reference: 'item-7',
    });
    expect(debit.body.entries).toEqual(
      expect.arrayContaining([
        { account_id: id, currency: 'EUR', amount: -300, balance_after: 700 },
        { account_id: '@revenue', currency: 'EUR', amount: 300 },
      ]),
    );
    const wallets = await request(eu(), 'GET', `/v1/accounts/${id}/wallets`, undefined, { token: player });
    expect(wallets.body.data).toEqual([{ currency: 'EUR', balance: 700, held: 0, available: 700 }]);
    const history = await request(eu(), 'GET', `/v1/accounts/${id}/transactions`, undefined, { token: player });
    expect(history.status).toBe(200);
    expect(history.body.data.map((item: any) => [item.type, item.amount, item.balance_after])).toEqual([
      ['debit', -300, 700],
      ['credit', 1000, 1000],
    ]);
    expect(history.body.next_cursor).toBeNull();
  });

  it('when a debit exceeds the balance, then 409 insufficient_funds and nothing moves; replaying the key gives the same 409', async () => {
    const id = await openAccount(eu(), 100);
    const k = key();
    const first = await request(
      eu(),
      'POST',
      `/v1/accounts/${id}/debits`,
      { amount: 101, currency: 'EUR', reason: 'x' },
      { token: service, key: k },
    );
    expect(first.status).toBe(409);
    expect(first.body.code).toBe('insufficient_funds');
    const again = await request(
      us(),
      'POST',
      `/v1/accounts/${id}/debits`,
      { amount: 101, currency: 'EUR', reason: 'x' },
      { token: service, key: k },
    );
    expect(again.status).toBe(409);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const wallets = await request(eu(), 'GET', `/v1/accounts/${id}/wallets`, undefined, { token: service });
    expect(wallets.body.data[0]).toMatchObject({ balance: 100, available: 100 });
  });

  it('when the wallet currency does not exist, then 422 currency_mismatch', async () => {
    const id = await openAccount(eu(), 100);
    const debit = await request(
      eu(),
      'POST',
      `/v1/accounts/${id}/debits`,
      { amount: 1, currency: 'GEMS', reason: 'x' },
      { token: service, key: key() },
    );
    expect(debit.status).toBe(422);
    expect(debit.body.code).toBe('currency_mismatch');
  });

  it('when an admin reads a system account, then its balance is the sum of its shards and moves with every debit', async () => {
    // COINS: no other test file moves it, so the delta is exactly this test's own.
    const revenue = async () =>
      (await request(eu(), 'GET', '/v1/accounts/@revenue/wallets', undefined, { token: admin })).body.data.find(
        (w: any) => w.currency === 'COINS',
      )?.balance ?? 0;
    const before = await revenue();
    const id = await openAccount(eu(), 500, 'COINS');
    for (const base of [eu(), us(), eu()]) {
      expect(
        (
          await request(
            base,
            'POST',
            `/v1/accounts/${id}/debits`,
            { amount: 100, currency: 'COINS', reason: 'x' },
            { token: service, key: key() },
          )
        ).status,
      ).toBe(201);
    }
    expect((await revenue()) - before).toBe(300);
    const account = await request(us(), 'GET', '/v1/accounts/@revenue', undefined, { token: admin });
    expect(account.body).toMatchObject({ id: '@revenue', kind: 'system', home_region: 'eu-west' });
  });

  it('reconciliation is clean', async () => {
    const report = await request(eu(), 'POST', '/v1/admin/reconcile', undefined, { token: admin });
    expect(report.status).toBe(200);
    expect(report.body).toEqual({ ok: true, mismatches: [] });
  });
});

describe('system accounts', () => {
  it('when a service tries to credit or debit a system account directly, then 400 and nothing moves', async () => {
    for (const path of ['/v1/accounts/@revenue/credits', '/v1/accounts/@psp/debits']) {
      const response = await request(eu(), 'POST', path, { amount: 100, currency: 'EUR', reason: 'x' }, { token: service, key: key() });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_error');
    }
  });
});
