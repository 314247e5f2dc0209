import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { request, testConfig, uniqueId, type ApiResponse } from '../support/cluster.js';
import { OpenApiContract, contractOf, type WireAnswer } from '../support/openapi-contract.js';
import { signatureHeader } from '../../src/shop/topups/psp-signature.js';
import { TestPsp } from '../support/psp.js';
import { key, shopHarness, type ShopHarness } from '../support/shop.js';
import { waitFor } from '../support/wallet.js';
import { fixedSeller, SellerWorld } from '../sellers/support.js';
import { ScriptedSellers } from '../sellers/scripted-sellers.js';
import { startWebhookListener } from '../../tools/webhook-listener/listener.js';

// Every answer of this file goes through request(), so test/support/contract-setup.ts fails the
// test on any departure from /openapi.json. This file makes sure every route is among them, with
// its success answers and its errors, on a database of its own (the seller registry is global).

const SELLER = 'contract-seller';
const PRODUCT = 'contract-book';
const NOWHERE = '00000000-0000-4000-8000-000000000000';

let world: SellerWorld;
let h: ShopHarness;
let urls: string[];

beforeAll(async () => {
  // KYC limits on, as in production: the wallet's routes answer with their limits and flags.
  world = await SellerWorld.start({
    sellers: [fixedSeller(SELLER, 700, {}, PRODUCT)],
    env: { KYC_LIMITS_ENABLED: 'true', WITHDRAWAL_PENDING_TIMEOUT_SECONDS: '1', PAYOUT_CALL_ATTEMPTS_MAX: '1' },
  });
  urls = [world.url(0), world.url(1), world.url(2)];
  h = await shopHarness(urls, testConfig());
});
afterAll(() => world?.stop());

const ok = (response: ApiResponse, status: number) => {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  return response.body;
};

async function documentedOperations(): Promise<Array<{ method: string; path: string; operation: any }>> {
  const document = (await request(urls[0]!, 'GET', '/openapi.json')).body;
  return Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, operations]) =>
    Object.entries(operations).map(([method, operation]) => ({ method, path, operation })),
  );
}

