import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedSellers, type ScriptedSeller } from '../sellers/scripted-sellers.js';
import { SellerWorld } from '../sellers/support.js';
import { request, testConfig, tokens, uniqueId, type ApiResponse } from '../support/cluster.js';
import { TestPsp } from '../support/psp.js';
import { expectProblem, key } from '../support/shop.js';

// The lists the back-office console reads: an account's holds, top-ups and purchase requests, and
// the review queues. Pods running their workers on a database of their own (SellerWorld), so the
// review queues hold exactly what this file put there.

// A seller that confirms its orders above the price it held: the purchase runner keeps such a request for review.
const GREEDY: ScriptedSeller = {
  id: 'greedy',
  prices: { 'book-greedy': 100 },
  supports_holds: true,
  order_price: 500,
  silent_order_calls: 0,
  silent_calls_make_orders: true,
};

let world: SellerWorld<ScriptedSellers>;
let mint: ReturnType<typeof tokens>;
let catalog: string;
const url = (i = 0) => world.url(i);
const psp = () => new TestPsp([url()], testConfig().psp_webhook_secret);

beforeAll(async () => {
  world = await SellerWorld.startWith(await ScriptedSellers.start([GREEDY]), { sellers: [GREEDY], timeout_ms: 400 });
  mint = tokens(testConfig());
  catalog = await mint.service('catalog:write', 'back-office');
});
afterAll(() => world?.stop());

async function write(path: string, body: unknown, expected = 201) {
  const response = await request(url(), 'POST', path, body, { token: world.service, key: key() });
  expect(response.status, JSON.stringify(response.body)).toBe(expected);
  return response.body;
}

async function funded(balance: number) {
  const id = uniqueId('p');
  await write('/v1/accounts', { id, currency: 'EUR' });
  if (balance > 0) await write(`/v1/accounts/${id}/credits`, { amount: balance, currency: 'EUR', reason: 'seed' });
  return id;
}

/** Every item of a list, walked page by page over the pods. */
async function walk(path: string, token: string, limit: number): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page += 1) {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    const response: ApiResponse = await request(url(page), 'GET', `${path}${path.includes('?') ? '&' : '?'}${query}`, undefined, { token });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.data.length).toBeLessThanOrEqual(limit);
    items.push(...response.body.data);
    cursor = response.body.next_cursor;
    if (cursor === null) return items;
  }
  throw new Error(`${path} did not end`);
}

