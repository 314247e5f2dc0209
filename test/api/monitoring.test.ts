import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPod, type Pod } from '../../src/pod.js';
import { createLogger } from '../../src/platform/logger.js';
import { fleetTask } from '../../src/platform/fleet-task.js';
import { loadTopology } from '../../src/platform/regions.js';
import { allRoutes } from '../../src/http/routes/index.js';
import { startSellerSimulator } from '../../tools/seller-simulator/seller-simulator.js';
import { fixedSeller, isolatedDatabase, podEnv, SellerWorld } from '../sellers/support.js';
import { request, startCluster, type TestCluster, uniqueId } from '../support/cluster.js';
import {
  METRICS_OF_LATER_ISSUES,
  allDeployQueries,
  parseExposition,
  promqlReferences,
  referenceProblems,
  type ExportedFamily,
  type LabelMatcher,
} from '../support/monitoring.js';
import { TestPsp } from '../support/psp.js';
import type { ScratchDatabase } from '../support/scratch-database.js';

// The pods of this file refresh their fleet gauges and ask for due fleet tasks often, and
// reconcile every 2 s, so that what the dashboards show follows the database within a second.
const RECONCILIATION_INTERVAL_SECONDS = 2;
const FLEET_TASK_LEASE_MS = 1500;
const WAIT_MS = 10_000;

const topology = loadTopology();
let database: ScratchDatabase;
let sql: pg.Pool;
let cluster: TestCluster;
let world: SellerWorld;
/** A pod whose process is its own as far as metrics go: it exports Node's process metrics. */
let process_pod: Pod;
let psp: TestPsp;
let held_event_id: string;

const pods = () => [...cluster.pods, process_pod];

beforeAll(async () => {
  database = await isolatedDatabase();
  sql = new pg.Pool({ connectionString: database.url, max: 2 });
  const sellers = [fixedSeller('flaky', 900, { error_rate: 1 }), fixedSeller('steady', 1000)];
  const simulator = await startSellerSimulator({ sellers, window_ms: 60_000 });
  cluster = await startCluster({
    workers: true,
    env: {
      DATABASE_URL: database.url,
      ...podEnv(),
      SELLER_QUOTE_CACHE_TTL_MS: '0',
      SELLER_COALESCING: 'false',
      SELLER_CIRCUIT_MIN_CALLS: '3',
      SELLER_CIRCUIT_COOLDOWN_MS: '600000',
      TOPUP_PENDING_TIMEOUT_SECONDS: '1',
      FLEET_GAUGES_INTERVAL_MS: '100',
      FLEET_TASK_LEASE_MS: String(FLEET_TASK_LEASE_MS),
      RECONCILIATION_INTERVAL_SECONDS: String(RECONCILIATION_INTERVAL_SECONDS),
    },
  });
  world = await SellerWorld.attach({
    sellers,
    urls: cluster.pods.map((pod) => pod.url),
    simulator,
    database,
    stop_pods: () => cluster.stop(),
  });
  process_pod = await startPod({
    config: cluster.config,
    topology,
    region: topology.regions[0]!.name,
    database_url: database.url,
    host: '127.0.0.1',
    port: 0,
    process_metrics: true,
    run_workers: false,
    logger: createLogger({ level: 'silent' }),
  });
  psp = new TestPsp(
    cluster.pods.map((pod) => pod.url),
    cluster.config.psp_webhook_secret,
  );
  held_event_id = await generateTraffic();
});

afterAll(async () => {
  await process_pod?.stop();
  await sql?.end();
  await world?.stop();
});

