import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  generateSellers,
  startSellerSimulator,
  type SellerSimulator,
  type SimulatedSellerSpec,
} from '../../tools/seller-simulator/seller-simulator.js';

const PRODUCT = 'book-1';
let simulator: SellerSimulator | undefined;

function seller(overrides: Partial<SimulatedSellerSpec> = {}): SimulatedSellerSpec {
  return { id: 'alpha', prices: { [PRODUCT]: 1250 }, stock: { [PRODUCT]: 5 }, ...overrides };
}

async function start(sellers: SimulatedSellerSpec[], window_ms?: number): Promise<SellerSimulator> {
  simulator = await startSellerSimulator({ sellers, window_ms });
  return simulator;
}

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

const post = (url: string, body: unknown, key?: string) =>
  call(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: JSON.stringify(body),
  });

const quote = (sim: SellerSimulator, id = 'alpha', product = PRODUCT) =>
  call(`${sim.baseUrl(id)}/quote?product_id=${encodeURIComponent(product)}`);

/** Sleeps until `offset_ms` into the next aligned window, so a burst cannot straddle a boundary by accident. */
async function alignToWindow(window_ms: number, offset_ms: number): Promise<void> {
  const now = Date.now();
  await sleep(Math.floor(now / window_ms) * window_ms + window_ms + offset_ms - now);
}

afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

describe('seller simulator protocol', () => {
  it('quotes, holds and orders; stock drops on the order only', async () => {
    const sim = await start([seller()]);
    const quoted = await quote(sim);
    expect(quoted.status).toBe(200);
    expect(quoted.body).toMatchObject({ available: true, price: 1250, currency: 'EUR' });
    expect(Date.parse(String(quoted.body.expires_at))).toBeGreaterThan(Date.now());

    const held = await post(`${sim.baseUrl('alpha')}/holds`, { quote_id: quoted.body.quote_id });
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({ price: 1250 });
    expect(sim.spec('alpha').stock[PRODUCT]).toBe(5);

    const ordered = await post(`${sim.baseUrl('alpha')}/orders`, { hold_id: held.body.hold_id }, 'pr-1:alpha');
    expect(ordered.status).toBe(201);
    expect(ordered.body).toMatchObject({ status: 'confirmed', price: 1250 });
    expect(sim.spec('alpha').stock[PRODUCT]).toBe(4);
    expect(sim.orders('alpha')).toEqual([
      { order_id: ordered.body.order_id, idempotency_key: 'pr-1:alpha', product_id: PRODUCT, price: 1250 },
    ]);
    expect(sim.stats('alpha')).toMatchObject({ quote_calls: 1, hold_calls: 1, order_calls: 1, orders_created: 1 });
  });

  it('replays an order with the same Idempotency-Key and decrements stock once', async () => {
    const sim = await start([seller({ supports_holds: false })]);
    const quoted = await quote(sim);
    const url = `${sim.baseUrl('alpha')}/orders`;
    const [first, second] = await Promise.all([
      post(url, { quote_id: quoted.body.quote_id }, 'pr-2:alpha'),
      post(url, { quote_id: quoted.body.quote_id }, 'pr-2:alpha'),
    ]);
    const third = await post(url, { quote_id: quoted.body.quote_id }, 'pr-2:alpha');
    expect(first?.status).toBe(201);
    expect(second?.body).toEqual(first?.body);
    expect(third.body).toEqual(first?.body);
    expect(third.headers.get('idempotent-replayed')).toBe('true');
    expect(sim.spec('alpha').stock[PRODUCT]).toBe(4);
    expect(sim.orders('alpha')).toHaveLength(1);
    expect(sim.stats('alpha')).toMatchObject({ order_calls: 3, orders_created: 1 });
  });

  it('refuses an order without Idempotency-Key and holds on a seller without holds', async () => {
    const sim = await start([seller({ supports_holds: false })]);
    const quoted = await quote(sim);
    const missingKey = await post(`${sim.baseUrl('alpha')}/orders`, { quote_id: quoted.body.quote_id });
    expect(missingKey.status).toBe(400);
    expect(missingKey.body.error).toBe('idempotency_key_required');
    expect((await post(`${sim.baseUrl('alpha')}/holds`, { quote_id: quoted.body.quote_id })).status).toBe(404);
    expect((await post(`${sim.baseUrl('alpha')}/orders`, { hold_id: 'h_x' }, 'k')).status).toBe(400);
    expect(sim.spec('alpha').stock[PRODUCT]).toBe(5);
  });

  it('answers 409 quote_expired for an expired or unknown quote', async () => {
    const sim = await start([seller({ quote_ttl_ms: 50 })]);
    const quoted = await quote(sim);
    await sleep(80);
    const late = await post(`${sim.baseUrl('alpha')}/holds`, { quote_id: quoted.body.quote_id });
    expect(late).toMatchObject({ status: 409, body: { error: 'quote_expired' } });
    const unknown = await post(`${sim.baseUrl('alpha')}/orders`, { quote_id: 'q_unknown' }, 'k-1');
    expect(unknown).toMatchObject({ status: 409, body: { error: 'quote_expired' } });
  });

  it('reports a price moved since the quote', async () => {
    const sim = await start([seller(), seller({ id: 'beta', supports_holds: false })]);
    const [withHold, withoutHold] = [await quote(sim, 'alpha'), await quote(sim, 'beta')];
    sim.setPrice('alpha', PRODUCT, 1400);
    sim.setPrice('beta', PRODUCT, 1400);
    const held = await post(`${sim.baseUrl('alpha')}/holds`, { quote_id: withHold.body.quote_id });
    expect(held).toMatchObject({ status: 200, body: { price: 1400 } });
    const refused = await post(`${sim.baseUrl('beta')}/orders`, { quote_id: withoutHold.body.quote_id }, 'k-2');
    expect(refused).toMatchObject({ status: 409, body: { error: 'price_changed', price: 1400 } });
    expect(sim.spec('beta').stock[PRODUCT]).toBe(5);
  });

  it('reserves held stock until the hold expires', async () => {
    // A hold of 1 s: the quote and hold that must find the stock held come well within it (at 100 ms
    // a loaded machine could let it expire first); then the stock is asked for until it is back.
    const sim = await start([seller({ stock: { [PRODUCT]: 1 }, hold_ttl_ms: 1000 })]);
    const first = await quote(sim);
    const holding_ms = Date.now();
    expect((await post(`${sim.baseUrl('alpha')}/holds`, { quote_id: first.body.quote_id })).status).toBe(200);
    const second = await quote(sim);
    expect(second.body.available).toBe(false);
    const refused = await post(`${sim.baseUrl('alpha')}/holds`, { quote_id: second.body.quote_id });
    expect(refused).toMatchObject({ status: 409, body: { error: 'out_of_stock' } });
    let available = false;
    for (const deadline = Date.now() + 10_000; !available && Date.now() < deadline; await sleep(50)) {
      available = (await quote(sim)).body.available === true;
    }
    expect(available).toBe(true);
    // Not before the hold's expiry (it was made after holding_ms, on the same clock): held until then.
    expect(Date.now() - holding_ms).toBeGreaterThanOrEqual(1000);
  });
});

