import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, testConfig, tokens, uniqueId } from '../support/cluster.js';
import { fixedSeller, SellerWorld } from './support.js';

let world: SellerWorld;
let mint: ReturnType<typeof tokens>;

beforeAll(async () => {
  world = await SellerWorld.start({ sellers: [fixedSeller('only-seller', 700)] });
  mint = tokens(testConfig());
});
afterAll(() => world?.stop());

// Registered inactive (except where a test says otherwise), so purchases never fan out to them.
const body = (overrides: Record<string, unknown> = {}) => ({
  base_url: 'http://127.0.0.1:9/sellers/x',
  rate_limit_per_minute: 60,
  timeout_ms: 500,
  supports_holds: true,
  active: false,
  ...overrides,
});

describe('seller registry', () => {
  it('when an admin PUTs a new seller, then 201 with its health; PUT again replaces it (200) and GET shows it', async () => {
    const id = uniqueId('reg');
    const created = await request(world.url(0), 'PUT', `/v1/sellers/${id}`, body({ active: true }), { token: world.admin });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id,
      base_url: 'http://127.0.0.1:9/sellers/x',
      rate_limit_per_minute: 60,
      timeout_ms: 500,
      supports_holds: true,
      active: true,
    });
    expect(created.body.health).toMatchObject({
      circuit_state: 'closed',
      recent_calls: 0,
      recent_error_rate: 0,
      calls_in_current_window: 0,
      latency_ms_avg: null,
    });

    const replaced = await request(world.url(1), 'PUT', `/v1/sellers/${id}`, body({ timeout_ms: 800 }), { token: world.admin });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id, active: false, timeout_ms: 800, created_at: created.body.created_at });
    const read = await request(world.url(2), 'GET', `/v1/sellers/${id}`, undefined, { token: world.admin });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id, active: false });
  });

  it('lists sellers newest first, paginated without skipping or repeating', async () => {
    const ids = [uniqueId('page'), uniqueId('page'), uniqueId('page')];
    for (const id of ids) expect((await request(world.url(), 'PUT', `/v1/sellers/${id}`, body(), { token: world.admin })).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await request(world.url(), 'GET', `/v1/sellers?limit=2${cursor ? `&cursor=${cursor}` : ''}`, undefined, {
        token: world.admin,
      });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((seller: any) => seller.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, 3)).toEqual([...ids].reverse());
    expect(seen).toContain('only-seller');
  });

  it('refuses bad bodies (400), non-admins (403), anonymous callers (401) and unknown sellers (404)', async () => {
    const id = uniqueId('bad');
    // A timeout beyond what a job's lease can give a call (JOB_LEASE_MS 10 s less 1 s) would never be honoured.
    const beyond_lease = body({ timeout_ms: 9001 });
    for (const bad of [
      body({ base_url: 'ftp://x' }),
      body({ timeout_ms: '500' }),
      body({ extra: 1 }),
      { base_url: 'http://x' },
      beyond_lease,
    ]) {
      const response = await request(world.url(), 'PUT', `/v1/sellers/${id}`, bad, { token: world.admin });
      expect(response.status, JSON.stringify(bad)).toBe(400);
      expect(response.body.code).toBe('validation_error');
    }
    expect((await request(world.url(), 'PUT', `/v1/sellers/${id}`, body(), { token: world.service })).status).toBe(403);
    expect((await request(world.url(), 'GET', '/v1/sellers', undefined, { token: await mint.player('someone') })).status).toBe(403);
    expect((await request(world.url(), 'GET', '/v1/sellers')).status).toBe(401);
    expect((await request(world.url(), 'GET', `/v1/sellers/${id}`, undefined, { token: world.admin })).status).toBe(404);
  });
});

