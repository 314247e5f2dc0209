import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPayoutSimulator, type PayoutSimulator } from '../../tools/payout-simulator/payout-simulator.js';
import { startSellerSimulator, type SellerSimulator } from '../../tools/seller-simulator/seller-simulator.js';
import { purgeEventsTask } from '../../src/events/purge-events.js';
import { request, uniqueId } from '../support/cluster.js';
import { allEvents, createEndpoint, key, startEventWorld, waitFor, type EventWorld } from '../support/events.js';
import { TestPsp } from '../support/psp.js';

// Every event type of SPEC §11 that this service emits is produced by its cause, carries the
// object as its own GET shows it right after the change, and exists only if the cause committed:
// a refused request (insufficient funds, a wrong state, a duplicate account) leaves none.

let world: EventWorld;
let psp: TestPsp;
let sellers: SellerSimulator;
let payouts: PayoutSimulator;
const PAYOUT_SECRET = 'payout-secret-of-the-event-tests-0123456789';

beforeAll(async () => {
  sellers = await startSellerSimulator({ sellers: [{ id: 'books', prices: { 'book-1': 900 }, stock: { 'book-1': 10 } }] });
  payouts = await startPayoutSimulator({ callback_urls: [], secret: PAYOUT_SECRET });
  world = await startEventWorld({
    PAYOUT_PROVIDER_URL: payouts.url,
    PAYOUT_WEBHOOK_SECRET: PAYOUT_SECRET,
    TOPUP_PENDING_TIMEOUT_SECONDS: '1',
    JOB_POLL_INTERVAL_MS: '100',
    RECONCILIATION_INTERVAL_SECONDS: '1',
  });
  psp = new TestPsp(world.urls, world.cluster.config.psp_webhook_secret);
  payouts.setCallbackUrls(world.urls);
  const seller = { base_url: sellers.baseUrl('books'), rate_limit_per_minute: 10_000, timeout_ms: 2000, supports_holds: true };
  expect((await request(world.urls[0]!, 'PUT', '/v1/sellers/books', seller, { token: world.admin })).status).toBe(201);
});
afterAll(async () => {
  await world?.stop();
  await sellers?.close();
  await payouts?.close();
});

/** The account's events, oldest first. */
async function eventsOf(account_id: string): Promise<any[]> {
  return (await allEvents(world.urls, world.reader, { account_id })).reverse();
}

const types = (events: readonly any[]) => events.map((event) => event.type);
const get = async (path: string) => {
  const response = await request(world.urls[1]!, 'GET', path, undefined, { token: world.service });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
};
const post = (path: string, body: unknown, token = world.service) => request(world.urls[2]!, 'POST', path, body, { token, key: key() });

