import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, uniqueId, type ApiResponse, type TestCluster } from '../support/cluster.js';
import { expectProblem, key, type ShopHarness, startShopCluster } from '../support/shop.js';

// Bad input to the shop gets a clear problem+json and changes nothing; the catalog is public,
// paginated without repeats or skips, and writable only with catalog:write; a price change never
// touches a placed order.

let cluster: TestCluster;
let h: ShopHarness;

beforeAll(async () => {
  ({ cluster, h } = await startShopCluster());
});
afterAll(() => cluster?.stop());

describe('bad orders', () => {
  it('when an order is malformed, has bad items or a price, or targets another player, the right problem and nothing changes', async () => {
    const game = await h.putItem({ name: 'Game', kind: 'game', price: 1000 });
    const skin = await h.putItem({ name: 'Skin', kind: 'skin', price: 100 });
    const retired = await h.putItem({ name: 'Retired skin', kind: 'skin', price: 100, active: false });
    const gems_skin = await h.putItem({ name: 'Gems skin', kind: 'skin', price: 300, currency: 'GEMS' });
    const usd_skin = await h.putItem({ name: 'USD skin', kind: 'skin', price: 100, currency: 'USD' });
    const a = await h.player(5000);
    const b = await h.player(5000);
    const line = (item_id: string, quantity = 1) => ({ item_id, quantity });
    const fifty_one = Array.from({ length: 51 }, (_, i) => line(`${skin}-${i}`));

    const cases: Array<{ name: string; body: Record<string, unknown>; status: number; code: string }> = [
      { name: 'no lines', body: { account_id: a.id, lines: [] }, status: 400, code: 'validation_error' },
      { name: 'lines missing', body: { account_id: a.id }, status: 400, code: 'validation_error' },
      { name: 'quantity 0', body: { account_id: a.id, lines: [line(skin, 0)] }, status: 400, code: 'validation_error' },
      { name: 'negative quantity', body: { account_id: a.id, lines: [line(skin, -1)] }, status: 400, code: 'validation_error' },
      { name: 'quantity 1001', body: { account_id: a.id, lines: [line(skin, 1001)] }, status: 400, code: 'validation_error' },
      { name: 'fractional quantity', body: { account_id: a.id, lines: [line(skin, 1.5)] }, status: 400, code: 'validation_error' },
      {
        name: 'quantity as a string',
        body: { account_id: a.id, lines: [{ item_id: skin, quantity: '1' }] },
        status: 400,
        code: 'validation_error',
      },
      { name: '51 lines', body: { account_id: a.id, lines: fifty_one }, status: 400, code: 'validation_error' },
      {
        name: 'unknown item',
        body: { account_id: a.id, lines: [line(skin), line(uniqueId('no-such-item'))] },
        status: 400,
        code: 'validation_error',
      },
      { name: 'inactive item', body: { account_id: a.id, lines: [line(skin), line(retired)] }, status: 400, code: 'validation_error' },
      { name: 'duplicate item ids', body: { account_id: a.id, lines: [line(skin), line(skin, 2)] }, status: 400, code: 'validation_error' },
      { name: 'mixed currencies', body: { account_id: a.id, lines: [line(skin), line(usd_skin)] }, status: 400, code: 'validation_error' },
      {
        name: 'a price in a line',
        body: { account_id: a.id, lines: [{ item_id: game, quantity: 1, price: 1 }] },
        status: 400,
        code: 'validation_error',
      },
      {
        name: 'a unit_price in a line',
        body: { account_id: a.id, lines: [{ item_id: game, quantity: 1, unit_price: 1 }] },
        status: 400,
        code: 'validation_error',
      },
      {
        name: 'a total at the top level',
        body: { account_id: a.id, lines: [line(game)], total: 1 },
        status: 400,
        code: 'validation_error',
      },
      { name: 'another player account', body: { account_id: b.id, lines: [line(game)] }, status: 404, code: 'not_found' },
      {
        name: 'non-integer expected_total',
        body: { account_id: a.id, lines: [line(game)], expected_total: 1000.5 },
        status: 400,
        code: 'validation_error',
      },
      {
        name: 'expected_total as a string',
        body: { account_id: a.id, lines: [line(game)], expected_total: '1000' },
        status: 400,
        code: 'validation_error',
      },
      {
        name: 'expected_total below the price',
        body: { account_id: a.id, lines: [line(game)], expected_total: 1 },
        status: 422,
        code: 'price_changed',
      },
      { name: 'unknown mode', body: { account_id: a.id, lines: [line(game)], mode: 'later' }, status: 400, code: 'validation_error' },
      {
        name: 'item priced in a currency the player has no wallet for',
        body: { account_id: a.id, lines: [line(gems_skin)] },
        status: 422,
        code: 'currency_mismatch',
      },
      { name: 'more than the wallet holds', body: { account_id: a.id, lines: [line(game, 6)] }, status: 409, code: 'insufficient_funds' },
    ];
    const failures: string[] = [];
    for (const mode of [undefined, 'two_step']) {
      for (const [i, bad] of cases.entries()) {
        const body = mode && !('mode' in bad.body) ? { ...bad.body, mode } : bad.body;
        const response = await request(h.pod(i), 'POST', '/v1/orders', body, { token: a.token, key: key() });
        if (response.status !== bad.status || response.body?.code !== bad.code) {
          failures.push(`${bad.name} (${mode ?? 'immediate'}): ${response.status} ${JSON.stringify(response.body)}`);
        } else {
          expectProblem(response, bad.status, bad.code);
        }
      }
    }
    expect(failures).toEqual([]);

    // Without a key, without a token, with a bad token.
    expectProblem(
      await request(h.pod(0), 'POST', '/v1/orders', { account_id: a.id, lines: [line(game)] }, { token: a.token }),
      400,
      'idempotency_key_required',
    );
    expectProblem(
      await request(h.pod(1), 'POST', '/v1/orders', { account_id: a.id, lines: [line(game)] }, { key: key() }),
      401,
      'unauthenticated',
    );
    expectProblem(
      await request(h.pod(2), 'POST', '/v1/orders', { account_id: a.id, lines: [line(game)] }, { token: `${a.token}x`, key: key() }),
      401,
      'unauthenticated',
    );
    // A service without credits:write, and a service for an account that does not exist.
    expectProblem(
      await request(h.pod(0), 'POST', '/v1/orders', { account_id: a.id, lines: [line(game)] }, { token: h.catalog, key: key() }),
      403,
      'forbidden',
    );
    expectProblem(
      await request(
        h.pod(1),
        'POST',
        '/v1/orders',
        { account_id: uniqueId('ghost'), lines: [line(game)] },
        { token: h.service, key: key() },
      ),
      404,
      'not_found',
    );
    // Not JSON at all.
    expectProblem(
      await request(h.pod(2), 'POST', '/v1/orders', undefined, { token: a.token, key: key(), raw: '{"account_id":' }),
      400,
      'validation_error',
    );

    for (const player of [a, b]) {
      expect(await h.wallet(player.id)).toMatchObject({ balance: 5000, held: 0, available: 5000 });
      expect(await h.orders(player.id)).toEqual([]);
      expect(await h.entitlements(player.id)).toEqual([]);
    }
    const b_orders = await request(h.pod(0), 'GET', `/v1/accounts/${b.id}/orders`, undefined, { token: a.token });
    expectProblem(b_orders, 404, 'not_found');
    await h.expectReconcileClean();
  });

  it("when a player reads, completes, cancels or refunds another player's order, then 404 and it is untouched", async () => {
    const game = await h.putItem({ name: 'Game', kind: 'game', price: 700 });
    const owner = await h.player(1000);
    const other = await h.player(1000);
    const pending = await request(
      h.pod(0),
      'POST',
      '/v1/orders',
      { account_id: owner.id, lines: [{ item_id: game, quantity: 1 }], mode: 'two_step' },
      { token: owner.token, key: key() },
    );
    expect(pending.status).toBe(201);
    const path = `/v1/orders/${pending.body.id}`;
    expectProblem(await request(h.pod(1), 'GET', path, undefined, { token: other.token }), 404, 'not_found');
    expectProblem(await request(h.pod(2), 'POST', `${path}/complete`, {}, { token: other.token, key: key() }), 404, 'not_found');
    expectProblem(await request(h.pod(0), 'POST', `${path}/cancel`, {}, { token: other.token, key: key() }), 404, 'not_found');
    expectProblem(
      await request(h.pod(1), 'POST', `${path}/refunds`, { reason: 'mine now' }, { token: other.token, key: key() }),
      404,
      'not_found',
    );
    expectProblem(
      await request(h.pod(2), 'GET', '/v1/orders/00000000-0000-4000-8000-000000000000', undefined, { token: owner.token }),
      404,
      'not_found',
    );
    expectProblem(await request(h.pod(0), 'GET', '/v1/orders/not-a-uuid', undefined, { token: owner.token }), 400, 'validation_error');
    const still = await request(h.pod(0), 'GET', path, undefined, { token: owner.token });
    expect(still.body).toMatchObject({ status: 'PENDING' });
    expect(await h.wallet(owner.id)).toMatchObject({ balance: 1000, held: 700 });
    expect(await h.wallet(other.id)).toMatchObject({ balance: 1000, held: 0 });
    const cancelled = await request(h.pod(1), 'POST', `${path}/cancel`, {}, { token: owner.token, key: key() });
    expect(cancelled.status).toBe(200);
    expect(await h.wallet(owner.id)).toMatchObject({ balance: 1000, held: 0 });
  });
});

