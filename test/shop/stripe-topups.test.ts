import { randomUUID } from 'node:crypto';
import pg from 'pg';
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { request, startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database.js';
import { bodyKey } from '../../src/shop/topups/psp-event.js';
import { signatureHeader } from '../../src/shop/topups/psp-signature.js';
import { expectHeldForReview, type HeldEvent } from '../support/psp.js';
import { sendStripeEvent, StripeFake, type StripeEventBody } from '../support/stripe-fake.js';

// Top-ups paid through Stripe (PSP_PROVIDER=stripe): three real pods call a fake Stripe over HTTP
// through the official SDK, and receive Stripe's events signed by the SDK's own test helper, in
// and out of order, repeated and at once. The file has a database of its own, so that after every
// test reconciliation must show exactly the events this file held for review, and nothing else.

const SECRET_KEY = 'sk_test_creditshop_fake_stripe_key';
const WEBHOOK_SECRET = 'whsec_creditshop_fake_stripe_webhook_secret';
const TIMEOUT_MS = 1000;
const CALLS_IN_FLIGHT_MAX = 4;

let database: ScratchDatabase;
let fake: StripeFake;
let cluster: TestCluster;
let service: string;
let admin: string;
let mint: ReturnType<typeof tokens>;

/** Every event this file expects reconciliation to report as held for review, so far. */
const held: HeldEvent[] = [];

beforeAll(async () => {
  database = await createScratchDatabase(inject('database_url'), 'stripe');
  fake = await StripeFake.start(SECRET_KEY);
  cluster = await startCluster({
    env: {
      DATABASE_URL: database.url,
      PSP_PROVIDER: 'stripe',
      STRIPE_API_BASE_URL: fake.url,
      STRIPE_SECRET_KEY: SECRET_KEY,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_TIMEOUT_MS: String(TIMEOUT_MS),
      STRIPE_MAX_NETWORK_RETRIES: '2',
      STRIPE_CALLS_IN_FLIGHT_MAX: String(CALLS_IN_FLIGHT_MAX),
    },
  });
  mint = tokens(cluster.config);
  service = await mint.service('accounts:write credits:write', 'game-server');
  admin = await mint.service('admin', 'ops');
});
afterAll(async () => {
  await cluster?.stop();
  await fake?.stop();
  await database?.drop();
});

afterEach(() => expectHeldForReview(eu(), admin, held));

const eu = () => cluster.pod('eu-west').url;
const pod = (index: number) => cluster.pods[index % cluster.pods.length]!.url;
const key = () => uniqueId('k');

async function player() {
  const account_id = uniqueId('p');
  const opened = await request(eu(), 'POST', '/v1/accounts', { id: account_id, currency: 'EUR' }, { token: service, key: key() });
  expect(opened.status).toBe(201);
  return { account_id, token: await mint.player(account_id) };
}

/** A PENDING top-up with its PaymentIntent, as the player gets it. */
async function stripeTopup(amount = 1000) {
  const { account_id, token } = await player();
  const created = await request(eu(), 'POST', '/v1/topups', { account_id, amount, currency: 'EUR' }, { token, key: key() });
  expect(created.status).toBe(201);
  const { id: topup_id, payment } = created.body;
  expect(payment).toMatchObject({ provider: 'stripe', reference: topup_id, amount, currency: 'EUR' });
  return { account_id, token, topup_id: topup_id as string, intent_id: payment.payment_intent_id as string };
}

async function topup(topup_id: string) {
  const response = await request(eu(), 'GET', `/v1/topups/${topup_id}`, undefined, { token: admin });
  expect(response.status).toBe(200);
  return response.body;
}

async function balance(account_id: string): Promise<number> {
  const wallets = await request(eu(), 'GET', `/v1/accounts/${account_id}/wallets`, undefined, { token: service });
  return wallets.body.data.find((wallet: { currency: string }) => wallet.currency === 'EUR').balance;
}

/** Sends each event in turn, each to another pod; the outcomes in order. */
async function deliver(...events: StripeEventBody[]): Promise<string[]> {
  const outcomes: string[] = [];
  for (const [index, event] of events.entries()) {
    const answer = await sendStripeEvent(pod(index), event, WEBHOOK_SECRET);
    expect(answer.status, `${event.type} ${event.id}: ${answer.text}`).toBe(200);
    outcomes.push(answer.body.outcome);
  }
  return outcomes;
}

async function loggedEvents(id: string) {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT id, type, topup_id, outcome, review_reason FROM psp_events WHERE id = $1', [id]);
    return rows;
  } finally {
    await client.end();
  }
}

