// Shop load test: browse the catalog, top up through signed PSP events, buy, partially refund (k6 >= 0.48).
//   k6 run loadtest/shop.js
//   k6 run -e RATE=10 -e DURATION=2m loadtest/shop.js
// See loadtest/README.md for every variable and what the thresholds mean.
import http from 'k6/http';
import { check, group } from 'k6';
import { Counter } from 'k6/metrics';
import {
  BASE_URLS,
  CURRENCY,
  body,
  createAccount,
  getJson,
  hasRegion,
  iterationKey,
  mintToken,
  podFor,
  postJson,
  pspSignature,
  reconcile,
  runContext,
  thresholds,
} from './lib.js';

const ACCOUNTS = Number(__ENV.ACCOUNTS || 20);
const RATE = Number(__ENV.RATE || 5); // purchase flows started per second
const DURATION = __ENV.DURATION || '1m';
const MAX_VUS = Number(__ENV.MAX_VUS || 50);
const REFUNDABLE_KINDS = ['game', 'skin'];

// Every request of this flow must succeed: each buy is paid by its own top-up, so even players
// shared between VUs never run short (409 here is a failure).
http.setResponseCallback(http.expectedStatuses(200, 201));

const flowsCompleted = new Counter('purchase_flows_completed');

const PREALLOCATED_VUS = Math.max(2, RATE * 2);

export const options = {
  scenarios: {
    shoppers: {
      executor: 'constant-arrival-rate',
      exec: 'shop',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: PREALLOCATED_VUS,
      // k6 refuses a scenario whose maxVUs is below its preAllocatedVUs (a high RATE).
      maxVUs: Math.max(MAX_VUS, PREALLOCATED_VUS),
    },
  },
  thresholds: thresholds(['topup', 'psp_event', 'order', 'refund']),
  setupTimeout: '120s',
  teardownTimeout: '60s',
};

/**
 * Picks refundable game/skin items of CURRENCY from the live catalog (two if it can: one line is
 * refunded, one kept) and opens ACCOUNTS players across the regions, each with its own player token.
 */
export function setup() {
  const { pods, token, run_id } = runContext();
  const res = getJson(`${BASE_URLS[0]}/v1/items?active=true&limit=200`, { name: 'GET /v1/items' });
  const catalog = body(res);
  if (res.status !== 200 || catalog === null) throw new Error(`GET /v1/items answered ${res.status}: ${res.body}`);
  const candidates = catalog.data.filter(
    (item) => item.active && item.refundable && REFUNDABLE_KINDS.includes(item.kind) && item.currency === CURRENCY,
  );
  if (candidates.length === 0) {
    throw new Error(
      `the catalog has no active, refundable game or skin priced in ${CURRENCY}; ` +
        'add one with PUT /v1/items/{id} (catalog:write) or set CURRENCY',
    );
  }
  const items = [candidates.find((item) => item.kind === 'game') || candidates[0]];
  const second = candidates.find((item) => item.id !== items[0].id);
  if (second) items.push(second);
  const accounts = [];
  for (let i = 0; i < ACCOUNTS; i += 1) {
    const home = pods[i % pods.length];
    const id = `${run_id}-s${i}`;
    createAccount(pods[(i + 1) % pods.length].base, token, run_id, id, home.region);
    accounts.push({ id, region: home.region, token: mintToken(id) });
  }
  console.log(
    `run ${run_id}: ${ACCOUNTS} players; buying ${items.map((item) => `${item.id} (${item.price} ${item.currency})`).join(' + ')}`,
  );
  return { run_id, token, accounts, item_ids: items.map((item) => item.id) };
}

