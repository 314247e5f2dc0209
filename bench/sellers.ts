import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { mintToken } from '../src/auth/tokens.js';
import { loadConfig, type Config } from '../src/platform/config.js';
import { loadTopology } from '../src/platform/regions.js';
import { planPhases, type SellerHistory } from '../src/sellers/quotes/phase-plan.js';
import { createPrng, sampleLatency, type Prng } from '../tools/seller-simulator/prng.js';
import { generateSellers, type SimulatedSellerSpec } from '../tools/seller-simulator/seller-simulator.js';
import { forkPod, stopPodProcess, type PodProcess } from '../test/support/pod-process.js';
import { SimulatorProcess } from '../test/support/simulator-process.js';
import { createScratchDatabase, type ScratchDatabase } from '../test/support/scratch-database.js';

// The seller aggregator benchmark (issue 5): end-to-end latency of purchase requests against 200
// simulated sellers over HTTP, seller calls per request with and without coalescing, and a
// model of 10,000 sellers showing how selection by history and phased querying keep the deadline.
// `runSellerBenchmark({ database_url })` returns a BENCHMARKS.md section; `tsx bench/sellers.ts`
// runs it on a throw-away embedded PostgreSQL.

export interface SellerBenchOptions {
  /** Any database of a PostgreSQL server: the benchmark works in scratch databases of its own there. */
  database_url: string;
  requests?: number;
  concurrency?: number;
  products?: number;
  /** Run the HTTP scenarios (default true); the 10,000-seller model always runs (it takes a second). */
  http?: boolean;
  log?: (line: string) => void;
}

export interface LatencySummary {
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface HttpScenarioResult {
  coalescing: boolean;
  requests: number;
  latency: LatencySummary;
  statuses: Record<string, number>;
  seller_calls_per_request: number;
  burst_quote_calls_per_request: number;
}

export interface ModelResult {
  strategy: string;
  quote_phase: LatencySummary;
  sellers_asked_mean: number;
  found_true_cheapest_share: number;
  price_regret_p95: number;
  deadline_misses: number;
}

export interface SellerBenchResult {
  http: HttpScenarioResult[];
  model: ModelResult[];
  text: string;
}

const SELLERS = 200;
const SELLER_TIMEOUT_MS = 1000;
const BURST_REQUESTS = 20;
const PRICE_CEILING = 1_000_000;
const POLL_MS = 20;
const STATUS_WAIT_MAX_MS = 60_000;

export async function runSellerBenchmark(options: SellerBenchOptions): Promise<SellerBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = { requests: options.requests ?? 120, concurrency: options.concurrency ?? 8, products: options.products ?? 20 };
  const http: HttpScenarioResult[] = [];
  for (const coalescing of options.http === false ? [] : [true, false]) {
    log(
      `sellers: HTTP scenario, coalescing ${coalescing ? 'on' : 'off'} (${settings.requests} requests, ` +
        `${settings.concurrency} in flight, ${settings.products} products, ${SELLERS} sellers)`,
    );
    http.push(await httpScenario(options.database_url, coalescing, settings));
  }
  log('sellers: 10,000-seller model');
  const model = [
    modelScenario('ask everyone (1,000 calls in flight at most)', 'everyone'),
    modelScenario('selection by history + phases (the design)', 'phased'),
  ];
  return { http, model, text: report(http, model, settings) };
}

/** 200 sellers at 100 ms median latency; 5% of them too slow for their timeout or failing every call. */
function population(products: string[]): SimulatedSellerSpec[] {
  const sellers = generateSellers({
    count: SELLERS,
    seed: 11,
    product_ids: products,
    latency_median_ms: { min: 100, max: 100 },
    latency_tail_factor: { min: 2, max: 4 },
    error_rate: { min: 0, max: 0.01 },
    timeout_rate: { min: 0, max: 0 },
    rate_limit_per_minute: { min: 6000, max: 6000 },
    stock: { min: 1000, max: 1000 },
  });
  const bad = Math.round(SELLERS * 0.05);
  for (const [index, seller] of sellers.slice(0, bad).entries()) {
    Object.assign(seller, index % 2 === 0 ? { latency_ms: { median: 3000, p99: 4000 } } : { error_rate: 1 });
  }
  return sellers;
}