describe('events of accounts and the ledger', () => {
  it('account.created and transaction.posted carry what GET shows; refused requests leave no event', async () => {
    const id = uniqueId('p');
    const created = await post('/v1/accounts', { id, currency: 'EUR' });
    expect(created.status).toBe(201);
    expect((await post('/v1/accounts', { id, currency: 'EUR' })).status).toBe(409);
    const credit = await post(`/v1/accounts/${id}/credits`, { amount: 1000, currency: 'EUR', reason: 'bonus' });
    const debit = await post(`/v1/accounts/${id}/debits`, { amount: 300, currency: 'EUR', reason: 'sword' });
    expect((await post(`/v1/accounts/${id}/debits`, { amount: 5000, currency: 'EUR', reason: 'too much' })).status).toBe(409);
    const refund = await post(`/v1/transactions/${debit.body.id}/refunds`, { amount: 100 });
    expect(refund.status).toBe(201);

    const events = await eventsOf(id);
    expect(types(events)).toEqual(['account.created', 'transaction.posted', 'transaction.posted', 'transaction.posted']);
    expect(events[0]).toMatchObject({ account_id: id, api_version: expect.any(String), data: created.body });
    for (const [index, transaction] of [credit, debit, refund].entries()) {
      expect(events[index + 1].data).toEqual(await get(`/v1/transactions/${transaction.body.id}`));
    }
    // Increasing in commit order; every event also readable by id.
    const sequences = events.map((event) => event.account_sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(sequences.length);
    const one = await request(world.urls[0]!, 'GET', `/v1/events/${events[2].id}`, undefined, { token: world.reader });
    expect(one.body).toEqual(events[2]);
  });

  it("a merchant payment's transaction.posted lists its entries in the order GET shows them", async () => {
    const player = await world.player(10_000);
    const merchant_id = `m-${key()}`.slice(0, 60);
    const merchant = await post('/v1/accounts', { id: merchant_id, currency: 'EUR', kind: 'merchant', fee_bps: 250 });
    expect(merchant.status).toBe(201);
    const paid = await post('/v1/merchant-payments', { from_account_id: player.id, merchant_id, amount: 1_000, currency: 'EUR' });
    expect(paid.status, JSON.stringify(paid.body)).toBe(201);
    const posted = (await eventsOf(player.id)).filter(
      (event) => event.type === 'transaction.posted' && event.data.type === 'merchant_payment',
    );
    expect(posted).toHaveLength(1);
    // Once in the order the postings were written (payer, merchant, @revenue): SPEC §11 says "as its own GET shows it".
    expect(posted[0].data).toEqual(await get(`/v1/transactions/${posted[0].data.id}`));
  });

  it('a transfer is one transaction.posted, on the payer, with both legs', async () => {
    const from = await world.player(1000);
    const to = await world.player(0);
    const transfer = await post('/v1/transfers', { from_account_id: from.id, to_account_id: to.id, amount: 250, currency: 'EUR' });
    expect(transfer.status).toBe(201);
    const [posted] = (await eventsOf(from.id)).filter((event) => event.data.id === transfer.body.id);
    expect(posted).toMatchObject({
      type: 'transaction.posted',
      account_id: from.id,
      data: await get(`/v1/transactions/${transfer.body.id}`),
    });
    expect((await eventsOf(to.id)).map((event) => event.data.id)).not.toContain(transfer.body.id);
  });

  it('of 20 racing debits that only 10 can pay, exactly the 10 that committed have an event', async () => {
    const player = await world.player(1000);
    const debits = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(
          world.pod(i),
          'POST',
          `/v1/accounts/${player.id}/debits`,
          { amount: 100, currency: 'EUR', reason: 'race' },
          {
            token: world.service,
            key: key(),
          },
        ),
      ),
    );
    const paid = debits.filter((response) => response.status === 201).map((response) => response.body.id);
    expect(paid).toHaveLength(10);
    expect(debits.filter((response) => response.status === 409)).toHaveLength(10);
    const posted = (await eventsOf(player.id)).filter((event) => event.type === 'transaction.posted' && event.data.type === 'debit');
    expect(posted.map((event) => event.data.id).sort()).toEqual([...paid].sort());
  });
});

describe('events of holds', () => {
  it('hold.created, captured, voided and expired carry the hold as GET /v1/holds/{id} shows it', async () => {
    const player = await world.player(5000);
    const hold = (expires_in_seconds: number) =>
      post('/v1/holds', { account_id: player.id, amount: 1000, currency: 'EUR', expires_in_seconds });
    const captured = (await hold(600)).body;
    const voided = (await hold(600)).body;
    const expiring = (await hold(1)).body;
    expect((await post(`/v1/holds/${captured.id}/capture`, { amount: 700 })).status).toBe(200);
    expect((await post(`/v1/holds/${voided.id}/void`, {})).status).toBe(200);
    // A capture of a voided hold is refused: nothing happens, no event.
    expect((await post(`/v1/holds/${voided.id}/capture`, {})).status).toBe(409);
    await waitFor('the expiry worker', 10_000, async () =>
      (await get(`/v1/holds/${expiring.id}`)).status === 'EXPIRED' ? true : undefined,
    );

    const events = (await eventsOf(player.id)).filter((event) => event.type.startsWith('hold.'));
    expect(events.map((event) => [event.type, event.data.id])).toEqual([
      ['hold.created', captured.id],
      ['hold.created', voided.id],
      ['hold.created', expiring.id],
      ['hold.captured', captured.id],
      ['hold.voided', voided.id],
      ['hold.expired', expiring.id],
    ]);
    for (const event of events.slice(3)) expect(event.data).toEqual(await get(`/v1/holds/${event.data.id}`));
    expect(events[0].data).toMatchObject({ status: 'ACTIVE', amount: 1000 });
  });
});

