import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPayoutSimulator, type PayoutSimulator } from '../../tools/payout-simulator/payout-simulator.js';
import { request, tokens, uniqueId } from '../support/cluster.js';
import { key } from '../support/ledger.js';
import { exited, forkPod, stopPodProcess, type PodProcess } from '../support/pod-process.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database.js';
import { testConfig } from '../support/cluster.js';
import { waitFor } from '../support/wallet.js';

// Two real pod processes on a database of their own, and the payout simulator answering the
// first payout call of each withdrawal only after 4 s (the payout is created at once): the pod
// holding the payout jobs is SIGKILLed while its calls are in flight, between the call and its
// record. The other pod takes the jobs over once their leases (3 s) expire, asks again with the
// same Idempotency-Key, and the provider's callbacks settle each withdrawal once.
const LEASE_MS = 3000;
const SECRET = 'z'.repeat(40);

const pods: PodProcess[] = [];
let sim: PayoutSimulator;
let database: ScratchDatabase;
let db: pg.Client;
let service: string;
let admin: string;
let env: Record<string, string>;

beforeAll(async () => {
  database = await createScratchDatabase(inject('database_url'), 'payout_crash');
  sim = await startPayoutSimulator({ callback_urls: [], secret: SECRET, delay_ms: 4000, slow_calls: 1 });
  env = {
    DATABASE_URL: database.url,
    LOG_LEVEL: 'error',
    DB_POOL_MAX: '6',
    DB_LOCK_POOL_MAX: '2',
    JOB_LEASE_MS: String(LEASE_MS),
    // The pod that accepts a withdrawal starts its job at once; polls (which pick up the jobs of a
    // dead pod) come seldom enough that they do not take a fresh job first.
    JOB_POLL_INTERVAL_MS: '500',
    PAYOUT_PROVIDER_URL: sim.url,
    PAYOUT_WEBHOOK_SECRET: SECRET,
    PAYOUT_CALL_TIMEOUT_MS: '10000',
  };
  pods.push(...(await Promise.all(['eu-west', 'us-east'].map((region) => forkPod(region, env)))));
  sim.setCallbackUrls(pods.map((pod) => pod.url));
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  const mint = tokens(testConfig());
  service = await mint.service('accounts:write credits:write', 'game-server');
  admin = await mint.service('admin', 'ops');
}, 120_000);

afterAll(async () => {
  await db?.end();
  await Promise.all(pods.map(stopPodProcess));
  await sim?.close();
  await database?.drop();
});