interface Harness {
  pods: PodProcess[];
  simulator: SimulatorProcess;
  sellers: SimulatedSellerSpec[];
  database: ScratchDatabase;
  admin: string;
  service: string;
  jwt_secret: string;
}

/** A scratch database, the simulator in its own process and one pod process per region, as in production. */
async function startHarness(server_url: string, coalescing: boolean, products: string[]): Promise<Harness> {
  const database = await createScratchDatabase(server_url, 'bench_sellers');
  const sellers = population(products);
  const simulator = await SimulatorProcess.start({ sellers, seed: 3 });
  const env = {
    NODE_ENV: 'development',
    DATABASE_URL: database.url,
    LOG_LEVEL: 'error',
    DB_POOL_MAX: '16',
    SELLER_COALESCING: String(coalescing),
    JOB_POLL_INTERVAL_MS: '100',
  };
  const pods = await Promise.all(loadTopology().regions.map((region) => forkPod(region.name, env)));
  const jwt_secret = loadConfig({ NODE_ENV: 'development' }).auth_jwt_secret;
  const admin = await mintToken({ sub: 'bench-admin', scope: 'admin', expires_in_seconds: 3600 }, { secret: jwt_secret });
  const service = await mintToken(
    { sub: 'bench', scope: 'accounts:write credits:write', expires_in_seconds: 3600 },
    { secret: jwt_secret },
  );
  const harness = { pods, simulator, sellers, database, admin, service, jwt_secret };
  await registerSellers(harness);
  return harness;
}

async function stopHarness(harness: Harness): Promise<void> {
  await Promise.all(harness.pods.map(stopPodProcess));
  await harness.simulator.close();
  await harness.database.drop();
}