describe('events of orders and entitlements', () => {
  it('an immediate order: its payment, order.completed and one entitlement.granted per line, in this order', async () => {
    const skin = await world.putItem({ price: 300 });
    const game = await world.putItem({ price: 200, kind: 'game' });
    const player = await world.player(5000);
    const order = await post('/v1/orders', {
      account_id: player.id,
      lines: [
        { item_id: skin, quantity: 1 },
        { item_id: game, quantity: 2 },
      ],
    });
    expect(order.status).toBe(201);
    const events = await eventsOf(player.id);
    expect(types(events).slice(2)).toEqual(['transaction.posted', 'order.completed', 'entitlement.granted', 'entitlement.granted']);
    expect(events[2].data).toEqual(await get(`/v1/transactions/${order.body.payment_transaction_id}`));
    expect(events[3].data).toEqual(await get(`/v1/orders/${order.body.id}`));
    const entitlements = (await get(`/v1/accounts/${player.id}/entitlements`)).data;
    expect(events.slice(4).map((event) => event.data)).toEqual([...entitlements].reverse());
  });

  it('two-step orders: completed and cancelled; refunds: partially_refunded then refunded, with entitlement.revoked', async () => {
    const skin = await world.putItem({ price: 400 });
    const player = await world.player(5000);
    const pending = async () =>
      (await post('/v1/orders', { account_id: player.id, lines: [{ item_id: skin, quantity: 2 }], mode: 'two_step' })).body;
    const completed = await pending();
    const cancelled = await pending();
    expect((await post(`/v1/orders/${completed.id}/complete`, {})).status).toBe(200);
    expect((await post(`/v1/orders/${cancelled.id}/cancel`, {})).status).toBe(200);
    expect((await post(`/v1/orders/${cancelled.id}/complete`, {})).status).toBe(409);
    const partial = await post(
      `/v1/orders/${completed.id}/refunds`,
      { lines: [{ item_id: skin, quantity: 1 }], reason: 'one' },
      world.refunds,
    );
    expect(partial.status).toBe(201);
    const partial_view = await get(`/v1/orders/${completed.id}`);
    expect((await post(`/v1/orders/${completed.id}/refunds`, { reason: 'the rest' }, world.refunds)).status).toBe(201);

    const events = (await eventsOf(player.id)).filter((event) => !['transaction.posted', 'account.created'].includes(event.type));
    expect(types(events)).toEqual([
      'hold.created',
      'hold.created',
      'hold.captured',
      'entitlement.granted',
      'order.completed',
      'hold.voided',
      'order.cancelled',
      'entitlement.revoked',
      'order.partially_refunded',
      'entitlement.revoked',
      'order.refunded',
    ]);
    expect(events[6].data).toEqual(await get(`/v1/orders/${cancelled.id}`));
    expect(events[8].data).toEqual(partial_view);
    expect(events[10].data).toEqual(await get(`/v1/orders/${completed.id}`));
    expect(events[7].data).toMatchObject({ order_id: completed.id, quantity: 1, quantity_granted: 2, status: 'ACTIVE' });
    expect(events[9].data).toMatchObject({ order_id: completed.id, quantity: 0, quantity_granted: 2, status: 'REVOKED' });
  });
});

