import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fetch } from '../../src/client/retry.js';
import { withClient } from '../../src/db/connections.js';
import { startPayoutSimulator, type PayoutSimulator } from '../../tools/payout-simulator/payout-simulator.js';
import { startWebhookListener, type ReceivedDelivery, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { client, contractCheckedFetch } from '../support/client.js';
import { request, testConfig, tokens, uniqueId } from '../support/cluster.js';
import { allEvents, createEndpoint, FAST_WEBHOOKS, waitFor } from '../support/events.js';
import { forkPod, stopPodProcess, type PodProcess } from '../support/pod-process.js';
import { QUICK_DATABASE_RECOVERY, startRestartablePostgres, type RestartablePostgres } from '../support/restartable-postgres.js';

// What leaves the system (webhook deliveries, payouts) across a real PostgreSQL restart: three pod
// processes on a database of this file's own, which is shut down (fast) and started again while
// clients keep writing through every pod. The clients are the typed client (src/client), which
// retries 503s and failed connections with the same Idempotency-Key, so every write a client was
// told about is known, and every other one never happened. A real receiver (tools/webhook-listener)
// and the payout simulator (tools/payout-simulator) answer over HTTP.

const REGIONS = ['eu-west', 'us-east', 'ap-south'] as const;
const OUTAGE_MS = 2000;
/** Shorter than an outage: the pods' slot leases run out while the database is away. */
const SLOT_LEASE_MS = 1000;
const WEBHOOK_LEASE_MS = 3000;
/**
 * The slow payouts' first calls wait at the simulator until the database is stopped: some 250 ms
 * here on an idle machine, and the call timeout leaves 20 times that (a call is timed within the
 * job's lease, so the lease is longer). A longer lease delays the slow jobs' retry after the restart.
 */
const PAYOUT_CALL_TIMEOUT_MS = 5000;
const JOB_LEASE_MS = 6000;
/** The simulator's `delayed` payouts call back after this: within the outage. */
const PROVIDER_DELAY_MS = 1500;
const PAYOUT_SECRET = 'r'.repeat(40);
const SEED_MINOR = 1_000_000;
const WITHDRAWAL_MINOR = 100;
const RETRY = { attempts_max: 100, elapsed_max_ms: 30_000, backoff_initial_ms: 100, backoff_max_ms: 1000 };

let database: RestartablePostgres;
let sim: PayoutSimulator;
const pods: PodProcess[] = [];
const listeners: WebhookListener[] = [];
let service: string;
let admin: string;
let reader: string;
/** Every answer a client received (each retry's included), with when its request was sent and when it came. */
const answers: Array<{ sent_ms: number; received_ms: number; status: number }> = [];

const observed: Fetch = async (request) => {
  const sent_ms = Date.now();
  const response = await contractCheckedFetch(request);
  answers.push({ sent_ms, received_ms: Date.now(), status: response.status });
  return response;
};

/** The typed client of the `index`th pod (round robin), retrying 503s with the same key for up to 30 s. */
const api = (index: number, token = service) => client(pods[index % pods.length]!.url, token, { retry: RETRY, fetch: observed });

async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient({ connectionString: database.url }, async (db) => (await db.query(sql, params)).rows as T[]);
}

beforeAll(async () => {
  database = await startRestartablePostgres('creditshop_restart');
  sim = await startPayoutSimulator({
    callback_urls: [],
    secret: PAYOUT_SECRET,
    delay_ms: PROVIDER_DELAY_MS,
    // As a real provider: callbacks the pods cannot take during the outage are sent again until taken.
    callback_attempts_max: 300,
    callback_retry_ms: 100,
  });
  const env = {
    DATABASE_URL: database.url,
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    DB_POOL_MAX: '6',
    POD_SLOT_LEASE_MS: String(SLOT_LEASE_MS),
    ...QUICK_DATABASE_RECOVERY,
    ...FAST_WEBHOOKS,
    WEBHOOK_LEASE_MS: String(WEBHOOK_LEASE_MS),
    WEBHOOK_TIMEOUT_MS: '1000',
    JOB_LEASE_MS: String(JOB_LEASE_MS),
    JOB_POLL_INTERVAL_MS: '200',
    PAYOUT_PROVIDER_URL: sim.url,
    PAYOUT_WEBHOOK_SECRET: PAYOUT_SECRET,
    PAYOUT_CALL_TIMEOUT_MS: String(PAYOUT_CALL_TIMEOUT_MS),
    PAYOUT_RETRY_INTERVAL_MIN_MS: '200',
    PAYOUT_RETRY_INTERVAL_MAX_MS: '1000',
  };
  pods.push(...(await Promise.all(REGIONS.map((region) => forkPod(region, env)))));
  sim.setCallbackUrls(pods.map((pod) => pod.url));
  const mint = tokens(testConfig());
  service = await mint.service('accounts:write credits:write', 'game-server');
  admin = await mint.service('admin', 'ops');
  reader = await mint.service('events:read', 'integrator');
}, 120_000);

