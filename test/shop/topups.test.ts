import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { request, startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';
import { signatureHeader } from '../../src/shop/topups/psp-signature.js';
import {
  expectHeldForReview,
  permutations,
  shuffled,
  TestPsp,
  type HeldEvent,
  type PspEventType,
  type TestPspEvent,
} from '../support/psp.js';
import { metricSum } from '../support/metrics.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database.js';

// Top-ups against a PSP that delivers out of order, in parts, repeatedly and sometimes broken: a
// test PSP sends signed events over HTTP to three real pods. The file has a database of its own,
// so that after every test reconciliation must show exactly the events this file held for review,
// and nothing else.

let database: ScratchDatabase;
let cluster: TestCluster;
let psp: TestPsp;
let service: string;
let admin: string;
let mint: ReturnType<typeof tokens>;

/** Every event this file expects reconciliation to report as held for review, so far. */
const held: HeldEvent[] = [];

beforeAll(async () => {
  database = await createScratchDatabase(inject('database_url'), 'topups');
  cluster = await startCluster({ env: { DATABASE_URL: database.url } });
  psp = new TestPsp(
    cluster.pods.map((pod) => pod.url),
    cluster.config.psp_webhook_secret,
  );
  mint = tokens(cluster.config);
  service = await mint.service('accounts:write credits:write', 'game-server');
  admin = await mint.service('admin', 'ops');
});
afterAll(async () => {
  await cluster?.stop();
  await database?.drop();
});

afterEach(() => expectHeldForReview(eu(), admin, held));

const eu = () => cluster.pod('eu-west').url;
const key = () => uniqueId('k');
const S: PspEventType = 'payment.succeeded';
const F: PspEventType = 'payment.failed';
const R: PspEventType = 'payment.refunded';

async function pendingTopup(amount: number, base = eu()) {
  const account_id = uniqueId('p');
  const opened = await request(base, 'POST', '/v1/accounts', { id: account_id, currency: 'EUR' }, { token: service, key: key() });
  expect(opened.status).toBe(201);
  const player = await mint.player(account_id);
  const topup = await request(base, 'POST', '/v1/topups', { account_id, amount, currency: 'EUR' }, { token: player, key: key() });
  expect(topup.status).toBe(201);
  expect(topup.body).toMatchObject({ status: 'PENDING', amount, currency: 'EUR', payment: { reference: topup.body.id } });
  return { account_id, player, topup_id: topup.body.id as string };
}

async function topup(topup_id: string, token = admin) {
  const response = await request(eu(), 'GET', `/v1/topups/${topup_id}`, undefined, { token });
  expect(response.status).toBe(200);
  return response.body;
}

async function balance(account_id: string, base = eu()): Promise<number> {
  const wallets = await request(base, 'GET', `/v1/accounts/${account_id}/wallets`, undefined, { token: service });
  return wallets.body.data[0].balance;
}

async function spend(account_id: string, player: string, amount: number) {
  const debit = await request(
    eu(),
    'POST',
    `/v1/accounts/${account_id}/debits`,
    { amount, currency: 'EUR', reason: 'spent' },
    { token: player, key: key() },
  );
  expect(debit.status).toBe(201);
}

async function storedEvent(id: string) {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query(
      'SELECT type, topup_id, payload, body_base64, outcome, review_reason FROM psp_events WHERE id = $1',
      [id],
    );
    return rows[0];
  } finally {
    await client.end();
  }
}

