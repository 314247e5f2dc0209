import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type ApiResponse, type TestCluster } from '../support/cluster.js';
import { key, tally, type ShopHarness, startShopCluster } from '../support/shop.js';

// Concurrency and exactly-once for the shop, through all three in-process pods (eu-west,
// us-east, ap-south) against the shared PostgreSQL: racing purchases cannot overdraw, racing
// refunds cannot overshoot, racing complete/cancel have one winner, and every POST replays.

let cluster: TestCluster;
let h: ShopHarness;

beforeAll(async () => {
  ({ cluster, h } = await startShopCluster());
});
afterAll(() => cluster?.stop());

const replayed = (response: ApiResponse) => response.headers.get('idempotent-replayed');

describe('racing purchases', () => {
  it('when 30 buys of 100 race over 3 pods on a 1,000 wallet, then 10 complete, 20 insufficient_funds, 0 fail, books balance', async () => {
    const item = await h.putItem({ name: 'Sword skin', kind: 'skin', price: 100 });
    const buyer = await h.player(1000);
    const keys = Array.from({ length: 30 }, () => key());
    const body = { account_id: buyer.id, lines: [{ item_id: item, quantity: 1 }], expected_total: 100 };
    const responses = await Promise.all(keys.map((k, i) => request(h.pod(i), 'POST', '/v1/orders', body, { token: buyer.token, key: k })));

    expect(responses.filter((response) => response.status >= 500)).toEqual([]);
    expect(tally(responses)).toEqual({ '201': 10, '409 insufficient_funds': 20 });
    const completed = responses.filter((response) => response.status === 201);
    for (const response of completed)
      expect(response.body).toMatchObject({ status: 'COMPLETED', total: 100, payment_transaction_id: expect.any(String) });
    expect(new Set(completed.map((response) => response.body.id)).size).toBe(10);
    // Every pod served some of them, winners and losers.
    expect(new Set(responses.map((response) => response.headers.get('x-region')))).toEqual(new Set(['eu-west', 'us-east', 'ap-south']));

    expect(await h.wallet(buyer.id)).toMatchObject({ balance: 0, held: 0, available: 0 });
    const orders = await h.orders(buyer.id, 3);
    expect(orders.map((order) => order.status)).toEqual(Array(10).fill('COMPLETED'));
    expect(new Set(orders.map((order) => order.id))).toEqual(new Set(completed.map((response) => response.body.id)));
    const entitlements = await h.entitlements(buyer.id);
    expect(entitlements).toHaveLength(10);
    expect(
      entitlements.every((entitlement) => entitlement.item_id === item && entitlement.quantity === 1 && entitlement.status === 'ACTIVE'),
    ).toBe(true);
    expect(new Set(entitlements.map((entitlement) => entitlement.order_id))).toEqual(
      new Set(completed.map((response) => response.body.id)),
    );

    // A loser's key replays its refusal, even though nothing has changed since; a winner's replays its order.
    const loser = responses.findIndex((response) => response.status === 409);
    const loser_replay = await request(h.pod(loser + 1), 'POST', '/v1/orders', body, { token: buyer.token, key: keys[loser]! });
    expect(loser_replay.status).toBe(409);
    expect(loser_replay.body.code).toBe('insufficient_funds');
    expect(replayed(loser_replay)).toBe('true');
    const winner = responses.findIndex((response) => response.status === 201);
    const winner_replay = await request(h.pod(winner + 2), 'POST', '/v1/orders', body, { token: buyer.token, key: keys[winner]! });
    expect(winner_replay.status).toBe(201);
    expect(replayed(winner_replay)).toBe('true');
    expect(winner_replay.body).toEqual(responses[winner]!.body);
    await h.expectReconcileClean();
  });

  it('when 5 identical keyed requests race over 3 pods, one order is placed; each answers it or idempotency_key_in_flight', async () => {
    const item = await h.putItem({ name: 'Game', kind: 'game', price: 300 });
    const buyer = await h.player(1000);
    const k = key();
    const body = { account_id: buyer.id, lines: [{ item_id: item, quantity: 1 }] };
    const responses = await Promise.all(
      Array.from({ length: 5 }, (_, i) => request(h.pod(i), 'POST', '/v1/orders', body, { token: buyer.token, key: k })),
    );
    const placed = responses.filter((response) => response.status === 201);
    const others = responses.filter((response) => response.status !== 201);
    expect(placed.length).toBeGreaterThanOrEqual(1);
    expect(others.map((response) => `${response.status} ${response.body.code}`)).toEqual(others.map(() => '409 idempotency_key_in_flight'));
    expect(new Set(placed.map((response) => response.body.id)).size).toBe(1);
    expect(placed.filter((response) => replayed(response) !== 'true')).toHaveLength(1);
    expect((await h.wallet(buyer.id)).balance).toBe(700);
    expect(await h.orders(buyer.id)).toHaveLength(1);
  });

  it('when complete and cancel of a two-step order race (3 each, three pods), then exactly one wins and the money matches it', async () => {
    const item = await h.putItem({ name: 'Game', kind: 'game', price: 400 });
    const buyer = await h.player(1000);
    const pending = await request(
      h.pod(0),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: item, quantity: 1 }], mode: 'two_step' },
      { token: buyer.token, key: key() },
    );
    expect(pending.status).toBe(201);
    expect(pending.body.status).toBe('PENDING');
    const actions = ['complete', 'cancel', 'complete', 'cancel', 'complete', 'cancel'];
    const responses = await Promise.all(
      actions.map((action, i) =>
        request(h.pod(i), 'POST', `/v1/orders/${pending.body.id}/${action}`, {}, { token: buyer.token, key: key() }),
      ),
    );
    expect(tally(responses)).toEqual({ '200': 1, '409 invalid_state': 5 });
    const winner = responses.find((response) => response.status === 200)!;
    const order = await request(h.pod(1), 'GET', `/v1/orders/${pending.body.id}`, undefined, { token: buyer.token });
    expect(order.body.status).toBe(winner.body.status);
    const hold = await request(h.pod(2), 'GET', `/v1/holds/${pending.body.hold_id}`, undefined, { token: buyer.token });
    if (winner.body.status === 'COMPLETED') {
      expect(await h.wallet(buyer.id)).toMatchObject({ balance: 600, held: 0 });
      expect(hold.body.status).toBe('CAPTURED');
      expect(await h.entitlements(buyer.id)).toHaveLength(1);
    } else {
      expect(winner.body.status).toBe('CANCELLED');
      expect(await h.wallet(buyer.id)).toMatchObject({ balance: 1000, held: 0 });
      expect(hold.body.status).toBe('VOIDED');
      expect(await h.entitlements(buyer.id)).toHaveLength(0);
    }
    await h.expectReconcileClean();
  });
});