describe('every route answers as /openapi.json says', () => {
  it('operations, docs and console: health, ready, metrics, the document, the docs and console pages with their files', async () => {
    const pages = ['/health', '/ready', '/metrics', '/openapi.json', '/docs', '/docs/docs.js', '/docs/swagger-ui.css'];
    for (const path of [...pages, '/console', '/console/console.js', '/console/console.css']) {
      ok(await request(urls[0]!, 'GET', path), 200);
    }
    ok(await request(urls[0]!, 'GET', '/docs/swagger-ui-bundle.js'), 200);
  });

  it('accounts, credits, debits, refunds, transactions and history', async () => {
    const id = uniqueId('p');
    const player = await h.mint.player(id);
    ok(await request(urls[0]!, 'POST', '/v1/accounts', { currency: 'EUR' }, { token: player, key: key() }), 201);
    ok(await request(urls[1]!, 'GET', `/v1/accounts/${id}`, undefined, { token: player }), 200);
    ok(await request(urls[2]!, 'GET', '/v1/accounts/@revenue/wallets', undefined, { token: h.admin }), 200);
    const credit = { amount: 1000, currency: 'EUR', reason: 'seed' };
    ok(await request(urls[0]!, 'POST', `/v1/accounts/${id}/credits`, credit, { token: h.service, key: key() }), 201);
    const debit = ok(
      await request(
        urls[1]!,
        'POST',
        `/v1/accounts/${id}/debits`,
        { ...credit, amount: 300, reference: 'item-7' },
        { token: player, key: key() },
      ),
      201,
    );
    ok(await request(urls[2]!, 'POST', `/v1/transactions/${debit.id}/refunds`, { amount: 100 }, { token: h.service, key: key() }), 201);
    ok(await request(urls[0]!, 'GET', `/v1/transactions/${debit.id}`, undefined, { token: player }), 200);
    ok(await request(urls[0]!, 'GET', `/v1/transactions/${debit.id}`, undefined, { token: h.service }), 200);
    const first = ok(await request(urls[1]!, 'GET', `/v1/accounts/${id}/transactions?limit=1`, undefined, { token: player }), 200);
    expect(first.next_cursor).toEqual(expect.any(String));
    ok(
      await request(urls[1]!, 'GET', `/v1/accounts/${id}/transactions?limit=1&cursor=${first.next_cursor}`, undefined, { token: player }),
      200,
    );
    const overdraft = await request(
      urls[2]!,
      'POST',
      `/v1/accounts/${id}/debits`,
      { ...credit, amount: 10_000 },
      { token: player, key: key() },
    );
    expect(overdraft.body.code).toBe('insufficient_funds');
  });

  it('holds captured and voided, transfers', async () => {
    const [payer, payee] = [await h.player(2000), await h.player(0)];
    const hold = (amount: number) => ({ account_id: payer.id, amount, currency: 'EUR', expires_in_seconds: 600 });
    const captured = ok(await request(urls[0]!, 'POST', '/v1/holds', hold(500), { token: h.service, key: key() }), 201);
    ok(await request(urls[1]!, 'GET', `/v1/holds/${captured.id}`, undefined, { token: payer.token }), 200);
    ok(await request(urls[2]!, 'POST', `/v1/holds/${captured.id}/capture`, { amount: 200 }, { token: h.service, key: key() }), 200);
    const voided = ok(await request(urls[0]!, 'POST', '/v1/holds', hold(100), { token: h.service, key: key() }), 201);
    ok(await request(urls[1]!, 'POST', `/v1/holds/${voided.id}/void`, {}, { token: h.service, key: key() }), 200);
    const again = await request(urls[1]!, 'POST', `/v1/holds/${voided.id}/void`, {}, { token: h.service, key: key() });
    expect(again.body.code).toBe('invalid_state');
    const body = { from_account_id: payer.id, to_account_id: payee.id, amount: 250, currency: 'EUR', note: 'gg' };
    const transfer = ok(await request(urls[2]!, 'POST', '/v1/transfers', body, { token: payer.token, key: key() }), 201);
    ok(await request(urls[0]!, 'GET', `/v1/transfers/${transfer.id}`, undefined, { token: payee.token }), 200);
  });

  it('catalog, orders immediate and two-step (completed, cancelled), refunds, order and entitlement pages', async () => {
    const item_id = uniqueId('item');
    const item = { name: 'Contract Helm', kind: 'skin', price: 300, currency: 'EUR', active: true, refundable: true };
    ok(await request(urls[0]!, 'PUT', `/v1/items/${item_id}`, item, { token: h.catalog }), 201);
    ok(await request(urls[1]!, 'PUT', `/v1/items/${item_id}`, { ...item, name: 'Contract Helm II' }, { token: h.catalog }), 200);
    ok(await request(urls[2]!, 'GET', `/v1/items/${item_id}`), 200);
    ok(await request(urls[2]!, 'GET', '/v1/items?limit=2&kind=skin'), 200);
    const buyer = await h.player(5000);
    const order = (mode: string) => ({ account_id: buyer.id, lines: [{ item_id, quantity: 2 }], mode });
    const paid = ok(await request(urls[0]!, 'POST', '/v1/orders', order('immediate'), { token: buyer.token, key: key() }), 201);
    const completed = ok(await request(urls[1]!, 'POST', '/v1/orders', order('two_step'), { token: buyer.token, key: key() }), 201);
    ok(await request(urls[2]!, 'POST', `/v1/orders/${completed.id}/complete`, {}, { token: buyer.token, key: key() }), 200);
    const cancelled = ok(await request(urls[0]!, 'POST', '/v1/orders', order('two_step'), { token: buyer.token, key: key() }), 201);
    ok(await request(urls[1]!, 'POST', `/v1/orders/${cancelled.id}/cancel`, {}, { token: buyer.token, key: key() }), 200);
    const refund = { lines: [{ item_id, quantity: 1 }], reason: 'changed my mind' };
    ok(await request(urls[2]!, 'POST', `/v1/orders/${paid.id}/refunds`, refund, { token: buyer.token, key: key() }), 201);
    ok(await request(urls[0]!, 'GET', `/v1/orders/${paid.id}`, undefined, { token: buyer.token }), 200);
    ok(await request(urls[1]!, 'GET', `/v1/accounts/${buyer.id}/orders?limit=2`, undefined, { token: buyer.token }), 200);
    ok(await request(urls[2]!, 'GET', `/v1/accounts/${buyer.id}/entitlements`, undefined, { token: h.service }), 200);
    const stale = await request(
      urls[0]!,
      'POST',
      '/v1/orders',
      { ...order('immediate'), expected_total: 1 },
      { token: buyer.token, key: key() },
    );
    expect(stale.body.code).toBe('price_changed');
  });

  it('top-ups credited by the PSP, an event held for review and settled', async () => {
    const psp = new TestPsp(urls, testConfig().psp_webhook_secret);
    const owner = await h.player(0);
    const topup = ok(
      await request(
        urls[0]!,
        'POST',
        '/v1/topups',
        { account_id: owner.id, amount: 2000, currency: 'EUR' },
        { token: owner.token, key: key() },
      ),
      201,
    );
    expect(ok(await psp.send(psp.event('payment.succeeded', topup.id, 2000), 1), 200).outcome).toBe('credited');
    expect(ok(await psp.send(psp.event('payment.refunded', topup.id, 9999), 2), 200).outcome).toBe('amount_mismatch');
    const shown = ok(await request(urls[0]!, 'GET', `/v1/topups/${topup.id}`, undefined, { token: owner.token }), 200);
    const path = `/v1/psp/events/${encodeURIComponent(shown.review[0].log_id)}/review`;
    ok(await request(urls[1]!, 'PUT', path, { settlement: 'confirmed with the PSP' }, { token: h.admin }), 200);
    const forged = await psp.sendRaw('{}', 0, { secret: 'not-the-secret' });
    expect(forged.status).toBe(401);

    // A chargeback of money held: booked as a loss; the hold released, compliance recovers it.
    const held = { account_id: owner.id, amount: 2000, currency: 'EUR', expires_in_seconds: 600 };
    const hold = ok(await request(urls[0]!, 'POST', '/v1/holds', held, { token: h.service, key: key() }), 201);
    expect(ok(await psp.send(psp.event('payment.refunded', topup.id, 2000), 2), 200).outcome).toBe('reversed');
    ok(await request(urls[1]!, 'POST', `/v1/holds/${hold.id}/void`, {}, { token: h.admin, key: key() }), 200);
    const recovery = { reason: 'the hold was released after the chargeback' };
    ok(await request(urls[2]!, 'POST', `/v1/topups/${topup.id}/recover`, recovery, { token: h.admin, key: key() }), 201);
  });

  it('sellers and a purchase request bought from the registered seller', async () => {
    const seller = ok(await request(urls[0]!, 'GET', `/v1/sellers/${SELLER}`, undefined, { token: h.admin }), 200);
    const { base_url, rate_limit_per_minute, timeout_ms, supports_holds, active } = seller;
    const replaced = { base_url, rate_limit_per_minute, timeout_ms, supports_holds, active };
    ok(await request(urls[1]!, 'PUT', `/v1/sellers/${SELLER}`, replaced, { token: h.admin }), 200);
    ok(await request(urls[2]!, 'GET', '/v1/sellers?limit=1', undefined, { token: h.admin }), 200);
    const buyer = await world.player(5000);
    const body = { account_id: buyer.id, product_id: PRODUCT, max_price: 1000, currency: 'EUR' };
    const accepted = await request(urls[0]!, 'POST', '/v1/purchase-requests', body, { token: buyer.token, key: key() });
    expect(ok(accepted, 202).status).toBe('pending');
    expect((await world.final(buyer, accepted.body.id)).status).toBe('purchased');
    for (const list of ['holds', 'topups', 'purchase-requests']) {
      ok(await request(urls[2]!, 'GET', `/v1/accounts/${buyer.id}/${list}?limit=1`, undefined, { token: h.admin }), 200);
    }
    ok(await request(urls[0]!, 'GET', '/v1/admin/review/psp-events', undefined, { token: h.admin }), 200);
    ok(await request(urls[1]!, 'GET', '/v1/admin/review/purchase-requests', undefined, { token: h.admin }), 200);
    ok(await request(urls[1]!, 'POST', '/v1/admin/reconcile', undefined, { token: h.admin }), 200);
  });

  it('a purchase request kept for review (a seller confirming above its quote) and settled by a person', async () => {
    const greedy = { id: 'contract-greedy', prices: { 'contract-greedy-book': 300 }, supports_holds: false, order_price: 900 };
    const scripted = await ScriptedSellers.start([{ ...greedy, silent_order_calls: 0, silent_calls_make_orders: true }]);
    try {
      const registration = { base_url: scripted.baseUrl(greedy.id), rate_limit_per_minute: 1000, timeout_ms: 1000, supports_holds: false };
      ok(await request(urls[0]!, 'PUT', `/v1/sellers/${greedy.id}`, registration, { token: h.admin }), 201);
      const buyer = await world.player(5000);
      const body = { account_id: buyer.id, product_id: 'contract-greedy-book', max_price: 1000, currency: 'EUR' };
      const { id } = ok(await request(urls[1]!, 'POST', '/v1/purchase-requests', body, { token: buyer.token, key: key() }), 202);
      await world.until(buyer, id, (request_view) => request_view.needs_review === true);
      const settlement = { outcome: 'not_purchased', settlement: 'the seller cancelled its order' };
      ok(await request(urls[2]!, 'PUT', `/v1/purchase-requests/${id}/review`, settlement, { token: h.admin }), 200);
      const active = { ...registration, active: false };
      ok(await request(urls[0]!, 'PUT', `/v1/sellers/${greedy.id}`, active, { token: h.admin }), 200);
    } finally {
      await scripted.close();
    }
  });

  it('events, webhook endpoints, their deliveries and a redelivery', async () => {
    const receiver = await startWebhookListener({ secrets: [] });
    try {
      const reader = await h.mint.service('events:read', 'integrator');
      const body = { url: receiver.url, enabled_events: ['account.created'], description: 'contract' };
      const endpoint = ok(await request(urls[0]!, 'POST', '/v1/webhook-endpoints', body, { token: h.admin, key: key() }), 201);
      receiver.secrets.push(endpoint.secret);
      const player = await h.player(0);
      const page = ok(await request(urls[1]!, 'GET', `/v1/events?account_id=${player.id}&limit=1`, undefined, { token: reader }), 200);
      ok(await request(urls[2]!, 'GET', `/v1/events/${page.data[0].id}`, undefined, { token: player.token }), 200);
      ok(await request(urls[0]!, 'GET', '/v1/webhook-endpoints?limit=1', undefined, { token: h.admin }), 200);
      ok(await request(urls[1]!, 'GET', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: h.admin }), 200);
      ok(await request(urls[2]!, 'PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { description: null }, { token: h.admin }), 200);
      const rotate = `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`;
      ok(await request(urls[0]!, 'POST', rotate, { overlap_seconds: 60 }, { token: h.admin, key: key() }), 200);
      const redeliver = { endpoint_id: endpoint.id };
      ok(await request(urls[1]!, 'POST', `/v1/events/${page.data[0].id}/redeliver`, redeliver, { token: h.admin, key: key() }), 202);
      ok(await request(urls[2]!, 'GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries`, undefined, { token: h.admin }), 200);
      ok(await request(urls[0]!, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: h.admin }), 200);
    } finally {
      await receiver.close();
    }
  });

  it('the wallet: KYC, limits and review flags, status, merchants, withdrawals and payout callbacks, statements, exports', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const player = await h.player(5000);
    const as = (token: string) => ({ token, key: key() });
    ok(await request(urls[0]!, 'PUT', `/v1/accounts/${player.id}/kyc`, { tier: 2, reason: 'documents checked' }, { token: h.admin }), 200);
    ok(await request(urls[1]!, 'PUT', `/v1/accounts/${player.id}/limits`, { daily_debits_max_minor: 1000 }, { token: h.admin }), 200);
    ok(await request(urls[2]!, 'GET', `/v1/accounts/${player.id}/limits`, undefined, { token: player.token }), 200);
    const debit = { amount: 1500, currency: 'EUR', reason: 'over the day' };
    const refused = await request(urls[0]!, 'POST', `/v1/accounts/${player.id}/debits`, debit, as(player.token));
    expect(refused.body.code).toBe('limit_exceeded');
    const flags = ok(await request(urls[1]!, 'GET', `/v1/admin/review-flags?account_id=${player.id}`, undefined, { token: h.admin }), 200);
    const resolution = { resolution: 'one large purchase, expected' };
    ok(await request(urls[2]!, 'PUT', `/v1/admin/review-flags/${flags.data[0].id}/resolution`, resolution, { token: h.admin }), 200);

    const merchant_id = uniqueId('m');
    const merchant = { id: merchant_id, kind: 'merchant', currency: 'EUR', fee_bps: 250, fee_min: 5 };
    ok(await request(urls[0]!, 'POST', '/v1/accounts', merchant, as(h.service)), 201);
    const pay = { from_account_id: player.id, merchant_id, amount: 400, currency: 'EUR', metadata: { invoice: 'A-1' } };
    const payment = ok(await request(urls[1]!, 'POST', '/v1/merchant-payments', pay, as(player.token)), 201);
    ok(await request(urls[2]!, 'GET', `/v1/merchant-payments/${payment.id}`, undefined, { token: player.token }), 200);

    const cash_out = {
      account_id: player.id,
      amount: 1000,
      currency: 'EUR',
      destination: { type: 'bank_account', reference: 'NL00BANK0123' },
    };
    const withdrawal = ok(await request(urls[0]!, 'POST', '/v1/withdrawals', cash_out, as(player.token)), 201);
    // No provider answers this one: flagged after a second, and settled by hand below.
    const unanswered = ok(await request(urls[0]!, 'POST', '/v1/withdrawals', { ...cash_out, amount: 500 }, as(player.token)), 201);
    ok(await request(urls[1]!, 'GET', `/v1/accounts/${player.id}/withdrawals`, undefined, { token: player.token }), 200);
    // The provider's callbacks, signed: one that disagrees on the amount (held for review), then its answer.
    const callback = (amount: number, type: string) => {
      const raw = JSON.stringify({
        id: `evt_${randomUUID()}`,
        type,
        data: { withdrawal_id: withdrawal.id, amount, currency: 'EUR', payout_id: `po_${withdrawal.id}` },
      });
      const signature = signatureHeader(testConfig().wallet.payout_webhook_secret, Math.floor(Date.now() / 1000), raw);
      const headers = { 'Content-Type': 'application/json', 'Payout-Signature': signature };
      return request(urls[2]!, 'POST', '/v1/payouts/events', undefined, { raw, headers });
    };
    expect(ok(await callback(999, 'payout.paid'), 200).outcome).toBe('amount_mismatch');
    expect(ok(await callback(1000, 'payout.failed'), 200).outcome).toBe('failed');
    const failed = ok(await request(urls[0]!, 'GET', `/v1/withdrawals/${withdrawal.id}`, undefined, { token: player.token }), 200);
    const review = `/v1/payouts/events/${encodeURIComponent(failed.review[0].log_id)}/review`;
    ok(await request(urls[1]!, 'PUT', review, { settlement: 'the provider sent a wrong amount first' }, { token: h.admin }), 200);
    // Once its one payout call failed and its job gave up (409 until then).
    const by_hand = { status: 'FAILED', settlement: 'the provider has no such payout' };
    const settled = await waitFor('settled by hand', 15_000, async () => {
      const answer = await request(urls[1]!, 'POST', `/v1/withdrawals/${unanswered.id}/settle`, by_hand, { token: h.admin, key: key() });
      return answer.status === 409 ? undefined : answer;
    });
    ok(settled, 200);

    const now = new Date().toISOString();
    const range = `from=${since}&to=${now}`;
    ok(await request(urls[2]!, 'GET', `/v1/accounts/${player.id}/wallets?as_of=${since}`, undefined, { token: player.token }), 200);
    const statement = `/v1/accounts/${player.id}/statement?currency=EUR&${range}`;
    ok(await request(urls[0]!, 'GET', statement, undefined, { token: player.token }), 200);
    for (const format of ['csv', 'jsonl']) {
      ok(await request(urls[1]!, 'GET', `/v1/admin/exports/transactions?${range}&format=${format}`, undefined, { token: h.admin }), 200);
    }
    const report = `/v1/admin/reports/large-transactions?${range}&currency=EUR&threshold=1000`;
    expect(ok(await request(urls[2]!, 'GET', report, undefined, { token: h.admin }), 200).data.length).toBeGreaterThan(0);

    const leaving = await h.player(0);
    for (const action of ['freeze', 'unfreeze', 'close']) {
      ok(await request(urls[0]!, 'POST', `/v1/accounts/${leaving.id}/${action}`, { reason: 'asked to leave' }, as(h.admin)), 200);
    }
    const actions = `/v1/accounts/${leaving.id}/compliance-actions`;
    expect(ok(await request(urls[1]!, 'GET', actions, undefined, { token: h.admin }), 200).data).toHaveLength(3);
  });

  it('errors: no credentials, unknown ids, other methods, bad input, oversized bodies, reused keys, unknown paths', async () => {
    const operations = await documentedOperations();
    // A statement needs its currency and range to get as far as looking the account up.
    const day = `from=${new Date(Date.now() - 86_400_000).toISOString()}&to=${new Date().toISOString()}`;
    const QUERIES: Record<string, string> = { '/v1/accounts/{id}/statement': `?currency=EUR&${day}` };
    const concrete = (path: string) => path.replace('{id}', NOWHERE) + (QUERIES[path] ?? '');
    for (const { method, path, operation } of operations) {
      const body = method === 'get' ? undefined : {};
      if (operation.security.some((scheme: object) => 'bearer' in scheme)) {
        expect((await request(urls[0]!, method.toUpperCase(), concrete(path), body, { key: key() })).status).toBe(401);
      }
      if (path.includes('{id}') && method === 'get') {
        expect((await request(urls[1]!, 'GET', concrete(path), undefined, { token: h.admin })).status).toBe(404);
      }
      const methods = operations.filter((other) => other.path === path).map((other) => other.method);
      if (!methods.includes('delete')) expect((await request(urls[2]!, 'DELETE', concrete(path))).status).toBe(405);
    }
    const player = await h.player(100);
    const move = { amount: 10, currency: 'EUR', reason: 'x' };
    const reused = key();
    ok(await request(urls[0]!, 'POST', `/v1/accounts/${player.id}/debits`, move, { token: player.token, key: reused }), 201);
    const replayed = await request(urls[1]!, 'POST', `/v1/accounts/${player.id}/debits`, move, { token: player.token, key: reused });
    expect(replayed.headers.get('Idempotent-Replayed')).toBe('true');
    const other = await request(
      urls[2]!,
      'POST',
      `/v1/accounts/${player.id}/debits`,
      { ...move, amount: 11 },
      { token: player.token, key: reused },
    );
    expect(other.body.code).toBe('idempotency_key_reused');
    const bad = await request(
      urls[0]!,
      'POST',
      `/v1/accounts/${player.id}/debits`,
      { ...move, amount: '10' },
      { token: player.token, key: key() },
    );
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: 'amount' })]);
    const keyless = await request(urls[0]!, 'POST', `/v1/accounts/${player.id}/debits`, move, { token: player.token });
    expect(keyless.body.code).toBe('idempotency_key_required');
    const huge = await request(urls[1]!, 'POST', '/v1/transfers', { pad: 'x'.repeat(70 * 1024) }, { token: player.token, key: key() });
    expect(huge.status).toBe(413);
    expect((await request(urls[2]!, 'GET', '/v1/items?limit=0')).status).toBe(400);
    expect((await request(urls[2]!, 'GET', '/v1/nowhere')).status).toBe(404);
  });

  it('covered every operation: a documented success of each, and 401 for each bearer route', async () => {
    const passed = new Set((await Promise.all(urls.map(contractOf))).flatMap((contract) => [...contract.passed]));
    const missing = (await documentedOperations()).flatMap(({ operation }) => {
      const id = operation.operationId as string;
      const success = Object.keys(operation.responses).filter((status) => status.startsWith('2'));
      const wanted = [...success, ...(operation.security.some((scheme: object) => 'bearer' in scheme) ? ['401'] : [])];
      return wanted.filter((status) => !passed.has(`${id} ${status}`)).map((status) => `${id} ${status}`);
    });
    expect(missing).toEqual([]);
  });
});

