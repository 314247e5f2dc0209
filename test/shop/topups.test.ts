import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureHeader } from '../../src/shop/topups/psp-signature.js';
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

const pods = () => cluster.pods.map((pod) => pod.url);
const eu = () => cluster.pod('eu-west').url;
const key = () => uniqueId('k');
const now_s = () => Math.floor(Date.now() / 1000);

function deliver(base: string, event: unknown, options: { secret?: string; timestamp_s?: number; body?: string } = {}) {
  const body = options.body ?? JSON.stringify(event);
  const signed = JSON.stringify(event);
  const header = signatureHeader(
    options.secret ?? cluster.config.psp_webhook_secret,
    options.timestamp_s ?? now_s(),
    options.body === undefined ? body : signed,
  );
  return request(base, 'POST', '/v1/psp/events', undefined, { raw: body, headers: { 'Psp-Signature': header } });
}

async function pendingTopup(amount: number) {
  const account_id = uniqueId('p');
  expect((await request(eu(), 'POST', '/v1/accounts', { id: account_id, currency: 'EUR' }, { token: service, key: key() })).status).toBe(
    201,
  );
  const player = await mint.player(account_id);
  const topup = await request(eu(), 'POST', '/v1/topups', { account_id, amount, currency: 'EUR' }, { token: player, key: key() });
  expect(topup.status).toBe(201);
  expect(topup.body).toMatchObject({ status: 'PENDING', amount, currency: 'EUR', payment: { reference: topup.body.id } });
  return { account_id, player, topup_id: topup.body.id as string };
}

async function wallet(account_id: string) {
  const wallets = await request(eu(), 'GET', `/v1/accounts/${account_id}/wallets`, undefined, { token: service });
  return wallets.body.data[0];
}

const event = (type: string, topup_id: string, amount: number, currency = 'EUR') => ({
  id: uniqueId('evt'),
  type,
  data: { topup_id, amount, currency, psp_payment_id: uniqueId('pay') },
});

