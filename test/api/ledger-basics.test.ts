import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreditshopClient, Currency } from '../../src/client/creditshop-client.js';
import { client } from '../support/client.js';
import { startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';

// Through the typed client (src/client), which also checks every answer against /openapi.json.

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

const eu = (token = service) => client(cluster.pod('eu-west').url, token);
const us = (token = service) => client(cluster.pod('us-east').url, token);
const key = () => uniqueId('k');

async function openAccount(api: CreditshopClient, balance: number, currency: Currency = 'EUR') {
  const id = uniqueId('p');
  const created = await api.POST('/v1/accounts', { body: { id, currency } });
  expect(created.response.status).toBe(201);
  if (balance > 0) {
    const credit = await api.POST('/v1/accounts/{id}/credits', {
      params: { path: { id } },
      body: { amount: balance, currency, reason: 'seed' },
    });
    expect(credit.response.status).toBe(201);
  }
  return id;
}

const debit = (api: CreditshopClient, id: string, amount: number, currency: Currency = 'EUR', idempotency_key = key()) =>
  api.POST('/v1/accounts/{id}/debits', {
    params: { path: { id }, header: { 'Idempotency-Key': idempotency_key } },
    body: { amount, currency, reason: 'x' },
  });

describe('credits and debits', () => {
  it('when a service credits and a player debits, then balances, entries and history agree', async () => {
    const id = await openAccount(eu(), 1000);
    const player = await mint.player(id);
    const { data, response } = await us(player).POST('/v1/accounts/{id}/debits', {
      params: { path: { id } },
      body: { amount: 300, currency: 'EUR', reason: 'sword', reference: 'item-7' },
    });
    expect(response.status).toBe(201);
    expect(data).toMatchObject({
      type: 'debit',
      account_id: id,
      amount: 300,
      currency: 'EUR',
      balance_after: 700,
      reason: 'sword',
      reference: 'item-7',
    });
    expect(data!.entries).toEqual(
      expect.arrayContaining([
        { account_id: id, currency: 'EUR', amount: -300, balance_after: 700 },
        { account_id: '@revenue', currency: 'EUR', amount: 300 },
      ]),
    );
    const wallets = await eu(player).GET('/v1/accounts/{id}/wallets', { params: { path: { id } } });
    expect(wallets.data!.data).toEqual([{ currency: 'EUR', balance: 700, held: 0, available: 700 }]);
    const history = await eu(player).GET('/v1/accounts/{id}/transactions', { params: { path: { id } } });
    expect(history.response.status).toBe(200);
    expect(history.data!.data.map((item) => [item.type, item.amount, item.balance_after])).toEqual([
      ['debit', -300, 700],
      ['credit', 1000, 1000],
    ]);
    expect(history.data!.next_cursor).toBeNull();
  });

  it('when a debit exceeds the balance, then 409 insufficient_funds and nothing moves; replaying the key gives the same 409', async () => {
    const id = await openAccount(eu(), 100);
    const k = key();
    const first = await debit(eu(), id, 101, 'EUR', k);
    expect(first.response.status).toBe(409);
    expect(first.error).toMatchObject({ code: 'insufficient_funds', status: 409, available: 100 });
    const again = await debit(us(), id, 101, 'EUR', k);
    expect(again.response.status).toBe(409);
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    const wallets = await eu().GET('/v1/accounts/{id}/wallets', { params: { path: { id } } });
    expect(wallets.data!.data[0]).toMatchObject({ balance: 100, available: 100 });
  });

  it('when the wallet currency does not exist, then 422 currency_mismatch', async () => {
    const id = await openAccount(eu(), 100);
    const { error, response } = await debit(eu(), id, 1, 'GEMS');
    expect(response.status).toBe(422);
    expect(error?.code).toBe('currency_mismatch');
  });

  it('when an admin reads a system account, then its balance is the sum of its shards and moves with every debit', async () => {
    // COINS: no other test file moves it, so the delta is exactly this test's own.
    const revenue = async () => {
      const { data } = await eu(admin).GET('/v1/accounts/{id}/wallets', { params: { path: { id: '@revenue' } } });
      return data!.data.find((wallet) => wallet.currency === 'COINS')?.balance ?? 0;
    };
    const before = await revenue();
    const id = await openAccount(eu(), 500, 'COINS');
    for (const api of [eu(), us(), eu()]) expect((await debit(api, id, 100, 'COINS')).response.status).toBe(201);
    expect((await revenue()) - before).toBe(300);
    const account = await us(admin).GET('/v1/accounts/{id}', { params: { path: { id: '@revenue' } } });
    expect(account.data).toMatchObject({ id: '@revenue', kind: 'system', home_region: 'eu-west' });
  });

  it('reconciliation is clean', async () => {
    const report = await eu(admin).POST('/v1/admin/reconcile');
    expect(report.response.status).toBe(200);
    expect(report.data).toEqual({ ok: true, mismatches: [] });
  });
});

describe('system accounts', () => {
  it('when a service tries to credit or debit a system account directly, then 400 and nothing moves', async () => {
    const body = { amount: 100, currency: 'EUR' as const, reason: 'x' };
    const credit = await eu().POST('/v1/accounts/{id}/credits', { params: { path: { id: '@revenue' } }, body });
    const debited = await eu().POST('/v1/accounts/{id}/debits', { params: { path: { id: '@psp' } }, body });
    for (const { response, error } of [credit, debited]) {
      expect(response.status).toBe(400);
      expect(error?.code).toBe('validation_error');
    }
  });
});