describe('the contract check', () => {
  let document: any;
  let account: WireAnswer;
  let missing: WireAnswer;

  const wire = async (method: string, path: string, init: RequestInit = {}): Promise<WireAnswer> => {
    const response = await fetch(`${urls[0]}${path}`, { ...init, method });
    return { method, path, status: response.status, headers: response.headers, text: await response.text() };
  };
  /** A copy of the real document with one thing changed. */
  const doctored = (change: (copy: any) => void) => {
    const copy = structuredClone(document);
    change(copy);
    return new OpenApiContract(copy);
  };

  beforeAll(async () => {
    document = await (await fetch(`${urls[0]}/openapi.json`)).json();
    const token = await h.mint.player(uniqueId('p'));
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': key() };
    account = await wire('POST', '/v1/accounts', { headers, body: '{}' });
    missing = await wire('GET', `/v1/holds/${randomUUID()}`, { headers: { Authorization: `Bearer ${h.service}` } });
  });

  it('passes real answers as they are', () => {
    const contract = new OpenApiContract(document);
    expect([account.status, missing.status]).toEqual([201, 404]);
    expect(contract.check(account)).toEqual([]);
    expect(contract.check(missing)).toEqual([]);
  });

  it('fails an answer whose body the schema does not allow: a wrong type, a value out of its enum, a field not documented', () => {
    expect(doctored((copy) => (copy.components.schemas.Wallet.properties.balance.type = 'string')).check(account)).toEqual([
      expect.stringContaining('/wallets/0/balance must be string'),
    ]);
    expect(doctored((copy) => (copy.components.schemas.Account.properties.kind.enum = ['system'])).check(account)).toEqual([
      expect.stringContaining('/kind must be equal to one of the allowed values'),
    ]);
    const extra = { ...account, text: JSON.stringify({ ...JSON.parse(account.text), surprise: 1 }) };
    expect(new OpenApiContract(document).check(extra)).toEqual([expect.stringContaining('must NOT have additional properties')]);
  });

  it('fails a status, a code, a header or a content type that the operation does not document', () => {
    const contract = new OpenApiContract(document);
    const undocumented = doctored((copy) => delete copy.paths['/v1/accounts'].post.responses['201']);
    expect(undocumented.check(account)).toEqual(['createAccount does not document status 201']);
    const wrong_code = { ...missing, text: JSON.stringify({ ...JSON.parse(missing.text), code: 'forbidden' }) };
    expect(contract.check(wrong_code)).toEqual([expect.stringContaining('/code must be equal to one of the allowed values')]);
    const headers = new Headers(account.headers);
    headers.delete('X-Region');
    expect(contract.check({ ...account, headers })).toEqual(['header X-Region is missing']);
    headers.set('X-Region', 'eu-west');
    headers.set('Content-Type', 'text/plain');
    expect(contract.check({ ...account, headers })).toEqual([expect.stringContaining('content type "text/plain" is not documented')]);
  });

  it('fails a success on a path or a method the document does not have; 404 and 405 there are as documented', async () => {
    const contract = new OpenApiContract(document);
    const no_route = await wire('GET', '/v1/nowhere');
    const no_method = await wire('DELETE', '/v1/accounts/someone');
    expect([no_route.status, no_method.status]).toEqual([404, 405]);
    expect([...contract.check(no_route), ...contract.check(no_method)]).toEqual([]);
    expect(contract.check({ ...account, path: '/v1/elsewhere' })).toEqual(['/v1/elsewhere is not a documented path']);
    expect(contract.check({ ...account, method: 'PATCH' })).toEqual(['PATCH is not documented on /v1/accounts']);
  });
});
