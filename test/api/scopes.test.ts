import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';
import { expectProblem } from '../support/shop.js';

// Issue 8, items 12 and 13: who a token names, what each scope reads, and what a transfer may
// reveal about its recipient. The wallet maximum is small here so a wallet can be brought near it.
const BALANCE_MAX_MINOR = 100_000;

let cluster: TestCluster;
let mint: ReturnType<typeof tokens>;
let game_server: string;
let admin: string;

beforeAll(async () => {
  cluster = await startCluster({ env: { BALANCE_MAX_MINOR: String(BALANCE_MAX_MINOR) } });
  mint = tokens(cluster.config);
  game_server = await mint.service('accounts:write credits:write', 'game-server');
  admin = await mint.service('admin', 'ops');
});
afterAll(() => cluster.stop());

const eu = () => cluster.pod('eu-west').url;
const ap = () => cluster.pod('ap-south').url;
const key = () => uniqueId('k');

const credit = (account_id: string, amount: number, currency: string) =>
  request(eu(), 'POST', `/v1/accounts/${account_id}/credits`, { amount, currency, reason: 'credit' }, { token: game_server, key: key() });

/** A player sends money, through the pod of another region than the one the accounts were made in. */
const transfer = (from: { id: string; token: string }, to_account_id: string, amount: number, currency = 'EUR') =>
  request(ap(), 'POST', '/v1/transfers', { from_account_id: from.id, to_account_id, amount, currency }, { token: from.token, key: key() });

async function player(balances: Record<string, number> = {}) {
  const id = uniqueId('p');
  expect((await request(eu(), 'POST', '/v1/accounts', { id }, { token: game_server, key: key() })).status).toBe(201);
  for (const [currency, amount] of Object.entries(balances)) expect((await credit(id, amount, currency)).status).toBe(201);
  return { id, token: await mint.player(id) };
}

async function wallets(account_id: string) {
  const response = await request(eu(), 'GET', `/v1/accounts/${account_id}/wallets`, undefined, { token: game_server });
  expect(response.status).toBe(200);
  return response.body.data as Array<{ currency: string; balance: number }>;
}

async function expectReconcileClean() {
  expect((await request(eu(), 'POST', '/v1/admin/reconcile', undefined, { token: admin })).body).toEqual({ ok: true, mismatches: [] });
}

/** A token signed with the right secret whose claims are whatever the test says (sub of any JSON type). */
function signed(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(cluster.config.auth_jwt_secret));
}

describe('item 12: JWT subjects', () => {
  it('when sub is not a string (array, number, object), then 401 and no account is created', async () => {
    for (const sub of [['x'], ['attacker', 'victim'], 12345, { id: 'x' }, true]) {
      const token = await signed({ sub });
      expectProblem(await request(eu(), 'POST', '/v1/accounts', {}, { token, key: key() }), 401, 'unauthenticated');
      expectProblem(await request(eu(), 'GET', '/v1/accounts/12345', undefined, { token }), 401, 'unauthenticated');
    }
    // A service token's subject must be a string as well.
    expectProblem(
      await request(eu(), 'GET', '/v1/accounts/x', undefined, { token: await signed({ sub: ['ops'], scope: 'admin' }) }),
      401,
      'unauthenticated',
    );
    for (const id of ['x', '12345'])
      expectProblem(await request(eu(), 'GET', `/v1/accounts/${id}`, undefined, { token: admin }), 404, 'not_found');
  });

  it('when a player token names a system account or anything but an account id, then 401 and it reads nothing', async () => {
    for (const sub of ['@revenue', '@bonus', 'a.b', 'ops:root', 'x'.repeat(65)]) {
      const token = await mint.player(sub);
      for (const path of [`/v1/accounts/${sub}`, `/v1/accounts/${sub}/wallets`, `/v1/accounts/${sub}/transactions`]) {
        expectProblem(await request(eu(), 'GET', path, undefined, { token }), 401, 'unauthenticated');
      }
    }
    // Services still read system accounts when their scope reads money.
    expect((await request(eu(), 'GET', '/v1/accounts/@revenue/wallets', undefined, { token: admin })).status).toBe(200);
    const { id, token } = await player();
    expect((await request(eu(), 'GET', `/v1/accounts/${id}`, undefined, { token })).status).toBe(200);
  });
});