describe('catalog', () => {
  it('when PUT /v1/items has a bad body or lacks catalog:write, then 400/401/403 and no item is created', async () => {
    const valid = { name: 'Helm', kind: 'skin', price: 350, currency: 'EUR', active: true, refundable: true };
    const bad_bodies: Array<[string, Record<string, unknown>]> = [
      ['missing name', { ...valid, name: undefined }],
      ['empty name', { ...valid, name: '' }],
      ['unknown kind', { ...valid, kind: 'weapon' }],
      ['price 0', { ...valid, price: 0 }],
      ['negative price', { ...valid, price: -5 }],
      ['fractional price', { ...valid, price: 3.5 }],
      ['price as a string', { ...valid, price: '350' }],
      ['price above 10^12', { ...valid, price: 1e12 + 1 }],
      ['lower-case currency', { ...valid, currency: 'eur' }],
      ['unknown currency', { ...valid, currency: 'XYZ' }],
      ['active as a string', { ...valid, active: 'true' }],
      ['missing refundable', { ...valid, refundable: undefined }],
      ['unknown field', { ...valid, discount: 10 }],
      ['currency pack without grants', { ...valid, kind: 'currency_pack' }],
      ['grants on a skin', { ...valid, grants: { currency: 'GEMS', amount: 100 } }],
      ['pack granting its own currency', { ...valid, kind: 'currency_pack', grants: { currency: 'EUR', amount: 100 } }],
      ['grants with amount 0', { ...valid, kind: 'currency_pack', grants: { currency: 'GEMS', amount: 0 } }],
      ['a refundable consumable (refunds of consumables are always refused)', { ...valid, kind: 'consumable' }],
    ];
    const failures: string[] = [];
    for (const [i, [name, body]] of bad_bodies.entries()) {
      const id = uniqueId('bad-item');
      const response = await request(h.pod(i), 'PUT', `/v1/items/${id}`, JSON.parse(JSON.stringify(body)), { token: h.catalog });
      if (response.status !== 400 || response.body?.code !== 'validation_error')
        failures.push(`${name}: ${response.status} ${JSON.stringify(response.body)}`);
      else expectProblem(response, 400, 'validation_error');
      const read = await request(h.pod(i + 1), 'GET', `/v1/items/${id}`);
      if (read.status !== 404) failures.push(`${name}: the item exists after a refused PUT`);
    }
    expect(failures).toEqual([]);
    expectProblem(await request(h.pod(0), 'PUT', '/v1/items/bad id!', valid, { token: h.catalog }), 400, 'validation_error');
    expectProblem(await request(h.pod(0), 'PUT', `/v1/items/${'x'.repeat(65)}`, valid, { token: h.catalog }), 400, 'validation_error');

    const id = uniqueId('guarded-item');
    const player = await h.player(0);
    for (const token of [h.service, h.refunds, player.token]) {
      expectProblem(await request(h.pod(1), 'PUT', `/v1/items/${id}`, valid, { token }), 403, 'forbidden');
    }
    expectProblem(await request(h.pod(2), 'PUT', `/v1/items/${id}`, valid), 401, 'unauthenticated');
    expectProblem(await request(h.pod(0), 'GET', `/v1/items/${id}`), 404, 'not_found');
    // An admin may write the catalog; a second PUT replaces (200).
    const created = await request(h.pod(0), 'PUT', `/v1/items/${id}`, valid, { token: h.admin });
    expect(created.status).toBe(201);
    const replaced = await request(h.pod(1), 'PUT', `/v1/items/${id}`, { ...valid, price: 400 }, { token: h.catalog });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id, price: 400, created_at: created.body.created_at });
  });

  it('when anyone reads the catalog, then GET /v1/items pages every item once, newest first; GET /v1/items/{id} shows one', async () => {
    const mine: string[] = [];
    for (let i = 0; i < 7; i += 1) mine.push(await h.putItem({ name: `Paged ${i}`, kind: 'skin', price: 100 + i }, uniqueId(`paged-${i}`)));
    const one = await request(h.pod(2), 'GET', `/v1/items/${mine[3]}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: mine[3],
      name: 'Paged 3',
      kind: 'skin',
      price: 103,
      currency: 'EUR',
      active: true,
      refundable: true,
      grants: null,
    });
    expectProblem(await request(h.pod(0), 'GET', `/v1/items/${uniqueId('missing')}`), 404, 'not_found');

    // No token needed; small pages over all pods; other files write items meanwhile.
    const seen: any[] = [];
    let cursor: string | null = null;
    for (let page = 0; ; page += 1) {
      expect(page).toBeLessThan(2000);
      const query = new URLSearchParams({ limit: '4', ...(cursor ? { cursor } : {}) });
      const response: ApiResponse = await request(h.pod(page), 'GET', `/v1/items?${query}`);
      expect(response.status).toBe(200);
      expect(response.body.data.length).toBeLessThanOrEqual(4);
      seen.push(...response.body.data);
      cursor = response.body.next_cursor;
      if (cursor === null) break;
      expect(response.body.data).toHaveLength(4);
    }
    const ids = seen.map((item) => item.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Mine were written one after the other: they appear newest first, in order, none skipped.
    expect(ids.filter((id) => mine.includes(id))).toEqual([...mine].reverse());
    const order = seen.map((item) => [Date.parse(item.created_at), item.id] as const);
    for (let i = 1; i < order.length; i += 1) {
      const [before, after] = [order[i - 1]!, order[i]!];
      // Newest first (created_at has microseconds; the view milliseconds, so ties stay unordered here).
      expect(before[0] >= after[0], `${before} then ${after}`).toBe(true);
    }

    // Filters and bad queries.
    const skins = await request(h.pod(1), 'GET', '/v1/items?kind=skin&limit=200');
    expect(skins.status).toBe(200);
    expect(skins.body.data.every((item: any) => item.kind === 'skin')).toBe(true);
    for (const query of ['limit=0', 'limit=201', 'limit=abc', 'cursor=garbage', 'kind=weapon', 'sort=price']) {
      expectProblem(await request(h.pod(2), 'GET', `/v1/items?${query}`), 400, 'validation_error');
    }
  });

  it('when an item is repriced or retired after an order, the placed order keeps its price and a new order pays the new one', async () => {
    const item = await h.putItem({ name: 'Repriced', kind: 'game', price: 1000 }, uniqueId('repriced'));
    const buyer = await h.player(5000);
    const immediate = await request(
      h.pod(0),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: item, quantity: 2 }], expected_total: 2000 },
      { token: buyer.token, key: key() },
    );
    expect(immediate.status).toBe(201);
    const two_step = await request(
      h.pod(1),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: item, quantity: 1 }], mode: 'two_step' },
      { token: buyer.token, key: key() },
    );
    expect(two_step.status).toBe(201);

    const reprice = await request(
      h.pod(2),
      'PUT',
      `/v1/items/${item}`,
      { name: 'Repriced!', kind: 'game', price: 1500, currency: 'EUR', active: true, refundable: true },
      { token: h.catalog },
    );
    expect(reprice.status).toBe(200);

    const placed = await request(h.pod(0), 'GET', `/v1/orders/${immediate.body.id}`, undefined, { token: buyer.token });
    expect(placed.body).toMatchObject({ total: 2000, lines: [{ item_id: item, name: 'Repriced', unit_price: 1000, amount: 2000 }] });
    // The two-step order is completed at the price it was placed at.
    const completed = await request(h.pod(1), 'POST', `/v1/orders/${two_step.body.id}/complete`, {}, { token: buyer.token, key: key() });
    expect(completed.status).toBe(200);
    expect(completed.body).toMatchObject({ status: 'COMPLETED', total: 1000, lines: [{ unit_price: 1000 }] });
    expect((await h.wallet(buyer.id)).balance).toBe(2000);

    // A client still expecting the old price is refused; the new price is charged otherwise.
    const stale = await request(
      h.pod(2),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: item, quantity: 1 }], expected_total: 1000 },
      { token: buyer.token, key: key() },
    );
    expectProblem(stale, 422, 'price_changed');
    expect(stale.body.total).toBe(1500);
    const fresh = await request(
      h.pod(0),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: item, quantity: 1 }], expected_total: 1500 },
      { token: buyer.token, key: key() },
    );
    expect(fresh.status).toBe(201);
    expect((await h.wallet(buyer.id)).balance).toBe(500);

    // A refund of the first order pays back what was paid, not today's price.
    const refund = await request(
      h.pod(1),
      'POST',
      `/v1/orders/${immediate.body.id}/refunds`,
      { lines: [{ item_id: item, quantity: 1 }], reason: 'repriced' },
      { token: buyer.token, key: key() },
    );
    expect(refund.status).toBe(201);
    expect(refund.body.amount).toBe(1000);

    // Retired: the placed orders stay as they are; new orders are refused.
    expect(
      (
        await request(
          h.pod(2),
          'PUT',
          `/v1/items/${item}`,
          { name: 'Repriced!', kind: 'game', price: 1500, currency: 'EUR', active: false, refundable: true },
          { token: h.catalog },
        )
      ).status,
    ).toBe(200);
    expectProblem(
      await request(
        h.pod(0),
        'POST',
        '/v1/orders',
        { account_id: buyer.id, lines: [{ item_id: item, quantity: 1 }] },
        { token: buyer.token, key: key() },
      ),
      400,
      'validation_error',
    );
    const after = await request(h.pod(1), 'GET', `/v1/orders/${immediate.body.id}`, undefined, { token: buyer.token });
    expect(after.body).toMatchObject({ status: 'PARTIALLY_REFUNDED', lines: [{ unit_price: 1000, refunded_quantity: 1 }] });
    expect((await h.wallet(buyer.id)).balance).toBe(1500);
    await h.expectReconcileClean();
  });
});