afterAll(async () => {
  await Promise.all(pods.map(stopPodProcess));
  await Promise.all(listeners.map((listener) => listener.close()));
  await sim?.close();
  await database?.destroy();
});

/**
 * `count` concurrent writers, each calling `write` again and again until stopped. `write` resolves
 * with a violation (an answer no client should get) or undefined once its write was acknowledged.
 */
class Writers {
  readonly violations: string[] = [];
  acknowledged = 0;
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(count: number, write: (writer: number, turn: number) => Promise<string | undefined>) {
    this.loops = Array.from({ length: count }, async (_, writer) => {
      for (let turn = 0; this.running; turn += 1) {
        const violation = await write(writer, turn).catch((error: unknown) => `no answer: ${String(error)}`);
        if (violation === undefined) this.acknowledged += 1;
        else this.violations.push(violation);
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/**
 * Restarts PostgreSQL under `writers`: once `ready()` holds, a fast shutdown, `stopped()`, OUTAGE_MS
 * without a database, a start, and `after_min` writes acknowledged afterwards. Returns when the database was away.
 */
async function restartUnder(
  writers: Writers,
  ready: () => boolean,
  after_min: number,
  stopped: () => void = () => {},
): Promise<{ from_ms: number; to_ms: number }> {
  await waitFor('traffic under way before the restart', 20_000, () => (ready() ? true : undefined));
  await database.stop();
  stopped();
  const from_ms = Date.now();
  await sleep(OUTAGE_MS);
  const to_ms = Date.now();
  await database.start();
  const before = writers.acknowledged;
  await waitFor('writes acknowledged again after the restart', 20_000, () =>
    writers.acknowledged >= before + after_min ? true : undefined,
  );
  await writers.stop();
  return { from_ms, to_ms };
}

/** Clients were told 503 while the database was away: the restart did fall in the middle of the load. */
function expectUnavailableDuring(away: { from_ms: number; to_ms: number }): void {
  const during = answers.filter((answer) => answer.sent_ms >= away.from_ms && answer.received_ms <= away.to_ms);
  expect(during.filter((answer) => answer.status === 503).length).toBeGreaterThan(0);
  expect(during.filter((answer) => answer.status !== 503)).toEqual([]);
}

/** New accounts, homed in every region in turn, each credited SEED_MINOR: their ids and the credits' transaction ids. */
async function openAccounts(count: number): Promise<{ ids: string[]; credits: string[] }> {
  const ids = Array.from({ length: count }, () => uniqueId('r'));
  const credits: string[] = [];
  for (const [index, id] of ids.entries()) {
    const opened = await api(index).POST('/v1/accounts', { body: { id, currency: 'EUR', home_region: REGIONS[index % REGIONS.length] } });
    expect(opened.response.status, JSON.stringify(opened.error)).toBe(201);
    const seeded = await api(index).POST('/v1/accounts/{id}/credits', {
      params: { path: { id } },
      body: { amount: SEED_MINOR, currency: 'EUR', reason: 'seed' },
    });
    expect(seeded.response.status, JSON.stringify(seeded.error)).toBe(201);
    credits.push(seeded.data!.id);
  }
  return { ids, credits };
}

/** A credit or a debit of `amount` through the `index`th pod. */
function move(index: number, kind: 'credits' | 'debits', id: string, amount: number) {
  const options = { params: { path: { id } }, body: { amount, currency: 'EUR' as const, reason: 'restart load' } };
  return kind === 'credits' ? api(index).POST('/v1/accounts/{id}/credits', options) : api(index).POST('/v1/accounts/{id}/debits', options);
}

async function reconcile(): Promise<unknown> {
  return (await api(0, admin).POST('/v1/admin/reconcile')).data;
}

/** Per event id, its deliveries that the receiver acknowledged (2xx), in arrival order. */
function acknowledgedDeliveries(receiver: WebhookListener): Map<string, ReceivedDelivery[]> {
  const by_event = new Map<string, ReceivedDelivery[]>();
  for (const delivery of receiver.deliveries) {
    if (delivery.status !== 200) continue;
    by_event.set(delivery.event_id!, [...(by_event.get(delivery.event_id!) ?? []), delivery]);
  }
  return by_event;
}

/** The ledger transaction ids a receiver acknowledged a transaction.posted of. */
function deliveredTransactions(receiver: WebhookListener): Set<string> {
  const ids = new Set<string>();
  for (const [first] of acknowledgedDeliveries(receiver).values()) {
    if (first!.event_type === 'transaction.posted') ids.add((first!.event!.data as { id: string }).id);
  }
  return ids;
}

describe.sequential('what leaves the system across a PostgreSQL restart under load', () => {
  it('webhooks: every acknowledged credit and debit reaches the receiver, signed, at least once, in order per account', {
    timeout: 90_000,
  }, async () => {
    // Every fourth answer is a 503: a delivery marked delivered before (or without) a 2xx would be lost.
    let received = 0;
    const receiver = await startWebhookListener({ secrets: [], answer: () => (++received % 4 === 0 ? 503 : 200) });
    listeners.push(receiver);
    const endpoint = await createEndpoint({ urls: [pods[0]!.url], admin }, receiver.url, ['transaction.posted']);
    receiver.secrets.push(endpoint.secret);

    const { ids: accounts, credits } = await openAccounts(8);
    /** Ledger transaction ids of every 201 a client received. */
    const acknowledged = new Set<string>(credits);
    const writers = new Writers(8, async (writer, turn) => {
      const id = accounts[(writer + turn) % accounts.length]!;
      const kind = turn % 2 === 0 ? 'debits' : 'credits';
      const answer = await move(writer + turn, kind, id, 1 + ((writer * 31 + turn) % 50));
      if (answer.response.status !== 201) return `${kind} ${id}: ${answer.response.status} ${JSON.stringify(answer.error)}`;
      acknowledged.add(answer.data!.id);
      return undefined;
    });
    const away = await restartUnder(writers, () => writers.acknowledged >= 150 && receiver.deliveries.length >= 100, 100);
    expect(writers.violations).toEqual([]);
    expectUnavailableDuring(away);

    // Every acknowledged transaction reaches the receiver (a duplicate may come too).
    const missing = () => [...acknowledged].filter((id) => !deliveredTransactions(receiver).has(id));
    await waitFor('every acknowledged transaction delivered', 30_000, () => (missing().length === 0 ? true : undefined)).catch(
      () => undefined,
    );
    expect(missing()).toEqual([]);
    expect(receiver.deliveries.filter((delivery) => !delivery.verified)).toEqual([]);
    expect(receiver.deliveries.filter((delivery) => delivery.status === 503).length).toBeGreaterThan(0);

    // The ledger and the events API hold exactly the acknowledged transactions, one event each, and
    // every event the receiver got is one of them (none from a transaction that rolled back).
    const ledger = await query<{ id: string }>('SELECT id FROM ledger_transactions WHERE account_id = ANY($1::text[])', [accounts]);
    expect(ledger.map((row) => row.id).sort()).toEqual([...acknowledged].sort());
    const events = (
      await Promise.all(
        accounts.map((account_id) =>
          allEvents(
            pods.map((pod) => pod.url),
            reader,
            { account_id, type: 'transaction.posted' },
          ),
        ),
      )
    ).flat();
    expect(events.map((event) => event.data.id).sort()).toEqual([...acknowledged].sort());
    const delivered = acknowledgedDeliveries(receiver);
    expect([...delivered.keys()].sort()).toEqual(events.map((event) => event.id).sort());

    // Per account, the receiver acknowledged each event for the first time in account_sequence order.
    const firsts = new Map<string, number[]>();
    const seen = new Set<string>();
    for (const delivery of receiver.deliveries) {
      if (delivery.status !== 200 || seen.has(delivery.event_id!)) continue;
      seen.add(delivery.event_id!);
      const { account_id, account_sequence } = delivery.event!;
      firsts.set(account_id!, [...(firsts.get(account_id!) ?? []), account_sequence!]);
    }
    for (const sequences of firsts.values()) expect(sequences).toEqual([...sequences].sort((a, b) => a - b));

    // And the database knows it: no delivery of the endpoint left pending or given up.
    const unsettled = () =>
      query<{ state: string; count: number }>(
        `SELECT state, count(*)::int AS count FROM webhook_deliveries WHERE endpoint_id = $1 AND state <> 'delivered' GROUP BY state`,
        [endpoint.id],
      );
    await waitFor('every delivery recorded delivered', 20_000, async () => ((await unsettled()).length === 0 ? true : undefined)).catch(
      () => undefined,
    );
    expect(await unsettled()).toEqual([]);
    expect(await reconcile()).toEqual({ ok: true, mismatches: [] });
    const deleted = await request(pods[0]!.url, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: admin });
    expect(deleted.status).toBe(200);
  });

  it('payouts: every withdrawal whose payout job met the restart is settled once, with one payout at the provider', {
    timeout: 90_000,
  }, async () => {
    const { ids: accounts } = await openAccounts(3);
    /** Per acknowledged withdrawal: its account and whether the provider fails it (the destination reference says). */
    const withdrawals = new Map<string, { account_id: string; fails: boolean }>();
    const withdraw = async (index: number, reference: string): Promise<string | undefined> => {
      const account_id = accounts[index % accounts.length]!;
      const answer = await api(index).POST('/v1/withdrawals', {
        body: { account_id, amount: WITHDRAWAL_MINOR, currency: 'EUR', destination: { type: 'bank_account', reference } },
      });
      if (answer.response.status !== 201) return `withdrawal ${reference}: ${answer.response.status} ${JSON.stringify(answer.error)}`;
      withdrawals.set(answer.data!.id, { account_id, fails: reference.includes(':fail') });
      return undefined;
    };

    // Payouts whose first call the provider answers only once the database is stopped, so their answers
    // arrive with no database to record them in. (Answered after a fixed 1.5 s, they were recorded
    // before the restart whenever the load took longer than that to get to it.)
    const releaseSlow = sim.holdSlowAnswers();
    for (const [index, reference] of ['sim:slow:NL01', 'sim:slow:fail:NL02', 'sim:slow:NL03', 'sim:slow:fail:NL04'].entries()) {
      expect(await withdraw(index, reference)).toBeUndefined();
    }
    const slow = [...withdrawals.keys()];
    // Meanwhile clients keep withdrawing, through the restart, in every other mode of the provider.
    const modes = ['sim:instant:NL', 'sim:instant:fail:NL', 'sim:delayed:NL', 'sim:delayed:fail:NL', 'sim:flaky:NL'];
    const writers = new Writers(2, async (writer, turn) => {
      await sleep(50);
      return withdraw(writer + turn, `${modes[(writer + turn) % modes.length]}${writer}-${turn}`);
    });
    let answered_in_flight = 0;
    const away = await restartUnder(
      writers,
      () => slow.every((id) => sim.payout(id)?.calls === 1) && writers.acknowledged >= 5,
      20,
      () => {
        answered_in_flight = releaseSlow();
      },
    );
    // Each slow answer went to its job still waiting for it (not one that had timed out and asked again).
    expect(answered_in_flight, 'slow answers taken by a call still waiting (PAYOUT_CALL_TIMEOUT_MS)').toBe(slow.length);
    expect(writers.violations).toEqual([]);
    expectUnavailableDuring(away);

    // Every withdrawal reaches its final state, and its job ends.
    const ids = [...withdrawals.keys()];
    const open = () =>
      query<{ id: string; status: string; job_finished: boolean }>(
        `SELECT w.id, w.status, j.finished_at IS NOT NULL AS job_finished FROM withdrawals w
         JOIN jobs j ON j.kind = 'payout' AND j.subject_id = w.id
         WHERE w.account_id = ANY($1::text[]) AND (w.status = 'PENDING' OR j.finished_at IS NULL)`,
        [accounts],
      );
    await waitFor('every withdrawal settled', 30_000, async () => ((await open()).length === 0 ? true : undefined)).catch(() => undefined);
    expect(await open()).toEqual([]);

    // Exactly the acknowledged withdrawals exist, each settled as the provider said, with its payout's id.
    const rows = await query<{ id: string; status: string; payout_id: string | null }>(
      'SELECT id, status, payout_id FROM withdrawals WHERE account_id = ANY($1::text[])',
      [accounts],
    );
    expect(rows.map((row) => row.id).sort()).toEqual([...ids].sort());
    for (const row of rows) {
      const expected = { id: row.id, status: withdrawals.get(row.id)!.fails ? 'FAILED' : 'PAID', payout_id: sim.payout(row.id)?.payout_id };
      expect({ id: row.id, status: row.status, payout_id: row.payout_id }).toEqual(expected);
    }
    // The provider made one payout per withdrawal, and none for anything else, however often it was asked.
    const ours = sim.payouts().filter((payout) => withdrawals.has(payout.withdrawal_id));
    expect(ours.map((payout) => payout.withdrawal_id).sort()).toEqual([...ids].sort());
    expect(new Set(ours.map((payout) => payout.payout_id)).size).toBe(ids.length);
    // The slow ones were asked again after the restart (the first answer found no database): same key, same payout.
    for (const id of slow) expect(sim.payout(id)!.calls, id).toBeGreaterThanOrEqual(2);

    // The ledger moved each withdrawal's money out once and settled it once: paid, or back in the wallet.
    const ledger = await query<{ withdrawal_id: string; types: string[] }>(
      `SELECT withdrawal_id, array_agg(type ORDER BY type) AS types FROM ledger_transactions
       WHERE withdrawal_id = ANY($1::uuid[]) GROUP BY withdrawal_id`,
      [ids],
    );
    expect(ledger).toHaveLength(ids.length);
    for (const row of ledger) {
      const settlement = withdrawals.get(row.withdrawal_id)!.fails ? 'withdrawal_return' : 'payout';
      expect(row.types, row.withdrawal_id).toEqual([settlement, 'withdrawal'].sort());
    }
    const paid_minor = new Map<string, number>();
    for (const { account_id, fails } of withdrawals.values()) {
      if (!fails) paid_minor.set(account_id, (paid_minor.get(account_id) ?? 0) + WITHDRAWAL_MINOR);
    }
    for (const id of accounts) {
      const wallets = await api(0).GET('/v1/accounts/{id}/wallets', { params: { path: { id } } });
      expect(wallets.data!.data).toEqual([
        expect.objectContaining({ currency: 'EUR', balance: SEED_MINOR - (paid_minor.get(id) ?? 0), held: 0 }),
      ]);
    }
    expect(await reconcile()).toEqual({ ok: true, mismatches: [] });
  });

  it('pod slots: leases the outages outlasted are held again, each pod its own slot', async () => {
    // Two outages of OUTAGE_MS, each longer than a slot lease: every lease ran out meanwhile.
    const leases = () =>
      query<{ region: string; slot: number; pid: string }>(
        `SELECT region, slot, split_part(holder_name, ':', 2) AS pid FROM pod_slots WHERE expires_at > now() ORDER BY region`,
      );
    const expected = pods
      .map((pod) => ({ region: pod.region, pid: String(pod.child.pid) }))
      .sort((a, b) => a.region.localeCompare(b.region));
    const held = await waitFor('every pod holding a live slot lease', 10_000, async () => {
      const live = await leases();
      return live.length === pods.length ? live : undefined;
    });
    expect(held.map(({ region, pid }) => ({ region, pid }))).toEqual(expected);
    for (const pod of pods) {
      const metrics = String((await request(pod.url, 'GET', '/metrics')).body);
      expect(metrics, pod.region).toMatch(/^pod_slot_held(\{[^}]*\})? 1$/m);
    }
  });
});