describe('item 13: scopes grant what they say (the table in src/auth/access.ts)', () => {
  it('accounts:write reads accounts, not money; credits:, refunds:write and admin read money; catalog:write neither', async () => {
    const owner = await player({ EUR: 10_000 });
    const peer = await player();
    const credit = await request(eu(), 'GET', `/v1/accounts/${owner.id}/transactions`, undefined, { token: owner.token });
    const transaction_id = credit.body.data[0].transaction_id;
    const sent = await transfer(owner, peer.id, 1);
    const hold = await request(
      eu(),
      'POST',
      '/v1/holds',
      { account_id: owner.id, amount: 10, currency: 'EUR', expires_in_seconds: 600 },
      { token: game_server, key: key() },
    );
    const topup = await request(
      eu(),
      'POST',
      '/v1/topups',
      { account_id: owner.id, amount: 500, currency: 'EUR' },
      { token: owner.token, key: key() },
    );
    const item = uniqueId('item');
    const back_office = await mint.service('catalog:write', 'back-office');
    const put = { name: 'Helm', kind: 'skin', price: 5, currency: 'EUR', active: true, refundable: true };
    expect((await request(eu(), 'PUT', `/v1/items/${item}`, put, { token: back_office })).status).toBe(201);
    const order = await request(
      eu(),
      'POST',
      '/v1/orders',
      { account_id: owner.id, lines: [{ item_id: item, quantity: 1 }] },
      { token: owner.token, key: key() },
    );
    for (const created of [sent, hold, topup, order]) expect(created.status, JSON.stringify(created.body)).toBe(201);

    const account_reads = [`/v1/accounts/${owner.id}`, `/v1/accounts/${owner.id}/wallets`];
    const money_reads = [
      `/v1/accounts/${owner.id}/transactions`,
      `/v1/accounts/${owner.id}/orders`,
      `/v1/accounts/${owner.id}/entitlements`,
      `/v1/transactions/${transaction_id}`,
      `/v1/transfers/${sent.body.id}`,
      `/v1/holds/${hold.body.id}`,
      `/v1/orders/${order.body.id}`,
      `/v1/topups/${topup.body.id}`,
      '/v1/accounts/@revenue/wallets',
    ];
    const scopes = {
      'accounts:write': { account: 200, money: 403 },
      'credits:write': { account: 200, money: 200 },
      'refunds:write': { account: 200, money: 200 },
      admin: { account: 200, money: 200 },
      'catalog:write': { account: 403, money: 403 },
    };
    for (const [scope, expected] of Object.entries(scopes)) {
      const token = await mint.service(scope, `reader-${scope}`);
      for (const [reads, status] of [
        [account_reads, expected.account],
        [money_reads, expected.money],
      ] as const) {
        for (const path of reads) {
          const response = await request(ap(), 'GET', path, undefined, { token });
          expect(response.status, `${scope} GET ${path}: ${JSON.stringify(response.body)}`).toBe(status);
          if (status === 403) expect(response.body.code).toBe('forbidden');
        }
      }
    }
    // The scope is checked before anything is looked up: a 403 says nothing of whether the object exists.
    const accounts_only = await mint.service('accounts:write', 'crm');
    const nothing = '00000000-0000-4000-8000-000000000000';
    for (const path of [
      `/v1/transactions/${nothing}`,
      `/v1/orders/${nothing}`,
      `/v1/purchase-requests/${nothing}`,
      `/v1/topups/${nothing}`,
    ]) {
      expectProblem(await request(eu(), 'GET', path, undefined, { token: accounts_only }), 403, 'forbidden');
      expectProblem(await request(eu(), 'GET', path, undefined, { token: game_server }), 404, 'not_found');
    }
    // A player reads their own money and nobody else's (404, ids cannot be probed).
    expect((await request(eu(), 'GET', `/v1/orders/${order.body.id}`, undefined, { token: owner.token })).status).toBe(200);
    expectProblem(await request(eu(), 'GET', `/v1/orders/${order.body.id}`, undefined, { token: peer.token }), 404, 'not_found');
    expectProblem(await request(eu(), 'GET', `/v1/accounts/${owner.id}/transactions`, undefined, { token: peer.token }), 404, 'not_found');
  });
});

describe('item 13: a transfer never opens a wallet, and says nothing about the recipient', () => {
  it('when the recipient has no wallet in the currency, then 422 currency_mismatch; a service credit opens one', async () => {
    const sender = await player({ EUR: 1_000, GEMS: 1_000 });
    const recipient = await player();
    const refused = await transfer(sender, recipient.id, 100, 'GEMS');
    expectProblem(refused, 422, 'currency_mismatch');
    expect(refused.body.detail).toBe('the recipient cannot receive GEMS');
    expect(await wallets(recipient.id)).toEqual([{ currency: 'EUR', balance: 0, held: 0, available: 0 }]);
    expect((await wallets(sender.id)).find((wallet) => wallet.currency === 'GEMS')?.balance).toBe(1_000);
    // Services with credits:write keep opening wallets by crediting; then the transfer goes through.
    expect((await credit(recipient.id, 1, 'GEMS')).status).toBe(201);
    expect((await transfer(sender, recipient.id, 100, 'GEMS')).status).toBe(201);
    expect((await wallets(recipient.id)).find((wallet) => wallet.currency === 'GEMS')?.balance).toBe(101);
    // An unknown recipient is still 404.
    expectProblem(await transfer(sender, uniqueId('ghost'), 1), 404, 'not_found');
    await expectReconcileClean();
  });

  it("when a transfer would take the recipient's wallet over its cap, then 409 invalid_state without its id, balance or cap", async () => {
    const sender = await player({ EUR: 1_000 });
    const recipient = await player({ EUR: BALANCE_MAX_MINOR - 50 });
    const refused = await transfer(sender, recipient.id, 51);
    expectProblem(refused, 409, 'invalid_state');
    expect(refused.body.detail).toBe('the recipient cannot receive this amount');
    const leaked = JSON.stringify(refused.body);
    for (const secret of [recipient.id, String(BALANCE_MAX_MINOR), String(BALANCE_MAX_MINOR - 50), 'wallet'])
      expect(leaked).not.toContain(secret);
    expect((await wallets(sender.id))[0]!.balance).toBe(1_000);
    expect((await transfer(sender, recipient.id, 50)).status).toBe(201);
    expect((await wallets(recipient.id))[0]!.balance).toBe(BALANCE_MAX_MINOR);
    // The ledger's own guard (a service credit over the cap) says no more than that either.
    const over = await credit(recipient.id, 1, 'EUR');
    expectProblem(over, 409, 'invalid_state');
    expect(JSON.stringify(over.body)).not.toContain(String(BALANCE_MAX_MINOR));
    expect((await wallets(recipient.id))[0]!.balance).toBe(BALANCE_MAX_MINOR);
    await expectReconcileClean();
  });
});
