import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Schemas } from '../../src/client/creditshop-client.js';
import { startCluster } from '../support/cluster.js';
import { key, ledgerHarness, tally, type LedgerHarness } from '../support/ledger.js';

// Through the typed client (src/client), which also checks every answer against /openapi.json.

let h: LedgerHarness;

beforeAll(async () => {
  // Every pod runs the expiry worker, often, so that a 1-second hold is released quickly.
  h = await ledgerHarness(await startCluster({ workers: true, env: { WORKER_INTERVAL_MS: '200' } }));
});
afterAll(() => h?.cluster.stop());

const placeHold = (account_id: string, amount: number, expires_in_seconds: number, pod: number) =>
  h.api(pod).POST('/v1/holds', { body: { account_id, amount, currency: 'EUR', expires_in_seconds, reference: 'order-1' } });

async function createHold(account_id: string, amount: number, expires_in_seconds = 600, pod = 0): Promise<Schemas['Hold']> {
  const created = await placeHold(account_id, amount, expires_in_seconds, pod);
  expect(created.response.status, JSON.stringify(created.error)).toBe(201);
  return created.data!;
}

const capture = (id: string, body: { amount?: number } = {}, pod = 1) =>
  h.api(pod).POST('/v1/holds/{id}/capture', { params: { path: { id } }, body });
const voidHold = (id: string, pod = 2) => h.api(pod).POST('/v1/holds/{id}/void', { params: { path: { id } }, body: {} });
const getHold = (id: string, pod = 0) => h.api(pod).GET('/v1/holds/{id}', { params: { path: { id } } });
const holdNow = async (id: string, pod = 0) => (await getHold(id, pod)).data!;

function expectInvalidState({ response, error }: { response: Response; error?: { code?: string } }) {
  expect(response.status).toBe(409);
  expect(error?.code).toBe('invalid_state');
  expect(response.headers.get('content-type')).toContain('application/problem+json');
}

describe('creating a hold', () => {
  it('when a hold of 400 is placed on 1,000, then it is ACTIVE and available drops to 600 while the balance stays', async () => {
    const id = await h.openAccount(1_000, { home_region: 'us-east' });
    const hold = await createHold(id, 400);
    expect(hold).toMatchObject({
      account_id: id,
      amount: 400,
      captured_amount: 0,
      currency: 'EUR',
      status: 'ACTIVE',
      reference: 'order-1',
      capture_transaction_id: null,
    });
    expect(Date.parse(hold.expires_at) - Date.parse(hold.created_at)).toBeGreaterThanOrEqual(599_000);
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 1_000, held: 400, available: 600 });
    expect(await holdNow(hold.id, 2)).toEqual(hold);
    // A hold moves no money: the history shows only the seed credit.
    expect((await h.history(id)).map((item) => item.type)).toEqual(['credit']);
  });

  it('when a hold exceeds what is available, then 409 insufficient_funds and nothing is held', async () => {
    const id = await h.openAccount(1_000);
    await createHold(id, 700);
    const refused = await h.api(1).POST('/v1/holds', { body: { account_id: id, amount: 301, currency: 'EUR', expires_in_seconds: 60 } });
    expect(refused.response.status).toBe(409);
    expect(refused.error).toMatchObject({ code: 'insufficient_funds', available: 300 });
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 1_000, held: 700, available: 300 });
    // A debit cannot spend held money either.
    const debit = await h.api(2).POST('/v1/accounts/{id}/debits', {
      params: { path: { id } },
      body: { amount: 301, currency: 'EUR', reason: 'x' },
    });
    expect(debit.response.status).toBe(409);
    expect(debit.error?.code).toBe('insufficient_funds');
  });
  it('when 30 holds of 100 race for 1,000 over the pods, then exactly 10 are placed and the rest are insufficient_funds', async () => {
    const id = await h.openAccount(1_000, { home_region: 'eu-west' });
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => placeHold(id, 100, 600, i)));
    expect(tally(responses)).toEqual({ '201': 10, '409 insufficient_funds': 20 });
    expect(new Set(responses.flatMap(({ data }) => (data ? [data.id] : []))).size).toBe(10);
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 1_000, held: 1_000, available: 0 });
    await h.expectReconcileClean();
  });
});