describe('PSP events in every order', () => {
  type Case = {
    order: [PspEventType, PspEventType];
    outcomes: string[];
    status: string;
    wallet: number;
    reversed: number;
    waiting: number;
  };
  const cases: Case[] = [
    { order: [S, S], outcomes: ['credited', 'ignored_state'], status: 'SUCCEEDED', wallet: 1000, reversed: 0, waiting: 0 },
    { order: [S, F], outcomes: ['credited', 'superseded'], status: 'SUCCEEDED', wallet: 1000, reversed: 0, waiting: 0 },
    { order: [S, R], outcomes: ['credited', 'reversed'], status: 'SUCCEEDED', wallet: 600, reversed: 400, waiting: 0 },
    { order: [F, S], outcomes: ['failed', 'credited'], status: 'SUCCEEDED', wallet: 1000, reversed: 0, waiting: 0 },
    { order: [F, F], outcomes: ['failed', 'ignored_state'], status: 'FAILED', wallet: 0, reversed: 0, waiting: 0 },
    { order: [F, R], outcomes: ['failed', 'reversal_waiting'], status: 'FAILED', wallet: 0, reversed: 0, waiting: 400 },
    { order: [R, S], outcomes: ['reversal_waiting', 'credited'], status: 'SUCCEEDED', wallet: 600, reversed: 400, waiting: 0 },
    { order: [R, F], outcomes: ['reversal_waiting', 'failed'], status: 'FAILED', wallet: 0, reversed: 0, waiting: 400 },
    { order: [R, R], outcomes: ['reversal_waiting', 'reversal_waiting'], status: 'PENDING', wallet: 0, reversed: 0, waiting: 800 },
  ];

  it('when two events (new ids each) arrive in any of the 9 orders, then each is applied in turn and the wallet is exact', async () => {
    await Promise.all(
      cases.map(async ({ order, outcomes, status, wallet, reversed, waiting }) => {
        const { account_id, topup_id } = await pendingTopup(1000);
        const events = order.map((type) => psp.event(type, topup_id, type === R ? 400 : 1000));
        expect(await psp.sendInOrder(events), order.join(' then ')).toEqual(outcomes);
        const view = await topup(topup_id);
        expect(view, order.join(' then ')).toMatchObject({
          status,
          reversed_amount: reversed,
          pending_reversal_amount: waiting,
        });
        expect(view.review).toEqual([]);
        // Every event is recorded against the top-up with what it came to, in arrival order.
        expect(view.events.map((recorded: { id: string; outcome: string }) => [recorded.id, recorded.outcome])).toEqual(
          events.map((event, index) => [event.id, outcomes[index]]),
        );
        expect(await balance(account_id)).toBe(wallet);
      }),
    );
  });

  it('when a success, a failure and a partial refund arrive in each of the 6 orders, then all end credited with 400 reversed', async () => {
    await Promise.all(
      permutations([S, F, R]).map(async (order) => {
        const { account_id, topup_id } = await pendingTopup(1000);
        const outcomes = await psp.sendInOrder(order.map((type) => psp.event(type, topup_id, type === R ? 400 : 1000)));
        expect(
          outcomes.filter((outcome) => outcome === 'credited'),
          order.join(' then '),
        ).toHaveLength(1);
        expect(await topup(topup_id)).toMatchObject({ status: 'SUCCEEDED', reversed_amount: 400, pending_reversal_amount: 0, review: [] });
        expect(await balance(account_id)).toBe(600);
      }),
    );
  });

  it('when a refund arrives before the success, then it waits on the top-up and is applied right after the credit', async () => {
    const { account_id, player, topup_id } = await pendingTopup(1000);
    const refund = psp.event(R, topup_id, 300);
    expect(await psp.sendInOrder([refund])).toEqual(['reversal_waiting']);
    expect(await topup(topup_id, player)).toMatchObject({
      status: 'PENDING',
      credit_transaction_id: null,
      reversed_amount: 0,
      pending_reversal_amount: 300,
      reversals: [{ event_id: refund.id, amount: 300, status: 'waiting', recovered_amount: 0, unrecovered_amount: 0 }],
    });
    expect(await balance(account_id)).toBe(0);
    expect(await psp.sendInOrder([psp.event(S, topup_id, 1000)])).toEqual(['credited']);
    const credited = await topup(topup_id, player);
    expect(credited).toMatchObject({
      status: 'SUCCEEDED',
      credit_transaction_id: expect.any(String),
      reversal_transaction_id: expect.any(String),
      reversed_amount: 300,
      pending_reversal_amount: 0,
      reversals: [{ event_id: refund.id, amount: 300, status: 'applied', recovered_amount: 300, unrecovered_amount: 0 }],
    });
    expect(await balance(account_id)).toBe(700);
    const reversal = await request(eu(), 'GET', `/v1/transactions/${credited.reversal_transaction_id}`, undefined, { token: player });
    expect(reversal.body).toMatchObject({ type: 'topup_reversal', amount: 300 });
  });
});

describe('partial reversals', () => {
  it('when two chargebacks of 300 hit a 1000 top-up after 600 was spent, they add up, each clawed back; more is held', async () => {
    const { account_id, player, topup_id } = await pendingTopup(1000);
    expect(await psp.sendInOrder([psp.event(S, topup_id, 1000)])).toEqual(['credited']);
    await spend(account_id, player, 600);
    expect(await psp.sendInOrder([psp.event(R, topup_id, 300), psp.event(R, topup_id, 300)])).toEqual(['reversed', 'reversed']);
    expect(await topup(topup_id, player)).toMatchObject({
      status: 'SUCCEEDED',
      reversed_amount: 600,
      unrecovered_amount: 200,
      reversals: [
        { amount: 300, status: 'applied', recovered_amount: 300, unrecovered_amount: 0 },
        { amount: 300, status: 'applied', recovered_amount: 100, unrecovered_amount: 200 },
      ],
    });
    expect(await balance(account_id)).toBe(0);

    const beyond = psp.event(R, topup_id, 500);
    expect(await psp.sendInOrder([beyond])).toEqual(['held_for_review']);
    held.push({ event_id: beyond.id, outcome: 'held_for_review', topup_id });
    expect(await psp.sendInOrder([psp.event(R, topup_id, 400)])).toEqual(['reversed']);
    const reversed = await topup(topup_id, player);
    expect(reversed).toMatchObject({ status: 'REVERSED', reversed_amount: 1000, unrecovered_amount: 600 });
    expect(reversed.review).toEqual([
      {
        event_id: beyond.id,
        log_id: beyond.id,
        outcome: 'held_for_review',
        reason: expect.stringContaining('1100 of 1000'),
        received_at: expect.any(String),
        settled_at: null,
        settlement: null,
        settled_by: null,
      },
    ]);

    const success_after_reversal = psp.event(S, topup_id, 1000);
    expect(await psp.sendInOrder([success_after_reversal])).toEqual(['held_for_review']);
    held.push({ event_id: success_after_reversal.id, outcome: 'held_for_review', topup_id });
    expect(await balance(account_id)).toBe(0);
  });
});

