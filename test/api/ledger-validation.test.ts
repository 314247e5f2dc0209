import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request, startCluster, type ApiResponse } from '../support/cluster.js';
import { key, ledgerHarness, type LedgerHarness } from '../support/ledger.js';

let h: LedgerHarness;
/** Owner of a funded wallet; every test checks that it is untouched afterwards. */
let victim: string;
let victim_token: string;
/** A second player with their own wallet. */
let other: string;
let other_token: string;
let victim_history_length: number;

beforeAll(async () => {
  h = await ledgerHarness(await startCluster());
  victim = await h.openAccount(5_000, { home_region: 'us-east' });
  other = await h.openAccount(1_000, { home_region: 'ap-south' });
  victim_token = await h.mint.player(victim);
  other_token = await h.mint.player(other);
});
afterAll(() => h?.cluster.stop());

beforeEach(async () => {
  victim_history_length = (await h.history(victim)).length;
});

async function expectUnchanged() {
  expect(await h.wallet(victim)).toEqual({ currency: 'EUR', balance: 5_000, held: 0, available: 5_000 });
  expect(await h.wallet(other)).toEqual({ currency: 'EUR', balance: 1_000, held: 0, available: 1_000 });
  expect(await h.history(victim)).toHaveLength(victim_history_length);
}