describe('creating a top-up through Stripe', () => {
  it('when a player tops up, then Stripe gets one PaymentIntent for it and the player its client secret', async () => {
    const { account_id, token } = await player();
    const created = await request(eu(), 'POST', '/v1/topups', { account_id, amount: 2500, currency: 'EUR' }, { token, key: key() });
    expect(created.status).toBe(201);
    const { id: topup_id, payment } = created.body;
    expect(created.body).toMatchObject({ status: 'PENDING', amount: 2500, currency: 'EUR', account_id });
    const [intent, ...others] = fake.intentsFor(topup_id);
    expect(others).toEqual([]);
    expect(intent).toMatchObject({
      amount: 2500,
      currency: 'eur',
      metadata: { creditshop_topup_id: topup_id, creditshop_account_id: account_id },
    });
    expect(payment).toEqual({
      provider: 'stripe',
      reference: topup_id,
      amount: 2500,
      currency: 'EUR',
      payment_intent_id: intent!.id,
      client_secret: intent!.client_secret,
    });
    expect(fake.createCallsFor(topup_id).map((call) => call.status)).toEqual([200]);
    // The player reads it back the same way.
    const read = await request(pod(1), 'GET', `/v1/topups/${topup_id}`, undefined, { token });
    expect(read.body.payment).toEqual(payment);
  });

  it('when a request is retried with its key, then the same answer byte for byte and one intent; another body is 422', async () => {
    const { account_id, token } = await player();
    const body = { account_id, amount: 700, currency: 'EUR' };
    const reused = key();
    const first = await request(pod(0), 'POST', '/v1/topups', body, { token, key: reused });
    const again = await request(pod(1), 'POST', '/v1/topups', body, { token, key: reused });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('Idempotent-Replayed')).toBe('true');
    const other = await request(pod(2), 'POST', '/v1/topups', { ...body, amount: 701 }, { token, key: reused });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('idempotency_key_reused');
    expect(fake.intentsFor(first.body.id)).toHaveLength(1);
    expect(fake.createCallsFor(first.body.id)).toHaveLength(1);
  });

  it('when 6 twins of one request arrive at once through three pods, then one top-up and one intent, the same answer to all', async () => {
    const { account_id, token } = await player();
    const reused = key();
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        request(pod(index), 'POST', '/v1/topups', { account_id, amount: 900, currency: 'EUR' }, { token, key: reused }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(201));
    expect(new Set(answers.map((answer) => answer.text)).size).toBe(1);
    expect(fake.intentsFor(answers[0]!.body.id)).toHaveLength(1);
  });

  it('when Stripe answers 503 once, then the SDK asks again with the same key and the top-up gets its one intent', async () => {
    fake.failNextCreates({ kind: 'unavailable' });
    const { topup_id, intent_id } = await stripeTopup(1200);
    expect(fake.createCallsFor(topup_id).map((call) => call.status)).toEqual([503, 200]);
    expect(fake.intentsFor(topup_id).map((intent) => intent.id)).toEqual([intent_id]);
  });

  it('when Stripe made the intent but its answer came too late, then the retry with the same key gets that intent', async () => {
    fake.failNextCreates({ kind: 'slow', delay_ms: TIMEOUT_MS * 3 });
    const { topup_id, intent_id } = await stripeTopup(1300);
    const calls = fake.createCallsFor(topup_id);
    expect(calls).toHaveLength(2);
    expect(new Set(calls.map((call) => call.idempotency_key)).size).toBe(1);
    expect(fake.intentsFor(topup_id).map((intent) => intent.id)).toEqual([intent_id]);
  });

  it('when no try of the SDK gets an answer, then 503, and the retry with the same key finds the intent Stripe made', async () => {
    // The first try runs at Stripe and its answer is lost; the SDK's two retries meet an outage.
    fake.failNextCreates({ kind: 'slow', delay_ms: TIMEOUT_MS * 3 }, { kind: 'unavailable' }, { kind: 'unavailable' });
    const { account_id, token } = await player();
    const body = { account_id, amount: 1400, currency: 'EUR' };
    const reused = key();
    const lost = await request(pod(0), 'POST', '/v1/topups', body, { token, key: reused });
    expect(lost.status).toBe(503);
    expect(lost.body.code).toBe('unavailable');
    const retried = await request(pod(1), 'POST', '/v1/topups', body, { token, key: reused });
    expect(retried.status).toBe(201);
    const { id: topup_id } = retried.body;
    expect(fake.createCallsFor(topup_id).map((call) => call.status)).toEqual([200, 503, 503, 200]);
    expect(fake.intentsFor(topup_id).map((intent) => intent.id)).toEqual([retried.body.payment.payment_intent_id]);
    expect((await request(pod(2), 'POST', '/v1/topups', body, { token, key: reused })).text).toBe(retried.text);
  });

  it('when more top-ups need Stripe at once than a pod may call, then the rest wait a try long, then 503; retries converge', async () => {
    // The calls in flight answer late: the SDK gives up after one timeout and asks again after a pause.
    fake.failNextCreates(...Array.from({ length: CALLS_IN_FLIGHT_MAX }, () => ({ kind: 'slow' as const, delay_ms: TIMEOUT_MS * 2 })));
    const players = await Promise.all(Array.from({ length: CALLS_IN_FLIGHT_MAX * 2 }, player));
    const requests = players.map(({ account_id, token }) => ({ body: { account_id, amount: 1500, currency: 'EUR' }, token, key: key() }));
    const first = await Promise.all(requests.map(({ body, token, key }) => request(eu(), 'POST', '/v1/topups', body, { token, key })));
    expect(first.map((answer) => answer.status).sort()).toEqual([
      ...Array(CALLS_IN_FLIGHT_MAX).fill(201),
      ...Array(CALLS_IN_FLIGHT_MAX).fill(503),
    ]);
    const retried = await Promise.all(requests.map(({ body, token, key }) => request(pod(1), 'POST', '/v1/topups', body, { token, key })));
    expect(retried.map((answer) => answer.status)).toEqual(Array(CALLS_IN_FLIGHT_MAX * 2).fill(201));
    for (const answer of retried) expect(fake.intentsFor(answer.body.id)).toHaveLength(1);
  });

  it('when Stripe refuses the amount, then 400 remembered and the top-up FAILED; a currency it never takes is 400 at once', async () => {
    const { account_id, token } = await player();
    const reused = key();
    const refused = await request(eu(), 'POST', '/v1/topups', { account_id, amount: 10, currency: 'EUR' }, { token, key: reused });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'validation_error', detail: expect.stringMatching(/^Stripe refused the payment: Amount/) });
    const again = await request(pod(1), 'POST', '/v1/topups', { account_id, amount: 10, currency: 'EUR' }, { token, key: reused });
    expect(again.text).toBe(refused.text);
    const topup_id = fake.calls.at(-1)!.idempotency_key!.replace('creditshop-topup-', '');
    expect(fake.intentsFor(topup_id)).toEqual([]);
    expect(await topup(topup_id)).toMatchObject({ status: 'FAILED', payment: { payment_intent_id: null, client_secret: null } });
    const calls = fake.calls.length;
    const gems = await request(eu(), 'POST', '/v1/topups', { account_id, amount: 500, currency: 'GEMS' }, { token, key: key() });
    expect(gems.status).toBe(400);
    expect(gems.body.errors).toEqual([expect.objectContaining({ path: 'currency' })]);
    expect(fake.calls.length).toBe(calls);
  });
});

