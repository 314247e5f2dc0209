import { hostname } from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../../src/db/connections.js';
import { POD_SLOTS_MAX } from '../../src/platform/pod-slot.js';
import { request, startCluster, type TestCluster } from '../support/cluster.js';
import { createScratchDatabase } from '../support/scratch-database.js';
import { key, shopHarness, type ShopHarness } from '../support/shop.js';

// Replicas of one deployment share their settings: no POD_INDEX tells them apart. Each pod leases
// a slot of its region (src/platform/pod-slot.ts), so no two write the same system-balance shard.
const REGION = 'eu-west';

let db: pg.Client;
const clusters: TestCluster[] = [];

beforeAll(async () => {
  db = new pg.Client({ connectionString: inject('database_url') });
  await db.connect();
});

afterAll(async () => {
  await Promise.all(clusters.map((cluster) => cluster.stop()));
  await db.end();
});

async function cluster(env: Record<string, string> = {}): Promise<{ cluster: TestCluster; h: ShopHarness; slot: () => number }> {
  const started = await startCluster({ env });
  clusters.push(started);
  const pod = started.pod(REGION);
  return { cluster: started, h: await shopHarness([pod.url], started.config), slot: () => pod.deps.slot.index };
}

async function liveSlots(): Promise<number[]> {
  const { rows } = await db.query<{ slot: number }>('SELECT slot FROM pod_slots WHERE region = $1 AND expires_at > now()', [REGION]);
  return rows.map((row) => row.slot);
}

async function ownLeases(): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    'SELECT count(*) AS n FROM pod_slots WHERE region = $1 AND holder_name = $2 AND expires_at > now()',
    [REGION, `${hostname()}:${process.pid}`],
  );
  return Number(rows[0]!.n);
}

/** What a pod's /metrics says of its slot. */
async function slotMetrics(url: string): Promise<{ slot: number; held: number }> {
  const text = (await request(url, 'GET', '/metrics')).body as string;
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
  return { slot: value('pod_slot'), held: value('pod_slot_held') };
}

describe('pod slots', () => {
  it('when two deployments of a region order under load at once, then each pod has its own slot and no order is 503', async () => {
    const a = await cluster();
    const b = await cluster();
    expect(a.slot()).not.toBe(b.slot());
    expect(await liveSlots()).toEqual(expect.arrayContaining([a.slot(), b.slot()]));
    expect(await slotMetrics(a.h.urls[0]!)).toEqual({ slot: a.slot(), held: 1 });
    // With one slot for both (POD_INDEX=0 on each, as before slots were leased), about 8 in 100 of
    // b's orders exhausted their retries against a's stream of batches on the shared shard row.
    const item_a = await a.h.putItem({ kind: 'skin', price: 10 });
    const item_b = await b.h.putItem({ kind: 'skin', price: 10 });
    const buy = (h: ShopHarness, buyer: { id: string; token: string }, item: string) =>
      request(
        h.urls[0]!,
        'POST',
        '/v1/orders',
        { account_id: buyer.id, lines: [{ item_id: item, quantity: 1 }] },
        { token: buyer.token, key: key() },
      );
    const players = await Promise.all(Array.from({ length: 24 }, () => a.h.player(100_000)));
    let loading = true;
    const load = Promise.all(
      players.map(async (buyer) => {
        while (loading) expect((await buy(a.h, buyer, item_a)).status).toBe(201);
      }),
    );
    const buyer = await b.h.player(100_000);
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 60; i += 1) statuses.push((await buy(b.h, buyer, item_b)).status);
    } finally {
      loading = false;
      await load;
    }
    expect(statuses.filter((status) => status !== 201)).toEqual([]);
  });

  it('when a pod loses its lease to another holder, then it leases another slot; stopping frees it', async () => {
    const c = await cluster({ POD_SLOT_LEASE_MS: '1000' });
    const before = c.slot();
    const taken = await db.query(
      "UPDATE pod_slots SET holder = gen_random_uuid(), expires_at = now() + interval '1 hour' WHERE region = $1 AND slot = $2",
      [REGION, before],
    );
    expect(taken.rowCount).toBe(1);
    await expect.poll(c.slot, { timeout: 5000, interval: 50 }).not.toBe(before);
    expect(await liveSlots()).toContain(c.slot());
    await db.query('DELETE FROM pod_slots WHERE region = $1 AND slot = $2', [REGION, before]);
    // Other test files lease slots meanwhile: count only the leases of this process's pods.
    const held = await ownLeases();
    clusters.splice(clusters.indexOf(c.cluster), 1);
    await c.cluster.stop();
    expect(await ownLeases()).toBe(held - 1);
  });

  it('when every slot of its region is taken, then the pod shares one and leases the first to come free within a second', async () => {
    // A database of its own: filling a region's slots must not touch other test files' pods.
    const scratch = await createScratchDatabase(inject('database_url'), 'slots');
    try {
      await withClient({ connectionString: scratch.url }, (client) =>
        client.query(
          `INSERT INTO pod_slots (region, slot, holder, holder_name, expires_at, crdb_region)
           SELECT $1, g, gen_random_uuid(), 'another deployment', now() + interval '1 hour', $1 FROM generate_series(0, $2::int - 1) AS g`,
          [REGION, POD_SLOTS_MAX],
        ),
      );
      // The default lease (30 s) would renew, and so ask again, every 10 s.
      const full = await cluster({ DATABASE_URL: scratch.url });
      expect(full.cluster.pod(REGION).deps.slot.held).toBe(false);
      expect((await slotMetrics(full.h.urls[0]!)).held).toBe(0);
      await withClient({ connectionString: scratch.url }, (client) =>
        client.query('DELETE FROM pod_slots WHERE region = $1 AND slot = 17', [REGION]),
      );
      await expect.poll(() => full.cluster.pod(REGION).deps.slot.held, { timeout: 3000, interval: 50 }).toBe(true);
      expect(full.slot()).toBe(17);
      clusters.splice(clusters.indexOf(full.cluster), 1);
      await full.cluster.stop();
    } finally {
      await scratch.drop();
    }
  });

  it('when POD_INDEX is set, then the pod writes under it and leases nothing', async () => {
    const fixed = await cluster({ POD_INDEX: '63' });
    expect(fixed.slot()).toBe(63);
    expect(await slotMetrics(fixed.h.urls[0]!)).toEqual({ slot: 63, held: 1 });
    expect(await liveSlots()).not.toContain(63);
  });
});
