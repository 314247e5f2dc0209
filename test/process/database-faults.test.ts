import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/tokens.js';
import { withClient } from '../../src/db/connections.js';
import { DEVELOPMENT_JWT_SECRET } from '../../src/platform/config.js';
import { loadTopology } from '../../src/platform/regions.js';
import { freePort } from '../support/ports.js';
import { spawnDetached, startPodProcess, type DetachedProcess, type StartingPod } from '../support/pod-process.js';
import { contractOf, recordViolations } from '../support/openapi-contract.js';
import {
  childrenOf,
  QUICK_DATABASE_RECOVERY,
  signalAll,
  startRestartablePostgres,
  type RestartablePostgres,
} from '../support/restartable-postgres.js';

// Real pod processes against a PostgreSQL of this file's own (the suite's shared one is never
// touched), which the test shuts down, stalls and restarts while clients keep moving money. The
// clients behave as real ones: each request carries an Idempotency-Key and a 503 is retried with
// the same key until a definite answer. Timeouts are short (set below) to keep the file quick.

const TOPOLOGY = loadTopology();
const DATABASE_NAME = 'creditshop_faults';
const OUTAGE_MS = 2000;
/** Longer than DB_IDLE_IN_TRANSACTION_TIMEOUT_MS and DB_QUERY_TIMEOUT_MS (QUICK_DATABASE_RECOVERY). */
const STALL_MS = 5000;
const READY_AGAIN_WITHIN_MS = 10_000;
/**
 * /ready answers by its own READY_PROBE_TIMEOUT_MS (800 ms) whatever the database does; one that
 * waited on a stalled database instead would take the query timeout (DB_QUERY_TIMEOUT_MS, 2500 ms).
 * The bound lies between the two, 500 ms under the latter: 1 s (200 ms over the probe timeout)
 * failed now and then among some 50 probes on a loaded machine.
 */
const READY_ANSWER_WITHIN_MS = Number(QUICK_DATABASE_RECOVERY.DB_QUERY_TIMEOUT_MS) - 500;
const CLIENTS = 6;
const ACCOUNT_BALANCE = 1_000_000;
/** The supervisor's restart backoff in this test: 200 ms doubling up to 1 s. */
const RESTART_INITIAL_MS = 200;
const RESTART_MAX_MS = 1000;
const POD_KILLS = 6;

let database: RestartablePostgres;
let service_token: string;
let admin_token: string;
const pods: StartingPod[] = [];
const supervisors: ChildProcess[] = [];
const accounts = [`hot-${randomUUID().slice(0, 8)}`, `hot-${randomUUID().slice(0, 8)}`, `cold-${randomUUID().slice(0, 8)}`];
/** Ledger transaction ids of every 201 any client received, setup included. */
const acknowledged = new Set<string>();

function podEnv(): Record<string, string> {
  return {
    DATABASE_URL: database.url,
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    DB_POOL_MAX: '6',
    ...QUICK_DATABASE_RECOVERY,
  };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient({ connectionString: database.url }, async (client) => (await client.query(sql, params)).rows as T[]);
}

interface Answer {
  status: number;
  body: { code?: string; id?: string; ok?: boolean; pid?: number } & Record<string, unknown>;
  retry_after: string | null;
}

async function call(base: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  // Answers during outages are part of the contract too (503 unavailable with Retry-After).
  recordViolations(await contractOf(base), { method, path: route, status: response.status, headers: response.headers, text });
  let parsed: Answer['body'] = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    // Prometheus text.
  }
  return { status: response.status, body: parsed, retry_after: response.headers.get('retry-after') };
}