describe('racing refunds', () => {
  it('when 8 refunds of 1 unit race on a line of quantity 3, then 3 succeed, 5 refund_exceeds_remaining, order is REFUNDED', async () => {
    const item = await h.putItem({ name: 'Armor skin', kind: 'skin', price: 100 });
    const buyer = await h.player(300);
    const order = await request(
      h.pod(0),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: item, quantity: 3 }] },
      { token: buyer.token, key: key() },
    );
    expect(order.status).toBe(201);
    expect((await h.wallet(buyer.id)).balance).toBe(0);

    const body = { lines: [{ item_id: item, quantity: 1 }], reason: 'support goodwill' };
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        request(h.pod(i), 'POST', `/v1/orders/${order.body.id}/refunds`, body, { token: h.refunds, key: key() }),
      ),
    );
    expect(responses.filter((response) => response.status >= 500)).toEqual([]);
    expect(tally(responses)).toEqual({ '201': 3, '422 refund_exceeds_remaining': 5 });
    const refunds = responses.filter((response) => response.status === 201);
    for (const refund of refunds)
      expect(refund.body).toMatchObject({ order_id: order.body.id, amount: 100, currency: 'EUR', lines: [{ item_id: item, quantity: 1 }] });
    expect(refunds.map((refund) => refund.body.order_status).sort()).toEqual(['PARTIALLY_REFUNDED', 'PARTIALLY_REFUNDED', 'REFUNDED']);
    expect(new Set(refunds.map((refund) => refund.body.transaction_id)).size).toBe(3);

    const after = await request(h.pod(1), 'GET', `/v1/orders/${order.body.id}`, undefined, { token: buyer.token });
    expect(after.body).toMatchObject({
      status: 'REFUNDED',
      total: 300,
      refunded_amount: 300,
      lines: [{ item_id: item, quantity: 3, refunded_quantity: 3 }],
    });
    expect(after.body.status_history.map((change: any) => change.status)).toEqual([
      'PENDING',
      'COMPLETED',
      'PARTIALLY_REFUNDED',
      'REFUNDED',
    ]);
    expect(await h.wallet(buyer.id)).toMatchObject({ balance: 300, held: 0 });
    expect(await h.entitlements(buyer.id)).toEqual([
      expect.objectContaining({ order_id: order.body.id, quantity: 0, quantity_granted: 3, status: 'REVOKED' }),
    ]);
    await h.expectReconcileClean();
  });

  it('when 6 "refund everything left" requests race after a partial refund, then exactly one succeeds, the rest are refused', async () => {
    const game = await h.putItem({ name: 'Game', kind: 'game', price: 500 });
    const skin = await h.putItem({ name: 'Skin', kind: 'skin', price: 200 });
    const buyer = await h.player(1000);
    const order = await request(
      h.pod(0),
      'POST',
      '/v1/orders',
      {
        account_id: buyer.id,
        lines: [
          { item_id: game, quantity: 1 },
          { item_id: skin, quantity: 2 },
        ],
      },
      { token: buyer.token, key: key() },
    );
    expect(order.status).toBe(201);
    const partial = await request(
      h.pod(1),
      'POST',
      `/v1/orders/${order.body.id}/refunds`,
      { amount: 50, reason: 'late delivery' },
      { token: h.refunds, key: key() },
    );
    expect(partial.status).toBe(201);
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        request(h.pod(i), 'POST', `/v1/orders/${order.body.id}/refunds`, { reason: 'close the order' }, { token: h.refunds, key: key() }),
      ),
    );
    expect(tally(responses)).toEqual({ '201': 1, '422 refund_exceeds_remaining': 5 });
    expect(responses.find((response) => response.status === 201)!.body).toMatchObject({ amount: 850, order_status: 'REFUNDED' });
    expect((await h.wallet(buyer.id)).balance).toBe(1000);
    expect((await h.entitlements(buyer.id)).every((entitlement) => entitlement.status === 'REVOKED')).toBe(true);
    await h.expectReconcileClean();
  });
});