async function ok(response: Promise<{ status: number; body: any }>, status = 201): Promise<any> {
  const answer = await response;
  if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/**
 * Some of everything the dashboards show: money movements, orders and refunds, holds, top-ups
 * with PSP events (one held for review, one never confirmed), purchases that open a seller's
 * circuit, refused requests, an admin reconciliation. Returns the id of the held PSP event.
 */
async function generateTraffic(): Promise<string> {
  const url = world.url();
  const buyer = await world.player(100_000);
  const as_buyer = { token: buyer.token };
  const key = () => ({ ...as_buyer, key: uniqueId('k') });
  await ok(request(url, 'POST', `/v1/accounts/${buyer.id}/debits`, { amount: 100, currency: 'EUR', reason: 'sword' }, key()));
  const order = await ok(
    request(url, 'POST', '/v1/orders', { account_id: buyer.id, lines: [{ item_id: 'skin-golden-armor', quantity: 1 }] }, key()),
  );
  const lines = { lines: [{ item_id: 'skin-golden-armor', quantity: 1 }], reason: 'changed my mind' };
  await ok(request(url, 'POST', `/v1/orders/${order.id}/refunds`, lines, key()));
  const hold = await ok(
    request(
      url,
      'POST',
      '/v1/holds',
      { account_id: buyer.id, amount: 50, currency: 'EUR', expires_in_seconds: 600 },
      { ...key(), token: world.service },
    ),
  );
  await ok(request(url, 'POST', `/v1/holds/${hold.id}/void`, {}, { ...key(), token: world.service }), 200);
  const paid = await ok(request(url, 'POST', '/v1/topups', { account_id: buyer.id, amount: 700, currency: 'EUR' }, key()));
  await ok(psp.send(psp.event('payment.succeeded', paid.id, 700)), 200);
  // Never confirmed: flagged once TOPUP_PENDING_TIMEOUT_SECONDS have passed.
  await ok(request(url, 'POST', '/v1/topups', { account_id: buyer.id, amount: 300, currency: 'EUR' }, key()));
  const unknown = psp.event('payment.succeeded', randomUUID(), 500);
  expect((await ok(psp.send(unknown), 200)).outcome).toBe('unknown_topup');
  // The flaky seller fails every call: after three, its circuit opens and it is skipped.
  const purchase = async (index: number) =>
    expect(await world.final(buyer, await world.purchase(buyer, 'book-1', 2000, index))).toMatchObject({ status: 'purchased' });
  for (let index = 0; index < 3; index += 1) await purchase(index);
  // A fan-out's outcomes are recorded after its calls end, apart from the purchase, which may be done
  // first: the fourth went on to call the seller whenever the third's failure was not in yet.
  const opened_by = Date.now() + WAIT_MS;
  while ((await world.seller('flaky')).health.circuit_state !== 'open') {
    if (Date.now() > opened_by) throw new Error(`the flaky seller's circuit not open after ${WAIT_MS} ms`);
    await sleep(50);
  }
  await purchase(3);
  expect((await request(url, 'GET', '/v1/accounts/nobody', undefined, as_buyer)).status).toBe(404);
  expect((await request(url, 'POST', '/v1/orders', { account_id: buyer.id }, key())).status).toBe(400);
  await ok(request(url, 'POST', '/v1/admin/reconcile', undefined, { token: world.admin }), 200);
  return unknown.id;
}

async function metricsOf(pod: Pod): Promise<string> {
  const response = await request(pod.url, 'GET', '/metrics');
  expect(response.status).toBe(200);
  return response.body as string;
}

/** The value of one series in an exposition: the sample whose labels include `labels` (undefined when absent). */
function sampleValue(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample || sample[1] !== name) continue;
    const own = Object.fromEntries(
      [...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([label, value]) => own[label] === value)) return Number(sample[3]);
  }
  return undefined;
}

/** Polls every pod of the cluster until `check` holds for each one's /metrics. */
async function everyPodShows(what: string, check: (exposition: string) => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const expositions = await Promise.all(cluster.pods.map(metricsOf));
    if (expositions.every(check)) return;
    if (Date.now() > deadline) throw new Error(`not every pod shows ${what} after ${WAIT_MS} ms`);
    await sleep(50);
  }
}

async function countRows(query: string): Promise<number> {
  return Number((await sql.query<{ count: string }>(query)).rows[0]!.count);
}