describe('a pod killed between the payout call and its record', () => {
  it('when the pod calling the provider is SIGKILLed, the other pod asks again with the same key: paid once, failed once', async () => {
    const url = pods[0]!.url;
    const id = uniqueId('p');
    expect((await request(url, 'POST', '/v1/accounts', { id, currency: 'EUR' }, { token: service, key: key() })).status).toBe(201);
    const credit = { amount: 10_000, currency: 'EUR', reason: 'seed' };
    expect((await request(url, 'POST', `/v1/accounts/${id}/credits`, credit, { token: service, key: key() })).status).toBe(201);
    const ids: string[] = [];
    for (const reference of ['sim:slow:NL01', 'sim:slow:fail:NL02']) {
      const body = { account_id: id, amount: 3_000, currency: 'EUR', destination: { type: 'bank_account', reference } };
      const created = await request(url, 'POST', '/v1/withdrawals', body, { token: service, key: key() });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      ids.push(created.body.id);
    }

    // Both payouts exist at the provider and their first calls are unanswered: kill the caller.
    await waitFor('both payout calls in flight', 15_000, async () => (ids.every((w) => sim.payout(w)?.calls === 1) ? true : undefined));
    const owners = await db.query<{ lease_owner: string }>('SELECT DISTINCT lease_owner FROM jobs WHERE subject_id = ANY($1::uuid[])', [
      ids,
    ]);
    expect(owners.rows).toHaveLength(1);
    const victim = pods.find((pod) => pod.child.pid === Number(owners.rows[0]!.lease_owner.split(':')[1]))!;
    const survivor = pods.find((pod) => pod !== victim)!;
    victim.child.kill('SIGKILL');
    await exited(victim);

    const final = await Promise.all(
      ids.map((withdrawal_id) =>
        waitFor(`withdrawal ${withdrawal_id} settled`, 30_000, async () => {
          const response = await request(survivor.url, 'GET', `/v1/withdrawals/${withdrawal_id}`, undefined, { token: service });
          return response.body.status === 'PENDING' ? undefined : response.body;
        }),
      ),
    );
    expect(final.map((withdrawal) => withdrawal.status)).toEqual(['PAID', 'FAILED']);
    for (const withdrawal_id of ids) {
      // The provider saw the same Idempotency-Key twice and made one payout of it.
      expect(sim.payout(withdrawal_id)!.calls).toBe(2);
      expect(sim.payouts().filter((payout) => payout.withdrawal_id === withdrawal_id)).toHaveLength(1);
    }
    const jobs = await db.query<{ claims: number; finished: boolean; lease_owner: string }>(
      'SELECT claims, finished_at IS NOT NULL AS finished, lease_owner FROM jobs WHERE subject_id = ANY($1::uuid[])',
      [ids],
    );
    for (const job of jobs.rows) expect({ claims: job.claims, finished: job.finished }).toEqual({ claims: 2, finished: true });
    const ledger = await db.query<{ type: string; n: number }>(
      'SELECT type, count(*)::int AS n FROM ledger_transactions WHERE withdrawal_id = ANY($1::uuid[]) GROUP BY type ORDER BY type',
      [ids],
    );
    expect(ledger.rows).toEqual([
      { type: 'payout', n: 1 },
      { type: 'withdrawal', n: 2 },
      { type: 'withdrawal_return', n: 1 },
    ]);
    // The money left once (3,000 paid) and came back once (3,000 failed).
    const wallets = await request(survivor.url, 'GET', `/v1/accounts/${id}/wallets`, undefined, { token: service });
    expect(wallets.body.data).toEqual([{ currency: 'EUR', balance: 7_000, held: 0, available: 7_000 }]);
    const report = await request(survivor.url, 'POST', '/v1/admin/reconcile', undefined, { token: admin });
    expect(report.body).toEqual({ ok: true, mismatches: [] });
  });

  it('when the pod calling the provider gets SIGTERM, it waits for the answer and records it before it exits: one call', async () => {
    // A lease longer than the provider's 4 s: the call is given the time to be answered.
    pods.push(await forkPod('ap-south', { ...env, JOB_LEASE_MS: '9000' }));
    const live = pods.filter((pod) => pod.child.exitCode === null && pod.child.signalCode === null);
    sim.setCallbackUrls(live.map((pod) => pod.url));
    const url = live.at(-1)!.url;
    const id = uniqueId('p');
    expect((await request(url, 'POST', '/v1/accounts', { id, currency: 'EUR' }, { token: service, key: key() })).status).toBe(201);
    const credit = { amount: 10_000, currency: 'EUR', reason: 'seed' };
    expect((await request(url, 'POST', `/v1/accounts/${id}/credits`, credit, { token: service, key: key() })).status).toBe(201);
    const body = { account_id: id, amount: 2_000, currency: 'EUR', destination: { type: 'bank_account', reference: 'sim:slow:NL03' } };
    const created = await request(url, 'POST', '/v1/withdrawals', body, { token: service, key: key() });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const withdrawal_id: string = created.body.id;

    await waitFor('the payout call in flight', 15_000, async () => (sim.payout(withdrawal_id)?.calls === 1 ? true : undefined));
    const owner = await db.query<{ lease_owner: string }>('SELECT lease_owner FROM jobs WHERE subject_id = $1', [withdrawal_id]);
    const draining = live.find((pod) => pod.child.pid === Number(owner.rows[0]!.lease_owner.split(':')[1]))!;
    // Before, the pod exited at once: the answer was lost, and another pod asked again once the lease ran out.
    await stopPodProcess(draining);
    const job = await db.query<{ claims: number; finished: boolean }>(
      'SELECT claims, finished_at IS NOT NULL AS finished FROM jobs WHERE subject_id = $1',
      [withdrawal_id],
    );
    expect(job.rows).toEqual([{ claims: 1, finished: true }]);
    const recorded = await db.query<{ payout_id: string | null }>('SELECT payout_id FROM withdrawals WHERE id = $1', [withdrawal_id]);
    expect(recorded.rows[0]!.payout_id).toBe(sim.payout(withdrawal_id)!.payout_id);
    expect(sim.payout(withdrawal_id)!.calls).toBe(1);
  });
});
