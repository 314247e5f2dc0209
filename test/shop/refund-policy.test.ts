import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type ApiResponse, type TestCluster } from '../support/cluster.js';
import { expectProblem, key, type ShopHarness, startShopCluster } from '../support/shop.js';

// Issue 8, item 7 (SPEC §6): a non-refundable item or a consumable is 422 not_refundable for
// everyone; a service with refunds:write overrides that only with "override_policy": true, and the
// override is recorded with the refund. Item 13: the caller's scope is checked before the order.

let h: ShopHarness;
let cluster: TestCluster;
beforeAll(async () => {
  ({ cluster, h } = await startShopCluster());
});
afterAll(() => cluster?.stop());

async function buy(lines: Array<{ item_id: string; quantity: number }>, mode: 'immediate' | 'two_step' = 'immediate') {
  const buyer = await h.player(10_000);
  const order = await request(h.pod(0), 'POST', '/v1/orders', { account_id: buyer.id, lines, mode }, { token: buyer.token, key: key() });
  expect(order.status, JSON.stringify(order.body)).toBe(201);
  return { buyer, order_id: order.body.id as string };
}

const refund = (order_id: string, body: Record<string, unknown>, token: string, pod = 0) =>
  request(h.pod(pod), 'POST', `/v1/orders/${order_id}/refunds`, body, { token, key: key() });

/** What a refund may change: the order, the buyer's money and entitlements. */
async function state(order_id: string, account_id: string) {
  const order = await request(h.pod(1), 'GET', `/v1/orders/${order_id}`, undefined, { token: h.service });
  return { order: order.body, wallet: await h.wallet(account_id), entitlements: await h.entitlements(account_id) };
}

async function storedOverride(refund_id: string): Promise<string | null> {
  const rows = await cluster.pods[0]!.deps.transactions.read((tx) =>
    tx.rows<{ policy_overridden_by: string | null }>('SELECT policy_overridden_by FROM order_refunds WHERE id = ?', [refund_id]),
  );
  expect(rows).toHaveLength(1);
  return rows[0]!.policy_overridden_by;
}