describe('events of top-ups', () => {
  it('the events of a merchant are numbered in its history like those of a player, those written outside a batch too', async () => {
    const id = uniqueId('m');
    expect((await post('/v1/accounts', { id, currency: 'EUR', kind: 'merchant', fee_bps: 100 })).status).toBe(201);
    const stuck = (await post('/v1/topups', { account_id: id, amount: 2000, currency: 'EUR' })).body;
    await waitFor('the stuck top-up worker', 15_000, async () =>
      (await get(`/v1/topups/${stuck.id}`)).needs_reconciliation ? true : undefined,
    );
    // One event a page: each page's cursor is the account_sequence of its last event (it was a 500).
    const events = (await allEvents(world.urls, world.reader, { account_id: id }, 1)).reverse();
    expect(types(events)).toEqual(['account.created', 'topup.needs_reconciliation']);
    expect(events[1].account_sequence).toBeGreaterThan(events[0].account_sequence);
  });
  it('succeeded, reversed, failed, held_for_review and needs_reconciliation carry the top-up as GET /v1/topups/{id} shows it', async () => {
    const player = await world.player(0);
    const topup = async () => (await post('/v1/topups', { account_id: player.id, amount: 2000, currency: 'EUR' })).body;
    const paid = await topup();
    const failed = await topup();
    const mismatched = await topup();
    await psp.sendInOrder([psp.event('payment.succeeded', paid.id, 2000)]);
    const after_success = await get(`/v1/topups/${paid.id}`);
    await psp.sendInOrder([
      psp.event('payment.refunded', paid.id, 500),
      psp.event('payment.failed', failed.id, 2000),
      psp.event('payment.succeeded', mismatched.id, 1999),
    ]);
    const stuck = await topup();
    await waitFor('the stuck top-up worker', 15_000, async () =>
      (await get(`/v1/topups/${stuck.id}`)).needs_reconciliation ? true : undefined,
    );

    const events = (await eventsOf(player.id)).filter((event) => event.type.startsWith('topup.'));
    expect(events.slice(0, 4).map((event) => [event.type, event.data.id])).toEqual([
      ['topup.succeeded', paid.id],
      ['topup.reversed', paid.id],
      ['topup.failed', failed.id],
      ['topup.held_for_review', mismatched.id],
    ]);
    // The mismatched top-up stays PENDING (the event was held, not applied): it is flagged as stuck too.
    const flagged = events.slice(4).map((event) => [event.type, event.data.id]);
    expect(flagged.sort()).toEqual(
      [
        ['topup.needs_reconciliation', mismatched.id],
        ['topup.needs_reconciliation', stuck.id],
      ].sort(),
    );
    expect(events[0].data).toEqual(after_success);
    for (const event of [events[1], events[2], ...events.slice(4)]) expect(event.data).toEqual(await get(`/v1/topups/${event.data.id}`));
    expect(events[3].data).toMatchObject({
      id: mismatched.id,
      status: 'PENDING',
      review_reason: expect.any(String),
      needs_reconciliation: false,
    });
    // The credit and the chargeback are ledger transactions too.
    const posted = (await eventsOf(player.id)).filter((event) => event.type === 'transaction.posted').map((event) => event.data.type);
    expect(posted).toEqual(['topup', 'topup_reversal']);
  });
});

describe('events of purchase requests', () => {
  it('purchase_request.purchased and price_not_met carry the request as GET shows it when final', async () => {
    const player = await world.player(5000);
    const buy = async (max_price: number) =>
      (await post('/v1/purchase-requests', { account_id: player.id, product_id: 'book-1', max_price, currency: 'EUR' })).body.id;
    const bought = await buy(1000);
    const too_cheap = await buy(500);
    const final = async (id: string) =>
      waitFor(`request ${id}`, 20_000, async () => {
        const view = await get(`/v1/purchase-requests/${id}`);
        return view.status === 'pending' ? undefined : view;
      });
    expect(await final(bought)).toMatchObject({ status: 'purchased', final_price: 900 });
    expect(await final(too_cheap)).toMatchObject({ status: 'price_not_met' });
    const events = (await eventsOf(player.id)).filter((event) => event.type.startsWith('purchase_request.'));
    expect(events.map((event) => event.type).sort()).toEqual(['purchase_request.price_not_met', 'purchase_request.purchased']);
    for (const event of events) expect(event.data).toEqual(await get(`/v1/purchase-requests/${event.data.id}`));
  });

  it('purchase_request.not_available when no seller has the product, failed when no seller answers', async () => {
    const player = await world.player(5000);
    const buy = async (product_id: string) =>
      (await post('/v1/purchase-requests', { account_id: player.id, product_id, max_price: 1000, currency: 'EUR' })).body.id;
    const final = async (id: string) =>
      waitFor(`request ${id}`, 30_000, async () => {
        const view = await get(`/v1/purchase-requests/${id}`);
        return view.status === 'pending' ? undefined : view;
      });
    const missing = await final(await buy('book-nobody-sells'));
    sellers.setBehaviour('books', { error_rate: 1 });
    let unanswered: any;
    try {
      unanswered = await final(await buy('book-1'));
    } finally {
      sellers.setBehaviour('books', { error_rate: 0 });
    }
    expect([missing.status, unanswered.status]).toEqual(['not_available', 'failed']);
    const events = (await eventsOf(player.id)).filter((event) => event.type.startsWith('purchase_request.'));
    expect(events.map((event) => [event.type, event.data])).toEqual([
      ['purchase_request.not_available', missing],
      ['purchase_request.failed', unanswered],
    ]);
  });
});

