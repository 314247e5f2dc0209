import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookListener, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { allEvents, createEndpoint, debitThrough, key, startEventWorld, waitFor, type EventWorld } from '../support/events.js';

// An endpoint that keeps failing is probed one delivery at a time, on the endpoint's own backoff:
// the probed deliveries stay due, each first of its account. Were each to back off on its own, a
// dead endpoint would in time leave the first pending delivery of every account waiting out an
// ever longer backoff, and its backlog would drain only as they ran out after it came back; and
// each pod would probe at every poll (10 a second here) with the next account's delivery.

const PROBE_AFTER_FAILURES = 3;
const RETRY_BASE_MS = 400;
const RETRY_MAX_MS = 1000;
const WINDOW_MS = 3000;
const PODS = 3;

let world: EventWorld;
let receiver: WebhookListener;
let failing = true;

beforeAll(async () => {
  world = await startEventWorld({
    WEBHOOK_PROBE_AFTER_FAILURES: String(PROBE_AFTER_FAILURES),
    WEBHOOK_RETRY_BASE_MS: String(RETRY_BASE_MS),
    WEBHOOK_RETRY_MAX_MS: String(RETRY_MAX_MS),
  });
  receiver = await startWebhookListener({ secrets: [], answer: () => (failing ? 500 : 200) });
});
afterAll(async () => {
  await receiver?.close();
  await world?.stop();
});

/** `count` debits over `accounts` (round robin) and the three pods, all at once: their transaction ids. */
async function debits(accounts: readonly string[], count: number): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => debitThrough(world, i, accounts[i % accounts.length]!, 'probe pacing')));
}

describe('an endpoint that keeps failing', () => {
  it('is probed at the pace of its own backoff, its deliveries stay due, and everything arrives once it answers', async () => {
    const endpoint = await createEndpoint(world, receiver.url, ['transaction.posted']);
    receiver.secrets.push(endpoint.secret);
    const accounts = await Promise.all(Array.from({ length: 20 }, () => world.player(10_000)));
    const posted = await debits(
      accounts.map((account) => account.id),
      60,
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
    // Of the accounts' first deliveries, only the one each pod probed last waits, for that pod's
    // pause (the deliveries behind a first one wait for it, however they are due).
    const { rows } = await world.db.query<{ waiting: string; longest_ms: string | null }>(
      `SELECT count(*) AS waiting, max(EXTRACT(EPOCH FROM next_attempt_at - now()) * 1000) AS longest_ms FROM webhook_deliveries d
       WHERE endpoint_id = $1 AND state = 'pending' AND next_attempt_at > now()
         AND account_seq = (SELECT min(p.account_seq) FROM webhook_deliveries p
           WHERE p.endpoint_id = d.endpoint_id AND p.account_id = d.account_id AND p.state = 'pending')`,
      [endpoint.id],
    );
    expect(Number(rows[0]!.waiting)).toBeLessThanOrEqual(PODS);
    expect(Number(rows[0]!.longest_ms ?? 0)).toBeLessThanOrEqual(RETRY_MAX_MS);

    failing = false;
    const acknowledged = () =>
      new Set(receiver.deliveries.filter((delivery) => delivery.status === 200).map((delivery) => delivery.event_id));
    const events = (await allEvents(world.urls, world.reader, { type: 'transaction.posted' })).map((event) => event.id as string);
    expect(events.length).toBeGreaterThanOrEqual(posted.length);
    await waitFor('every event acknowledged', 20_000, () => (events.every((id) => acknowledged().has(id)) ? true : undefined));
    expect(receiver.deliveries.every((delivery) => delivery.verified)).toBe(true);
  });

  it('refusing some accounts events for good, it is probed with other accounts deliveries and gets every other event', async () => {
    // Accounts whose ids come before the others' in the pending index: a probe that kept going to
    // the first due delivery would only ever ask for theirs.
    const players = await Promise.all(
      Array.from({ length: 8 }, (_, i) => world.player(10_000, 'EUR', `0refused-${i}-${key().slice(0, 8)}`)),
    );
    const refused = new Set(players.map((player) => player.id));
    const picky = await startWebhookListener({
      secrets: [],
      answer: (delivery) => (refused.has(delivery.event?.account_id ?? '') ? 500 : 200),
    });
    try {
      const endpoint = await createEndpoint(world, picky.url, ['transaction.posted']);
      picky.secrets.push(endpoint.secret);
      // The refused accounts' events first: every pod fails often enough in a row to probe.
      await debits([...refused], 24);
      await sleep(500);
      const accepted = (await Promise.all(Array.from({ length: 12 }, () => world.player(10_000)))).map((player) => player.id);
      const posted = new Set(await debits(accepted, 36));
      // Listed once settled (EVENTS_SETTLE_WINDOW_MS).
      const wanted = await waitFor('the accepted accounts events listed', 10_000, async () => {
        const listed = (await allEvents(world.urls, world.reader, { type: 'transaction.posted' }))
          .filter((event) => accepted.includes(event.account_id) && posted.has(event.data.id))
          .map((event) => event.id as string);
        return listed.length === posted.size ? listed : undefined;
      });
      const acknowledged = () =>
        new Set(picky.deliveries.filter((delivery) => delivery.status === 200).map((delivery) => delivery.event_id));
      await waitFor('every accepted account event acknowledged', 20_000, () =>
        wanted.every((id) => acknowledged().has(id)) ? true : undefined,
      );
      // The refused ones are still being retried, never given up within the window.
      const refusals = picky.deliveries.filter((delivery) => refused.has(delivery.event?.account_id ?? ''));
      expect(refusals.length).toBeGreaterThan(0);
      expect(refusals.every((delivery) => delivery.status === 500)).toBe(true);
    } finally {
      await picky.close();
    }
  });
});