describe('seller simulator behaviour', () => {
  it('answers 429 with Retry-After once over the limit of a fixed window', async () => {
    const window_ms = 2000;
    const sim = await start([seller({ rate_limit_per_minute: 3 })], window_ms);
    await alignToWindow(window_ms, 50);
    const answers = [];
    for (let i = 0; i < 5; i += 1) answers.push(await quote(sim));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429, 429]);
    expect(Number(answers[3]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const stats = sim.stats('alpha');
    expect(stats).toMatchObject({ quote_calls: 5, rejected_429: 2, max_calls_in_any_window: 5, max_calls_in_fixed_window: 5 });
    expect([...stats.calls_by_window.values()]).toEqual([5]);
  });

  it('counts a burst straddling two fixed windows in the sliding maximum', async () => {
    // The first burst must end within its window and the second within a window of the first's start:
    // 1 s of room each (400 ms in windows of 1 s was too little for a timer firing late on a loaded machine).
    const window_ms = 2000;
    const sim = await start([seller({ rate_limit_per_minute: 3 })], window_ms);
    await alignToWindow(window_ms, 1000);
    for (let i = 0; i < 3; i += 1) expect((await quote(sim)).status).toBe(200);
    await alignToWindow(window_ms, 20);
    for (let i = 0; i < 3; i += 1) expect((await quote(sim)).status).toBe(200);
    const stats = sim.stats('alpha');
    expect(stats).toMatchObject({ rejected_429: 0, max_calls_in_fixed_window: 3, max_calls_in_any_window: 6 });
    expect([...stats.calls_by_window.values()]).toEqual([3, 3]);
    sim.resetStats();
    expect(sim.stats('alpha')).toMatchObject({ quote_calls: 0, max_calls_in_any_window: 0 });
  });

  it('answers 500 when error_rate is 1', async () => {
    const sim = await start([seller({ error_rate: 1 })]);
    expect((await quote(sim)).status).toBe(500);
    sim.setFailing('alpha', 0);
    expect((await quote(sim)).status).toBe(200);
    expect(sim.stats('alpha').errors_500).toBe(1);
  });

  it('never answers when timeout_rate is 1, and close() still returns promptly', async () => {
    const sim = await start([seller({ timeout_rate: 1 })]);
    const url = `${sim.baseUrl('alpha')}/quote?product_id=${PRODUCT}`;
    await expect(fetch(url, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    const abandoned = fetch(url).then(
      () => 'answered',
      () => 'dropped',
    );
    for (let i = 0; i < 100 && sim.stats('alpha').timeouts < 2; i += 1) await sleep(10);
    const started = performance.now();
    await sim.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await abandoned).toBe('dropped');
    expect(sim.stats('alpha').timeouts).toBe(2);
  });

  it('adds the configured latency', async () => {
    const sim = await start([seller()]);
    sim.setLatency('alpha', { median: 120, p99: 120 });
    const started = performance.now();
    await quote(sim);
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
  });
});

describe('generateSellers', () => {
  const options = { count: 50, seed: 42, product_ids: ['book-1', 'game-key-7'] };

  it('is deterministic for a seed and varied across sellers', () => {
    const sellers = generateSellers(options);
    expect(generateSellers(options)).toEqual(sellers);
    expect(generateSellers({ ...options, seed: 43 })).not.toEqual(sellers);
    expect(sellers[0]?.id).toBe('seller-001');
    expect(new Set(sellers.map((spec) => spec.prices['book-1'])).size).toBeGreaterThan(10);
    expect(new Set(sellers.map((spec) => spec.supports_holds))).toEqual(new Set([true, false]));
    for (const spec of sellers) expect(Number.isInteger(spec.prices['game-key-7'])).toBe(true);
  });

  it('starts a simulator from a generated population', async () => {
    const sim = await start(
      generateSellers({
        ...options,
        latency_median_ms: { min: 0, max: 0 },
        error_rate: { min: 0, max: 0 },
        timeout_rate: { min: 0, max: 0 },
      }),
    );
    expect(sim.sellerIds()).toHaveLength(50);
    const quoted = await quote(sim, 'seller-050', 'game-key-7');
    expect(quoted.status).toBe(200);
    expect(Number.isInteger(quoted.body.price)).toBe(true);
  });
});
