import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSellerSimulator } from '../../tools/seller-simulator/seller-simulator.js';
import { request } from '../support/cluster.js';
import { exited, forkPod, stopPodProcess, type PodProcess } from '../support/pod-process.js';
import { fixedSeller, isolatedDatabase, podEnv, SellerWorld } from './support.js';

// Two real pod processes (eu-west and us-east) on a database of their own. The cheapest seller
// answers every call after 1.5 s, so the pod holding the purchase job can be SIGKILLed while its
// order is in flight at that seller; the other pod must take the job over once the lease (3 s)
// has expired and finish it without buying twice.
const SLOW_MS = 1500;
const LEASE_MS = 3000;
const SELLERS = [fixedSeller('slow-cheap', 900, { latency_ms: { median: SLOW_MS, p99: SLOW_MS } }), fixedSeller('fast', 1000)];

const pods: PodProcess[] = [];
let world: SellerWorld;
let db: pg.Client;

beforeAll(async () => {
  const database = await isolatedDatabase();
  const simulator = await startSellerSimulator({ sellers: SELLERS });
  const env = {
    ...podEnv(),
    DATABASE_URL: database.url,
    LOG_LEVEL: 'error',
    DB_POOL_MAX: '6',
    JOB_LEASE_MS: String(LEASE_MS),
  };
  pods.push(...(await Promise.all(['eu-west', 'us-east'].map((region) => forkPod(region, env)))));
  world = await SellerWorld.attach({
    sellers: SELLERS,
    timeout_ms: 2000,
    urls: pods.map((pod) => pod.url),
    simulator,
    database,
    stop_pods: async () => void (await Promise.all(pods.map(stopPodProcess))),
  });
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
}, 120_000);

afterAll(async () => {
  await db?.end();
  await world?.stop();
  for (const pod of pods) pod.child.kill('SIGKILL');
});

async function waitFor<T>(what: string, within_ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + within_ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not within ${within_ms} ms`);
    await sleep(20);
  }
}

describe('a pod killed in the middle of a purchase', () => {
  it("when the job's pod is SIGKILLed mid-order, the other finishes it: one seller order, one capture, reconciliation clean", async () => {
    const buyer = await world.player(10_000);
    const id = await world.purchase(buyer, 'book-1', 950);

    // The order has reached the slow seller (which answers only after 1.5 s): kill its sender.
    await waitFor('the order call at the slow seller', 15_000, async () =>
      world.simulator.stats('slow-cheap').order_calls >= 1 ? true : undefined,
    );
    const { rows } = await db.query<{ lease_owner: string }>('SELECT lease_owner FROM jobs WHERE subject_id = $1', [id]);
    const owner_pid = Number(rows[0]!.lease_owner.split(':')[1]);
    const victim = pods.find((pod) => pod.child.pid === owner_pid)!;
    const survivor = pods.find((pod) => pod !== victim)!;
    victim.child.kill('SIGKILL');
    world.forget(victim.url);
    await exited(victim);

    const final = await waitFor('the purchase to finish on the surviving pod', 20_000, async () => {
      const response = await request(survivor.url, 'GET', `/v1/purchase-requests/${id}`, undefined, { token: buyer.token });
      return response.body.status === 'pending' ? undefined : response.body;
    });
    expect(final).toMatchObject({ status: 'purchased', seller_id: 'slow-cheap', final_price: 900 });
    // The interrupted attempt was resumed, not abandoned: one attempt, its order re-sent under the same key.
    expect(final.attempts).toHaveLength(1);
    expect(final.attempts[0]).toMatchObject({ seller_id: 'slow-cheap', state: 'confirmed' });

    const job = (
      await db.query<{ claims: number; lease_owner: string; finished: boolean }>(
        'SELECT claims, lease_owner, finished_at IS NOT NULL AS finished FROM jobs WHERE subject_id = $1',
        [id],
      )
    ).rows[0]!;
    expect(job).toMatchObject({ claims: 2, finished: true });
    expect(Number(job.lease_owner.split(':')[1])).toBe(survivor.child.pid);

    // The seller's idempotency log: one order for this request, whatever was sent twice.
    const orders = world.simulator.orders('slow-cheap').filter((order) => order.idempotency_key === `${id}:slow-cheap`);
    expect(orders).toHaveLength(1);
    expect(world.simulator.stats('slow-cheap').order_calls).toBe(2);
    expect(world.simulator.orders('fast')).toHaveLength(0);

    // The wallet hold was captured exactly once, for the actual price.
    const hold = await request(survivor.url, 'GET', `/v1/holds/${final.hold_id}`, undefined, { token: world.service });
    expect(hold.body).toMatchObject({ status: 'CAPTURED', amount: 950, captured_amount: 900 });
    expect(await world.wallet(buyer)).toEqual({ currency: 'EUR', balance: 9100, held: 0, available: 9100 });
    const captures = (await world.history(buyer)).filter((entry) => entry.type === 'seller_purchase');
    expect(captures).toHaveLength(1);
    const report = await request(survivor.url, 'POST', '/v1/admin/reconcile', undefined, { token: world.admin });
    expect(report.body).toEqual({ ok: true, mismatches: [] });
  });
});