export function shop(data) {
  const player = data.accounts[Math.floor(Math.random() * data.accounts.length)];
  const key = (step) => iterationKey(data.run_id, step);

  // 1. Browse: the list, then each item; the expected total comes from the prices read now.
  const items = group('browse', () => {
    const list = getJson(`${podFor(0)}/v1/items?limit=50`, { name: 'GET /v1/items' });
    check(list, { 'items: 200 with a page': (r) => r.status === 200 && Array.isArray(body(r)?.data), 'items: X-Region': hasRegion });
    return data.item_ids.map((id) => {
      const res = getJson(`${podFor(1)}/v1/items/${id}`, { name: 'GET /v1/items/{id}' });
      const item = body(res);
      check(res, {
        'item: 200, active and refundable': (r) => r.status === 200 && item !== null && item.active === true && item.refundable === true,
      });
      return item;
    });
  });
  if (items.some((item) => item === null || typeof item.price !== 'number')) return;
  // One item: buy two units and refund one; two items: buy one of each and refund the first.
  const quantity = items.length === 1 ? 2 : 1;
  const lines = items.map((item) => ({ item_id: item.id, quantity }));
  const total = items.reduce((sum, item) => sum + item.price * quantity, 0);

  // 2. Top up exactly the total, confirmed by a signed PSP event (delivered twice now and then: credited once).
  const topup = group('top up', () => {
    const created = postJson(
      `${podFor(0)}/v1/topups`,
      { account_id: player.id, amount: total, currency: CURRENCY },
      { token: player.token, key: key('topup'), name: 'POST /v1/topups', op: 'topup' },
    );
    const pending = body(created);
    if (!check(created, { 'topup: 201 PENDING': (r) => r.status === 201 && pending !== null && pending.status === 'PENDING' })) return null;
    const event = JSON.stringify({
      id: `evt_${data.run_id}_${pending.id}`,
      type: 'payment.succeeded',
      data: { topup_id: pending.id, amount: total, currency: CURRENCY, psp_payment_id: `pay_${pending.id}` },
    });
    const deliveries = Math.random() < 0.1 ? 2 : 1;
    const outcomes = [];
    for (let delivery = 0; delivery < deliveries; delivery += 1) {
      const res = http.post(`${podFor(delivery + 1)}/v1/psp/events`, event, {
        headers: { 'Content-Type': 'application/json', 'Psp-Signature': pspSignature(event) },
        tags: { name: 'POST /v1/psp/events', op: 'psp_event' },
      });
      outcomes.push(res.status === 200 ? body(res)?.outcome : `status ${res.status}`);
    }
    check(outcomes, {
      'psp: credited once': (o) => o[0] === 'credited',
      // A redelivery gets the first answer again (SPEC §1.3); the top-up below shows one credit.
      'psp: redelivery answered as the first': (o) => o.every((outcome) => outcome === 'credited'),
    });
    const settled = getJson(`${podFor(2)}/v1/topups/${pending.id}`, { token: player.token, name: 'GET /v1/topups/{id}' });
    return check(settled, { 'topup: SUCCEEDED': (r) => r.status === 200 && body(r)?.status === 'SUCCEEDED' }) ? pending : null;
  });
  if (topup === null) return;

  // 3. Buy at the catalog price (expected_total guards against a price change).
  const order = group('buy', () => {
    const res = postJson(
      `${podFor(1)}/v1/orders`,
      { account_id: player.id, lines, expected_total: total, mode: 'immediate' },
      { token: player.token, key: key('order'), name: 'POST /v1/orders', op: 'order' },
    );
    const placed = body(res);
    const ok = check(res, {
      'order: 201 COMPLETED': (r) => r.status === 201 && placed !== null && placed.status === 'COMPLETED',
      'order: total as expected': () => placed !== null && placed.total === total,
    });
    return ok ? placed : null;
  });
  if (order === null) return;

  // 4. Partially refund one unit of the first line, as the player (refundable, not a consumable, within the window).
  group('refund', () => {
    const res = postJson(
      `${podFor(2)}/v1/orders/${order.id}/refunds`,
      { lines: [{ item_id: items[0].id, quantity: 1 }], reason: 'k6 partial refund' },
      { token: player.token, key: key('refund'), name: 'POST /v1/orders/{id}/refunds', op: 'refund' },
    );
    const refund = body(res);
    const ok = check(res, {
      'refund: 201 PARTIALLY_REFUNDED': (r) => r.status === 201 && refund !== null && refund.order_status === 'PARTIALLY_REFUNDED',
      'refund: one unit at its price': () => refund !== null && refund.amount === items[0].price,
    });
    const after = getJson(`${podFor(0)}/v1/orders/${order.id}`, { token: player.token, name: 'GET /v1/orders/{id}' });
    const view = body(after);
    check(after, {
      'order after refund: PARTIALLY_REFUNDED': (r) =>
        r.status === 200 && view !== null && view.status === 'PARTIALLY_REFUNDED' && view.refunded_amount === items[0].price,
    });
    if (ok) flowsCompleted.add(1);
  });
}

export function teardown(data) {
  reconcile(data.token);
}