describe('events of withdrawals and account status', () => {
  it('withdrawal.paid and failed carry the withdrawal as GET shows it when settled; a refused one leaves none', async () => {
    const player = await world.player(5000);
    expect(
      (await request(world.urls[0]!, 'PUT', `/v1/accounts/${player.id}/kyc`, { tier: 2, reason: 'checked' }, { token: world.admin }))
        .status,
    ).toBe(200);
    const withdraw = async (amount: number, mode: string) =>
      post('/v1/withdrawals', {
        account_id: player.id,
        amount,
        currency: 'EUR',
        destination: { type: 'bank_account', reference: `sim:${mode}:NL00` },
      });
    expect((await withdraw(9000, 'instant')).status).toBe(409);
    const ids = [];
    for (const mode of ['instant', 'failing', 'refusing']) {
      const created = await withdraw(1000, mode);
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      ids.push(created.body.id as string);
    }
    const settled = await Promise.all(
      ids.map((id) =>
        waitFor(`withdrawal ${id}`, 20_000, async () => {
          const view = await get(`/v1/withdrawals/${id}`);
          return view.status === 'PENDING' ? undefined : view;
        }),
      ),
    );
    expect(settled.map((view) => view.status)).toEqual(['PAID', 'FAILED', 'FAILED']);
    const events = (await eventsOf(player.id)).filter((event) => event.type.startsWith('withdrawal.'));
    expect(events.map((event) => [event.type, event.data.id]).sort()).toEqual(
      [
        ['withdrawal.paid', ids[0]],
        ['withdrawal.failed', ids[1]],
        ['withdrawal.failed', ids[2]],
      ].sort(),
    );
    for (const event of events) expect(event.data).toEqual(settled[ids.indexOf(event.data.id)]);
    // Opening, settling and returning a withdrawal are ledger transactions too.
    const posted = (await eventsOf(player.id)).filter((event) => event.type === 'transaction.posted').map((event) => event.data.type);
    expect(posted.filter((type) => type !== 'credit').sort()).toEqual(
      ['withdrawal', 'withdrawal', 'withdrawal', 'payout', 'withdrawal_return', 'withdrawal_return'].sort(),
    );
  });

  it('account.frozen, unfrozen and closed carry the account as GET shows it; a refused change leaves none', async () => {
    const player = await world.player(0);
    const change = (action: string) =>
      request(world.urls[1]!, 'POST', `/v1/accounts/${player.id}/${action}`, { reason: 'events test' }, { token: world.admin, key: key() });
    const views = [];
    for (const action of ['freeze', 'unfreeze', 'close']) {
      const changed = await change(action);
      expect(changed.status, JSON.stringify(changed.body)).toBe(200);
      views.push(await get(`/v1/accounts/${player.id}`));
      if (action === 'freeze') expect((await change('freeze')).status).toBe(409);
    }
    const events = (await eventsOf(player.id)).filter((event) => event.type !== 'account.created');
    expect(events.map((event) => [event.type, event.data])).toEqual([
      ['account.frozen', views[0]],
      ['account.unfrozen', views[1]],
      ['account.closed', views[2]],
    ]);
    expect(views.map((view) => view.status)).toEqual(['frozen', 'active', 'closed']);
  });
});

describe('events of the scheduled reconciliation', () => {
  it('reconciliation.mismatch_found lists what it found, and only once something is wrong', async () => {
    // The top-up test above held an event for review: the first mismatch this database ever had.
    const held = await waitFor(
      'a held event',
      5_000,
      async () => (await allEvents(world.urls, world.reader, { type: 'topup.held_for_review' }))[0],
    );
    const found = await waitFor('the scheduled reconciliation', 20_000, async () => {
      const listed = await allEvents(world.urls, world.reader, { type: 'reconciliation.mismatch_found' });
      return listed.length > 0 ? listed : undefined;
    });
    for (const event of found) {
      expect(event.account_id).toBeNull();
      expect(event.created_at > held.created_at).toBe(true);
      expect(event.data).toMatchObject({ ok: false, mismatches_by_check: { psp_event_held_for_review: expect.any(Number) } });
      expect(event.data.mismatches).toContainEqual(expect.objectContaining({ check: 'psp_event_held_for_review', topup_id: held.data.id }));
    }
  });
});