describe('item 7: the refund policy is never overridden silently', () => {
  it('when support refunds a consumable or a non-refundable item without override_policy, then 422 and nothing changes', async () => {
    const potion = await h.putItem({ name: 'Potion', kind: 'consumable', price: 50 });
    const final_sale = await h.putItem({ name: 'Final sale skin', kind: 'skin', price: 300, refundable: false });
    const game = await h.putItem({ name: 'Game', kind: 'game', price: 1000 });
    const { buyer, order_id } = await buy([
      { item_id: potion, quantity: 2 },
      { item_id: final_sale, quantity: 1 },
      { item_id: game, quantity: 1 },
    ]);
    const before = await state(order_id, buyer.id);
    for (const [label, body] of [
      ['a consumable by lines', { lines: [{ item_id: potion, quantity: 1 }], reason: 'support' }],
      ['a non-refundable item by lines', { lines: [{ item_id: final_sale, quantity: 1 }], reason: 'support' }],
      ['everything left', { reason: 'support' }],
      ['goodwill money on what is left', { amount: 10, reason: 'late delivery' }],
      ['override_policy false', { lines: [{ item_id: potion, quantity: 1 }], reason: 'support', override_policy: false }],
    ] as const) {
      const refused = await refund(order_id, body, h.refunds);
      expectProblem(refused, 422, 'not_refundable');
      expect(refused.body.detail, label).toMatch(/is not refundable; "override_policy": true refunds it anyway$/);
    }
    expect(await state(order_id, buyer.id)).toEqual(before);
    // What the policy allows needs no override, and records none.
    const allowed = await refund(order_id, { lines: [{ item_id: game, quantity: 1 }], reason: 'support' }, h.refunds);
    expect(allowed.status).toBe(201);
    expect(allowed.body).toMatchObject({ amount: 1000, override_policy: false, policy_overridden_by: null });
    expect(await storedOverride(allowed.body.id)).toBeNull();
    await h.expectReconcileClean();
  });

  it('when support sends override_policy: true with a reason, then 201, the override is recorded and shown, and replays', async () => {
    const potion = await h.putItem({ name: 'Potion', kind: 'consumable', price: 50 });
    const { buyer, order_id } = await buy([{ item_id: potion, quantity: 2 }]);
    const body = { lines: [{ item_id: potion, quantity: 1 }], reason: 'duplicate charge', override_policy: true };
    const refund_key = key();
    const first = await request(h.pod(1), 'POST', `/v1/orders/${order_id}/refunds`, body, { token: h.refunds, key: refund_key });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({
      amount: 50,
      lines: [{ item_id: potion, quantity: 1 }],
      reason: 'duplicate charge',
      override_policy: true,
      policy_overridden_by: 'support-desk',
      order_status: 'PARTIALLY_REFUNDED',
    });
    expect(await storedOverride(first.body.id)).toBe('support-desk');
    const replay = await request(h.pod(2), 'POST', `/v1/orders/${order_id}/refunds`, body, { token: h.refunds, key: refund_key });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect((await h.wallet(buyer.id)).balance).toBe(10_000 - 100 + 50);
    // A reason stays required for every refund, overrides included.
    expectProblem(await refund(order_id, { override_policy: true }, h.refunds), 400, 'validation_error');
    expectProblem(await refund(order_id, { override_policy: 'yes', reason: 'x' }, h.refunds), 400, 'validation_error');
    await h.expectReconcileClean();
  });

  it('when a player sends override_policy: true, then 403 even on their own refundable order, and nothing changes', async () => {
    const skin = await h.putItem({ name: 'Skin', kind: 'skin', price: 100 });
    const potion = await h.putItem({ name: 'Potion', kind: 'consumable', price: 50 });
    const { buyer, order_id } = await buy([
      { item_id: skin, quantity: 1 },
      { item_id: potion, quantity: 1 },
    ]);
    const before = await state(order_id, buyer.id);
    for (const body of [
      { lines: [{ item_id: potion, quantity: 1 }], reason: 'please', override_policy: true },
      { lines: [{ item_id: skin, quantity: 1 }], reason: 'please', override_policy: true },
    ]) {
      expectProblem(await refund(order_id, body, buyer.token), 403, 'forbidden');
    }
    expectProblem(
      await refund(order_id, { lines: [{ item_id: potion, quantity: 1 }], reason: 'please' }, buyer.token),
      422,
      'not_refundable',
    );
    expect(await state(order_id, buyer.id)).toEqual(before);
    expect((await refund(order_id, { lines: [{ item_id: skin, quantity: 1 }], reason: 'changed my mind' }, buyer.token)).status).toBe(201);
  });
});

describe("item 13: order refunds check the caller's scope before the order", () => {
  it('when a service without refunds:write refunds any order, then the same 403 whatever the order state, or none', async () => {
    const skin = await h.putItem({ name: 'Skin', kind: 'skin', price: 100 });
    const completed = await buy([{ item_id: skin, quantity: 1 }]);
    const cancelled = await buy([{ item_id: skin, quantity: 1 }], 'two_step');
    const cancel = await request(
      h.pod(0),
      'POST',
      `/v1/orders/${cancelled.order_id}/cancel`,
      {},
      { token: cancelled.buyer.token, key: key() },
    );
    expect(cancel.body.status).toBe('CANCELLED');
    const refunded = await buy([{ item_id: skin, quantity: 1 }]);
    expect((await refund(refunded.order_id, { reason: 'x' }, h.refunds)).status).toBe(201);
    const orders = [completed.order_id, cancelled.order_id, refunded.order_id, '00000000-0000-4000-8000-000000000000'];
    for (const token of [h.catalog, h.service]) {
      const answers: ApiResponse[] = [];
      for (const order_id of orders) answers.push(await refund(order_id, { reason: 'probe' }, token));
      for (const answer of answers) expectProblem(answer, 403, 'forbidden');
      expect(new Set(answers.map((answer) => answer.body.detail)).size).toBe(1);
    }
    expect((await state(completed.order_id, completed.buyer.id)).order.status).toBe('COMPLETED');
  });
});