describe('replays of every POST', () => {
  async function expectReplay(method: string, path: string, body: unknown, token: string, first: ApiResponse, k: string) {
    for (const base of h.urls) {
      const again = await request(base, method, path, body, { token, key: k });
      expect(again.status).toBe(first.status);
      expect(replayed(again)).toBe('true');
      expect(again.body).toEqual(first.body);
    }
    expect(replayed(first)).toBeNull();
  }

  it('when orders, completes, cancels, refunds and top-ups are resent via every pod, then each replays its answer, acts once', async () => {
    const game = await h.putItem({ name: 'Game', kind: 'game', price: 1000 });
    const skin = await h.putItem({ name: 'Skin', kind: 'skin', price: 100 });
    const buyer = await h.player(5000);
    const T = buyer.token;

    // Immediate order.
    const immediate_key = key();
    const immediate_body = {
      account_id: buyer.id,
      lines: [
        { item_id: game, quantity: 1 },
        { item_id: skin, quantity: 2 },
      ],
      expected_total: 1200,
    };
    const immediate = await request(h.pod(0), 'POST', '/v1/orders', immediate_body, { token: T, key: immediate_key });
    expect(immediate.status).toBe(201);
    await expectReplay('POST', '/v1/orders', immediate_body, T, immediate, immediate_key);
    expect((await h.wallet(buyer.id)).balance).toBe(3800);
    const reused = await request(
      h.pod(1),
      'POST',
      '/v1/orders',
      { ...immediate_body, lines: [{ item_id: game, quantity: 1 }], expected_total: 1000 },
      { token: T, key: immediate_key },
    );
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');

    // Two-step order, then complete.
    const two_step_key = key();
    const two_step_body = { account_id: buyer.id, lines: [{ item_id: skin, quantity: 1 }], mode: 'two_step' };
    const two_step = await request(h.pod(1), 'POST', '/v1/orders', two_step_body, { token: T, key: two_step_key });
    expect(two_step.status).toBe(201);
    expect(two_step.body.status).toBe('PENDING');
    await expectReplay('POST', '/v1/orders', two_step_body, T, two_step, two_step_key);
    expect(await h.wallet(buyer.id)).toMatchObject({ balance: 3800, held: 100 });
    const complete_key = key();
    const complete = await request(h.pod(2), 'POST', `/v1/orders/${two_step.body.id}/complete`, {}, { token: T, key: complete_key });
    expect(complete.status).toBe(200);
    expect(complete.body.status).toBe('COMPLETED');
    await expectReplay('POST', `/v1/orders/${two_step.body.id}/complete`, {}, T, complete, complete_key);
    expect(await h.wallet(buyer.id)).toMatchObject({ balance: 3700, held: 0 });

    // Two-step order, then cancel.
    const to_cancel = await request(
      h.pod(0),
      'POST',
      '/v1/orders',
      { ...two_step_body, lines: [{ item_id: game, quantity: 1 }] },
      { token: T, key: key() },
    );
    expect(to_cancel.status).toBe(201);
    const cancel_key = key();
    const cancel = await request(h.pod(1), 'POST', `/v1/orders/${to_cancel.body.id}/cancel`, {}, { token: T, key: cancel_key });
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe('CANCELLED');
    await expectReplay('POST', `/v1/orders/${to_cancel.body.id}/cancel`, {}, T, cancel, cancel_key);
    expect(await h.wallet(buyer.id)).toMatchObject({ balance: 3700, held: 0 });

    // A refund of one skin of the immediate order.
    const refund_key = key();
    const refund_body = { lines: [{ item_id: skin, quantity: 1 }], reason: 'changed my mind' };
    const refund = await request(h.pod(2), 'POST', `/v1/orders/${immediate.body.id}/refunds`, refund_body, { token: T, key: refund_key });
    expect(refund.status).toBe(201);
    await expectReplay('POST', `/v1/orders/${immediate.body.id}/refunds`, refund_body, T, refund, refund_key);
    expect((await h.wallet(buyer.id)).balance).toBe(3800);
    const refunded = await request(h.pod(0), 'GET', `/v1/orders/${immediate.body.id}`, undefined, { token: T });
    expect(refunded.body).toMatchObject({ status: 'PARTIALLY_REFUNDED', refunded_amount: 100 });

    // A top-up.
    const topup_key = key();
    const topup_body = { account_id: buyer.id, amount: 2500, currency: 'EUR' };
    const topup = await request(h.pod(0), 'POST', '/v1/topups', topup_body, { token: T, key: topup_key });
    expect(topup.status).toBe(201);
    expect(topup.body.status).toBe('PENDING');
    await expectReplay('POST', '/v1/topups', topup_body, T, topup, topup_key);

    // Keys are scoped per caller: the same key from a service is a new request, not a replay.
    const by_service = await request(h.pod(1), 'POST', '/v1/topups', topup_body, { token: h.service, key: topup_key });
    expect(by_service.status).toBe(201);
    expect(replayed(by_service)).toBeNull();
    expect(by_service.body.id).not.toBe(topup.body.id);

    const orders = await h.orders(buyer.id);
    expect(orders.map((order) => order.id).sort()).toEqual([immediate.body.id, two_step.body.id, to_cancel.body.id].sort());
    await h.expectReconcileClean();
  });
});