describe('PSP top-ups', () => {
  it('when the same success event is delivered 6 times at once through three pods, then the wallet is credited once', async () => {
    const { account_id, player, topup_id } = await pendingTopup(2500);
    const success = event('payment.succeeded', topup_id, 2500);
    const deliveries = await Promise.all(Array.from({ length: 6 }, (_, index) => deliver(pods()[index % 3]!, success)));
    expect(deliveries.map((delivery) => delivery.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(deliveries.filter((delivery) => delivery.body.outcome === 'credited')).toHaveLength(1);
    expect(deliveries.filter((delivery) => delivery.body.outcome === 'duplicate')).toHaveLength(5);
    expect((await wallet(account_id)).balance).toBe(2500);
    const topup = await request(eu(), 'GET', `/v1/topups/${topup_id}`, undefined, { token: player });
    expect(topup.body).toMatchObject({ status: 'SUCCEEDED', credit_transaction_id: expect.any(String) });
    const another_event_same_payment = await deliver(eu(), { ...success, id: uniqueId('evt') });
    expect(another_event_same_payment.body.outcome).toBe('ignored_state');
    expect((await wallet(account_id)).balance).toBe(2500);
  });

  it('when the signature is forged, stale, missing or the body tampered, then 401 and nothing is credited', async () => {
    const { account_id, topup_id } = await pendingTopup(1000);
    const success = event('payment.succeeded', topup_id, 1000);
    const forged = await deliver(eu(), success, { secret: 'x'.repeat(40) });
    expect(forged.status).toBe(401);
    expect(forged.body.code).toBe('unauthenticated');
    expect((await deliver(eu(), success, { timestamp_s: now_s() - 301 })).status).toBe(401);
    expect((await deliver(eu(), success, { timestamp_s: now_s() + 301 })).status).toBe(401);
    const tampered = await deliver(eu(), success, { body: JSON.stringify({ ...success, data: { ...success.data, amount: 100000 } }) });
    expect(tampered.status).toBe(401);
    const unsigned = await request(eu(), 'POST', '/v1/psp/events', success);
    expect(unsigned.status).toBe(401);
    expect((await wallet(account_id)).balance).toBe(0);
  });

  it('when the event amount or currency differs from the top-up, then nothing is credited and it is kept for review', async () => {
    const { account_id, topup_id, player } = await pendingTopup(1000);
    expect((await deliver(eu(), event('payment.succeeded', topup_id, 999))).body.outcome).toBe('amount_mismatch');
    expect((await deliver(eu(), event('payment.succeeded', topup_id, 1000, 'USD'))).body.outcome).toBe('amount_mismatch');
    expect((await wallet(account_id)).balance).toBe(0);
    const topup = await request(eu(), 'GET', `/v1/topups/${topup_id}`, undefined, { token: player });
    expect(topup.body).toMatchObject({ status: 'PENDING', review_reason: expect.stringContaining('1000 USD') });
  });

  it('when a payment fails, then the top-up is FAILED and a later success is ignored', async () => {
    const { account_id, topup_id } = await pendingTopup(700);
    expect((await deliver(eu(), event('payment.failed', topup_id, 700))).body.outcome).toBe('failed');
    expect((await deliver(eu(), event('payment.succeeded', topup_id, 700))).body.outcome).toBe('ignored_state');
    expect((await wallet(account_id)).balance).toBe(0);
  });

  it('when a credited top-up is charged back after part was spent, what is left is clawed back, the rest booked as a loss', async () => {
    const { account_id, player, topup_id } = await pendingTopup(1000);
    expect((await deliver(eu(), event('payment.succeeded', topup_id, 1000))).body.outcome).toBe('credited');
    expect(
      (
        await request(
          eu(),
          'POST',
          `/v1/accounts/${account_id}/debits`,
          { amount: 600, currency: 'EUR', reason: 'spent' },
          { token: player, key: key() },
        )
      ).status,
    ).toBe(201);
    expect((await deliver(eu(), event('payment.refunded', topup_id, 1000))).body.outcome).toBe('reversed');
    expect(await wallet(account_id)).toMatchObject({ balance: 0, available: 0 });
    const topup = await request(eu(), 'GET', `/v1/topups/${topup_id}`, undefined, { token: player });
    expect(topup.body).toMatchObject({ status: 'REVERSED', unrecovered_amount: 600 });
    const report = await request(eu(), 'POST', '/v1/admin/reconcile', undefined, { token: admin });
    expect(report.body).toEqual({ ok: true, mismatches: [] });
  });

  it('when an event names an unknown top-up, then it is acknowledged and recorded, nothing else', async () => {
    const unknown = await deliver(eu(), event('payment.succeeded', '00000000-0000-4000-8000-000000000000', 100));
    expect(unknown.status).toBe(200);
    expect(unknown.body.outcome).toBe('unknown_topup');
  });
});

describe('a top-up that would break the wallet maximum', () => {
  it('when the PSP confirms it, then 200, nothing is credited and the top-up waits for review', async () => {
    const capped = await startCluster({ env: { BALANCE_MAX_MINOR: '5000' } });
    try {
      const base = capped.pods[0]!.url;
      const account_id = uniqueId('p');
      expect(
        (await request(base, 'POST', '/v1/accounts', { id: account_id, currency: 'EUR' }, { token: service, key: key() })).status,
      ).toBe(201);
      expect(
        (
          await request(
            base,
            'POST',
            `/v1/accounts/${account_id}/credits`,
            { amount: 4000, currency: 'EUR', reason: 'x' },
            { token: service, key: key() },
          )
        ).status,
      ).toBe(201);
      const topup = await request(
        base,
        'POST',
        '/v1/topups',
        { account_id, amount: 2000, currency: 'EUR' },
        { token: service, key: key() },
      );
      const delivery = await deliver(base, event('payment.succeeded', topup.body.id, 2000));
      expect(delivery.status).toBe(200);
      expect(delivery.body.outcome).toBe('held_for_review');
      const after = await request(base, 'GET', `/v1/topups/${topup.body.id}`, undefined, { token: service });
      expect(after.body).toMatchObject({ status: 'PENDING', review_reason: expect.stringContaining('maximum') });
      const wallets = await request(base, 'GET', `/v1/accounts/${account_id}/wallets`, undefined, { token: service });
      expect(wallets.body.data[0].balance).toBe(4000);
    } finally {
      await capped.stop();
    }
  });
});