describe('a chargeback the wallet cannot pay back', () => {
  it('when the money is held, then the loss is booked and the account frozen: the hold released, nothing can leave', async () => {
    const { account_id, player, topup_id } = await pendingTopup(1000);
    expect(await psp.sendInOrder([psp.event(S, topup_id, 1000)])).toEqual(['credited']);
    const hold = { account_id, amount: 1000, currency: 'EUR', expires_in_seconds: 600 };
    const held_money = await request(eu(), 'POST', '/v1/holds', hold, { token: service, key: key() });
    expect(held_money.status).toBe(201);
    const chargeback = psp.event(R, topup_id, 1000);
    expect(await psp.sendInOrder([chargeback])).toEqual(['reversed']);
    // Redelivered (the PSP repeats itself): the first answer again, nothing more, the account frozen once.
    expect(await psp.sendInOrder([chargeback])).toEqual(['reversed']);
    expect(await topup(topup_id, player)).toMatchObject({ status: 'REVERSED', unrecovered_amount: 1000 });
    expect((await request(eu(), 'GET', `/v1/accounts/${account_id}`, undefined, { token: admin })).body).toMatchObject({
      status: 'frozen',
    });
    // Released (a two-step order cancelled, say), the 1,000 the card's owner took back is on the
    // wallet again: once it could be spent, transferred or cashed out.
    expect((await request(eu(), 'POST', `/v1/holds/${held_money.body.id}/void`, {}, { token: service, key: key() })).status).toBe(200);
    expect(await balance(account_id)).toBe(1000);
    const debit = await request(
      eu(),
      'POST',
      `/v1/accounts/${account_id}/debits`,
      { amount: 1, currency: 'EUR', reason: 'spend it' },
      { token: player, key: key() },
    );
    expect([debit.status, debit.body.code]).toEqual([409, 'account_frozen']);
    const actions = await request(eu(), 'GET', `/v1/accounts/${account_id}/compliance-actions`, undefined, { token: admin });
    expect(actions.body.data).toHaveLength(1);
    expect(actions.body.data[0]).toMatchObject({ action: 'freeze', actor: 'service:psp-chargebacks' });
    expect(actions.body.data[0].reason).toContain(topup_id);

    // Compliance takes it back, frozen as the account is: the loss on @chargebacks is recovered.
    const compliance = await mint.service('compliance:write', 'compliance-desk');
    const recover = (body: Record<string, unknown>, token = compliance) =>
      request(eu(), 'POST', `/v1/topups/${topup_id}/recover`, body, { token, key: key() });
    expect((await recover({ reason: 'mine' }, player)).status).toBe(403);
    expect((await recover({ amount: 1001, reason: 'too much' })).body.code).toBe('invalid_state');
    for (const bad of [{ reason: 'half a pair \ud800' }, { reason: '' }, { reason: 'x', amount: 0 }, { reason: 'x', extra: 1 }]) {
      expect((await recover(bad)).body.code, JSON.stringify(bad)).toBe('validation_error');
    }
    const recovered = await recover({ reason: 'hold released after the chargeback' });
    expect(recovered.status, recovered.text).toBe(201);
    expect(recovered.body).toMatchObject({ type: 'chargeback_recovery', amount: 1000, balance_after: 0, topup_id });
    expect(await topup(topup_id, player)).toMatchObject({
      unrecovered_amount: 0,
      reversals: [expect.objectContaining({ recovered_amount: 1000, unrecovered_amount: 0 })],
    });
    expect((await recover({ reason: 'again' })).body.code).toBe('invalid_state');
    const report = await request(eu(), 'POST', '/v1/admin/reconcile', undefined, { token: admin });
    expect(report.body.mismatches.filter((mismatch: { check: string }) => mismatch.check === 'topup_reversed_amount')).toEqual([]);
  });
});

