import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookListener, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { request } from '../support/cluster.js';
import { createEndpoint, debitThrough, startEventWorld, waitFor, type EventWorld } from '../support/events.js';

// A dead endpoint (it accepts connections and never answers) beside a healthy one: the money path
// does not slow down, the healthy endpoint gets everything, and after WEBHOOK_DISABLE_AFTER_SECONDS
// (3 s here) of nothing but failures the dead one is disabled, the healthy one is told, and no
// more deliveries are attempted to it.

let world: EventWorld;
let healthy: WebhookListener;
let blackhole: Server;
const sockets: Socket[] = [];
let connections = 0;

beforeAll(async () => {
  world = await startEventWorld({ WEBHOOK_DISABLE_AFTER_SECONDS: '3', WEBHOOK_TIMEOUT_MS: '1000', WEBHOOK_LEASE_MS: '3000' });
  healthy = await startWebhookListener({ secrets: [] });
  healthy.secrets.push((await createEndpoint(world, healthy.url)).secret);
  blackhole = createServer((socket) => {
    connections += 1;
    sockets.push(socket);
    socket.on('error', () => undefined);
  });
  blackhole.listen(0, '127.0.0.1');
  await once(blackhole, 'listening');
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  blackhole?.close();
  await healthy?.close();
  await world?.stop();
});

/** `count` debits, `concurrency` at a time, over the three pods: the duration and every latency. */
async function debits(accounts: readonly string[], count: number, concurrency: number) {
  const latencies_ms: number[] = [];
  const started_ms = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const sent_ms = performance.now();
        await debitThrough(world, i, accounts[i % accounts.length]!, 'load');
        latencies_ms.push(performance.now() - sent_ms);
      }
    }),
  );
  latencies_ms.sort((a, b) => a - b);
  return { duration_ms: performance.now() - started_ms, p90_ms: latencies_ms[Math.floor(latencies_ms.length * 0.9)]! };
}

describe('a dead endpoint', () => {
  it('slows nothing down, is disabled after the configured time, and gets nothing more', async () => {
    const accounts = (await Promise.all(Array.from({ length: 30 }, () => world.player(100_000)))).map((player) => player.id);
    await debits(accounts, 60, 15);
    const before = await debits(accounts, 300, 15);

    const dead_url = `http://127.0.0.1:${(blackhole.address() as { port: number }).port}/hooks`;
    const dead = await createEndpoint(world, dead_url);
    const during = await debits(accounts, 300, 15);
    expect(connections).toBeGreaterThan(0);
    // A money path that waited on the endpoint would take its 1 s timeout per request at least: 300
    // debits 15 at a time, 20 s and more, and every debit over 1 s. Bounded by that, not by the same
    // load measured just before: the other test files' load changes from one moment to the next, so
    // two windows compare badly. On an idle machine this takes some 0.8 s with a p90 of 55 ms, so
    // either bound leaves a busy one over ten times that, and a money path waiting on the endpoint
    // fails both whatever the load. The tail is not bounded (a p99 of 1.4 s after one under 0.7 s was
    // seen with nothing waiting on the endpoint); the bulk of the debits is.
    expect(during.duration_ms, JSON.stringify({ before, during })).toBeLessThan(12_000);
    expect(during.p90_ms, JSON.stringify({ before, during })).toBeLessThan(1000);

    const disabled = await waitFor('the dead endpoint disabled', 20_000, async () => {
      const shown = await request(world.urls[0]!, 'GET', `/v1/webhook-endpoints/${dead.id}`, undefined, { token: world.admin });
      return shown.body.status === 'disabled' ? shown.body : undefined;
    });
    expect(disabled).toMatchObject({
      failing_since: expect.any(String),
      disabled_reason: expect.stringContaining('no delivery succeeded'),
    });
    const told = await waitFor('webhook_endpoint.disabled delivered', 10_000, () =>
      healthy.deliveries.find((delivery) => delivery.event_type === 'webhook_endpoint.disabled'),
    );
    expect(told.event).toMatchObject({ account_id: null, data: { id: dead.id, status: 'disabled' } });
    // Its data is the endpoint as admins read it (its URL): not for events:read, which cannot read endpoints.
    const of = (token: string, path: string) => request(world.urls[2]!, 'GET', path, undefined, { token });
    expect((await of(world.admin, `/v1/events/${told.event!.id}`)).status).toBe(200);
    expect((await of(world.reader, `/v1/events/${told.event!.id}`)).status).toBe(404);
    const listed = await of(world.reader, '/v1/events?type=webhook_endpoint.disabled');
    expect([listed.status, listed.body.data]).toEqual([200, []]);

    // Attempts in flight when it was disabled end within the timeout; then nothing more reaches it.
    await sleep(1500);
    const attempts_so_far = connections;
    await debits(accounts, 60, 15);
    await sleep(1500);
    expect(connections).toBe(attempts_so_far);

    // Its deliveries wait (not delivered, not given up); the healthy endpoint has every event.
    const pending = await request(world.urls[0]!, 'GET', `/v1/webhook-endpoints/${dead.id}/deliveries?status=delivered`, undefined, {
      token: world.admin,
    });
    expect(pending.body.data).toEqual([]);
    const events = await request(world.urls[1]!, 'GET', `/v1/events?account_id=${accounts[0]}&limit=200`, undefined, {
      token: world.reader,
    });
    const acknowledged = () =>
      new Set(healthy.deliveries.filter((delivery) => delivery.status === 200).map((delivery) => delivery.event_id));
    await waitFor('the healthy endpoint caught up', 10_000, () =>
      events.body.data.every((event: { id: string }) => acknowledged().has(event.id)) ? true : undefined,
    );
  });

  it('when its URL is fixed near the end of its failing streak, then it is not disabled and the new URL gets what waited', async () => {
    const account = (await world.player(100_000)).id;
    // Refused connections (nothing listens at port 9): the streak starts at the first failure.
    const endpoint = await createEndpoint(world, 'http://127.0.0.1:9/hook', ['transaction.posted']);
    healthy.secrets.push(endpoint.secret);
    const posted = await debitThrough(world, 0, account, 'while it fails');
    const health = async () =>
      (await request(world.urls[0]!, 'GET', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: world.admin })).body;
    await waitFor('the first failure', 5000, async () => ((await health()).failing_since ? true : undefined));
    // Most of WEBHOOK_DISABLE_AFTER_SECONDS (3) gone, and its delivery pausing (as a probe's would) past the rest of it.
    await world.db.query("UPDATE webhook_endpoint_health SET failing_since = now() - interval '2500 milliseconds' WHERE endpoint_id = $1", [
      endpoint.id,
    ]);
    await world.db.query(
      "UPDATE webhook_deliveries SET next_attempt_at = now() + interval '2 seconds' WHERE endpoint_id = $1 AND state = 'pending'",
      [endpoint.id],
    );
    const fixed = await request(
      world.urls[1]!,
      'PATCH',
      `/v1/webhook-endpoints/${endpoint.id}`,
      { url: healthy.url },
      { token: world.admin },
    );
    expect(fixed.status, JSON.stringify(fixed.body)).toBe(200);
    // The old streak ran out meanwhile: the endpoint was once disabled before the new URL was tried.
    await sleep(1500);
    expect(await health()).toMatchObject({ status: 'enabled', failing_since: null });
    await waitFor('the waiting event at the new URL', 10_000, () =>
      healthy.deliveries.some((delivery) => delivery.status === 200 && (delivery.event?.data as { id?: string })?.id === posted)
        ? true
        : undefined,
    );
  });
});