describe('Stripe events on the top-up state machine', () => {
  it('when the payment succeeds, then the wallet is credited once, however often and wherever Stripe delivers it', async () => {
    const { account_id, topup_id, intent_id } = await stripeTopup(1000);
    const succeeded = fake.pay(intent_id);
    expect(await deliver(succeeded)).toEqual(['credited']);
    // Stripe counts down pending_webhooks as endpoints acknowledge: a redelivery differs there, and is the same event.
    const redelivered = (index: number) => ({ ...succeeded, pending_webhooks: index % 3 });
    const redeliveries = await Promise.all(
      Array.from({ length: 9 }, (_, index) => sendStripeEvent(pod(index), redelivered(index), WEBHOOK_SECRET)),
    );
    expect(redeliveries.map((answer) => [answer.status, answer.body.outcome])).toEqual(Array(9).fill([200, 'credited']));
    expect(await balance(account_id)).toBe(1000);
    const view = await topup(topup_id);
    expect(view).toMatchObject({
      status: 'SUCCEEDED',
      psp_payment_id: intent_id,
      credit_transaction_id: expect.any(String),
      payment: { payment_intent_id: intent_id, client_secret: null },
      events: [{ id: succeeded.id, type: 'payment_intent.succeeded', amount: 1000, currency: 'EUR', outcome: 'credited' }],
      review: [],
    });
  });

  it('when a payment is held and then made, then its events carry the top-up as GET shows it, never its client secret', async () => {
    const { account_id, topup_id, intent_id } = await stripeTopup(1000);
    const short = fake.other('payment_intent.succeeded', intent_id);
    (short.data.object as { amount_received: number }).amount_received = 999;
    expect(await deliver(short)).toEqual(['amount_mismatch']);
    held.push({ event_id: short.id, outcome: 'amount_mismatch', topup_id });
    const while_held = await topup(topup_id);
    const client_secret = while_held.payment.client_secret as string;
    expect(client_secret).toEqual(expect.any(String));
    expect(await deliver(fake.pay(intent_id))).toEqual(['credited']);

    const listed = await request(eu(), 'GET', `/v1/events?account_id=${account_id}`, undefined, {
      token: await mint.service('events:read', 'integrator'),
    });
    expect(listed.status).toBe(200);
    const events = (listed.body.data as { type: string; data: { payment: Record<string, unknown> } }[]).reverse();
    expect(events.map((event) => event.type).filter((type) => type.startsWith('topup.'))).toEqual([
      'topup.held_for_review',
      'topup.succeeded',
    ]);
    const [held_event, succeeded_event] = events.filter((event) => event.type.startsWith('topup.'));
    // The held event's amount is what the state machine was given (psp_events.amount_minor), as GET shows it.
    expect(held_event!.data).toEqual(withoutClientSecret(while_held));
    expect(succeeded_event!.data).toEqual(withoutClientSecret(await topup(topup_id)));
    expect(held_event!.data.payment).toMatchObject({ provider: 'stripe', payment_intent_id: intent_id });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const stored = await client.query('SELECT count(*)::int AS n FROM events WHERE account_id = $1 AND data_json LIKE $2', [
        account_id,
        `%${client_secret}%`,
      ]);
      expect(stored.rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  });

  it('when the card is declined and then another one pays, then FAILED, then credited once', async () => {
    const { account_id, topup_id, intent_id } = await stripeTopup(800);
    expect(await deliver(fake.decline(intent_id))).toEqual(['failed']);
    expect((await topup(topup_id)).status).toBe('FAILED');
    expect(await balance(account_id)).toBe(0);
    expect(await deliver(fake.decline(intent_id), fake.pay(intent_id))).toEqual(['ignored_state', 'credited']);
    expect(await topup(topup_id)).toMatchObject({ status: 'SUCCEEDED', reversed_amount: 0 });
    expect(await balance(account_id)).toBe(800);
  });

  it('when a refund arrives before the success, then it waits and is applied right after the credit', async () => {
    const { account_id, topup_id, intent_id } = await stripeTopup(1000);
    const succeeded = fake.pay(intent_id);
    const refunded = fake.refund(intent_id, 300);
    expect(await deliver(refunded, succeeded)).toEqual(['reversal_waiting', 'credited']);
    const view = await topup(topup_id);
    expect(view).toMatchObject({ status: 'SUCCEEDED', reversed_amount: 300, pending_reversal_amount: 0 });
    expect(view.reversals).toEqual([
      expect.objectContaining({ amount: 300, status: 'applied', event_id: expect.stringMatching(/^refund:ch_/) }),
    ]);
    expect(await balance(account_id)).toBe(700);
  });

  it('when partial refunds arrive out of order, repeated and at once, then they sum up to the charge refunded total, no more', async () => {
    const { account_id, topup_id, intent_id } = await stripeTopup(1000);
    const succeeded = fake.pay(intent_id);
    // The charge's refunded total after each refund: 200, 500, 600.
    const totals = [fake.refund(intent_id, 200), fake.refund(intent_id, 300), fake.refund(intent_id, 100)];
    expect(await deliver(succeeded, totals[1]!, totals[0]!)).toEqual(['credited', 'reversed', 'superseded']);
    expect((await topup(topup_id)).reversed_amount).toBe(500);
    const sent = [...totals, ...totals, ...totals];
    const burst = await Promise.all(sent.map((event, index) => sendStripeEvent(pod(index), event, WEBHOOK_SECRET)));
    expect(burst.every((answer) => answer.status === 200)).toBe(true);
    // Each event answered as its first delivery was: the new total applied once (the reversals below).
    const answers = (event: StripeEventBody) => burst.filter((_, index) => sent[index] === event).map((answer) => answer.body.outcome);
    expect([answers(totals[0]!), answers(totals[1]!), answers(totals[2]!)]).toEqual([
      Array(3).fill('superseded'),
      Array(3).fill('reversed'),
      Array(3).fill('reversed'),
    ]);
    const view = await topup(topup_id);
    expect(view).toMatchObject({ status: 'SUCCEEDED', reversed_amount: 600, unrecovered_amount: 0, review: [] });
    expect(view.reversals.map((reversal: { amount: number }) => reversal.amount)).toEqual([500, 100]);
    expect(await balance(account_id)).toBe(400);
  });

  it('when a dispute opens, then the disputed amount is taken back at once; when it is lost, nothing more', async () => {
    const { account_id, token, topup_id, intent_id } = await stripeTopup(1000);
    expect(await deliver(fake.pay(intent_id))).toEqual(['credited']);
    await spend(account_id, token, 600);
    const { dispute_id, event: opened } = fake.openDispute(intent_id);
    expect(await deliver(opened, fake.closeDispute(dispute_id, 'lost'))).toEqual(['reversed', 'ignored_state']);
    const view = await topup(topup_id);
    expect(view).toMatchObject({ status: 'REVERSED', reversed_amount: 1000, unrecovered_amount: 600, review: [] });
    expect(view.reversals).toEqual([
      { event_id: dispute_id, amount: 1000, status: 'applied', recovered_amount: 400, unrecovered_amount: 600 },
    ]);
    expect(await balance(account_id)).toBe(0);
  });

  it('when a dispute is lost before its opening arrives, then it is reversed once, whichever event comes first', async () => {
    const { account_id, topup_id, intent_id } = await stripeTopup(1000);
    const succeeded = fake.pay(intent_id);
    const { dispute_id, event: opened } = fake.openDispute(intent_id, { amount: 400 });
    const lost = fake.closeDispute(dispute_id, 'lost');
    expect(await deliver(lost, succeeded, opened, lost)).toEqual(['reversal_waiting', 'credited', 'ignored_state', 'reversal_waiting']);
    expect(await topup(topup_id)).toMatchObject({ status: 'SUCCEEDED', reversed_amount: 400 });
    expect(await balance(account_id)).toBe(600);
  });

  it('when a dispute is won, then it is held for review; the operator credits back by hand and settles it', async () => {
    const { account_id, topup_id, intent_id } = await stripeTopup(1000);
    expect(await deliver(fake.pay(intent_id))).toEqual(['credited']);
    const { dispute_id, event: opened } = fake.openDispute(intent_id);
    const won = fake.closeDispute(dispute_id, 'won');
    expect(await deliver(opened, won)).toEqual(['reversed', 'held_for_review']);
    held.push({ event_id: won.id, outcome: 'held_for_review', topup_id });
    await expectHeldForReview(eu(), admin, held);
    const view = await topup(topup_id);
    expect(view).toMatchObject({ status: 'REVERSED', review_reason: expect.stringContaining(`dispute ${dispute_id} was won`) });
    expect(await balance(account_id)).toBe(0);
    const credit = { amount: 1000, currency: 'EUR', reason: `dispute ${dispute_id} won` };
    expect((await request(eu(), 'POST', `/v1/accounts/${account_id}/credits`, credit, { token: admin, key: key() })).status).toBe(201);
    const body = { settlement: `dispute ${dispute_id} won: 1000 EUR credited back by hand` };
    expect((await request(eu(), 'PUT', `/v1/psp/events/${won.id}/review`, body, { token: admin })).status).toBe(200);
    held.pop();
    expect(await balance(account_id)).toBe(1000);
  });

  it('when an inquiry opens and closes, then no money moves', async () => {
    const { account_id, intent_id } = await stripeTopup(500);
    expect(await deliver(fake.pay(intent_id))).toEqual(['credited']);
    const { dispute_id, event: opened } = fake.openDispute(intent_id, { inquiry: true });
    expect(await deliver(opened, fake.closeDispute(dispute_id, 'warning_closed'))).toEqual(['ignored_state', 'ignored_state']);
    expect(await balance(account_id)).toBe(500);
  });
});

describe('what Stripe sends that is not a top-up event', () => {
  it('when the signature is wrong, stale, missing or over another body, then 400 validation_error and nothing is recorded', async () => {
    const { intent_id } = await stripeTopup(600);
    const succeeded = fake.pay(intent_id);
    const payload = JSON.stringify(succeeded);
    const stale_s = Math.floor(Date.now() / 1000) - 301;
    const refused = await Promise.all([
      sendStripeEvent(eu(), succeeded, 'whsec_someone_else_s_secret_entirely'),
      sendStripeEvent(eu(), succeeded, WEBHOOK_SECRET, { timestamp_s: stale_s }),
      sendStripeEvent(eu(), succeeded, WEBHOOK_SECRET, { signature: '' }),
      sendStripeEvent(eu(), payload.replace('"amount":600', '"amount":60000'), WEBHOOK_SECRET, {
        signature: Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }),
      }),
    ]);
    for (const answer of refused) {
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: 'validation_error', detail: expect.stringMatching(/^Stripe-Signature does not verify/) });
    }
    expect(await loggedEvents(succeeded.id)).toEqual([]);
    expect(await deliver(succeeded)).toEqual(['credited']);
  });

  it('when Stripe sends a type creditshop does not use, then 200, recorded on the top-up, and nobody needs to look', async () => {
    const { topup_id, intent_id } = await stripeTopup(600);
    const created = fake.other('payment_intent.created', intent_id);
    expect(await deliver(created, created)).toEqual(['ignored_type', 'ignored_type']);
    expect(await loggedEvents(created.id)).toEqual([
      { id: created.id, type: 'payment_intent.created', topup_id, outcome: 'ignored_type', review_reason: null },
    ]);
    expect((await topup(topup_id)).events).toEqual([expect.objectContaining({ id: created.id, outcome: 'ignored_type' })]);
  });

  it('when a payment is no top-up of ours, then it is recorded as unrelated; one naming an unknown top-up is held', async () => {
    const { intent_id } = await stripeTopup(600);
    const foreign = fake.other('payment_intent.succeeded', intent_id);
    const intent = foreign.data.object as { id: string; metadata: Record<string, string> };
    intent.id = 'pi_sold_by_another_product_of_the_studio';
    intent.metadata = {};
    const unknown = fake.other('payment_intent.succeeded', intent_id);
    const nowhere = randomUUID();
    (unknown.data.object as { metadata: Record<string, string> }).metadata = { creditshop_topup_id: nowhere };
    expect(await deliver(foreign, unknown)).toEqual(['unrelated', 'unknown_topup']);
    held.push({ event_id: unknown.id, outcome: 'unknown_topup', topup_id: nowhere });
  });

  it('when the generic PSP names a Stripe top-up, then held on it and never credited: a provider proves its own payments', async () => {
    const { account_id, topup_id } = await stripeTopup(700);
    const id = uniqueId('evt');
    const raw = JSON.stringify({
      id,
      type: 'payment.succeeded',
      data: { topup_id, amount: 700, currency: 'EUR', psp_payment_id: 'pay_1' },
    });
    const header = signatureHeader(cluster.config.psp_webhook_secret, Math.floor(Date.now() / 1000), raw);
    const answer = await request(eu(), 'POST', '/v1/psp/events', undefined, { raw, headers: { 'Psp-Signature': header } });
    expect([answer.status, answer.body.outcome]).toEqual([200, 'provider_mismatch']);
    expect(await topup(topup_id)).toMatchObject({ status: 'PENDING', review: [expect.objectContaining({ event_id: id })] });
    expect(await balance(account_id)).toBe(0);
    held.push({ event_id: id, outcome: 'provider_mismatch', topup_id });
  });

  it('when a validly signed body is not a Stripe event, then 200 and it is kept, held for review', async () => {
    const shapeless = '{"id":"evt_shapeless","object":"event","type":"charge.refunded","data":{}}';
    const answers = await Promise.all([shapeless, 'not json at all'].map((body) => sendStripeEvent(eu(), body, WEBHOOK_SECRET)));
    expect(answers.map((answer) => [answer.status, answer.body.outcome])).toEqual([
      [200, 'malformed'],
      [200, 'malformed'],
    ]);
    const [logged] = await loggedEvents('evt_shapeless');
    expect(logged).toMatchObject({ type: 'charge.refunded', outcome: 'malformed', review_reason: expect.stringContaining('data.object') });
    held.push(
      { event_id: 'evt_shapeless', outcome: 'malformed', topup_id: null },
      { event_id: bodyKey('not json at all'), outcome: 'malformed', topup_id: null },
    );
  });
});

async function spend(account_id: string, token: string, amount: number) {
  const debit = await request(
    eu(),
    'POST',
    `/v1/accounts/${account_id}/debits`,
    { amount, currency: 'EUR', reason: 'spent' },
    { token, key: key() },
  );
  expect(debit.status).toBe(201);
}

/** A top-up view as its events carry it: the client secret that pays it is for the paying client alone. */
function withoutClientSecret(view: { payment: Record<string, unknown> }) {
  const { client_secret: _withheld, ...payment } = view.payment;
  return { ...view, payment };
}
