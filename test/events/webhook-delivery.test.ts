import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../src/webhooks/signature.js';
import { startWebhookListener, type ReceivedDelivery, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { request } from '../support/cluster.js';
import { allEvents, createEndpoint, key, startEventWorld, waitFor, type EventWorld } from '../support/events.js';

// Real receivers over HTTP (tools/webhook-listener), three real pods delivering.

let world: EventWorld;
const listeners: WebhookListener[] = [];

beforeAll(async () => {
  world = await startEventWorld();
});
afterAll(async () => {
  await world?.stop();
  await Promise.all(listeners.map((listener) => listener.close()));
});

async function listener(answer?: (delivery: ReceivedDelivery) => number): Promise<WebhookListener> {
  const started = await startWebhookListener({ secrets: [], answer });
  listeners.push(started);
  return started;
}

/** Credits and debits on `count` new accounts, spread over the pods: their events. */
async function traffic(count: number, moves: number): Promise<string[]> {
  const accounts = await Promise.all(Array.from({ length: count }, () => world.player(10_000)));
  await Promise.all(
    Array.from({ length: moves }, async (_, i) => {
      const account = accounts[i % count]!;
      const path = `/v1/accounts/${account.id}/${i % 2 === 0 ? 'debits' : 'credits'}`;
      const response = await request(
        world.pod(i),
        'POST',
        path,
        { amount: 10 + i, currency: 'EUR', reason: 'traffic' },
        {
          token: world.service,
          key: key(),
        },
      );
      expect(response.status, JSON.stringify(response.body)).toBe(201);
    }),
  );
  return accounts.map((account) => account.id);
}

async function eventIdsOf(accounts: readonly string[]): Promise<Set<string>> {
  const lists = await Promise.all(accounts.map((account_id) => allEvents(world.urls, world.reader, { account_id })));
  return new Set(lists.flat().map((event) => event.id));
}

/** Per event id, the deliveries that reached the receiver and were answered 2xx. */
function acknowledged(deliveries: readonly ReceivedDelivery[]): Map<string, ReceivedDelivery> {
  const first = new Map<string, ReceivedDelivery>();
  for (const delivery of deliveries) if (delivery.status === 200 && !first.has(delivery.event_id!)) first.set(delivery.event_id!, delivery);
  return first;
}

describe('webhook deliveries', () => {
  it('a receiver answering 500 for a while, then 200: every event arrives signed, with increasing attempts; none lost', async () => {
    // 500 for the first 1.5 s after the first delivery arrives, 200 after.
    let failing_until_ms: number | undefined;
    const receiver = await listener(() => {
      failing_until_ms ??= Date.now() + 1500;
      return Date.now() < failing_until_ms ? 500 : 200;
    });
    const endpoint = await createEndpoint(world, receiver.url);
    receiver.secrets.push(endpoint.secret);
    const accounts = await traffic(6, 60);
    const expected = await eventIdsOf(accounts);
    await waitFor('every event acknowledged', 30_000, () =>
      [...expected].every((id) => acknowledged(receiver.deliveries).has(id)) ? true : undefined,
    );
    expect(receiver.deliveries.every((delivery) => delivery.verified)).toBe(true);
    expect(receiver.deliveries.filter((delivery) => delivery.status === 500).length).toBeGreaterThan(0);
    // Per event, the attempts a receiver sees go up: 1, 2, 3, ... (a duplicate after a lost answer may repeat one).
    const attempts = new Map<string, number[]>();
    for (const delivery of receiver.deliveries)
      attempts.set(delivery.event_id!, [...(attempts.get(delivery.event_id!) ?? []), delivery.attempt!]);
    for (const seen of attempts.values()) expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(Math.max(...[...attempts.values()].map((seen) => seen.at(-1)!))).toBeGreaterThan(1);
    // The body is the event as GET /v1/events/{id} shows it, byte for byte the same on every attempt.
    const sample = receiver.deliveries.find((delivery) => delivery.status === 200)!;
    const shown = await request(world.urls[0]!, 'GET', `/v1/events/${sample.event_id}`, undefined, { token: world.reader });
    expect(sample.event).toEqual(shown.body);
    expect(sample.event_type).toBe(shown.body.type);
    for (const delivery of receiver.deliveries.filter((other) => other.event_id === sample.event_id)) {
      expect(delivery.raw_body).toBe(sample.raw_body);
    }

    // The endpoint's deliveries show the attempts: 500s, then a 200.
    const retried = [...attempts.entries()].find(([, seen]) => seen.length > 1)![0];
    const listed = await request(world.urls[1]!, 'GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries?event_id=${retried}`, undefined, {
      token: world.admin,
    });
    expect(listed.status).toBe(200);
    const [delivery] = listed.body.data;
    expect(delivery).toMatchObject({ event_id: retried, status: 'delivered', attempts: expect.any(Number) });
    expect(delivery.attempt_log.at(-1)).toMatchObject({ status_code: 200, error: null, latency_ms: expect.any(Number) });
    expect(delivery.attempt_log[0]).toMatchObject({ attempt: 1, status_code: 500, error: 'status 500' });

    // An operator's redelivery arrives once more, as a new delivery of the same event.
    const redelivered = await request(
      world.urls[2]!,
      'POST',
      `/v1/events/${retried}/redeliver`,
      { endpoint_id: endpoint.id },
      {
        token: world.admin,
        key: key(),
      },
    );
    expect(redelivered.status).toBe(202);
    const again = await waitFor('the redelivery', 10_000, () =>
      receiver.deliveries.find((received) => received.delivery_id === redelivered.body.id && received.status === 200),
    );
    expect(again).toMatchObject({ event_id: retried, attempt: 1, verified: true });

    // Lag, attempts by outcome and queue depth, per endpoint.
    const metrics = (await Promise.all(world.urls.map((url) => request(url, 'GET', '/metrics'))))
      .map((response) => response.body)
      .join('\n');
    const endpoint_label = `endpoint_id="${endpoint.id}"`;
    const lines = metrics.split('\n').filter((line) => line.includes(endpoint_label));
    expect(lines.some((line) => line.startsWith('webhook_delivery_lag_seconds_bucket{le="1",'))).toBe(true);
    expect(lines.some((line) => /^webhook_deliveries_total\{.*outcome="retry".*\} [1-9]/.test(line))).toBe(true);
    expect(lines.some((line) => /^webhook_deliveries_total\{.*outcome="delivered".*\} [1-9]/.test(line))).toBe(true);
    expect(lines.some((line) => line.startsWith('webhook_queue_depth{'))).toBe(true);
    await request(world.urls[0]!, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: world.admin });
  });

  it("an operator's redelivery of an event older than the retry window is retried like any other", async () => {
    // The first attempt of every delivery fails.
    const tried = new Set<string>();
    const receiver = await listener((delivery) => {
      if (tried.has(delivery.delivery_id!)) return 200;
      tried.add(delivery.delivery_id!);
      return 500;
    });
    const [account_id] = await traffic(1, 1);
    const [event] = await allEvents(world.urls, world.reader, { account_id: account_id!, type: 'transaction.posted' });
    // Four days old: beyond WEBHOOK_RETRY_WINDOW_HOURS (72) from the event, which once ended the
    // redelivery at its first failure.
    await world.db.query("UPDATE events SET created_at = created_at - INTERVAL '96 hours' WHERE id = $1", [event.id]);
    const endpoint = await createEndpoint(world, receiver.url, ['transaction.posted']);
    receiver.secrets.push(endpoint.secret);
    const redelivered = await request(
      world.urls[0]!,
      'POST',
      `/v1/events/${event.id}/redeliver`,
      { endpoint_id: endpoint.id },
      { token: world.admin, key: key() },
    );
    expect(redelivered.status).toBe(202);
    const delivered = await waitFor('the redelivery retried', 10_000, () =>
      receiver.deliveries.find((received) => received.delivery_id === redelivered.body.id && received.status === 200),
    );
    expect(delivered).toMatchObject({ event_id: event.id, attempt: 2, verified: true });
    await request(world.urls[0]!, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: world.admin });
  });

  it('a slow endpoint holds only its own connections: another endpoint at the same origin does not wait for them', async () => {
    // One server, two paths: /slow keeps every request until released, /fast answers at once.
    const held: Array<() => void> = [];
    const at_fast = new Set<string>();
    const server = createServer((incoming, response) => {
      incoming.resume();
      const answer = () => response.writeHead(200).end();
      if (incoming.url === '/slow') held.push(answer);
      else {
        at_fast.add(String(incoming.headers['creditshop-event-id']));
        answer();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const endpoints: string[] = [];
    try {
      for (const path of ['/slow', '/fast']) endpoints.push((await createEndpoint(world, `${origin}${path}`, ['transaction.posted'])).id);
      // Each account's deliveries go one at a time: 40 accounts to have more than 32 held at once.
      const accounts = await traffic(40, 80);
      const expected = (
        await Promise.all(accounts.map((account_id) => allEvents(world.urls, world.reader, { account_id, type: 'transaction.posted' })))
      )
        .flat()
        .map((event) => event.id as string);
      // More requests wait at /slow than WEBHOOK_CONCURRENCY_PER_ENDPOINT (32) sockets: when the
      // pods' connections were pooled per origin, /fast queued behind them until they timed out.
      await waitFor('the slow endpoint holding a full set of connections', 10_000, () => (held.length >= 32 ? true : undefined));
      await waitFor('every event at the fast endpoint while the slow one holds its connections', 5_000, () =>
        expected.every((id) => at_fast.has(id)) ? true : undefined,
      );
    } finally {
      for (const id of endpoints) await request(world.urls[0]!, 'DELETE', `/v1/webhook-endpoints/${id}`, undefined, { token: world.admin });
      for (const answer of held.splice(0)) answer();
      server.closeAllConnections();
      server.close();
    }
  });

  it('a 2xx with a body beyond WEBHOOK_RESPONSE_BYTES_MAX acknowledges the delivery: the status is the answer', async () => {
    // 200 KB, announced (Content-Length) on one path and streamed (chunked) on the other: once
    // judged too large, retried for days, and holding back every later event of the account.
    const attempts = new Map<string, number>();
    const big = Buffer.alloc(200 * 1024, 'x');
    const server = createServer((incoming, response) => {
      incoming.resume();
      const id = String(incoming.headers['creditshop-event-id']);
      attempts.set(`${incoming.url} ${id}`, (attempts.get(`${incoming.url} ${id}`) ?? 0) + 1);
      if (incoming.url === '/announced') response.writeHead(200, { 'content-length': String(big.length) }).end(big);
      else {
        response.writeHead(200);
        for (let part = 0; part < 10; part += 1) response.write(big.subarray(0, 20 * 1024));
        response.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const endpoints: string[] = [];
    try {
      for (const path of ['/announced', '/streamed'])
        endpoints.push((await createEndpoint(world, `${origin}${path}`, ['transaction.posted'])).id);
      const accounts = await traffic(2, 6);
      const expected = (
        await Promise.all(accounts.map((account_id) => allEvents(world.urls, world.reader, { account_id, type: 'transaction.posted' })))
      )
        .flat()
        .map((event) => event.id as string);
      for (const id of endpoints) {
        const delivered = await waitFor(`every delivery of endpoint ${id} delivered`, 15_000, async () => {
          const page = await request(world.urls[1]!, 'GET', `/v1/webhook-endpoints/${id}/deliveries?limit=100`, undefined, {
            token: world.admin,
          });
          const done = page.body.data.filter((delivery: { status: string }) => delivery.status === 'delivered');
          return done.length >= expected.length ? done : undefined;
        });
        expect(delivered.every((delivery: { attempts: number }) => delivery.attempts === 1)).toBe(true);
      }
      expect([...attempts.values()].every((count) => count === 1)).toBe(true);
    } finally {
      for (const id of endpoints) await request(world.urls[0]!, 'DELETE', `/v1/webhook-endpoints/${id}`, undefined, { token: world.admin });
      server.closeAllConnections();
      server.close();
    }
  });

  it('per account and endpoint, deliveries keep commit order: a delivery waits for the earlier ones', async () => {
    // Every third delivery fails once: retries must hold back the account's later events.
    let count = 0;
    const receiver = await listener(() => (++count % 3 === 0 ? 503 : 200));
    const endpoint = await createEndpoint(world, receiver.url, ['transaction.posted']);
    receiver.secrets.push(endpoint.secret);
    const accounts = await traffic(3, 45);
    const expected = new Set(
      (await Promise.all(accounts.map((account_id) => allEvents(world.urls, world.reader, { account_id, type: 'transaction.posted' }))))
        .flat()
        .map((event) => event.id),
    );
    await waitFor('every event acknowledged', 30_000, () =>
      [...expected].every((id) => acknowledged(receiver.deliveries).has(id)) ? true : undefined,
    );
    // Acknowledged in account_sequence order per account, whatever order the pods committed in.
    for (const account_id of accounts) {
      const sequences = [...acknowledged(receiver.deliveries).values()]
        .filter((delivery) => delivery.event!.account_id === account_id)
        .sort((a, b) => a.received_at_ms - b.received_at_ms)
        .map((delivery) => delivery.event!.account_sequence!);
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
      expect(sequences.length).toBeGreaterThan(10);
    }
    await request(world.urls[0]!, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: world.admin });
  });

  it('a rotation signs with both secrets during the overlap, with the new one alone after it', async () => {
    const receiver = await listener();
    const endpoint = await createEndpoint(world, receiver.url, ['account.created']);
    receiver.secrets.push(endpoint.secret);
    const rotate = await request(
      world.urls[1]!,
      'POST',
      `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`,
      { overlap_seconds: 3 },
      {
        token: world.admin,
        key: key(),
      },
    );
    expect(rotate.status, JSON.stringify(rotate.body)).toBe(200);
    const rotated = rotate.body.secret as string;
    expect(rotated).not.toBe(endpoint.secret);
    expect(rotate.body.signing_secrets).toHaveLength(2);
    receiver.secrets.push(rotated);
    const verifiesWith = (delivery: ReceivedDelivery, secret: string) =>
      verifyWebhookSignature(delivery.signature!, delivery.raw_body, [secret], Math.floor(Date.now() / 1000), 300).ok;

    const during = await world.player(0);
    const in_overlap = await waitFor('the event of the overlap', 10_000, () =>
      receiver.deliveries.find((delivery) => delivery.event?.account_id === during.id),
    );
    expect(in_overlap.signatures).toBe(2);
    expect(verifiesWith(in_overlap, endpoint.secret)).toBe(true);
    expect(verifiesWith(in_overlap, rotated)).toBe(true);

    await sleep(3200);
    const after = await world.player(0);
    const past_overlap = await waitFor('the event after the overlap', 10_000, () =>
      receiver.deliveries.find((delivery) => delivery.event?.account_id === after.id),
    );
    expect(past_overlap.signatures).toBe(1);
    expect(verifiesWith(past_overlap, rotated)).toBe(true);
    expect(verifiesWith(past_overlap, endpoint.secret)).toBe(false);
    const shown = await request(world.urls[2]!, 'GET', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: world.admin });
    expect(JSON.stringify(shown.body)).not.toContain(rotated);
    await request(world.urls[0]!, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`, undefined, { token: world.admin });
  });
});