describe('capturing a hold', () => {
  it('when 300 of a 500 hold is captured, then it is CAPTURED, 300 charged, 200 released and the capture is in the history', async () => {
    const id = await h.openAccount(1_000, { home_region: 'ap-south' });
    const hold = await createHold(id, 500);
    const { data: captured, response } = await capture(hold.id, { amount: 300 });
    expect(response.status).toBe(200);
    expect(captured).toMatchObject({ id: hold.id, status: 'CAPTURED', amount: 500, captured_amount: 300 });
    expect(captured!.capture_transaction_id).toEqual(expect.any(String));
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 700, held: 0, available: 700 });

    const [latest] = await h.history(id);
    expect(latest).toMatchObject({
      type: 'hold_capture',
      transaction_id: captured!.capture_transaction_id,
      amount: -300,
      balance_after: 700,
      references: { hold_id: hold.id },
    });
    const transaction = await h.api(0).GET('/v1/transactions/{id}', { params: { path: { id: captured!.capture_transaction_id! } } });
    expect(transaction.data).toMatchObject({ type: 'hold_capture', amount: 300, hold_id: hold.id });
    expect(await holdNow(hold.id)).toEqual(captured);
  });

  it('when a hold is captured without an amount, then all of it is charged', async () => {
    const id = await h.openAccount(1_000);
    const hold = await createHold(id, 250);
    const captured = await capture(hold.id);
    expect(captured.response.status).toBe(200);
    expect(captured.data).toMatchObject({ status: 'CAPTURED', captured_amount: 250 });
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 750, held: 0, available: 750 });
  });

  it('when more than the hold is captured, then 409 invalid_state and the hold stays ACTIVE', async () => {
    const id = await h.openAccount(1_000);
    const hold = await createHold(id, 100);
    expectInvalidState(await capture(hold.id, { amount: 101 }));
    expect(await holdNow(hold.id)).toMatchObject({ status: 'ACTIVE', captured_amount: 0 });
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 1_000, held: 100, available: 900 });
  });

  it('when a captured hold is captured or voided again, then 409 invalid_state and nothing moves', async () => {
    const id = await h.openAccount(1_000);
    const hold = await createHold(id, 500);
    expect((await capture(hold.id, { amount: 100 })).response.status).toBe(200);
    expectInvalidState(await capture(hold.id, { amount: 100 }));
    expectInvalidState(await capture(hold.id));
    expectInvalidState(await voidHold(hold.id));
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 900, held: 0, available: 900 });
    expect(await holdNow(hold.id)).toMatchObject({ status: 'CAPTURED', captured_amount: 100 });
  });

  it('when one capture request is retried with its key, then the first answer is replayed and the wallet is charged once', async () => {
    const id = await h.openAccount(1_000);
    const hold = await createHold(id, 500);
    const k = key();
    const send = (pod: number) =>
      h
        .api(pod)
        .POST('/v1/holds/{id}/capture', { params: { path: { id: hold.id }, header: { 'Idempotency-Key': k } }, body: { amount: 200 } });
    const first = await send(0);
    const again = await send(2);
    expect(first.response.status).toBe(200);
    expect(again.response.status).toBe(200);
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data).toEqual(first.data);
    expect(await h.wallet(id)).toMatchObject({ balance: 800, held: 0 });
  });

  it('when 12 different captures and voids of one hold race over the pods, then exactly one wins, the rest are invalid_state', async () => {
    const id = await h.openAccount(1_000);
    const hold = await createHold(id, 600);
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? voidHold(hold.id, i) : capture(hold.id, { amount: 100 + i }, i))),
    );
    expect(tally(responses)).toEqual({ '200': 1, '409 invalid_state': 11 });
    const winner = responses.find(({ data }) => data)!.data!;
    const wallet = await h.wallet(id);
    if (winner.status === 'VOIDED') expect(wallet).toEqual({ currency: 'EUR', balance: 1_000, held: 0, available: 1_000 });
    else
      expect(wallet).toEqual({
        currency: 'EUR',
        balance: 1_000 - winner.captured_amount,
        held: 0,
        available: 1_000 - winner.captured_amount,
      });
    expect((await h.history(id)).filter((item) => item.type === 'hold_capture')).toHaveLength(winner.status === 'CAPTURED' ? 1 : 0);
    await h.expectReconcileClean();
  });
  it('when a capture is partly refunded, then the money returns to the wallet and the refund references the capture', async () => {
    const id = await h.openAccount(1_000);
    const hold = await createHold(id, 400);
    const capture_transaction_id = (await capture(hold.id, { amount: 400 })).data!.capture_transaction_id!;
    const refund = (pod: number, amount: number) =>
      h.api(pod).POST('/v1/transactions/{id}/refunds', { params: { path: { id: capture_transaction_id } }, body: { amount } });
    const refunded = await refund(2, 150);
    expect(refunded.response.status).toBe(201);
    expect(refunded.data).toMatchObject({ type: 'refund', amount: 150, original_transaction_id: capture_transaction_id });
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 750, held: 0, available: 750 });
    const beyond = await refund(0, 251);
    expect(beyond.response.status).toBe(422);
    expect(beyond.error).toMatchObject({ code: 'refund_exceeds_remaining', remaining: 250 });
  });
});