function expectProblem(response: ApiResponse, status: number, code: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  expect(response.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  expect(JSON.stringify(response.body)).not.toMatch(/\bat .+\.ts:\d+/); // never a stack trace
}

const INVALID_AMOUNTS: Array<[string, unknown]> = [
  ['zero', 0],
  ['negative', -100],
  ['fractional', 1.5],
  ['a numeric string', '100'],
  ['above 10^12', 1e12 + 1],
  ['null', null],
  ['a boolean', true],
];

describe('invalid amounts are refused with 400 validation_error and move nothing', () => {
  for (const [label, amount] of INVALID_AMOUNTS) {
    it(`when a debit, a credit, a hold and a transfer carry an amount that is ${label}, then each is 400 validation_error`, async () => {
      const responses = await Promise.all([
        request(
          h.pod(0),
          'POST',
          `/v1/accounts/${victim}/debits`,
          { amount, currency: 'EUR', reason: 'x' },
          { token: h.service, key: key() },
        ),
        request(
          h.pod(1),
          'POST',
          `/v1/accounts/${victim}/credits`,
          { amount, currency: 'EUR', reason: 'x' },
          { token: h.service, key: key() },
        ),
        request(
          h.pod(2),
          'POST',
          '/v1/holds',
          { account_id: victim, amount, currency: 'EUR', expires_in_seconds: 60 },
          { token: h.service, key: key() },
        ),
        request(
          h.pod(0),
          'POST',
          '/v1/transfers',
          { from_account_id: victim, to_account_id: other, amount, currency: 'EUR' },
          { token: victim_token, key: key() },
        ),
      ]);
      for (const response of responses) {
        expectProblem(response, 400, 'validation_error');
        expect(response.body.detail).toContain('amount');
      }
      await expectUnchanged();
    });
  }

  it('when the amount is missing, then 400 validation_error', async () => {
    expectProblem(
      await request(h.pod(1), 'POST', `/v1/accounts/${victim}/debits`, { currency: 'EUR', reason: 'x' }, { token: h.service, key: key() }),
      400,
      'validation_error',
    );
    await expectUnchanged();
  });

  it('when the amount is exactly 10^12, then it passes validation and the debit is refused only for funds', async () => {
    const response = await request(
      h.pod(2),
      'POST',
      `/v1/accounts/${victim}/debits`,
      { amount: 1e12, currency: 'EUR', reason: 'x' },
      { token: h.service, key: key() },
    );
    expectProblem(response, 409, 'insufficient_funds');
    await expectUnchanged();
  });

  it('when a refund amount is invalid, then 400 validation_error and nothing is refunded', async () => {
    const debit = await request(
      h.pod(0),
      'POST',
      `/v1/accounts/${other}/debits`,
      { amount: 10, currency: 'EUR', reason: 'x' },
      { token: h.service, key: key() },
    );
    expect(debit.status).toBe(201);
    for (const [, amount] of INVALID_AMOUNTS) {
      expectProblem(
        await request(h.pod(1), 'POST', `/v1/transactions/${debit.body.id}/refunds`, { amount }, { token: h.service, key: key() }),
        400,
        'validation_error',
      );
    }
    expect((await h.wallet(other)).balance).toBe(990);
    expect(
      (await request(h.pod(1), 'POST', `/v1/transactions/${debit.body.id}/refunds`, {}, { token: h.service, key: key() })).status,
    ).toBe(201);
    await expectUnchanged();
  });
});

describe('other malformed requests', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['an unknown currency', { amount: 10, currency: 'XYZ', reason: 'x' }],
    ['a lower-case currency', { amount: 10, currency: 'eur', reason: 'x' }],
    ['no currency', { amount: 10, reason: 'x' }],
    ['no reason', { amount: 10, currency: 'EUR' }],
    ['an empty reason', { amount: 10, currency: 'EUR', reason: '' }],
    ['an unknown field', { amount: 10, currency: 'EUR', reason: 'x', price: 1 }],
  ];
  for (const [label, body] of cases) {
    it(`when a debit and a credit have ${label}, then 400 validation_error`, async () => {
      expectProblem(
        await request(h.pod(0), 'POST', `/v1/accounts/${victim}/debits`, body, { token: h.service, key: key() }),
        400,
        'validation_error',
      );
      expectProblem(
        await request(h.pod(1), 'POST', `/v1/accounts/${victim}/credits`, body, { token: h.service, key: key() }),
        400,
        'validation_error',
      );
      await expectUnchanged();
    });
  }

  it('when a body is not JSON or not an object, then 400 validation_error', async () => {
    expectProblem(
      await request(h.pod(2), 'POST', `/v1/accounts/${victim}/debits`, undefined, { token: h.service, key: key(), raw: '{"amount": 10,' }),
      400,
      'validation_error',
    );
    expectProblem(
      await request(h.pod(2), 'POST', `/v1/accounts/${victim}/debits`, undefined, { token: h.service, key: key(), raw: '[1,2]' }),
      400,
      'validation_error',
    );
    await expectUnchanged();
  });

  it('when a hold has a bad expiry or an unknown field, then 400 validation_error', async () => {
    for (const extra of [
      { expires_in_seconds: 0 },
      { expires_in_seconds: 1.5 },
      { expires_in_seconds: '60' },
      { expires_in_seconds: 8 * 24 * 3600 },
      { expires_in_seconds: 60, note: 'x' },
    ]) {
      expectProblem(
        await request(
          h.pod(0),
          'POST',
          '/v1/holds',
          { account_id: victim, amount: 10, currency: 'EUR', ...extra },
          { token: h.service, key: key() },
        ),
        400,
        'validation_error',
      );
    }
    await expectUnchanged();
  });

  it('when the account has no wallet in a supported currency, then 422 currency_mismatch', async () => {
    expectProblem(
      await request(
        h.pod(0),
        'POST',
        `/v1/accounts/${victim}/debits`,
        { amount: 10, currency: 'USD', reason: 'x' },
        { token: h.service, key: key() },
      ),
      422,
      'currency_mismatch',
    );
    expectProblem(
      await request(
        h.pod(1),
        'POST',
        '/v1/transfers',
        { from_account_id: victim, to_account_id: other, amount: 10, currency: 'GEMS' },
        { token: h.service, key: key() },
      ),
      422,
      'currency_mismatch',
    );
    await expectUnchanged();
  });

  it('when an Idempotency-Key is missing, then 400 idempotency_key_required', async () => {
    expectProblem(
      await request(h.pod(0), 'POST', `/v1/accounts/${victim}/debits`, { amount: 10, currency: 'EUR', reason: 'x' }, { token: h.service }),
      400,
      'idempotency_key_required',
    );
    await expectUnchanged();
  });

  it('when two Idempotency-Key headers are sent, then 400: they once read as one key, "a, b", that no retry names', async () => {
    const body = JSON.stringify({ amount: 10, currency: 'EUR', reason: 'x' });
    const url = new URL(h.pod(0));
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const sent = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: `/v1/accounts/${victim}/debits`,
          // Raw headers: the same name twice, as a careless client or proxy sends it.
          headers: [
            'Host',
            url.host,
            'Authorization',
            `Bearer ${h.service}`,
            'Content-Type',
            'application/json',
            'Idempotency-Key',
            key(),
            'Idempotency-Key',
            key(),
          ],
        },
        (response) => {
          let text = '';
          response.on('data', (chunk) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode!, text }));
        },
      );
      sent.once('error', reject);
      sent.end(body);
    });
    expect(answer.status, answer.text).toBe(400);
    expect(JSON.parse(answer.text).detail).toContain('one Idempotency-Key');
    await expectUnchanged();
  });

  it('when one key is reused with a different body, then 422 idempotency_key_reused and only the first request counts', async () => {
    const k = key();
    expect(
      (
        await request(
          h.pod(0),
          'POST',
          `/v1/accounts/${other}/credits`,
          { amount: 5, currency: 'EUR', reason: 'x' },
          { token: h.service, key: k },
        )
      ).status,
    ).toBe(201);
    expectProblem(
      await request(
        h.pod(1),
        'POST',
        `/v1/accounts/${other}/credits`,
        { amount: 6, currency: 'EUR', reason: 'x' },
        { token: h.service, key: k },
      ),
      422,
      'idempotency_key_reused',
    );
    expect((await h.wallet(other)).balance).toBe(1_005);
    expect(
      (
        await request(
          h.pod(2),
          'POST',
          `/v1/accounts/${other}/debits`,
          { amount: 5, currency: 'EUR', reason: 'undo' },
          { token: h.service, key: key() },
        )
      ).status,
    ).toBe(201);
    await expectUnchanged();
  });

  it('when a transfer goes to the same account or to an unknown account, then 400 validation_error or 404 not_found', async () => {
    expectProblem(
      await request(
        h.pod(0),
        'POST',
        '/v1/transfers',
        { from_account_id: victim, to_account_id: victim, amount: 10, currency: 'EUR' },
        { token: victim_token, key: key() },
      ),
      400,
      'validation_error',
    );
    expectProblem(
      await request(
        h.pod(1),
        'POST',
        '/v1/transfers',
        { from_account_id: victim, to_account_id: 'nobody-here', amount: 10, currency: 'EUR' },
        { token: victim_token, key: key() },
      ),
      404,
      'not_found',
    );
    await expectUnchanged();
  });

  it('when a credit transaction or an unknown one is refunded, then 409 invalid_state or 404 not_found', async () => {
    const seed = (await h.history(victim)).at(-1)!;
    expect(seed.type).toBe('credit');
    expectProblem(
      await request(h.pod(0), 'POST', `/v1/transactions/${seed.transaction_id}/refunds`, { amount: 1 }, { token: h.service, key: key() }),
      409,
      'invalid_state',
    );
    expectProblem(
      await request(
        h.pod(0),
        'POST',
        '/v1/transactions/6f1f2a56-3c3e-4b9e-9a39-4f4f1b0b7d11/refunds',
        {},
        { token: h.service, key: key() },
      ),
      404,
      'not_found',
    );
    expectProblem(
      await request(h.pod(0), 'POST', '/v1/transactions/not-a-uuid/refunds', {}, { token: h.service, key: key() }),
      400,
      'validation_error',
    );
    await expectUnchanged();
  });
});