describe('goodwill, then units', () => {
  it("when support gave money back on every line and the owner returns a unit, then it refunds it less its line's goodwill", async () => {
    const skin = await h.putItem({ name: 'Skin', kind: 'skin', price: 50 });
    const cape = await h.putItem({ name: 'Cape', kind: 'skin', price: 50 });
    const { buyer, order_id } = await buy([
      { item_id: skin, quantity: 1 },
      { item_id: cape, quantity: 1 },
    ]);
    // 20 of goodwill, spread over the two lines (10 each).
    expect((await refund(order_id, { amount: 20, reason: 'late delivery' }, h.refunds)).status).toBe(201);
    // The skin's 50 less the 10 already given back on its line (answered 500 before: the line went past its total).
    const unit = await refund(order_id, { lines: [{ item_id: skin, quantity: 1 }], reason: 'changed my mind' }, buyer.token);
    expect(unit.status, JSON.stringify(unit.body)).toBe(201);
    expect(unit.body).toMatchObject({ amount: 40, order_status: 'PARTIALLY_REFUNDED' });
    const rest = await refund(order_id, { lines: [{ item_id: cape, quantity: 1 }], reason: 'changed my mind' }, buyer.token);
    expect(rest.body).toMatchObject({ amount: 40, order_status: 'REFUNDED' });
    expect((await h.wallet(buyer.id)).balance).toBe(10_000);
    expect((await h.entitlements(buyer.id)).map((entitlement) => entitlement.status)).toEqual(['REVOKED', 'REVOKED']);
    await h.expectReconcileClean();
  });

  it('when goodwill left less than a unit and the owner returns one, then the order is refunded whole and every unit revoked', async () => {
    const skin = await h.putItem({ name: 'Skin', kind: 'skin', price: 499 });
    const { buyer, order_id } = await buy([{ item_id: skin, quantity: 2 }]);
    expect((await refund(order_id, { amount: 997, reason: 'goodwill' }, h.refunds)).status).toBe(201);
    // The last 1 of 998 comes back with this unit: nothing is left to pay for the other, which once
    // stayed ACTIVE in a REFUNDED order (asking for everything left revoked both).
    const unit = await refund(order_id, { lines: [{ item_id: skin, quantity: 1 }], reason: 'return one' }, buyer.token);
    expect(unit.status, JSON.stringify(unit.body)).toBe(201);
    expect(unit.body).toMatchObject({ amount: 1, order_status: 'REFUNDED' });
    const after = await state(order_id, buyer.id);
    expect(after.order.lines[0]).toMatchObject({ quantity: 2, refunded_quantity: 2 });
    expect(after.entitlements.map((entitlement) => entitlement.status)).toEqual(['REVOKED']);
    expect(after.wallet.balance).toBe(10_000);
    await h.expectReconcileClean();
  });

  it('when what goodwill paid back in whole is a consumable, then the owner returning the other item is not refused for it', async () => {
    const potion = await h.putItem({ name: 'Potion', kind: 'consumable', price: 499 });
    const skin = await h.putItem({ name: 'Skin', kind: 'skin', price: 499 });
    const { buyer, order_id } = await buy([
      { item_id: potion, quantity: 1 },
      { item_id: skin, quantity: 1 },
    ]);
    // 997 of goodwill, the potion's whole line among it (support overrode the policy for it then).
    const goodwill = await refund(order_id, { amount: 997, reason: 'goodwill', override_policy: true }, h.refunds);
    expect(goodwill.status, JSON.stringify(goodwill.body)).toBe(201);
    const unit = await refund(order_id, { lines: [{ item_id: skin, quantity: 1 }], reason: 'return it' }, buyer.token);
    expect(unit.status, JSON.stringify(unit.body)).toBe(201);
    expect(unit.body).toMatchObject({ amount: 1, order_status: 'REFUNDED' });
    expect((await state(order_id, buyer.id)).entitlements.map((entitlement) => entitlement.status)).toEqual(['REVOKED', 'REVOKED']);
    await h.expectReconcileClean();
  });
});