describe('voiding a hold', () => {
  it('when a hold is voided, then it is VOIDED, the money is available again, a later capture or void is 409 invalid_state', async () => {
    const id = await h.openAccount(1_000);
    const hold = await createHold(id, 450);
    const voided = await voidHold(hold.id);
    expect(voided.response.status).toBe(200);
    expect(voided.data).toMatchObject({ id: hold.id, status: 'VOIDED', captured_amount: 0, capture_transaction_id: null });
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 1_000, held: 0, available: 1_000 });
    expectInvalidState(await capture(hold.id));
    expectInvalidState(await voidHold(hold.id));
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 1_000, held: 0, available: 1_000 });
    expect((await h.history(id)).map((item) => item.type)).toEqual(['credit']);
  });

  it('when an unknown hold is voided or read, then 404 not_found', async () => {
    const unknown = '6f1f2a56-3c3e-4b9e-9a39-4f4f1b0b7d11';
    expect((await voidHold(unknown)).error?.code).toBe('not_found');
    expect((await capture(unknown)).response.status).toBe(404);
    expect((await getHold(unknown)).response.status).toBe(404);
  });

  it('when a player reads their own hold, then they see it; another player gets 404', async () => {
    const id = await h.openAccount(1_000);
    const hold = await createHold(id, 10);
    const readAs = async (player: string) =>
      h.api(1, await h.mint.player(player)).GET('/v1/holds/{id}', { params: { path: { id: hold.id } } });
    expect((await readAs(id)).data).toEqual(hold);
    const other = await readAs('someone-else');
    expect(other.response.status).toBe(404);
    expect(other.error?.code).toBe('not_found');
  });
});

describe('hold expiry', () => {
  it('when a hold expires after 1 s, the worker marks it EXPIRED, frees its money in seconds; capture/void are invalid_state', async () => {
    const id = await h.openAccount(1_000, { home_region: 'ap-south' });
    const hold = await createHold(id, 300, 1);
    expect(await h.wallet(id)).toMatchObject({ held: 300, available: 700 });

    const deadline = Date.now() + 6_000;
    let current = hold;
    while (current.status === 'ACTIVE' && Date.now() < deadline) {
      await sleep(100);
      current = await holdNow(hold.id);
    }
    expect(current).toMatchObject({ status: 'EXPIRED', captured_amount: 0, capture_transaction_id: null });
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 1_000, held: 0, available: 1_000 });
    expectInvalidState(await capture(hold.id));
    expectInvalidState(await voidHold(hold.id));
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 1_000, held: 0, available: 1_000 });
    await h.expectReconcileClean();
  });

  it('when 12 holds on two wallets expire at once with every pod running the worker, then each expires once, all money freed', async () => {
    const a = await h.openAccount(1_200, { home_region: 'us-east' });
    const b = await h.openAccount(600, { home_region: 'eu-west' });
    const holds = await Promise.all(Array.from({ length: 12 }, (_, i) => createHold(i % 2 ? b : a, 100, 1, i)));
    expect(await h.wallet(a)).toMatchObject({ held: 600, available: 600 });
    expect(await h.wallet(b)).toMatchObject({ held: 600, available: 0 });
    const deadline = Date.now() + 8_000;
    let statuses: Schemas['Hold']['status'][] = [];
    do {
      await sleep(150);
      statuses = await Promise.all(holds.map(async (hold) => (await holdNow(hold.id)).status));
    } while (statuses.some((status) => status === 'ACTIVE') && Date.now() < deadline);
    expect(statuses).toEqual(Array(12).fill('EXPIRED'));
    expect(await h.wallet(a)).toEqual({ currency: 'EUR', balance: 1_200, held: 0, available: 1_200 });
    expect(await h.wallet(b)).toEqual({ currency: 'EUR', balance: 600, held: 0, available: 600 });
    await h.expectReconcileClean();
  });

  it('when a hold is past its expiry but not yet released, then it can no longer be captured', async () => {
    // Workers run every 200 ms; right after the expiry the capture is refused whether or not the worker got there first.
    const id = await h.openAccount(1_000);
    const hold = await createHold(id, 100, 1);
    await sleep(1_100);
    expectInvalidState(await capture(hold.id));
    const deadline = Date.now() + 6_000;
    while ((await h.wallet(id)).held !== 0 && Date.now() < deadline) await sleep(100);
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 1_000, held: 0, available: 1_000 });
    expect((await holdNow(hold.id)).status).toBe('EXPIRED');
  });
});
