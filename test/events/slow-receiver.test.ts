import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookListener, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { request } from '../support/cluster.js';
import { createEndpoint, debitThrough, startEventWorld, waitFor, type EventWorld } from '../support/events.js';

// A receiver that takes 100 ms per delivery, with a backlog of long chains (each account's events
// go one after another). A pod once took whole chains, up to WEBHOOK_QUEUE_PER_ENDPOINT_MAX, and
// gave back unattempted every delivery it could not start before its lease ran out (59 of 120
// here), to be claimed again. A pod now holds what the endpoint's recent pace lets it send within
// a lease (none given back in the runs that tested it), and a batch takes with it no more of a
// chain than that, planning at the pace of the timeout until it has sent to the endpoint (a burst
// of 60 debits on one wallet: 46 given back before, none now).

const LATENCY_MS = 100;
const ACCOUNTS = 4;
const PER_ACCOUNT = 30;
const BURST = 60;

let world: EventWorld;
let receiver: WebhookListener;
let failing = true;

beforeAll(async () => {
  // A delivery may start at most 1.5 s after it is taken (the lease, less the timeout and 1 s).
  world = await startEventWorld({ WEBHOOK_LEASE_MS: '3000', WEBHOOK_TIMEOUT_MS: '500', WEBHOOK_CONCURRENCY_PER_ENDPOINT: '4' });
  receiver = await startWebhookListener({
    secrets: [],
    answer: async () => {
      await sleep(LATENCY_MS);
      return failing ? 503 : 200;
    },
  });
});
afterAll(async () => {
  await receiver?.close();
  await world?.stop();
});

const debit = (pod_index: number, account_id: string) => debitThrough(world, pod_index, account_id, 'slow receiver');

/** Deliveries the pods gave back unattempted as their leases ended. */
async function unsent(endpoint_id: string): Promise<number> {
  const pages = await Promise.all(world.urls.map((url) => request(url, 'GET', '/metrics')));
  const lines = pages.flatMap((page) => String(page.body).split('\n'));
  // Exported by every pod, so that none given back reads as 0 and not as a metric missing.
  expect(lines.filter((line) => line === '# TYPE webhook_deliveries_unsent_total counter')).toHaveLength(world.urls.length);
  return lines
    .filter((line) => line.startsWith('webhook_deliveries_unsent_total{') && line.includes(`endpoint_id="${endpoint_id}"`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('a slow receiver with a backlog', () => {
  it('gets every event in order, and the pods hold no more than they can send within a lease', async () => {
    const accounts = await Promise.all(Array.from({ length: ACCOUNTS }, () => world.player(100_000)));
    const endpoint = await createEndpoint(world, receiver.url, ['transaction.posted']);
    receiver.secrets.push(endpoint.secret);
    const posted: string[] = [];
    for (let round = 0; round < PER_ACCOUNT; round += 1) {
      posted.push(...(await Promise.all(accounts.map((account, i) => debit(i + round, account.id)))));
    }
    failing = false;
    const delivered = () => receiver.deliveries.filter((received) => received.verified && received.status === 200);
    const transactionId = (received: ReturnType<typeof delivered>[number]) => (received.event!.data as { id: string }).id;
    await waitFor('every event delivered', 60_000, () =>
      new Set(delivered().map(transactionId)).size >= posted.length ? true : undefined,
    );
    expect(new Set(delivered().map(transactionId))).toEqual(new Set(posted));
    // Per account, first deliveries in the order of the account's sequence.
    for (const account of accounts) {
      const sequence = delivered()
        .filter((received) => received.event?.account_id === account.id)
        .map((received) => received.event!.account_sequence!);
      const firsts = sequence.filter((value, index) => sequence.indexOf(value) === index);
      expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
    }
    expect(await unsent(endpoint.id)).toBeLessThan(posted.length / 4);
  });

  it('a burst on one account: a batch takes with it no more of the chain than can be sent within a lease', async () => {
    // A new endpoint, to which no pod has sent yet: its pace is not known anywhere.
    const fresh = await startWebhookListener({
      secrets: [],
      answer: async () => {
        await sleep(LATENCY_MS);
        return 200;
      },
    });
    try {
      const endpoint = await createEndpoint(world, fresh.url, ['transaction.posted']);
      fresh.secrets.push(endpoint.secret);
      const account = await world.player(100_000);
      // One pod, one wallet: the debits share a few batches, each with a long piece of the account's chain.
      const posted = await Promise.all(Array.from({ length: BURST }, () => debit(0, account.id)));
      const arrived = () =>
        new Set(
          fresh.deliveries
            .filter((received) => received.verified && received.status === 200)
            .map((received) => (received.event!.data as { id: string }).id),
        );
      await waitFor('the burst delivered', 60_000, () => (posted.every((id) => arrived().has(id)) ? true : undefined));
      expect(await unsent(endpoint.id)).toBeLessThan(BURST / 4);
    } finally {
      await fresh.close();
    }
  });
});