async function send(harness: Harness, method: string, path: string, body: unknown, token: string, pod = 0): Promise<any> {
  const url = harness.pods[pod % harness.pods.length]!.url;
  const key = randomUUID();
  for (let attempt = 1; ; attempt += 1) {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const parsed = (await response.json()) as any;
    if (response.ok) return parsed;
    // 503 is safe to retry with the same key (SPEC §4).
    if (response.status !== 503 || attempt >= 10) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(parsed)}`);
    await sleep(20 * attempt);
  }
}

async function registerSellers(harness: Harness): Promise<void> {
  for (let start = 0; start < harness.sellers.length; start += 10) {
    await Promise.all(
      harness.sellers.slice(start, start + 10).map((spec, index) => {
        const body = {
          base_url: harness.simulator.baseUrl(spec.id),
          rate_limit_per_minute: spec.rate_limit_per_minute ?? 100_000,
          timeout_ms: SELLER_TIMEOUT_MS,
          supports_holds: spec.supports_holds ?? true,
          active: true,
        };
        return send(harness, 'PUT', `/v1/sellers/${spec.id}`, body, harness.admin, start + index);
      }),
    );
  }
}

async function buyers(harness: Harness, count: number): Promise<Array<{ id: string; token: string }>> {
  const created: Array<{ id: string; token: string }> = [];
  for (let index = 0; index < count; index += 1) {
    const id = `bench-buyer-${index}-${randomUUID().slice(0, 6)}`;
    await send(harness, 'POST', '/v1/accounts', { id, currency: 'EUR' }, harness.service);
    await send(harness, 'POST', `/v1/accounts/${id}/credits`, { amount: 100_000_000, currency: 'EUR', reason: 'bench' }, harness.service);
    created.push({ id, token: await mintToken({ sub: id, expires_in_seconds: 3600 }, { secret: harness.jwt_secret }) });
  }
  return created;
}

/** POST a purchase request and poll its status URL until final: the end-to-end latency a client sees. */
async function purchaseOnce(
  harness: Harness,
  buyer: { id: string; token: string },
  product_id: string,
  pod: number,
): Promise<{ ms: number; status: string }> {
  const started_ms = performance.now();
  const accepted = await send(
    harness,
    'POST',
    '/v1/purchase-requests',
    { account_id: buyer.id, product_id, max_price: PRICE_CEILING, currency: 'EUR' },
    buyer.token,
    pod,
  );
  const url = harness.pods[pod % harness.pods.length]!.url;
  for (const waited_until = Date.now() + STATUS_WAIT_MAX_MS; Date.now() < waited_until; await sleep(POLL_MS)) {
    const response = await fetch(`${url}${accepted.status_url}`, { headers: { authorization: `Bearer ${buyer.token}` } });
    const body = (await response.json()) as { status: string; reason?: string };
    if (body.status !== 'pending')
      return { ms: performance.now() - started_ms, status: body.reason ? `${body.status} (${body.reason})` : body.status };
  }
  return { ms: performance.now() - started_ms, status: 'still_pending' };
}

async function httpScenario(
  server_url: string,
  coalescing: boolean,
  settings: { requests: number; concurrency: number; products: number },
): Promise<HttpScenarioResult> {
  const products = Array.from({ length: settings.products }, (_, index) => `product-${index + 1}`);
  const harness = await startHarness(server_url, coalescing, [...products, 'burst-product']);
  try {
    const pool = await buyers(harness, Math.max(settings.concurrency, BURST_REQUESTS));
    const rng = createPrng(5);
    const samples: Array<{ ms: number; status: string }> = [];
    let next = 0;
    await Promise.all(
      pool.slice(0, settings.concurrency).map(async (buyer, worker) => {
        while (next < settings.requests) {
          const index = next++;
          samples.push(await purchaseOnce(harness, buyer, products[Math.floor(rng() * products.length)]!, worker + index));
        }
      }),
    );
    const steady = await harness.simulator.totals();
    await harness.simulator.reset();
    await Promise.all(pool.slice(0, BURST_REQUESTS).map((buyer, index) => purchaseOnce(harness, buyer, 'burst-product', index)));
    const statuses: Record<string, number> = {};
    for (const sample of samples) statuses[sample.status] = (statuses[sample.status] ?? 0) + 1;
    return {
      coalescing,
      requests: samples.length,
      latency: summarize(samples.map((sample) => sample.ms)),
      statuses,
      seller_calls_per_request: (steady.quote_calls + steady.hold_calls + steady.order_calls) / samples.length,
      burst_quote_calls_per_request: (await harness.simulator.totals()).quote_calls / BURST_REQUESTS,
    };
  } finally {
    await stopHarness(harness);
  }
}

function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (share: number) => sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? NaN;
  return { p50_ms: at(0.5), p95_ms: at(0.95), p99_ms: at(0.99), max_ms: sorted.at(-1) ?? NaN };
}

// ---- 10,000-seller model: virtual time, the real phase planner, the fan-out's stop rules ----

interface ModelSeller {
  id: string;
  price_minor: number;
  in_stock: boolean;
  latency_ms: { median: number; p99: number };
  fails: boolean;
}

const MODEL = {
  sellers: 10_000,
  requests: 200,
  reference_price_minor: 3000,
  price_spread: 0.25,
  out_of_stock_rate: 0.1,
  bad_rate: 0.05,
  /** Between two requests for the product, a seller re-prices or flips its stock with these chances. */
  reprice_rate: 0.05,
  restock_rate: 0.02,
  phase_time_min_ms: 100,
  calls_in_flight_max: 1000,
};

function modelSellers(rng: Prng): ModelSeller[] {
  return Array.from({ length: MODEL.sellers }, (_, index) => {
    const bad = rng() < MODEL.bad_rate;
    return {
      id: `m-${index}`,
      price_minor: Math.round(MODEL.reference_price_minor * (1 + MODEL.price_spread * (2 * rng() - 1))),
      in_stock: rng() >= MODEL.out_of_stock_rate,
      latency_ms: bad && rng() < 0.5 ? { median: 3000, p99: 4000 } : { median: 100, p99: 400 },
      fails: bad && rng() < 0.5,
    };
  });
}

function drift(rng: Prng, sellers: ModelSeller[]): void {
  for (const seller of sellers) {
    if (rng() < MODEL.reprice_rate)
      seller.price_minor = Math.round(MODEL.reference_price_minor * (1 + MODEL.price_spread * (2 * rng() - 1)));
    if (rng() < MODEL.restock_rate) seller.in_stock = !seller.in_stock;
  }
}

/**
 * One phase in virtual time, as settleWithQuorum ends it: all answered, or a grace after the
 * quorum answered, or the deadline. Answers arriving later are lost to this request.
 */
function runPhase(rng: Prng, phase: ModelSeller[], config: Config['sellers'], budget_ms: number) {
  const timeout_ms = Math.min(SELLER_TIMEOUT_MS, budget_ms);
  const calls = phase.map((seller) => ({ seller, at_ms: sampleLatency(rng, seller.latency_ms) })).sort((a, b) => a.at_ms - b.at_ms);
  const finished = calls.filter((call) => call.at_ms <= timeout_ms);
  const quorum_at = calls[Math.max(0, Math.ceil(calls.length * config.fanout_quorum) - 1)]?.at_ms ?? 0;
  const all_at = finished.length === calls.length ? (finished.at(-1)?.at_ms ?? 0) : timeout_ms;
  const end_ms = Math.min(budget_ms, all_at, quorum_at <= timeout_ms ? quorum_at + config.fanout_straggler_grace_ms : timeout_ms);
  const answered = finished
    .filter((call) => call.at_ms <= end_ms && !call.seller.fails)
    .map((call) => ({ seller: call.seller, latency_ms: call.at_ms }));
  return { end_ms, answered, asked: calls };
}

function modelScenario(strategy: string, kind: 'everyone' | 'phased'): ModelResult {
  const config = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'silent' }).sellers;
  const rng = createPrng(17);
  const sellers = modelSellers(rng);
  const history = new Map<string, SellerHistory>();
  const durations: number[] = [];
  const regrets: number[] = [];
  let asked_total = 0;
  let exact = 0;
  let misses = 0;
  for (let request = 0; request < MODEL.requests; request += 1) {
    drift(rng, sellers);
    const budget_ms = config.quote_phase_max_ms;
    const phases =
      kind === 'phased'
        ? planPhases(sellers, history, {
            phase_size: config.fanout_phase_size,
            sellers_max: config.fanout_sellers_max,
            explore_share: config.fanout_explore_share,
          })
        : chunk(sellers, MODEL.calls_in_flight_max);
    let elapsed_ms = 0;
    const offers: ModelSeller[] = [];
    for (const phase of phases) {
      if (budget_ms - elapsed_ms < MODEL.phase_time_min_ms) break;
      if (kind === 'phased' && offers.length >= config.fanout_enough_quotes) break;
      const result = runPhase(rng, phase, config, budget_ms - elapsed_ms);
      elapsed_ms += result.end_ms;
      asked_total += result.asked.length;
      learn(history, result, request);
      offers.push(...result.answered.filter((answer) => answer.seller.in_stock).map((answer) => answer.seller));
    }
    durations.push(elapsed_ms);
    if (elapsed_ms > budget_ms) misses += 1;
    const best = Math.min(
      ...sellers
        .filter((seller) => seller.in_stock && !seller.fails && seller.latency_ms.median < SELLER_TIMEOUT_MS)
        .map((seller) => seller.price_minor),
    );
    const found = offers.length > 0 ? Math.min(...offers.map((offer) => offer.price_minor)) : Infinity;
    if (found === best) exact += 1;
    regrets.push(Number.isFinite(found) ? (found - best) / best : 1);
  }
  const regret_sorted = regrets.sort((a, b) => a - b);
  return {
    strategy,
    quote_phase: summarize(durations),
    sellers_asked_mean: asked_total / MODEL.requests,
    found_true_cheapest_share: exact / MODEL.requests,
    price_regret_p95: regret_sorted[Math.floor(0.95 * regret_sorted.length)] ?? NaN,
    deadline_misses: misses,
  };
}

/** What the fleet remembers after a phase: each answering seller's last quote, and who failed. */
function learn(history: Map<string, SellerHistory>, phase: ReturnType<typeof runPhase>, now_ms: number): void {
  const answered = new Map(phase.answered.map((answer) => [answer.seller.id, answer]));
  for (const call of phase.asked) {
    const answer = answered.get(call.seller.id);
    const previous = history.get(call.seller.id);
    history.set(call.seller.id, {
      last_available: answer ? answer.seller.in_stock : (previous?.last_available ?? null),
      last_price_minor: answer ? answer.seller.price_minor : (previous?.last_price_minor ?? null),
      observed_at_ms: answer ? now_ms : (previous?.observed_at_ms ?? null),
      latency_ms_avg: answer ? answer.latency_ms : SELLER_TIMEOUT_MS,
      recent_error_rate: answer ? 0 : Math.min(1, (previous?.recent_error_rate ?? 0) * 0.5 + 0.5),
    });
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, index) => items.slice(index * size, index * size + size));
}

// ---- report ----

const ms = (value: number) => (Number.isFinite(value) ? Math.round(value).toString() : 'n/a');

function report(
  http: HttpScenarioResult[],
  model: ModelResult[],
  settings: { requests: number; concurrency: number; products: number },
): string {
  const http_rows = http.map((result) => {
    const statuses = Object.entries(result.statuses)
      .map(([status, count]) => `${status} ${count}`)
      .join(', ');
    return (
      `| ${result.coalescing ? 'on' : 'off'} | ${result.requests} | ${ms(result.latency.p50_ms)} | ${ms(result.latency.p95_ms)} | ` +
      `${ms(result.latency.p99_ms)} | ${ms(result.latency.max_ms)} | ${statuses} | ` +
      `${result.seller_calls_per_request.toFixed(1)} | ${result.burst_quote_calls_per_request.toFixed(1)} |`
    );
  });
  const model_rows = model.map(
    (result) =>
      `| ${result.strategy} | ${ms(result.quote_phase.p50_ms)} | ${ms(result.quote_phase.p99_ms)} | ${ms(result.quote_phase.max_ms)} | ` +
      `${result.sellers_asked_mean.toFixed(0)} | ${(100 * result.found_true_cheapest_share).toFixed(0)}% | ` +
      `${(100 * result.price_regret_p95).toFixed(2)}% | ${result.deadline_misses} |`,
  );
  return [
    '## Seller aggregator',
    '',
    'End to end (POST /v1/purchase-requests → status URL final), three pod processes (one per region), ' +
      `the simulator in a process of its own, ${SELLERS} simulated sellers over HTTP`,
    `(100 ms median latency, p99 200-400 ms; 5% too slow for their ${SELLER_TIMEOUT_MS} ms timeout ` +
      'or failing every call; 10% out of stock),',
    `${settings.requests} requests, ${settings.concurrency} in flight, products drawn from ${settings.products}; ` +
      `then a burst of ${BURST_REQUESTS} simultaneous requests for one product.`,
    '',
    '| coalescing | requests | p50 ms | p95 ms | p99 ms | max ms | statuses | seller calls / request | burst: quote calls / request |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...http_rows,
    '',
    `Model of ${MODEL.sellers.toLocaleString('en')} sellers (virtual time; the real phase planner and fan-out stop rules; ` +
      `${MODEL.requests} requests for one product;`,
    `between requests ${100 * MODEL.reprice_rate}% of sellers re-price and ${100 * MODEL.restock_rate}% flip their stock; ` +
      'quote phase budget from SELLER_QUOTE_PHASE_MAX_MS of the 15 s deadline):',
    '',
    '| strategy | quote phase p50 ms | p99 ms | max ms | sellers asked / request | found the true cheapest | ' +
      'price regret p95 | over budget |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...model_rows,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { startEmbeddedPostgres } = await import('../src/db/embedded.js');
  const { freePort } = await import('../test/support/ports.js');
  const data_dir = await mkdtemp(path.join(tmpdir(), 'creditshop-bench-sellers-'));
  const embedded = await startEmbeddedPostgres({
    data_dir,
    port: await freePort(),
    database: 'bench',
    durable: false,
    persistent: false,
    max_connections: 300,
    log: () => undefined,
  });
  try {
    const result = await runSellerBenchmark({ database_url: embedded.url });
    console.log(`\n${result.text}`);
  } finally {
    await embedded.stop();
    await rm(data_dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
