import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookListener, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { request } from '../support/cluster.js';
import { allEvents, createEndpoint, key, startEventWorld, waitFor, type EventWorld } from '../support/events.js';

// An endpoint that keeps failing is probed one delivery at a time, on the endpoint's own backoff:
// the probed deliveries stay due, each first of its account. Were each to back off on its own, a
// dead endpoint would in time leave the first pending delivery of every account waiting, and every
// claim would read the whole backlog behind them to find nothing; and each pod would probe at
// every poll (10 a second here) with the next account's delivery.

const PROBE_AFTER_FAILURES = 3;
const RETRY_BASE_MS = 400;
const RETRY_MAX_MS = 1000;
const WINDOW_MS = 3000;
const PODS = 3;

let world: EventWorld;
let receiver: WebhookListener;
let db: pg.Client;
let failing = true;

beforeAll(async () => {
  world = await startEventWorld({
    WEBHOOK_PROBE_AFTER_FAILURES: String(PROBE_AFTER_FAILURES),
    WEBHOOK_RETRY_BASE_MS: String(RETRY_BASE_MS),
    WEBHOOK_RETRY_MAX_MS: String(RETRY_MAX_MS),
  });
  receiver = await startWebhookListener({ secrets: [], answer: () => (failing ? 500 : 200) });
  db = new pg.Client({ connectionString: world.database.url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await receiver?.close();
  await world?.stop();
});

describe('an endpoint that keeps failing', () => {
  it('is probed at the pace of its own backoff, its deliveries stay due, and everything arrives once it answers', async () => {
    const endpoint = await createEndpoint(world, receiver.url, ['transaction.posted']);
    receiver.secrets.push(endpoint.secret);
    const accounts = await Promise.all(Array.from({ length: 20 }, () => world.player(10_000)));
    const posted: string[] = [];
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const answer = await request(
          world.pod(i),
          'POST',
          `/v1/accounts/${accounts[i % accounts.length]!.id}/debits`,
          { amount: 1, currency: 'EUR', reason: 'probe pacing' },
          { token: world.service, key: key() },
        );
        expect(answer.status, JSON.stringify(answer.body)).toBe(201);
        posted.push(answer.body.transaction_id);
      }),
    );
    // Every pod has failed often enough to probe, and the backoffs of its attempts before that are over.
    await sleep(RETRY_MAX_MS + 1500);

    const attempts_before = receiver.deliveries.length;
    await sleep(WINDOW_MS);
    const probes = receiver.deliveries.length - attempts_before;
    // Per pod, pauses of at least half of 400, 800, 1000, 1000 ms (jitter takes off at most half):
    // at most 6 probes in 3 s each. Probing at every poll would be about 30 each.
    expect(probes).toBeGreaterThan(0);
    expect(probes).toBeLessThanOrEqual(PODS * 8);
    const { rows } = await db.query<{ waiting: string }>(
      `SELECT count(*) AS waiting FROM webhook_deliveries
       WHERE endpoint_id = $1 AND state = 'pending' AND next_attempt_at > now() + INTERVAL '100 milliseconds'`,
      [endpoint.id],
    );
    expect(Number(rows[0]!.waiting)).toBe(0);

    failing = false;
    const acknowledged = () =>
      new Set(receiver.deliveries.filter((delivery) => delivery.status === 200).map((delivery) => delivery.event_id));
    const events = (await allEvents(world.urls, world.reader, { type: 'transaction.posted' })).map((event) => event.id as string);
    expect(events.length).toBeGreaterThanOrEqual(posted.length);
    await waitFor('every event acknowledged', 20_000, () => (events.every((id) => acknowledged().has(id)) ? true : undefined));
    expect(receiver.deliveries.every((delivery) => delivery.verified)).toBe(true);
  });
});