describe('an account lists its holds, top-ups and purchase requests', () => {
  it('holds: newest first over pages, filtered by status, settled ones included', async () => {
    const account = await funded(10_000);
    const holds = [];
    for (const amount of [100, 200, 300, 400, 500]) {
      holds.push(await write('/v1/holds', { account_id: account, amount, currency: 'EUR', expires_in_seconds: 600 }));
    }
    await write(`/v1/holds/${holds[1].id}/void`, {}, 200);
    const listed = await walk(`/v1/accounts/${account}/holds`, world.service, 2);
    expect(listed.map((hold) => hold.amount)).toEqual([500, 400, 300, 200, 100]);
    expect(listed.find((hold) => hold.amount === 200)).toMatchObject({ status: 'VOIDED', owner: 'api' });
    const active = await walk(`/v1/accounts/${account}/holds?status=ACTIVE`, world.service, 3);
    expect(active.map((hold) => hold.amount)).toEqual([500, 400, 300, 100]);
  });

  it('top-ups: each as GET /v1/topups/{id} shows it, with its events', async () => {
    const account = await funded(0);
    const first = await write('/v1/topups', { account_id: account, amount: 700, currency: 'EUR' });
    const second = await write('/v1/topups', { account_id: account, amount: 900, currency: 'EUR' });
    const sender = psp();
    expect((await sender.send(sender.event('payment.succeeded', first.id, 700))).body.outcome).toBe('credited');
    const listed = await walk(`/v1/accounts/${account}/topups`, world.service, 1);
    expect(listed.map((topup) => topup.id)).toEqual([second.id, first.id]);
    const one = await request(url(), 'GET', `/v1/topups/${first.id}`, undefined, { token: world.service });
    expect(listed[1]).toEqual(one.body);
    expect(listed[1]).toMatchObject({ status: 'SUCCEEDED', events: [{ type: 'payment.succeeded', outcome: 'credited' }] });
  });

  it('purchase requests: with quotes and attempts, their holds listed as owned by the request', async () => {
    const account = await funded(5_000);
    const buyer = { id: account, token: await mint.player(account) };
    const final = await world.final(buyer, await world.purchase(buyer, 'book-nobody-sells', 1200));
    const [listed, ...rest] = await walk(`/v1/accounts/${account}/purchase-requests`, world.service, 5);
    expect(rest).toEqual([]);
    expect(listed).toEqual(final);
    expect(listed).toMatchObject({ status: 'not_available', quotes: [{ seller_id: 'greedy', available: false }] });
    const [hold] = await walk(`/v1/accounts/${account}/holds`, world.service, 5);
    expect(hold).toMatchObject({ id: listed.hold_id, owner: 'purchase_request', amount: 1200, status: 'VOIDED' });
  });

  it('the owner reads their own lists; other players get 404, services without a money scope 403, unknown accounts 404', async () => {
    const account = await funded(1_000);
    await write('/v1/holds', { account_id: account, amount: 10, currency: 'EUR', expires_in_seconds: 60 });
    const owner = await mint.player(account);
    const stranger = await mint.player(await funded(0));
    const get = (path: string, token = world.service) => request(url(), 'GET', path, undefined, { token });
    for (const list of ['holds', 'topups', 'purchase-requests']) {
      const path = `/v1/accounts/${account}/${list}`;
      expect((await get(path, owner)).status).toBe(200);
      expectProblem(await get(path, stranger), 404, 'not_found');
      expectProblem(await get(path, catalog), 403, 'forbidden');
      expectProblem(await get(`/v1/accounts/${uniqueId('nobody')}/${list}`), 404, 'not_found');
      expectProblem(await get(`${path}?cursor=bm90LWEtY3Vyc29y`), 400, 'validation_error');
      expectProblem(await get(`${path}?limit=0`), 400, 'validation_error');
    }
    expectProblem(await get(`/v1/accounts/${account}/holds?status=GONE`), 400, 'validation_error');
  });
});

describe('the review queues (admin)', () => {
  it('list PSP events held for review until settled, and purchase requests kept for review', async () => {
    const sender = psp();
    const unknown_topup = randomUUID();
    const event = sender.event('payment.succeeded', unknown_topup, 500);
    expect((await sender.send(event)).body.outcome).toBe('unknown_topup');
    const [held, ...others] = await walk('/v1/admin/review/psp-events', world.admin, 10);
    expect(others).toEqual([]);
    expect(held).toMatchObject({
      event_id: event.id,
      log_id: event.id,
      outcome: 'unknown_topup',
      topup_id: unknown_topup,
      settled_at: null,
    });

    expect(await walk('/v1/admin/review/purchase-requests', world.admin, 10)).toEqual([]);
    const account = await funded(5_000);
    const buyer = { id: account, token: await mint.player(account) };
    const id = await world.purchase(buyer, 'book-greedy', 1000);
    const deadline = Date.now() + 20_000;
    let queue: any[] = [];
    while (queue.length === 0 && Date.now() < deadline) queue = await walk('/v1/admin/review/purchase-requests', world.admin, 10);
    expect(queue).toHaveLength(1);
    expect(queue[0]).toMatchObject({
      id,
      needs_review: true,
      status: 'pending',
      attempts: [{ seller_id: 'greedy', outcome: 'price_moved' }],
    });
    expect(queue[0].review_reason).toContain('above its held price 100');

    for (const path of ['/v1/admin/review/psp-events', '/v1/admin/review/purchase-requests']) {
      expectProblem(await request(url(), 'GET', path, undefined, { token: world.service }), 403, 'forbidden');
      expectProblem(await request(url(), 'GET', path, undefined, { token: buyer.token }), 403, 'forbidden');
    }
    const settled = await request(
      url(),
      'PUT',
      `/v1/psp/events/${event.id}/review`,
      { settlement: 'no such payment' },
      { token: world.admin },
    );
    expect(settled.status).toBe(200);
    expect(await walk('/v1/admin/review/psp-events', world.admin, 10)).toEqual([]);
  });
});