describe('one event id, one body', () => {
  it('when a body carries numbers JSON cannot keep as sent (-0, 1e400), then its byte-identical redelivery is a repeat', async () => {
    const { account_id, topup_id } = await pendingTopup(700);
    const success = psp.event(S, topup_id, 700);
    // Stored, -0 reads back as 0 and 1e400 as null: a copy compared with the stored one was a conflict, held for review.
    const raw = JSON.stringify(success).replace(/}$/, ',"psp_extra":{"zero":-0,"huge":1e400,"list":[1,-0.0]}}');
    const outcomes = [];
    for (const pod of [0, 1, 2]) outcomes.push((await psp.sendRaw(raw, pod)).body.outcome);
    expect(outcomes).toEqual(['credited', 'credited', 'credited']);
    expect(await balance(account_id)).toBe(700);
  });

  it('when an event id is reused with another body, then 200, the conflict is recorded for review and never applied', async () => {
    const { account_id, topup_id } = await pendingTopup(1000);
    const success = psp.event(S, topup_id, 1000);
    expect((await psp.send(success)).body).toEqual({ received: true, outcome: 'credited' });
    const reused = { ...success, type: R, data: { ...success.data, amount: 1000 } } as TestPspEvent;
    for (const pod of [0, 1, 2]) {
      const delivery = await psp.send(reused, pod);
      expect(delivery.status).toBe(200);
      // The same bytes again repeat that conflict (answered as it was, recorded once).
      expect(delivery.body.outcome).toBe('conflict');
    }
    // The original body, even re-serialised with other spacing and key order, repeats the original.
    const reordered = JSON.stringify({ data: { ...success.data }, type: success.type, id: success.id }, null, 2);
    expect((await psp.sendRaw(reordered, 1)).body.outcome).toBe('credited');
    const third_body = { ...success, data: { ...success.data, amount: 1 } };
    expect((await psp.send(third_body, 2)).body.outcome).toBe('conflict');
    held.push({ event_id: success.id, outcome: 'conflict', topup_id }, { event_id: success.id, outcome: 'conflict', topup_id });

    expect(await balance(account_id)).toBe(1000);
    const view = await topup(topup_id);
    expect(view).toMatchObject({ status: 'SUCCEEDED', reversed_amount: 0 });
    expect(view.review.map((item: { event_id: string; outcome: string }) => [item.event_id, item.outcome])).toEqual([
      [success.id, 'conflict'],
      [success.id, 'conflict'],
    ]);
    expect(view.review[0].reason).toContain('different body');
  });

  it('when the same success is delivered 30 times at once through three pods, then it is credited exactly once', async () => {
    const { account_id, topup_id } = await pendingTopup(2500);
    const success = psp.event(S, topup_id, 2500);
    const counted = async (outcome: string) =>
      (await Promise.all(cluster.pods.map((pod) => metricSum(pod.deps, 'psp_events_total', { outcome })))).reduce((a, b) => a + b, 0);
    const before = { credited: await counted('credited'), duplicate: await counted('duplicate') };
    const deliveries = await Promise.all(Array.from({ length: 30 }, (_, index) => psp.send(success, index)));
    expect(deliveries.map((delivery) => delivery.status)).toEqual(Array(30).fill(200));
    expect(deliveries.map((delivery) => delivery.body.outcome)).toEqual(Array(30).fill('credited'));
    // Answered alike, counted apart: one credit, 29 repeats.
    expect([(await counted('credited')) - before.credited, (await counted('duplicate')) - before.duplicate]).toEqual([1, 29]);
    expect((await topup(topup_id)).events).toHaveLength(1);
    expect(await balance(account_id)).toBe(2500);
  });

  it('when 6 top-ups get a success, a re-notification, a failure and two refunds, each 3 times, all at once, each ends exact', async () => {
    const topups = await Promise.all(Array.from({ length: 6 }, () => pendingTopup(1000)));
    const events = topups.flatMap(({ topup_id }) => {
      const success = psp.event(S, topup_id, 1000);
      return [
        success,
        { ...success, id: `evt_again_${topup_id}` },
        psp.event(F, topup_id, 1000),
        psp.event(R, topup_id, 300),
        psp.event(R, topup_id, 300),
      ];
    });
    const deliveries = shuffled(events.flatMap((event) => [event, event, event]));
    const answers = await Promise.all(deliveries.map(async (event, index) => ({ event, response: await psp.send(event, index) })));
    expect(answers.filter(({ response }) => response.status !== 200).map(({ response }) => response.body)).toEqual([]);
    // Each event id has its effect once, and its three deliveries the same answer: what the first came to.
    for (const event of events) {
      const outcomes = answers.filter((answer) => answer.event === event).map(({ response }) => response.body.outcome);
      expect(new Set(outcomes).size, event.id).toBe(1);
    }
    for (const { account_id, topup_id } of topups) {
      const credited = answers.filter(({ event, response }) => event.data.topup_id === topup_id && response.body.outcome === 'credited');
      expect(new Set(credited.map(({ event }) => event.id)).size).toBe(1);
      expect((await topup(topup_id)).events).toHaveLength(5);
      expect(await topup(topup_id)).toMatchObject({ status: 'SUCCEEDED', reversed_amount: 600, pending_reversal_amount: 0, review: [] });
      expect(await balance(account_id)).toBe(400);
    }
  });
});