describe('every metric and label a dashboard or alert rule names', () => {
  let exported: Map<string, ExportedFamily>;

  beforeAll(async () => {
    exported = new Map();
    for (const pod of pods()) {
      for (const family of parseExposition(await metricsOf(pod)).values()) {
        const declared = (pod.deps.metrics.registry.getSingleMetric(family.name) as unknown as { labelNames?: string[] }).labelNames;
        expect(Array.isArray(declared), `declared labels of ${family.name}`).toBe(true);
        const labels = new Set([...(exported.get(family.name)?.labels ?? []), ...family.labels, ...declared!, 'region']);
        exported.set(family.name, { ...family, labels: [...labels] });
      }
    }
  });

  it('is exported by the pods (or owned by a later issue and still absent)', () => {
    const problems = allDeployQueries().flatMap((query) => referenceProblems(query.where, query.references(), exported));
    expect(problems).toEqual([]);
  });

  it('names routes that exist (route label values)', () => {
    const routes = allRoutes(cluster.config, topology).map((route) => route.path.replace(/\{([a-z_]+)\}/g, ':$1'));
    const problems: string[] = [];
    for (const query of allDeployQueries()) {
      const matchers: LabelMatcher[] = query.references().metrics.flatMap((metric) => metric.matchers);
      for (const matcher of matchers.filter((candidate) => candidate.label === 'route')) {
        const pattern = new RegExp(`^(?:${matcher.value})$`);
        const matched =
          matcher.op === '=' || matcher.op === '!=' ? routes.includes(matcher.value) : routes.some((route) => pattern.test(route));
        if (!matched) problems.push(`${query.where}: route ${matcher.op} "${matcher.value}" matches no route`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('would fail on a name no pod exports', () => {
    expect(referenceProblems('panel', promqlReferences('sum(rate(http_request_duration_secondz_count[5m]))'), exported)).toEqual([
      'panel: no pod exports http_request_duration_secondz_count',
    ]);
    expect(referenceProblems('panel', promqlReferences('seller_circuits{status="open"}'), exported)).toEqual([
      'panel: seller_circuits has no label status',
    ]);
  });

  it('lists as owned by a later issue only metrics that are named and not exported yet (exported: take them off the list)', () => {
    const named = new Set(allDeployQueries().flatMap((query) => query.references().metrics.map((metric) => metric.name)));
    for (const family of METRICS_OF_LATER_ISSUES) {
      expect(
        [...named].some((name) => name.startsWith(family.name)),
        family.name,
      ).toBe(true);
      expect(exported.has(family.name), family.name).toBe(false);
    }
  });
});

describe('fleet gauges: every pod exports the facts of the whole database', () => {
  it('shows the PSP event held for review, the unconfirmed top-up, the open circuit and readiness in every pod', async () => {
    const held = await countRows('SELECT COUNT(*) FROM psp_events WHERE review_reason IS NOT NULL AND review_settled_at IS NULL');
    expect(held).toBe(1);
    await everyPodShows('the held event, the unconfirmed top-up and the circuits', (exposition) => {
      return (
        sampleValue(exposition, 'psp_events_held_for_review', { outcome: 'unknown_topup' }) === held &&
        sampleValue(exposition, 'topups_needing_reconciliation') === 1 &&
        sampleValue(exposition, 'seller_circuits', { state: 'open' }) === 1 &&
        sampleValue(exposition, 'seller_circuits', { state: 'closed' }) === 1 &&
        sampleValue(exposition, 'seller_circuits', { state: 'half_open' }) === 0 &&
        sampleValue(exposition, 'purchase_requests_in_review') === 0 &&
        sampleValue(exposition, 'pod_ready') === 1
      );
    });
  });

  it('counts what each pod did itself: PSP events by outcome, calls skipped because a circuit was open', async () => {
    const expositions = await Promise.all(cluster.pods.map(metricsOf));
    const total = (name: string, labels: Record<string, string>) =>
      expositions.reduce((sum, exposition) => sum + (sampleValue(exposition, name, labels) ?? 0), 0);
    expect(total('psp_events_total', { outcome: 'credited' })).toBe(1);
    expect(total('psp_events_total', { outcome: 'unknown_topup' })).toBe(1);
    expect(total('seller_calls_skipped_total', { reason: 'circuit_open' })).toBeGreaterThanOrEqual(1);
  });

  it('counts purchase requests kept for review, and drops them once settled', async () => {
    const id = randomUUID();
    await sql.query(
      `INSERT INTO purchase_requests
         (id, account_id, product_id, max_price_minor, currency, status, hold_id, deadline_at, review_reason, crdb_region)
       VALUES ($1, 'reviewed-buyer', 'book-1', 100, 'EUR', 'pending', $2, now(), 'a seller confirmed above the price', $3)`,
      [id, randomUUID(), topology.regions[0]!.name],
    );
    try {
      await everyPodShows('one purchase request in review', (exposition) => sampleValue(exposition, 'purchase_requests_in_review') === 1);
    } finally {
      await sql.query('DELETE FROM purchase_requests WHERE id = $1', [id]);
    }
    await everyPodShows('no purchase request in review', (exposition) => sampleValue(exposition, 'purchase_requests_in_review') === 0);
  });

  it('reports the held event through reconciliation, and forgets it in every pod once an operator settles it', async () => {
    await everyPodShows('the held event in the last reconciliation', (exposition) => {
      return sampleValue(exposition, 'reconciliation_mismatches', { check: 'psp_event_held_for_review' }) === 1;
    });
    const settled = await request(
      world.url(1),
      'PUT',
      `/v1/psp/events/${held_event_id}/review`,
      { settlement: 'refunded by the PSP' },
      {
        token: world.admin,
      },
    );
    expect(settled.status).toBe(200);
    await everyPodShows('no held event and a clean last reconciliation', (exposition) => {
      return (
        sampleValue(exposition, 'psp_events_held_for_review', { outcome: 'unknown_topup' }) === undefined &&
        sampleValue(exposition, 'reconciliation_mismatches', { check: 'psp_event_held_for_review' }) === undefined
      );
    });
  });
});

describe('reconciliation', () => {
  it('POST /v1/admin/reconcile counts the run and shows its report in that pod at once', async () => {
    const pod = cluster.pods[2]!;
    const before = await metricsOf(pod);
    const runs = (exposition: string) =>
      (sampleValue(exposition, 'reconciliation_runs_total', { trigger: 'admin', outcome: 'clean' }) ?? 0) +
      (sampleValue(exposition, 'reconciliation_runs_total', { trigger: 'admin', outcome: 'mismatches' }) ?? 0);
    const asked_at_s = Date.now() / 1000;
    const report = await ok(request(pod.url, 'POST', '/v1/admin/reconcile', undefined, { token: world.admin }), 200);
    const after = await metricsOf(pod);
    expect(runs(after)).toBe(runs(before) + 1);
    // The report is the fleet's last unless a scheduled run started later: then that one shows.
    expect(sampleValue(after, 'reconciliation_last_success_timestamp_seconds')).toBeGreaterThan(asked_at_s - 1);
    expect(sampleValue(after, 'reconciliation_interval_seconds')).toBe(RECONCILIATION_INTERVAL_SECONDS);
    const checks = new Set(report.mismatches.map((mismatch: { check: string }) => mismatch.check));
    expect(checks.size, JSON.stringify(report.mismatches)).toBe(0);
  });

  it('runs on schedule in one pod of the fleet at a time', async () => {
    const scheduled = async () => {
      let total = 0;
      for (const exposition of await Promise.all(cluster.pods.map(metricsOf))) {
        for (const outcome of ['clean', 'mismatches', 'failed']) {
          total += sampleValue(exposition, 'reconciliation_runs_total', { trigger: 'schedule', outcome }) ?? 0;
        }
      }
      return total;
    };
    const window_s = 3 * RECONCILIATION_INTERVAL_SECONDS;
    const before = await scheduled();
    await sleep(window_s * 1000);
    const ran = (await scheduled()) - before;
    // Every pod asks ten times per interval; run by all three, there would be about nine runs.
    expect(ran).toBeGreaterThanOrEqual(1);
    expect(ran).toBeLessThanOrEqual(window_s / RECONCILIATION_INTERVAL_SECONDS + 1);
    const row = await sql.query('SELECT last_result FROM fleet_tasks WHERE name = $1', ['reconciliation']);
    expect(row.rows[0]).toEqual({ last_result: { mismatches: {} } });
  });
});

describe('a fleet task', () => {
  const taskOn = (pod: Pod, name: string, interval_ms: number, run: () => Promise<void>) => fleetTask(pod.deps, { name, interval_ms, run });

  it('runs in one pod at a time, renewing its lease while it lasts longer than the lease', async () => {
    const name = uniqueId('task');
    let running = 0;
    let most_at_once = 0;
    let runs = 0;
    const work = async () => {
      runs += 1;
      running += 1;
      most_at_once = Math.max(most_at_once, running);
      await sleep(FLEET_TASK_LEASE_MS * 2.4);
      running -= 1;
    };
    const tasks = cluster.pods.map((pod) => taskOn(pod, name, 60_000, work));
    const first = Promise.all(tasks.map((task) => task.run()));
    const asked_meanwhile: number[] = [];
    while (runs === 0) await sleep(10);
    while (running > 0) {
      asked_meanwhile.push(...(await Promise.all(tasks.map((task) => task.run()))));
      await sleep(100);
    }
    expect((await first).sort()).toEqual([0, 0, 1]);
    expect(asked_meanwhile.length).toBeGreaterThan(6);
    expect(asked_meanwhile.every((ran) => ran === 0)).toBe(true);
    expect({ runs, most_at_once }).toEqual({ runs: 1, most_at_once: 1 });
    // Not due again before its interval.
    expect(await Promise.all(tasks.map((task) => task.run()))).toEqual([0, 0, 0]);
  });

  it('is due again one interval after a run, and one ask after a failure', async () => {
    const name = uniqueId('task');
    const interval_ms = 2000;
    let fail = false;
    const tasks = cluster.pods.map((pod) =>
      taskOn(pod, name, interval_ms, async () => {
        if (fail) throw new Error('the work failed');
      }),
    );
    expect(await tasks[0]!.run()).toBe(1);
    await sleep(interval_ms / 4);
    expect(await Promise.all(tasks.map((task) => task.run()))).toEqual([0, 0, 0]);
    await sleep(interval_ms);
    expect(await tasks[1]!.run()).toBe(1);
    await sleep(interval_ms * 1.1);
    fail = true;
    await expect(tasks[2]!.run()).rejects.toThrow('the work failed');
    fail = false;
    // One ask is a tenth of the interval: long before the interval, the task runs again.
    await sleep(interval_ms / 4);
    expect(await tasks[0]!.run()).toBe(1);
  });

  it('is taken over once the lease of a pod that died expires, never before', async () => {
    const name = uniqueId('task');
    await sql.query(
      `INSERT INTO fleet_tasks (name, lease_token, lease_owner, lease_expires_at, next_run_at)
       VALUES ($1, 'dead', 'a pod that died', now() + interval '2 seconds', now() - interval '1 minute')`,
      [name],
    );
    let runs = 0;
    const task = taskOn(cluster.pods[0]!, name, 60_000, async () => {
      runs += 1;
    });
    expect(await task.run()).toBe(0);
    await sleep(2200);
    expect(await task.run()).toBe(1);
    expect(runs).toBe(1);
    const row = await sql.query(
      "SELECT lease_token, next_run_at > now() + interval '50 seconds' AS later FROM fleet_tasks WHERE name = $1",
      [name],
    );
    expect(row.rows[0]).toEqual({ lease_token: null, later: true });
  });
});
