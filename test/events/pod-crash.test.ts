import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startWebhookListener, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { request, testConfig, tokens, uniqueId, type ApiResponse } from '../support/cluster.js';
import { createEndpoint, FAST_WEBHOOKS, waitFor } from '../support/events.js';
import { exited, forkPod, stopPodProcess, type PodProcess } from '../support/pod-process.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database.js';

// Three real pod processes deliver to a slow receiver (300 ms per delivery, so many are in flight
// at any moment). The pod holding the most deliveries is SIGKILLed mid-stream: the others take
// over its deliveries once their leases (3 s) run out, and the receiver, counting event ids, ends
// up with every event there is.

const LEASE_MS = 3000;
const SLOT_LEASE_MS = 2000;
let database: ScratchDatabase;
let env: Record<string, string>;
let db: pg.Client;
const pods: PodProcess[] = [];
let receiver: WebhookListener;

beforeAll(async () => {
  database = await createScratchDatabase(inject('database_url'), 'events_crash');
  env = {
    ...FAST_WEBHOOKS,
    DATABASE_URL: database.url,
    LOG_LEVEL: 'error',
    DB_POOL_MAX: '6',
    WEBHOOK_LEASE_MS: String(LEASE_MS),
    WEBHOOK_TIMEOUT_MS: '1000',
    POD_SLOT_LEASE_MS: String(SLOT_LEASE_MS),
  };
  pods.push(...(await Promise.all(['eu-west', 'us-east', 'ap-south'].map((region) => forkPod(region, env)))));
  const slowly = async () => {
    await sleep(300);
    return 200;
  };
  receiver = await startWebhookListener({ secrets: [], answer: slowly });
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
}, 120_000);

afterAll(async () => {
  await db?.end();
  await receiver?.close();
  await Promise.all(pods.filter((pod) => pod.child.exitCode === null && pod.child.signalCode === null).map(stopPodProcess));
  await database?.drop();
});

describe('a pod killed while delivering', () => {
  it('the other pods deliver everything it held: the receiver sees every event id', async () => {
    const mint = tokens(testConfig());
    const admin = await mint.service('admin', 'ops');
    const service = await mint.service('accounts:write credits:write', 'game-server');
    const alive = () => pods.filter((pod) => pod.child.exitCode === null && pod.child.signalCode === null);
    const endpoint = await createEndpoint({ urls: [pods[0]!.url], admin }, receiver.url);
    receiver.secrets.push(endpoint.secret);

    /** A write made exactly once whatever happens to the pod it went to: repeated under its key on a live pod. */
    const write = async (path: string, body: unknown, i: number) => {
      const key = uniqueId('k');
      for (let attempt = 0; attempt < 20; attempt += 1) {
        const live = alive();
        const answer: ApiResponse | undefined = await request(live[(i + attempt) % live.length]!.url, 'POST', path, body, {
          token: service,
          key,
        }).catch(() => undefined);
        if (answer && answer.status < 500) return answer;
        await sleep(100);
      }
      throw new Error(`${path} got no answer`);
    };
    const accounts = Array.from({ length: 12 }, () => uniqueId('p'));
    for (const [i, id] of accounts.entries()) {
      expect((await write('/v1/accounts', { id, currency: 'EUR' }, i)).status).toBe(201);
      expect((await write(`/v1/accounts/${id}/credits`, { amount: 100_000, currency: 'EUR', reason: 'seed' }, i)).status).toBe(201);
    }
    let writing = true;
    // Paced: the receiver takes 300 ms a delivery and each account's go one at a time, so 12 accounts
    // drain at most 40 events a second. Unpaced, a fast machine wrote thousands of debits before the
    // kill, and their deliveries alone outlasted the wait below.
    const writers = Array.from({ length: 12 }, async (_, worker) => {
      for (let i = 0; writing; i += 1) {
        const answer = await write(
          `/v1/accounts/${accounts[(worker + i) % accounts.length]}/debits`,
          { amount: 3, currency: 'EUR', reason: 'x' },
          worker + i,
        );
        expect(answer.status).toBe(201);
        await sleep(150);
      }
    });

    // Kill the pod holding the most deliveries, in the middle of the stream.
    await waitFor('deliveries under way', 20_000, () => (receiver.deliveries.length >= 30 ? true : undefined));
    const { rows } = await db.query<{ lease_owner: string; ids: string[] }>(
      `SELECT lease_owner, array_agg(id::text) AS ids FROM webhook_deliveries
       WHERE state = 'pending' AND lease_owner IS NOT NULL AND lease_expires_at > now()
       GROUP BY lease_owner ORDER BY count(*) DESC LIMIT 1`,
    );
    expect(rows).toHaveLength(1);
    const held = rows[0]!.ids;
    const victim = pods.find((pod) => pod.child.pid === Number(rows[0]!.lease_owner.split(':')[1]))!;
    victim.child.kill('SIGKILL');
    await exited(victim);
    await sleep(1500);
    writing = false;
    await Promise.all(writers);

    // Every event of the database reaches the receiver, the ones the dead pod held included.
    const events = (await db.query<{ id: string }>('SELECT id FROM events')).rows.map((row) => row.id);
    const acknowledged = () =>
      new Set(receiver.deliveries.filter((delivery) => delivery.status === 200).map((delivery) => delivery.event_id));
    await waitFor('every event acknowledged', 30_000, () => (events.every((id) => acknowledged().has(id)) ? true : undefined));
    expect(receiver.deliveries.every((delivery) => delivery.verified)).toBe(true);
    const states = await db.query<{ state: string; count: string }>(
      'SELECT state, count(*) AS count FROM webhook_deliveries WHERE id = ANY($1::uuid[]) GROUP BY state',
      [held],
    );
    expect(states.rows).toEqual([{ state: 'delivered', count: String(held.length) }]);
    expect(held.length).toBeGreaterThan(0);
  });

  it("the killed pod's slot lease is not renewed and runs out; a new pod of its region leases that slot", async () => {
    const victim = pods.find((pod) => pod.child.signalCode === 'SIGKILL')!;
    // This file's database is its own: the only leases in it are its pods'.
    const leaseOf = async (pod: PodProcess) =>
      (
        await db.query<{ slot: number; live: boolean }>(
          'SELECT slot, expires_at > now() AS live FROM pod_slots WHERE region = $1 AND holder_name LIKE $2',
          [pod.region, `%:${pod.child.pid}`],
        )
      ).rows[0];
    const dead = await leaseOf(victim);
    expect(dead).toBeDefined();
    await waitFor("the dead pod's slot lease run out", 3 * SLOT_LEASE_MS, async () =>
      (await leaseOf(victim))?.live === false ? true : undefined,
    );
    const successor = await forkPod(victim.region, env);
    pods.push(successor);
    const leased = await waitFor("the new pod's slot lease", 3 * SLOT_LEASE_MS, async () => {
      const lease = await leaseOf(successor);
      return lease?.live ? lease : undefined;
    });
    expect(leased.slot).toBe(dead!.slot);
  });
});