describe('retention', () => {
  it('events older than EVENTS_RETENTION_DAYS are purged, with their deliveries', async () => {
    const player = await world.player(100);
    const aged = await world.db.query("UPDATE events SET created_at = now() - INTERVAL '31 days' WHERE account_id = $1", [player.id]);
    expect(aged.rowCount).toBe(2);
    await waitFor('the purge worker', 10_000, async () => ((await eventsOf(player.id)).length === 0 ? true : undefined));
  });

  it('when endpoints come and go, then no metric series stays behind, and a purge takes the same few statements', async () => {
    const churned: string[] = [];
    for (let index = 0; index < 60; index += 1) {
      const endpoint = await createEndpoint(world, `http://127.0.0.1:9/churn-${index}`, ['hold.expired']);
      const deleted = await request(world.urls[0]!, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: world.admin });
      expect(deleted.status).toBeLessThan(300);
      churned.push(endpoint.id);
    }
    // Nor do their metric series stay behind once the pods have seen them deleted (a poll, 100 ms
    // here): asked until gone from every pod (a fixed 500 ms was not always enough on a loaded
    // machine), then shown per pod if some stay.
    const left = async () =>
      Promise.all(
        world.urls.map(async (url) => {
          const page = String((await request(url, 'GET', '/metrics')).body);
          return { url, series_of: churned.filter((id) => page.includes(id)) };
        }),
      );
    const gone = (pods: Awaited<ReturnType<typeof left>>) => pods.every((pod) => pod.series_of.length === 0);
    await waitFor('no series of a deleted endpoint', 10_000, async () => (gone(await left()) ? true : undefined)).catch(() => undefined);
    expect((await left()).filter((pod) => pod.series_of.length > 0)).toEqual([]);
    const deps = world.cluster.pods[0]!.deps;
    // Every call on the purge's connection counted: one per statement.
    let statements = 0;
    const transactions = {
      read: <T>(work: (tx: Parameters<Parameters<typeof deps.transactions.read>[0]>[0]) => Promise<T>) =>
        deps.transactions.read((tx) =>
          work(
            new Proxy(tx, {
              get(target, property, receiver) {
                const value = Reflect.get(target, property, receiver);
                if (typeof value !== 'function') return value;
                return (...args: unknown[]) => {
                  statements += 1;
                  return value.apply(target, args);
                };
              },
            }),
          ),
        ),
    };
    await purgeEventsTask({ ...deps, transactions: transactions as typeof deps.transactions }).run();
    // Once one statement per endpoint row: 60 and more here.
    expect(statements).toBeLessThanOrEqual(5);
  });

  it("an operator's redelivery keeps its event past retention until the delivery is done (its window starts when asked)", async () => {
    const refusing = createServer((incoming, response) => incoming.resume().on('end', () => response.writeHead(500).end()));
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/hook`;
      const endpoint = await createEndpoint(world, url, ['account.frozen']);
      const player = await world.player(100);
      const [created, credited] = await eventsOf(player.id);
      const redelivery = await request(
        world.urls[1]!,
        'POST',
        `/v1/events/${created.id}/redeliver`,
        { endpoint_id: endpoint.id },
        {
          token: world.admin,
          key: key(),
        },
      );
      expect(redelivery.status).toBe(202);
      await world.db.query("UPDATE events SET created_at = now() - INTERVAL '31 days' WHERE account_id = $1", [player.id]);
      await waitFor('the purge of the other event', 10_000, async () => ((await eventsOf(player.id)).length === 1 ? true : undefined));
      // Once purged with it, and the redelivery given up at once: "the event was purged (retention)".
      const kept = await eventsOf(player.id);
      expect(kept.map((event) => event.id)).toEqual([created.id]);
      expect(kept.map((event) => event.id)).not.toContain(credited.id);
      const deliveries = await request(
        world.urls[2]!,
        'GET',
        `/v1/webhook-endpoints/${endpoint.id}/deliveries?event_id=${created.id}`,
        undefined,
        {
          token: world.admin,
        },
      );
      expect(deliveries.body.data).toEqual([expect.objectContaining({ event_id: created.id, manual: true, status: 'pending' })]);
      await request(world.urls[0]!, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: world.admin });
    } finally {
      refusing.closeAllConnections();
      refusing.close();
    }
  });
});
