import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreditshopClient } from '../../src/client/creditshop-client.js';
import { client, wireText } from '../support/client.js';
import { request, startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';
import { key, type ShopHarness, startShopCluster } from '../support/shop.js';

// A retried request gets the stored answer back byte for byte (SPEC §4): through any region, after
// the account has moved on, and when the retries race the first attempt. Through the typed client,
// with the key chosen here, and every answer checked against /openapi.json.

let cluster: TestCluster;
let h: ShopHarness;

beforeAll(async () => {
  ({ cluster, h } = await startShopCluster());
});
afterAll(() => cluster?.stop());

/** One write, sent through a pod's client with a given Idempotency-Key. */
type Write = (api: CreditshopClient, header: { 'Idempotency-Key': string }) => Promise<{ response: Response }>;

function expectSameBytes(first: Response, replay: Response): void {
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(replay.status).toBe(first.status);
  expect(replay.headers.get('content-type')).toBe(first.headers.get('content-type'));
  expect(wireText(replay)).toBe(wireText(first));
}

describe('replays', () => {
  it('when each kind of write is retried through every region after the account moved on, then the first bytes come back', async () => {
    const a = await h.player(10_000);
    const b = await h.player(0);
    const skin = await h.putItem({ name: 'Replay skin', kind: 'skin', price: 250 });
    const api = (pod: number, token = h.service) => client(h.pod(pod), token);
    const hold = await api(0).POST('/v1/holds', {
      body: { account_id: a.id, amount: 400, currency: 'EUR', expires_in_seconds: 600, reference: 'replay' },
    });
    expect(hold.response.status).toBe(201);
    const as_player = (pod: number) => api(pod, a.token);
    const opened = uniqueId('p');

    const writes: Array<{ name: string; write: Write; status: number; player?: true }> = [
      {
        name: 'open an account',
        write: (c, header) => c.POST('/v1/accounts', { params: { header }, body: { id: opened, currency: 'EUR' } }),
        status: 201,
      },
      {
        name: 'credit',
        write: (c, header) =>
          c.POST('/v1/accounts/{id}/credits', {
            params: { path: { id: a.id }, header },
            body: { amount: 700, currency: 'EUR', reason: 'bonus' },
          }),
        status: 201,
      },
      {
        name: 'debit',
        write: (c, header) =>
          c.POST('/v1/accounts/{id}/debits', {
            params: { path: { id: a.id }, header },
            body: { amount: 300, currency: 'EUR', reason: 'sword' },
          }),
        status: 201,
        player: true,
      },
      {
        name: 'debit refused for funds',
        write: (c, header) =>
          c.POST('/v1/accounts/{id}/debits', {
            params: { path: { id: a.id }, header },
            body: { amount: 1_000_000, currency: 'EUR', reason: 'castle' },
          }),
        status: 409,
        player: true,
      },
      {
        name: 'transfer',
        write: (c, header) =>
          c.POST('/v1/transfers', {
            params: { header },
            body: { from_account_id: a.id, to_account_id: b.id, amount: 50, currency: 'EUR' },
          }),
        status: 201,
        player: true,
      },
      {
        name: 'capture',
        write: (c, header) => c.POST('/v1/holds/{id}/capture', { params: { path: { id: hold.data!.id }, header }, body: { amount: 150 } }),
        status: 200,
      },
      {
        name: 'order',
        write: (c, header) =>
          c.POST('/v1/orders', { params: { header }, body: { account_id: a.id, lines: [{ item_id: skin, quantity: 2 }] } }),
        status: 201,
        player: true,
      },
    ];
    for (const { name, write, status, player } of writes) {
      const header = { 'Idempotency-Key': key() };
      const send = async (pod: number) => (await write(player ? as_player(pod) : api(pod), header)).response;
      const first = await send(0);
      expect(first.status, `${name}: ${wireText(first)}`).toBe(status);
      // The account moves on, so an answer rendered again would differ (balances, versions).
      const moved = await api(1).POST('/v1/accounts/{id}/credits', {
        params: { path: { id: a.id } },
        body: { amount: 1, currency: 'EUR', reason: 'moves on' },
      });
      expect(moved.response.status).toBe(201);
      for (const pod of [1, 2, 0]) expectSameBytes(first, await send(pod));
    }
  });

  it('when twelve copies of one debit race through three regions, then one is applied and every answer has the same bytes', async () => {
    const a = await h.player(1_000);
    const header = { 'Idempotency-Key': key() };
    const answers = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const { response } = await client(h.pod(i), a.token).POST('/v1/accounts/{id}/debits', {
          params: { path: { id: a.id }, header },
          body: { amount: 10, currency: 'EUR', reason: 'race' },
        });
        return response;
      }),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(12).fill(201));
    const applied = answers.filter((answer) => answer.headers.get('idempotent-replayed') === null);
    // Copies that wait for the first attempt get its answer, so more than one may be unmarked; all carry one body.
    expect(applied.length).toBeGreaterThanOrEqual(1);
    expect(new Set(answers.map(wireText)).size).toBe(1);
    expect((await h.wallet(a.id)).balance).toBe(990);
  });

  it('when a key is reused for a request its route refuses before running it, then 422 idempotency_key_reused all the same', async () => {
    const a = await h.player(1_000);
    const b = await h.player(1_000);
    const used = key();
    const debit = (account_id: string, body: unknown) =>
      request(h.pod(0), 'POST', `/v1/accounts/${account_id}/debits`, body, { token: a.token, key: used });
    const first = await debit(a.id, { amount: 2, currency: 'EUR', reason: 'a' });
    expect(first.status).toBe(201);
    // Each was answered by its own refusal (400, 404, 400), as if the key were free: it is not.
    const reused = [
      await debit(a.id, { amount: -5, currency: 'EUR', reason: 'a' }),
      await debit(b.id, { amount: 2, currency: 'EUR', reason: 'a' }),
      await request(
        h.pod(1),
        'POST',
        '/v1/transfers',
        { from_account_id: a.id, to_account_id: a.id, amount: 1, currency: 'EUR' },
        {
          token: a.token,
          key: used,
        },
      ),
    ];
    for (const answer of reused) expect(answer.body).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    // The request itself, retried, still gets its first answer; a refused one under a fresh key its own refusal.
    const retried = await debit(a.id, { amount: 2, currency: 'EUR', reason: 'a' });
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(retried.text).toBe(first.text);
    const fresh = await request(
      h.pod(2),
      'POST',
      `/v1/accounts/${b.id}/debits`,
      { amount: 2, currency: 'EUR', reason: 'a' },
      {
        token: a.token,
        key: key(),
      },
    );
    expect(fresh.status).toBe(404);
    expect((await h.wallet(a.id)).balance).toBe(998);
    expect((await h.wallet(b.id)).balance).toBe(1_000);
  });
  it('when a retry showing a secret is refused by a stricter pod, then its stored answer comes back, secret included', async () => {
    const mint = tokens(cluster.config);
    const sub = uniqueId('ops');
    const admin = await mint.service('admin', sub);
    // Subscribed to an event no test here makes, and deleted at the end: nothing is ever sent to it.
    const body = { url: 'http://127.0.0.1:9/hook', enabled_events: ['webhook_endpoint.disabled'], description: 'replayed' };
    const used = key();
    const first = await request(h.pod(0), 'POST', '/v1/webhook-endpoints', body, { token: admin, key: used });
    expect(first.status).toBe(201);
    expect(first.body.secret).toMatch(/^whsec_/);
    // A pod of a newer deployment whose rules refuse the same body (a shorter description): the key's answer, as first sent.
    const stricter = await startCluster({ env: { WEBHOOK_DESCRIPTION_LENGTH_MAX: '1' } });
    try {
      const retried = await request(stricter.pods[0]!.url, 'POST', '/v1/webhook-endpoints', body, { token: admin, key: used });
      expect(retried.headers.get('idempotent-replayed')).toBe('true');
      expect(retried.text).toBe(first.text);
    } finally {
      await stricter.stop();
    }
    // The same principal with a token that lacks the scope is refused, and learns nothing of what the key holds.
    const reader = await mint.service('events:read', sub);
    const refused = await request(h.pod(1), 'POST', '/v1/webhook-endpoints', body, { token: reader, key: used });
    expect(refused.status).toBe(403);
    expect(refused.text).not.toContain(first.body.secret);
    expect((await request(h.pod(0), 'DELETE', `/v1/webhook-endpoints/${first.body.id}`, undefined, { token: admin })).status).toBe(200);
  });
});