describe('purchase requests: the API contract', () => {
  it('answers 202 with a status URL and Location; the same key replays the request; the status URL shows the final result', async () => {
    const buyer = await world.player(5000);
    const key = uniqueId('k');
    const payload = { account_id: buyer.id, product_id: 'book-1', max_price: 800, currency: 'EUR' };
    const first = await request(world.url(0), 'POST', '/v1/purchase-requests', payload, { token: buyer.token, key });
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ id: expect.any(String), status: 'pending', status_url: `/v1/purchase-requests/${first.body.id}` });
    expect(first.headers.get('location')).toBe(first.body.status_url);
    const again = await request(world.url(1), 'POST', '/v1/purchase-requests', payload, { token: buyer.token, key });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    const reused = await request(
      world.url(1),
      'POST',
      '/v1/purchase-requests',
      { ...payload, max_price: 900 },
      { token: buyer.token, key },
    );
    expect(reused.status).toBe(422);

    const final = await world.final(buyer, first.body.id);
    expect(final).toMatchObject({ status: 'purchased', final_price: 700, seller_id: 'only-seller', max_price: 800, product_id: 'book-1' });
    expect(final.quotes).toEqual([
      {
        seller_id: 'only-seller',
        available: true,
        price: 700,
        currency: 'EUR',
        latency_ms: expect.any(Number),
        error: null,
        shared: false,
      },
    ]);
    expect(await world.wallet(buyer)).toMatchObject({ balance: 4300, held: 0 });
  });

  it('holds max_price while pending: a wallet that cannot cover it gets 409 insufficient_funds and nothing is held', async () => {
    const buyer = await world.player(500);
    const response = await request(
      world.url(),
      'POST',
      '/v1/purchase-requests',
      { account_id: buyer.id, product_id: 'book-1', max_price: 800, currency: 'EUR' },
      { token: buyer.token, key: uniqueId('k') },
    );
    expect(response.status).toBe(409);
    expect(response.body.code).toBe('insufficient_funds');
    expect(await world.wallet(buyer)).toMatchObject({ balance: 500, held: 0 });
  });

  it('validates input and access: 400 no key/bad fields, 404 other player, 422 other currency, 403 service w/o credits:write', async () => {
    const buyer = await world.player(5000);
    const other = await world.player(5000);
    const payload = { account_id: buyer.id, product_id: 'book-1', max_price: 800, currency: 'EUR' };
    const post = (body: unknown, token: string, key: string | undefined = uniqueId('k')) =>
      request(world.url(), 'POST', '/v1/purchase-requests', body, { token, ...(key ? { key } : {}) });
    expect((await post(payload, buyer.token, '')).body.code).toBe('idempotency_key_required');
    for (const bad of [
      { ...payload, max_price: 0 },
      { ...payload, max_price: 1.5 },
      { ...payload, product_id: 'has space' },
      { ...payload, extra: true },
      { ...payload, currency: 'eur' },
    ]) {
      const response = await post(bad, buyer.token);
      expect(response.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await post(payload, other.token)).status).toBe(404);
    expect((await post({ ...payload, currency: 'GEMS' }, buyer.token)).status).toBe(422);
    expect((await post(payload, await mint.service('accounts:write', 'crm'))).status).toBe(403);
    expect((await post(payload, world.service)).status).toBe(202);

    const id = (await post(payload, buyer.token)).body.id;
    expect((await request(world.url(), 'GET', `/v1/purchase-requests/${id}`, undefined, { token: other.token })).status).toBe(404);
    expect((await request(world.url(), 'GET', `/v1/purchase-requests/${id}`, undefined, { token: world.service })).status).toBe(200);
    expect((await request(world.url(), 'GET', '/v1/purchase-requests/not-a-uuid', undefined, { token: buyer.token })).status).toBe(400);
    await world.final(buyer, id);
  });

  it('counts seller calls and finished requests in /metrics', async () => {
    const texts = await Promise.all([0, 1, 2].map(async (pod) => (await request(world.url(pod), 'GET', '/metrics')).body as string));
    const all = texts.join('\n');
    expect(all).toMatch(/seller_calls_total\{[^}]*kind="quote",outcome="ok"[^}]*\} [1-9]/);
    expect(all).toMatch(/purchase_requests_finished_total\{[^}]*status="purchased"[^}]*\} [1-9]/);
  });

  it('is documented in /openapi.json', async () => {
    const document = (await request(world.url(), 'GET', '/openapi.json')).body;
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/v1/purchase-requests', '/v1/purchase-requests/{id}', '/v1/sellers', '/v1/sellers/{id}']),
    );
  });

  it('reconciliation is clean', async () => {
    expect(await world.reconcile()).toEqual({ ok: true, mismatches: [] });
  });
});