async function eventually<T>(what: string, within_ms: number, probe: () => Promise<T | undefined>, explain = () => ''): Promise<T> {
  const deadline = Date.now() + within_ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not within ${within_ms} ms ${explain()}`);
    await sleep(100);
  }
}

async function isReady(url: string): Promise<true | undefined> {
  return (await call(url, 'GET', '/ready')).status === 200 ? true : undefined;
}

interface Outcome {
  sent_ms: number;
  received_ms: number;
  status: number;
  code: string | undefined;
  retry_after: string | null;
}

/**
 * Clients that credit, debit and transfer between a few accounts (two of them hot) through every
 * pod, until stopped. Every request runs to a definite answer: a 503 is retried with the same key.
 */
class Load {
  readonly outcomes: Outcome[] = [];
  /** 500s, transport failures, answers no client should get. */
  readonly violations: string[] = [];
  private running = true;
  private readonly clients: Promise<void>[] = [];

  constructor(private readonly urls: readonly string[]) {
    for (let client = 0; client < CLIENTS; client += 1) this.clients.push(this.client(client));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.clients);
  }

  count(status: number): number {
    return this.outcomes.filter((outcome) => outcome.status === status).length;
  }

  private async client(client: number): Promise<void> {
    for (let request = 0; this.running; request += 1) await this.perform(client + request);
  }

  private operation(): { route: string; body: Record<string, unknown> } {
    const [hot_a, hot_b, cold] = accounts as [string, string, string];
    const amount = 1 + Math.floor(Math.random() * 50);
    const roll = Math.random();
    if (roll < 0.4) {
      const [from, to] = Math.random() < 0.5 ? [hot_a, hot_b] : [hot_b, hot_a];
      return { route: '/v1/transfers', body: { from_account_id: from, to_account_id: to, amount, currency: 'EUR' } };
    }
    const account = roll < 0.6 ? cold : Math.random() < 0.5 ? hot_a : hot_b;
    const kind = roll < 0.8 ? 'debits' : 'credits';
    return { route: `/v1/accounts/${account}/${kind}`, body: { amount, currency: 'EUR', reason: 'load' } };
  }

  private async perform(spread: number): Promise<void> {
    const { route, body } = this.operation();
    const headers = { Authorization: `Bearer ${service_token}`, 'Idempotency-Key': randomUUID() };
    for (let attempt = 0; ; attempt += 1) {
      const sent_ms = Date.now();
      let answer: Answer;
      try {
        answer = await call(this.urls[(spread + attempt) % this.urls.length]!, 'POST', route, body, headers);
      } catch (error) {
        this.violations.push(`${route}: ${String(error)}`);
        await sleep(100);
        continue;
      }
      this.outcomes.push({
        sent_ms,
        received_ms: Date.now(),
        status: answer.status,
        code: answer.body.code,
        retry_after: answer.retry_after,
      });
      if (answer.status === 201) {
        acknowledged.add(String(answer.body.id));
        return;
      }
      if (answer.status === 503 && answer.body.code === 'unavailable') {
        await sleep(50 + Math.random() * 50);
        continue;
      }
      if (answer.status !== 409 || answer.body.code !== 'insufficient_funds') this.violations.push(`${route}: ${JSON.stringify(answer)}`);
      return;
    }
  }
}

/** Reads that once answered 500 while the database was down (they bypassed the data layer), and the catalog. */
/** Reads asked in turn, with the token each needs; the export streams, so it fails apart from the others. */
const READS: ReadonlyArray<(account: string) => { route: string; token: () => string }> = [
  (account) => ({ route: `/v1/accounts/${account}`, token: () => service_token }),
  (account) => ({ route: `/v1/accounts/${account}/wallets`, token: () => service_token }),
  (account) => ({ route: `/v1/accounts/${account}/transactions?limit=5`, token: () => service_token }),
  () => ({ route: '/v1/items?limit=5', token: () => service_token }),
  () => ({ route: `/v1/admin/exports/transactions?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z`, token: () => admin_token }),
];

/** /ready, /health and a read (READS in turn) of every pod, asked every 200 ms until stopped, with how long each /ready took. */
class Probes {
  readonly ready: Array<{ at_ms: number; status: number; duration_ms: number }> = [];
  readonly health: number[] = [];
  readonly reads: Outcome[] = [];
  private sent = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(urls: readonly string[]) {
    this.loop = (async () => {
      while (this.running) {
        await Promise.all(
          urls.flatMap((url) => [
            (async () => {
              const started_ms = Date.now();
              const ready = await call(url, 'GET', '/ready').catch(() => ({ status: 0 }));
              this.ready.push({ at_ms: started_ms, status: ready.status, duration_ms: Date.now() - started_ms });
            })(),
            (async () => this.health.push((await call(url, 'GET', '/health').catch(() => ({ status: 0 }))).status))(),
            (async () => this.reads.push(await this.read(url)))(),
          ]),
        );
        await sleep(200);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async read(url: string): Promise<Outcome> {
    const { route, token } = READS[this.sent++ % READS.length]!(accounts[0]!);
    const sent_ms = Date.now();
    const answer = await call(url, 'GET', route, undefined, { Authorization: `Bearer ${token()}` }).catch(
      (error: unknown): Answer => ({ status: 0, body: { code: String(error) }, retry_after: null }),
    );
    return { sent_ms, received_ms: Date.now(), status: answer.status, code: answer.body.code, retry_after: answer.retry_after };
  }
}

/** While the database was away, every answer to a request sent then was 503 unavailable with Retry-After. */
function expectUnavailableBetween(outcomes: readonly Outcome[], from_ms: number, to_ms: number, answers_min: number): void {
  const during = outcomes.filter((outcome) => outcome.sent_ms >= from_ms && outcome.received_ms <= to_ms);
  const around = outcomes
    .filter((outcome) => outcome.received_ms >= from_ms && outcome.sent_ms <= to_ms)
    .map((outcome) => `${outcome.sent_ms - from_ms}..${outcome.received_ms - from_ms} ms ${outcome.status} ${outcome.code ?? ''}`);
  expect(
    during.length,
    `requests answered while the database was away (${to_ms - from_ms} ms): ${around.join(', ')}`,
  ).toBeGreaterThanOrEqual(answers_min);
  for (const outcome of during) {
    expect(outcome, JSON.stringify({ from_ms, to_ms, outcome })).toMatchObject({ status: 503, code: 'unavailable', retry_after: '1' });
  }
}

function expectProbesDuring(probes: Probes, from_ms: number, to_ms: number): void {
  const during = probes.ready.filter((probe) => probe.at_ms >= from_ms && probe.at_ms + probe.duration_ms <= to_ms);
  expect(during.length, '/ready probes while the database was away').toBeGreaterThan(2);
  for (const probe of during) expect(probe.status).toBe(503);
  // The bound holds for every probe, whatever its answer. Inside the window a probe without its own
  // timeout fails at the pool's connect timeout (500 ms) all the same; what can show one waiting on
  // the database is the first round, sent as the stall begins, when its query lands on a connection
  // the stall holds (it then takes the query timeout). Not every run has one, so this catches a /ready
  // that waits on the database in some runs, not all.
  const slowest = probes.ready.reduce((slow, probe) => (probe.duration_ms > slow.duration_ms ? probe : slow));
  const explained = `the slowest /ready, at_ms from the fault: ${JSON.stringify({ ...slowest, at_ms: slowest.at_ms - from_ms })}`;
  expect(slowest.duration_ms, explained).toBeLessThan(READY_ANSWER_WITHIN_MS);
  expect(probes.health.every((status) => status === 200)).toBe(true);
}

async function expectPodsAlive(running: readonly StartingPod[]): Promise<void> {
  for (const pod of running) {
    expect({ region: pod.region, code: pod.child.exitCode, signal: pod.child.signalCode }).toEqual({
      region: pod.region,
      code: null,
      signal: null,
    });
    expect((await call(pod.url, 'GET', '/health')).body.pid).toBe(pod.child.pid);
  }
}

async function expectReadyAgain(urls: readonly string[], since_ms: number): Promise<void> {
  await Promise.all(urls.map((url) => eventually(`${url} /ready 200`, READY_AGAIN_WITHIN_MS, () => isReady(url))));
  expect(Date.now() - since_ms).toBeLessThan(READY_AGAIN_WITHIN_MS);
}

/** Every acknowledged write is in the ledger, and the ledger holds nothing that was not acknowledged; reconciliation is clean. */
async function expectLedgerMatchesAcknowledged(url: string): Promise<void> {
  const rows = await query<{ id: string }>('SELECT id FROM ledger_transactions WHERE account_id = ANY($1::text[])', [accounts]);
  expect(rows.map((row) => row.id).sort()).toEqual([...acknowledged].sort());
  const report = await call(url, 'POST', '/v1/admin/reconcile', undefined, { Authorization: `Bearer ${admin_token}` });
  expect(report.body).toEqual({ ok: true, mismatches: [] });
}

interface Away {
  /** From when to when the database could not answer. */
  away_from_ms: number;
  away_until_ms: number;
  /** When it could again. */
  back_ms: number;
}

/**
 * Runs `fault` while clients write and probes read through both serving pods, then checks: every
 * answer while the database was away was 503 unavailable with Retry-After (at least so many of
 * them), /ready said 503 within READY_ANSWER_WITHIN_MS and /health 200, no pod exited, both were
 * ready again within seconds and took writes again, and the ledger holds exactly the acknowledged writes.
 */
async function throughFault(answers: { writes_min: number; reads_min: number }, fault: () => Promise<Away>): Promise<void> {
  const urls = pods.slice(0, 2).map((pod) => pod.url);
  const load = new Load(urls);
  await eventually('writes flowing', 10_000, async () => (load.count(201) >= 20 ? true : undefined));
  const probes = new Probes(urls);
  const away = await fault();
  await expectReadyAgain(urls, away.back_ms);
  await probes.stop();
  const written = load.count(201);
  await eventually('writes flowing again', 10_000, async () => (load.count(201) >= written + 20 ? true : undefined));
  await load.stop();

  expect(load.violations).toEqual([]);
  expectUnavailableBetween(load.outcomes, away.away_from_ms, away.away_until_ms, answers.writes_min);
  expectUnavailableBetween(probes.reads, away.away_from_ms, away.away_until_ms, answers.reads_min);
  expectProbesDuring(probes, away.away_from_ms, away.away_until_ms);
  await expectPodsAlive(pods.slice(0, 2));
  await expectLedgerMatchesAcknowledged(urls[0]!);
}

async function openAccounts(url: string): Promise<void> {
  const headers = () => ({ Authorization: `Bearer ${service_token}`, 'Idempotency-Key': randomUUID() });
  for (const [index, id] of accounts.entries()) {
    const home_region = TOPOLOGY.regions[index % 2]!.name;
    expect((await call(url, 'POST', '/v1/accounts', { id, currency: 'EUR', home_region }, headers())).status).toBe(201);
    const credit = await call(
      url,
      'POST',
      `/v1/accounts/${id}/credits`,
      { amount: ACCOUNT_BALANCE, currency: 'EUR', reason: 'seed' },
      headers(),
    );
    expect(credit.status).toBe(201);
    acknowledged.add(String(credit.body.id));
  }
}

async function batchesQueued(urls: readonly string[]): Promise<number> {
  let total = 0;
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split('\n')) if (line.startsWith('batch_queued_total{')) total += Number(line.split(' ').pop());
  }
  return total;
}

beforeAll(async () => {
  database = await startRestartablePostgres(DATABASE_NAME);
  const settings = { secret: DEVELOPMENT_JWT_SECRET };
  service_token = await mintToken({ sub: 'faults-game-server', scope: 'accounts:write credits:write', expires_in_seconds: 900 }, settings);
  admin_token = await mintToken({ sub: 'faults-ops', scope: 'admin', expires_in_seconds: 900 }, settings);
  const started = await Promise.all(['eu-west', 'us-east'].map((region) => startPodProcess(region, podEnv())));
  pods.push(...started);
  await Promise.all(started.map((pod) => pod.ready));
  await openAccounts(started[0]!.url);
}, 120_000);

afterAll(async () => {
  for (const pod of pods) pod.child.kill('SIGKILL');
  for (const supervisor of supervisors) {
    try {
      process.kill(-supervisor.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await database?.destroy();
});

describe.sequential('pods under load while PostgreSQL shuts down, stalls and restarts', () => {
  const urls = () => pods.slice(0, 2).map((pod) => pod.url);

  it('a fast shutdown and restart: no pod exits, 503 unavailable while down, ready again within seconds, every 201 in the ledger', {
    timeout: 60_000,
  }, async () => {
    await throughFault({ writes_min: 10, reads_min: 4 }, async () => {
      await database.stop();
      const away_from_ms = Date.now();
      await sleep(OUTAGE_MS);
      const away_until_ms = Date.now();
      await database.start();
      return { away_from_ms, away_until_ms, back_ms: Date.now() };
    });
    // The hot-account queue (advisory locks held by batch sessions the restart ended) was in play.
    expect(await batchesQueued(urls())).toBeGreaterThan(0);
  });

  it('a stall longer than the idle-in-transaction and query timeouts: no pod exits, 503 while stalled, ready again, 201s in the ledger', {
    timeout: 60_000,
  }, async () => {
    await throughFault({ writes_min: 2, reads_min: 1 }, async () => {
      const stalled = database.stall();
      const away_from_ms = Date.now();
      await sleep(STALL_MS);
      const away_until_ms = Date.now();
      signalAll(stalled, 'SIGCONT');
      return { away_from_ms, away_until_ms, back_ms: away_until_ms };
    });
  });

  it('a pod told to stop while the database is stalled exits within its grace and a moment, not after its query timeouts', {
    timeout: 60_000,
  }, async () => {
    const slow_timeouts = { DB_STATEMENT_TIMEOUT_MS: '15000', DB_QUERY_TIMEOUT_MS: '20000', DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '30000' };
    const pod = await startPodProcess('eu-west', { ...podEnv(), ...slow_timeouts, SHUTDOWN_GRACE_MS: '1000' });
    await pod.ready;
    const stalled = database.stall();
    try {
      const credit = { amount: 1, currency: 'EUR', reason: 'in flight' };
      const headers = { Authorization: `Bearer ${service_token}`, 'Idempotency-Key': randomUUID() };
      const in_flight = call(pod.url, 'POST', `/v1/accounts/${accounts[2]}/credits`, credit, headers).catch(() => undefined);
      await sleep(300);
      const asked_ms = Date.now();
      const exited = new Promise((resolve) => pod.child.once('exit', resolve));
      pod.child.kill('SIGTERM');
      await exited;
      // The grace (1 s), the cleanup allowance (2 s) and slack for a loaded machine: not the 20 s query timeout.
      expect(Date.now() - asked_ms).toBeLessThan(8_000);
      await in_flight;
    } finally {
      signalAll(stalled, 'SIGCONT');
      if (pod.child.exitCode === null && pod.child.signalCode === null) pod.child.kill('SIGKILL');
    }
  });

  it('a pod and `npm start` started while the database is down wait for it (logging each wait) and serve once it is back', {
    timeout: 90_000,
  }, async () => {
    await database.stop();
    const pod = await startPodProcess('ap-south', { ...podEnv(), LOG_LEVEL: 'warn' }, { capture_output: true });
    pods.push(pod);
    const supervisor = await startSupervisor();
    await eventually('the pod waiting for the database', 30_000, async () =>
      pod.output().includes('database unavailable; waiting') ? true : undefined,
    );
    // Waiting, the pod is alive to a liveness probe (not restarted in a loop for the length of the outage), not ready, and 503 to clients.
    const waiting = async (method: string, route: string, init: RequestInit = {}) => {
      const response = await fetch(`${pod.url}${route}`, { method, signal: AbortSignal.timeout(5000), ...init });
      return {
        status: response.status,
        type: response.headers.get('content-type'),
        retry_after: response.headers.get('retry-after'),
        region: response.headers.get('x-region'),
        body: await response.json(),
      };
    };
    expect(await waiting('GET', '/health')).toMatchObject({ status: 200, region: 'ap-south', body: { status: 'ok', region: 'ap-south' } });
    expect(await waiting('GET', '/ready')).toMatchObject({ status: 503, body: { status: 'database_unreachable' } });
    // A body is not read, whatever its size (the connection closes instead); the caller's request id is kept.
    const body = JSON.stringify({ id: 'x'.repeat(200_000) });
    const headers = { 'Content-Type': 'application/json', 'X-Request-Id': 'client-req-7' };
    expect(await waiting('POST', '/v1/accounts', { body, headers })).toMatchObject({
      status: 503,
      type: 'application/problem+json',
      retry_after: '1',
      body: { status: 503, code: 'unavailable', request_id: 'client-req-7' },
    });
    await eventually('the supervisor waiting for the database', 30_000, async () =>
      supervisor.log().includes('database unavailable; waiting') ? true : undefined,
    );
    expect(pod.child.exitCode).toBeNull();
    expect(supervisor.child.exitCode).toBeNull();

    await database.start();
    await pod.ready;
    expect(await eventually('ap-south /ready', READY_AGAIN_WITHIN_MS, () => isReady(pod.url))).toBe(true);
    await eventually(
      'the supervised us-east pod /ready',
      30_000,
      () => isReady(supervisor.url),
      () => supervisor.output(),
    );
    await expectPodsAlive(pods);
  });

  it('the supervisor restarts a pod killed again and again, with growing delays, and its region comes back', {
    timeout: 90_000,
  }, async () => {
    const supervisor = supervised!;
    const killed: number[] = [];
    for (let kill = 0; kill < POD_KILLS; kill += 1) {
      const pid = await eventually('a new pod process', 30_000, async () => supervisor.podPid(killed), supervisor.output);
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    }
    const health = await eventually('the region back after every kill', 30_000, async () => {
      const answer = await call(supervisor.url, 'GET', '/health');
      return answer.status === 200 && !killed.includes(Number(answer.body.pid)) ? answer : undefined;
    });
    expect(await eventually('ready', READY_AGAIN_WITHIN_MS, () => isReady(supervisor.url))).toBe(true);
    expect(supervisor.child.exitCode).toBeNull();
    expect(health.body.pid).toBe(supervisor.podPid(killed));

    const restarts = supervisor.logLines().filter((line) => line.msg === 'pod exited; restarting');
    expect(restarts.map((line) => line.exits_in_a_row)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const line of restarts) {
      const ceiling_ms = Math.min(RESTART_MAX_MS, RESTART_INITIAL_MS * 2 ** (Number(line.exits_in_a_row) - 1));
      expect(Number(line.restart_in_ms)).toBeGreaterThanOrEqual(ceiling_ms / 2);
      expect(Number(line.restart_in_ms)).toBeLessThanOrEqual(ceiling_ms);
    }

    process.kill(supervisor.child.pid!, 'SIGINT');
    const exit = await new Promise<number | null>((resolve) => supervisor.child.once('exit', (code) => resolve(code)));
    expect(exit).toBe(0);
  });
});

interface Supervisor extends DetachedProcess {
  url: string;
  logLines(): Array<Record<string, unknown>>;
  /** The pid of the supervisor's pod process, unless it is one of `excluded`. */
  podPid(excluded: readonly number[]): number | undefined;
}

let supervised: Supervisor | undefined;

/** `npm start` for us-east only, against this file's database, with a fast restart backoff. */
async function startSupervisor(): Promise<Supervisor> {
  const port = await freePort();
  const us_east = TOPOLOGY.regions.find((region) => region.name === 'us-east')!;
  const spawned = spawnDetached('src/cli/start.ts', [], {
    ...podEnv(),
    NODE_ENV: 'development',
    REGIONS: 'us-east',
    PORT_OFFSET: String(port - us_east.port),
    LOG_LEVEL: 'warn',
    SUPERVISOR_BACKOFF_INITIAL_MS: String(RESTART_INITIAL_MS),
    SUPERVISOR_BACKOFF_MAX_MS: String(RESTART_MAX_MS),
  });
  supervisors.push(spawned.child);
  supervised = Object.assign(spawned, {
    url: `http://127.0.0.1:${port}`,
    logLines: () =>
      spawned
        .log()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line['name'] === 'supervisor'),
    // Only the forked pod: tsx may run an esbuild service process under the supervisor too.
    podPid: (excluded: readonly number[]) =>
      childrenOf(spawned.pid).find((pid) => !excluded.includes(pid) && commandLine(pid).includes('src/cli/pod.ts')),
  });
  return supervised;
}
