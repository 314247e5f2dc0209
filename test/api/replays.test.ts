import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startCluster, uniqueId, type ApiResponse, type TestCluster } from '../support/cluster.js';
import { key, shopHarness, type ShopHarness } from '../support/shop.js';

// A retried request gets the stored answer back byte for byte (SPEC §4): through any region, after
// the account has moved on, and when the retries race the first attempt.

let cluster: TestCluster;
let h: ShopHarness;

beforeAll(async () => {
  cluster = await startCluster();
  h = await shopHarness(
    cluster.pods.map((pod) => pod.url),
    cluster.config,
  );
});
afterAll(() => cluster?.stop());

interface Call {
  path: string;
  body: Record<string, unknown>;
  token: string;
}

function expectSameBytes(first: ApiResponse, replay: ApiResponse): void {
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(replay.status).toBe(first.status);
  expect(replay.headers.get('content-type')).toBe(first.headers.get('content-type'));
  expect(replay.text).toBe(first.text);
}

describe('replays', () => {
  it('when each kind of write is retried through every region after the account moved on, then the first bytes come back', async () => {
    const a = await h.player(10_000);
    const b = await h.player(0);
    const skin = await h.putItem({ name: 'Replay skin', kind: 'skin', price: 250 });
    const hold = await request(
      h.pod(0),
      'POST',
      '/v1/holds',
      { account_id: a.id, amount: 400, currency: 'EUR', expires_in_seconds: 600, reference: 'replay' },
      { token: h.service, key: key() },
    );
    expect(hold.status).toBe(201);

    const calls: Array<{ name: string; call: Call; status: number }> = [
      {
        name: 'open an account',
        call: { path: '/v1/accounts', body: { id: uniqueId('p'), currency: 'EUR' }, token: h.service },
        status: 201,
      },
      {
        name: 'credit',
        call: { path: `/v1/accounts/${a.id}/credits`, body: { amount: 700, currency: 'EUR', reason: 'bonus' }, token: h.service },
        status: 201,
      },
      {
        name: 'debit',
        call: { path: `/v1/accounts/${a.id}/debits`, body: { amount: 300, currency: 'EUR', reason: 'sword' }, token: a.token },
        status: 201,
      },
      {
        name: 'debit refused for funds',
        call: { path: `/v1/accounts/${a.id}/debits`, body: { amount: 1_000_000, currency: 'EUR', reason: 'castle' }, token: a.token },
        status: 409,
      },
      {
        name: 'transfer',
        call: { path: '/v1/transfers', body: { from_account_id: a.id, to_account_id: b.id, amount: 50, currency: 'EUR' }, token: a.token },
        status: 201,
      },
      { name: 'capture', call: { path: `/v1/holds/${hold.body.id}/capture`, body: { amount: 150 }, token: h.service }, status: 200 },
      {
        name: 'order',
        call: { path: '/v1/orders', body: { account_id: a.id, lines: [{ item_id: skin, quantity: 2 }] }, token: a.token },
        status: 201,
      },
    ];
    for (const { name, call, status } of calls) {
      const idempotency_key = key();
      const send = (pod: number) => request(h.pod(pod), 'POST', call.path, call.body, { token: call.token, key: idempotency_key });
      const first = await send(0);
      expect(first.status, `${name}: ${first.text}`).toBe(status);
      // The account moves on, so an answer rendered again would differ (balances, versions).
      const moved = await request(
        h.pod(1),
        'POST',
        `/v1/accounts/${a.id}/credits`,
        { amount: 1, currency: 'EUR', reason: 'moves on' },
        { token: h.service, key: key() },
      );
      expect(moved.status).toBe(201);
      for (const pod of [1, 2, 0]) expectSameBytes(first, await send(pod));
    }
  });

  it('when twelve copies of one debit race through three regions, then one is applied and every answer has the same bytes', async () => {
    const a = await h.player(1_000);
    const idempotency_key = key();
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        request(
          h.pod(i),
          'POST',
          `/v1/accounts/${a.id}/debits`,
          { amount: 10, currency: 'EUR', reason: 'race' },
          { token: a.token, key: idempotency_key },
        ),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(12).fill(201));
    const applied = answers.filter((answer) => answer.headers.get('idempotent-replayed') === null);
    // Copies that wait for the first attempt get its answer, so more than one may be unmarked; all carry one body.
    expect(applied.length).toBeGreaterThanOrEqual(1);
    expect(new Set(answers.map((answer) => answer.text)).size).toBe(1);
    expect((await h.wallet(a.id)).balance).toBe(990);
  });
});