describe('signed bodies that are not events we can apply', () => {
  it('when a signed body is not JSON, has the wrong shape or holds text PostgreSQL refuses, then 200 and it is kept safely', async () => {
    const { account_id, topup_id } = await pendingTopup(1000);
    const valid = psp.event(S, topup_id, 1000);
    const nested = `{"id":"evt_deep_${topup_id}","type":"payment.succeeded","data":${'['.repeat(6000)}${']'.repeat(6000)}}`;
    const bodies: Array<{ name: string; raw: string; content_type?: string; id?: string; topup?: boolean }> = [
      { name: 'not JSON', raw: `{"id": "evt_broken", "data": {"topup_id": "${topup_id}"` },
      { name: 'not JSON, as text/plain', raw: 'hello PSP', content_type: 'text/plain' },
      { name: 'empty', raw: '' },
      {
        name: 'wrong shape',
        raw: JSON.stringify({ ...valid, id: `evt_shape_${topup_id}`, data: { ...valid.data, amount: '1000' } }),
        id: `evt_shape_${topup_id}`,
        topup: true,
      },
      {
        name: 'U+0000 escaped',
        raw: JSON.stringify({ ...valid, id: `evt_nul_${topup_id}`, data: { ...valid.data, psp_payment_id: 'pay_\u0000' } }),
        id: `evt_nul_${topup_id}`,
        topup: true,
      },
      { name: 'U+0000 raw byte (so not JSON)', raw: `{"id":"evt_raw_nul_${topup_id}","note":"a\u0000b"}` },
      {
        name: 'lone surrogate',
        raw: `{"id":"evt_surrogate_${topup_id}","type":"payment.succeeded","data":{"topup_id":"${topup_id}","x":"\\ud800"}}`,
        id: `evt_surrogate_${topup_id}`,
        topup: true,
      },
      { name: 'U+0000 in the id', raw: JSON.stringify({ ...valid, id: 'evt_\u0000' }), topup: true },
      { name: 'nested 6000 deep', raw: nested, id: `evt_deep_${topup_id}` },
      {
        name: 'an amount that would be rounded',
        raw: JSON.stringify({ ...valid, id: `evt_round_${topup_id}` }).replace('"amount":1000', '"amount":1000.0000000000000000001'),
        id: `evt_round_${topup_id}`,
        topup: true,
      },
    ];
    for (const { name, raw, content_type, id, topup: about_topup } of bodies) {
      const first = await psp.sendRaw(raw, 0, { content_type });
      expect(first.status, name).toBe(200);
      expect(first.body, name).toEqual({ received: true, outcome: 'malformed' });
      expect((await psp.sendRaw(raw, 1, { content_type })).body.outcome, `${name}, redelivered`).toBe('malformed');
      const log_id = id ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`;
      const stored = await storedEvent(log_id);
      expect(stored, name).toMatchObject({ outcome: 'malformed', review_reason: expect.stringMatching(/^malformed event: /) });
      expect(Buffer.from(stored.body_base64, 'base64').toString('utf8'), name).toBe(raw);
      held.push({ event_id: log_id, outcome: 'malformed', topup_id: about_topup ? topup_id : null });
    }
    const reasons = (await topup(topup_id)).review.map((item: { reason: string }) => item.reason);
    expect(reasons).toEqual([
      expect.stringContaining('"data.amount" must be a number'),
      expect.stringContaining('cannot store (U+0000 or a lone surrogate) at data.psp_payment_id'),
      expect.stringContaining('cannot store (U+0000 or a lone surrogate) at data.x'),
      expect.stringContaining('cannot store (U+0000 or a lone surrogate) at id'),
      expect.stringContaining('a number has more digits than can be read exactly'),
    ]);
    expect(await balance(account_id)).toBe(0);
  });

  it('when a signed body starts with a byte order mark or holds a byte that is not UTF-8, then its exact bytes verify', async () => {
    const bom = await pendingTopup(1000);
    const with_bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(psp.event(S, bom.topup_id, 1000)))]);
    expect((await psp.sendRaw(with_bom)).body).toEqual({ received: true, outcome: 'credited' });
    expect(await balance(bom.account_id)).toBe(1000);
    // In a field nobody reads (partners' unknown fields are ignored): the event applies.
    const latin1 = await pendingTopup(1000);
    const event = JSON.stringify({ ...psp.event(S, latin1.topup_id, 1000), note: 'caf#' });
    const with_latin1 = Buffer.from(event, 'latin1');
    with_latin1[with_latin1.indexOf('#')] = 0xe9;
    expect((await psp.sendRaw(with_latin1, 1)).body).toEqual({ received: true, outcome: 'credited' });
    expect(await balance(latin1.account_id)).toBe(1000);
  });

  it('when the PSP writes our top-up id in capitals, then it names that top-up; redelivered in lower case, a repeat', async () => {
    const { account_id, topup_id } = await pendingTopup(1000);
    const event = psp.event(S, topup_id, 1000);
    const shouted = { ...event, data: { ...event.data, topup_id: topup_id.toUpperCase() } };
    expect((await psp.send(shouted)).body).toEqual({ received: true, outcome: 'credited' });
    expect((await psp.send(event)).body).toEqual({ received: true, outcome: 'credited' });
    expect((await topup(topup_id)).events).toHaveLength(1);
    expect(await balance(account_id)).toBe(1000);
  });

  it('when the signature is forged, stale, missing or the body tampered, then 401 and nothing is recorded', async () => {
    const { account_id, topup_id } = await pendingTopup(1000);
    const success = psp.event(S, topup_id, 1000);
    const raw = JSON.stringify(success);
    // Just outside the 300 s tolerance, taken when each is sent: a slow machine must not bring them back inside it.
    const now_s = () => Math.floor(Date.now() / 1000);
    const refused = [
      await psp.sendRaw(raw, 0, { secret: 'x'.repeat(40) }),
      await psp.sendRaw(raw, 1, { timestamp_s: now_s() - 305 }),
      await psp.sendRaw(raw, 2, { timestamp_s: now_s() + 305 }),
      await request(eu(), 'POST', '/v1/psp/events', undefined, {
        raw: raw.replace('1000', '9000'),
        headers: { 'Psp-Signature': signatureHeader(cluster.config.psp_webhook_secret, now_s(), raw) },
      }),
      await request(eu(), 'POST', '/v1/psp/events', success),
      await request(eu(), 'POST', '/v1/psp/events', undefined, { raw: 'not json', headers: { 'Content-Type': 'text/plain' } }),
    ];
    for (const response of refused) expect(response.body).toMatchObject({ status: 401, code: 'unauthenticated' });
    expect(await storedEvent(success.id)).toBeUndefined();
    expect(await balance(account_id)).toBe(0);
  });

  it('when a valid signature is written as partners write it (spaces, order, case, two v1, v0), then it is accepted', async () => {
    const { account_id, topup_id } = await pendingTopup(1000);
    const raw = JSON.stringify(psp.event(S, topup_id, 1000));
    const t = Math.floor(Date.now() / 1000);
    const v1 = signatureHeader(cluster.config.psp_webhook_secret, t, raw).split(',v1=')[1]!;
    const other = signatureHeader('a rotated-out secret of forty characters', t, raw).split(',v1=')[1]!;
    const headers = [
      `t=${t}, v1=${v1}`,
      `v1=${v1},t=${t}`,
      `t=${t},v1=${v1.toUpperCase()}`,
      `t=${t},v1=${other},v1=${v1}`,
      `t=${t},v0=deadbeef,v1=${v1}`,
    ];
    const outcomes = [];
    for (const header of headers) {
      const response = await request(eu(), 'POST', '/v1/psp/events', undefined, { raw, headers: { 'Psp-Signature': header } });
      outcomes.push(response.body.outcome ?? response.body.code);
    }
    // Each once answered 401: a validly signed event the PSP would have retried for days, never recorded.
    expect(outcomes).toEqual(Array(5).fill('credited'));
    expect(await balance(account_id)).toBe(1000);
  });
});

describe('events held for review', () => {
  it('when the amount or currency differs, then nothing is credited, the top-up shows why; a matching success still credits', async () => {
    const { account_id, topup_id, player } = await pendingTopup(1000);
    const wrong_amount = psp.event(S, topup_id, 999);
    const wrong_currency = psp.event(S, topup_id, 1000, { currency: 'USD' });
    expect(await psp.sendInOrder([wrong_amount, wrong_currency])).toEqual(['amount_mismatch', 'amount_mismatch']);
    held.push(
      { event_id: wrong_amount.id, outcome: 'amount_mismatch', topup_id },
      { event_id: wrong_currency.id, outcome: 'amount_mismatch', topup_id },
    );
    expect(await balance(account_id)).toBe(0);
    const view = await topup(topup_id, player);
    expect(view).toMatchObject({ status: 'PENDING', review_reason: expect.stringContaining('1000 USD') });
    expect(view.review.map((item: { event_id: string }) => item.event_id)).toEqual([wrong_amount.id, wrong_currency.id]);
    expect(await psp.sendInOrder([psp.event(S, topup_id, 1000)])).toEqual(['credited']);
    expect(await balance(account_id)).toBe(1000);
  });

  it('when a credited top-up is paid again under another payment id, then the second payment is held, not credited', async () => {
    const { account_id, topup_id } = await pendingTopup(1000);
    const second = psp.event(S, topup_id, 1000, { psp_payment_id: 'pay_other' });
    expect(await psp.sendInOrder([psp.event(S, topup_id, 1000), second])).toEqual(['credited', 'held_for_review']);
    held.push({ event_id: second.id, outcome: 'held_for_review', topup_id });
    expect(await balance(account_id)).toBe(1000);
  });

  it('when a credited top-up gets a refund of another payment, then it is held, and the credit stays whole', async () => {
    const { account_id, topup_id } = await pendingTopup(1000);
    const other = psp.event(R, topup_id, 1000, { psp_payment_id: 'pay_other' });
    expect(await psp.sendInOrder([psp.event(S, topup_id, 1000), other])).toEqual(['credited', 'held_for_review']);
    held.push({ event_id: other.id, outcome: 'held_for_review', topup_id });
    expect(await topup(topup_id)).toMatchObject({ status: 'SUCCEEDED', review_reason: expect.stringContaining('pay_other') });
    expect(await balance(account_id)).toBe(1000);
  });

  it('when a refund of another payment arrives before the success, then the success credits whole and shows it for review', async () => {
    const { account_id, topup_id } = await pendingTopup(1000);
    const other = psp.event(R, topup_id, 1000, { psp_payment_id: 'pay_other' });
    const success = psp.event(S, topup_id, 1000);
    // Once applied with the credit: the order of arrival decided whether another payment's refund clawed this one back.
    expect(await psp.sendInOrder([other, success])).toEqual(['reversal_waiting', 'credited']);
    held.push({ event_id: success.id, outcome: 'credited', topup_id });
    const view = await topup(topup_id);
    expect(view).toMatchObject({ status: 'SUCCEEDED', reversed_amount: 0, pending_reversal_amount: 0, reversals: [] });
    expect(view.review_reason).toContain(`refund ${other.id} (of payment pay_other)`);
    expect(await balance(account_id)).toBe(1000);
  });

  it('when a top-up is in a currency the account has no wallet for yet, then its success opens that wallet', async () => {
    const account_id = uniqueId('p');
    expect((await request(eu(), 'POST', '/v1/accounts', { id: account_id, currency: 'EUR' }, { token: service, key: key() })).status).toBe(
      201,
    );
    const player = await mint.player(account_id);
    const created = await request(eu(), 'POST', '/v1/topups', { account_id, amount: 700, currency: 'USD' }, { token: player, key: key() });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // Answered 422 currency_mismatch before, and never recorded: the PSP would retry for days.
    const success = psp.event(S, created.body.id, 700, { currency: 'USD' });
    expect(await psp.sendInOrder([success])).toEqual(['credited']);
    const wallets = await request(eu(), 'GET', `/v1/accounts/${account_id}/wallets`, undefined, { token: service });
    expect(wallets.body.data.find((wallet: { currency: string }) => wallet.currency === 'USD')).toMatchObject({ balance: 700 });
  });

  it('when the ledger refuses a success the top-up allows (the account closed since), then 200, recorded and held', async () => {
    const { account_id, topup_id } = await pendingTopup(500);
    expect(await psp.sendInOrder([psp.event(F, topup_id, 500)])).toEqual(['failed']);
    const compliance = await mint.service('compliance:write', 'compliance-desk');
    const closed = await request(
      eu(),
      'POST',
      `/v1/accounts/${account_id}/close`,
      { reason: 'left the game' },
      { token: compliance, key: key() },
    );
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    // Answered 409 account_closed before, and never recorded.
    const late = psp.event(S, topup_id, 500);
    expect(await psp.sendInOrder([late])).toEqual(['held_for_review']);
    held.push({ event_id: late.id, outcome: 'held_for_review', topup_id });
    expect(await storedEvent(late.id)).toMatchObject({ outcome: 'held_for_review', review_reason: expect.stringContaining('closed') });
    expect(await topup(topup_id)).toMatchObject({ status: 'FAILED' });
    expect(await balance(account_id)).toBe(0);
  });

  it('when an event names an unknown top-up, then it is acknowledged, recorded and held', async () => {
    const unknown_topup = '00000000-0000-4000-8000-000000000000';
    const unknown = psp.event(S, unknown_topup, 100);
    expect((await psp.send(unknown)).body).toEqual({ received: true, outcome: 'unknown_topup' });
    held.push({ event_id: unknown.id, outcome: 'unknown_topup', topup_id: unknown_topup });
  });

  it('when a credit would break the wallet maximum, then 200, nothing is credited and the top-up waits for review', async () => {
    const capped = await startCluster({ env: { DATABASE_URL: database.url, BALANCE_MAX_MINOR: '5000' } });
    try {
      const base = capped.pods[0]!.url;
      const { account_id, topup_id } = await pendingTopup(2000, base);
      const credit = await request(
        base,
        'POST',
        `/v1/accounts/${account_id}/credits`,
        { amount: 4000, currency: 'EUR', reason: 'x' },
        { token: service, key: key() },
      );
      expect(credit.status).toBe(201);
      const success = psp.event(S, topup_id, 2000);
      const capped_psp = new TestPsp([base], cluster.config.psp_webhook_secret);
      expect((await capped_psp.send(success)).body.outcome).toBe('held_for_review');
      held.push({ event_id: success.id, outcome: 'held_for_review', topup_id });
      expect(await topup(topup_id)).toMatchObject({ status: 'PENDING', review_reason: expect.stringContaining('maximum') });
      expect(await balance(account_id, base)).toBe(4000);
    } finally {
      await capped.stop();
    }
  });
});

describe('settling what is held for review', () => {
  it('when an operator settles every held event with a note, then reconciliation is clean; the top-ups show the settlement', async () => {
    const report = await request(eu(), 'POST', '/v1/admin/reconcile', undefined, { token: admin });
    const log_ids: string[] = report.body.mismatches.map((mismatch: { log_id: string }) => mismatch.log_id);
    expect(log_ids.length).toBe(held.length);
    expect(log_ids.length).toBeGreaterThan(10);
    const settle = (log_id: string, body: unknown, token = admin) =>
      request(eu(), 'PUT', `/v1/psp/events/${encodeURIComponent(log_id)}/review`, body, { token });

    const [first] = log_ids;
    expect((await settle(first!, { settlement: 'x' }, service)).body).toMatchObject({ status: 403, code: 'forbidden' });
    expect((await settle(first!, { settlement: 'a\u0000b' })).body).toMatchObject({ status: 400, code: 'validation_error' });
    expect((await settle('evt_\u0000', { settlement: 'x' })).body).toMatchObject({ status: 400, code: 'validation_error' });
    expect((await settle('evt_never_sent', { settlement: 'x' })).body).toMatchObject({ status: 404, code: 'not_found' });
    const applied = psp.event(S, (await pendingTopup(100)).topup_id, 100);
    expect((await psp.send(applied)).body.outcome).toBe('credited');
    expect((await settle(applied.id, { settlement: 'x' })).body).toMatchObject({ status: 409, code: 'invalid_state' });

    for (const log_id of log_ids) {
      const settled = await settle(log_id, { settlement: `checked with the PSP: ${log_id}` });
      expect(settled.status).toBe(200);
      expect(settled.body).toMatchObject({ log_id, settled_at: expect.any(String), settlement: `checked with the PSP: ${log_id}` });
    }
    // Settled once, by whom: the same note again is that settlement; another note is refused, the first stands.
    const again = await settle(first!, { settlement: `checked with the PSP: ${first}` });
    expect(again.body).toMatchObject({ log_id: first, settlement: `checked with the PSP: ${first}`, settled_by: 'service:ops' });
    expect((await settle(first!, { settlement: 'credited by hand, see ticket 42' })).body).toMatchObject({
      status: 409,
      code: 'invalid_state',
    });
    const topup_id = report.body.mismatches.find((mismatch: { topup_id: string | null }) => mismatch.topup_id !== null).topup_id;
    const view = await topup(topup_id);
    expect(view.review.length).toBeGreaterThan(0);
    for (const item of view.review) expect(item.settled_at).toEqual(expect.any(String));
    expect(view.review_reason).toBeNull();
    held.length = 0;
  });
});

describe('npm run psp', () => {
  it('sends events out of order, partial refunds and a reused id with another body, and prints the top-up', async () => {
    const { account_id, topup_id } = await pendingTopup(1000);
    const out_of_order = await pspCli(['refund:300,fail,succeed,refund:300,succeed', topup_id, '--url', eu()]);
    expect(out_of_order.code, out_of_order.stderr).toBe(0);
    expect(out_of_order.stdout).toContain('"outcome":"reversal_waiting"');
    expect(JSON.parse(out_of_order.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      status: 'SUCCEEDED',
      reversed_amount: 600,
      pending_reversal_amount: 0,
      review: [],
    });
    expect(await balance(account_id)).toBe(400);

    const event_id = uniqueId('evt_cli');
    const reused = await pspCli([`refund:100@${event_id},refund:200@${event_id}`, topup_id, '--url', eu(), '--times', '2']);
    expect(reused.code, reused.stderr).toBe(0);
    const deliveries = reused.stdout.split('\n').filter((line) => line.startsWith('delivery'));
    expect(deliveries.map((line) => /"outcome":"(\w+)"/.exec(line)?.[1])).toEqual(['reversed', 'reversed', 'conflict', 'conflict']);
    held.push({ event_id, outcome: 'conflict', topup_id });
    expect(await balance(account_id)).toBe(300);
    expect((await pspCli(['explode', topup_id])).code).toBe(2);
  });
});

function pspCli(args: string[]) {
  return runCli('psp', args, {});
}