describe('isolation between players and services', () => {
  it("when a player debits, credits, transfers from or reads another player's wallet, then 404 not_found and nothing moves", async () => {
    const attempts = await Promise.all([
      request(
        h.pod(0),
        'POST',
        `/v1/accounts/${victim}/debits`,
        { amount: 10, currency: 'EUR', reason: 'steal' },
        { token: other_token, key: key() },
      ),
      request(
        h.pod(1),
        'POST',
        '/v1/transfers',
        { from_account_id: victim, to_account_id: other, amount: 10, currency: 'EUR' },
        { token: other_token, key: key() },
      ),
      request(h.pod(2), 'GET', `/v1/accounts/${victim}/wallets`, undefined, { token: other_token }),
      request(h.pod(0), 'GET', `/v1/accounts/${victim}/transactions`, undefined, { token: other_token }),
    ]);
    for (const response of attempts) expectProblem(response, 404, 'not_found');
    // Credits need credits:write, which a player never has.
    expectProblem(
      await request(
        h.pod(1),
        'POST',
        `/v1/accounts/${other}/credits`,
        { amount: 10, currency: 'EUR', reason: 'gift' },
        { token: other_token, key: key() },
      ),
      403,
      'forbidden',
    );
    await expectUnchanged();
  });

  it('when a player refunds a debit or creates a hold, then 403 forbidden', async () => {
    const seed = (await h.history(victim)).at(-1)!;
    expectProblem(
      await request(h.pod(0), 'POST', `/v1/transactions/${seed.transaction_id}/refunds`, {}, { token: victim_token, key: key() }),
      403,
      'forbidden',
    );
    expectProblem(
      await request(
        h.pod(0),
        'POST',
        '/v1/holds',
        { account_id: victim, amount: 10, currency: 'EUR', expires_in_seconds: 60 },
        { token: victim_token, key: key() },
      ),
      403,
      'forbidden',
    );
    await expectUnchanged();
  });

  it('when a service lacks credits:write, then 403 forbidden; without a token, 401 unauthenticated', async () => {
    const catalog = await h.mint.service('catalog:write', 'catalog-tool');
    expectProblem(
      await request(
        h.pod(0),
        'POST',
        `/v1/accounts/${victim}/debits`,
        { amount: 10, currency: 'EUR', reason: 'x' },
        { token: catalog, key: key() },
      ),
      403,
      'forbidden',
    );
    expectProblem(
      await request(h.pod(0), 'POST', `/v1/accounts/${victim}/debits`, { amount: 10, currency: 'EUR', reason: 'x' }, { key: key() }),
      401,
      'unauthenticated',
    );
    expectProblem(await request(h.pod(0), 'POST', '/v1/admin/reconcile', undefined, { token: h.service }), 403, 'forbidden');
    await expectUnchanged();
  });

  it('when a player spends from their own wallet, then it works (the control case)', async () => {
    const debit = await request(
      h.pod(2),
      'POST',
      `/v1/accounts/${other}/debits`,
      { amount: 1, currency: 'EUR', reason: 'gum' },
      { token: other_token, key: key() },
    );
    expect(debit.status).toBe(201);
    expect(
      (
        await request(
          h.pod(1),
          'POST',
          `/v1/accounts/${other}/credits`,
          { amount: 1, currency: 'EUR', reason: 'refill' },
          { token: h.service, key: key() },
        )
      ).status,
    ).toBe(201);
    await expectUnchanged();
    await h.expectReconcileClean();
  });
});
