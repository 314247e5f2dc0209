import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookListener, type ReceivedDelivery, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { createEndpoint, debitThrough, startEventWorld, waitFor, type EventWorld } from '../support/events.js';

// An account written through every pod: its deliveries are committed by different pods, and a pod
// whose delivery must wait for an earlier one another pod is sending gives it back. The pod that
// delivers the earlier one carries the account's chain on at once. Here each debit is made, through
// the next pod, while the one before it is being delivered (the receiver takes 500 ms), so every
// delivery is given back once; and no poll comes for up to a minute. (Before, each hand-over
// waited for some pod's poll: WEBHOOK_POLL_INTERVAL_MS, 500 ms by default.)

const RECEIVER_DELAY_MS = 500;
const DEBITS = 6;

let world: EventWorld;
let receiver: WebhookListener;
/** Transactions whose transaction.posted the receiver has begun to receive. */
const arriving = new Set<string>();
const transactionOf = (delivery: ReceivedDelivery) => (delivery.event?.data as { id?: string } | undefined)?.id;

beforeAll(async () => {
  world = await startEventWorld({ WEBHOOK_POLL_INTERVAL_MS: '60000' });
  receiver = await startWebhookListener({
    secrets: [],
    answer: async (delivery) => {
      arriving.add(transactionOf(delivery) ?? '');
      await sleep(RECEIVER_DELAY_MS);
      return 200;
    },
  });
});
afterAll(async () => {
  await receiver?.close();
  await world?.stop();
});

describe('an account written through every pod', () => {
  it('when each pod commits the next event of one account in turn, then the chain is carried on without waiting for a poll', async () => {
    const player = await world.player(10_000);
    const endpoint = await createEndpoint(world, receiver.url, ['transaction.posted']);
    receiver.secrets.push(endpoint.secret);
    const posted: string[] = [];
    for (let index = 0; index < DEBITS; index += 1) {
      const id = await debitThrough(world, index, player.id, `handover ${index}`);
      posted.push(id);
      await waitFor(`debit ${index} on its way to the receiver`, RECEIVER_DELAY_MS + 4000, () => (arriving.has(id) ? true : undefined));
    }
    const acknowledged = await waitFor('every debit acknowledged', RECEIVER_DELAY_MS + 4000, () => {
      const delivered = receiver.deliveries.filter((delivery) => delivery.status === 200).map((delivery) => transactionOf(delivery) ?? '');
      return posted.every((id) => delivered.includes(id)) ? delivered : undefined;
    });
    expect(acknowledged.filter((id) => posted.includes(id))).toEqual(posted);
    expect(receiver.deliveries.every((delivery) => delivery.verified)).toBe(true);
  });

  it('when one pod commits an account event before the outcome of the one before is written, then it is not given back', async () => {
    // A receiver that answers at once and four writers on one account through one pod: the next
    // debit often commits between an attempt and the flush of its outcome, and was given back
    // behind it, to wait for a poll (here up to a minute).
    const fast = await startWebhookListener({ secrets: [] });
    try {
      const endpoint = await createEndpoint(world, fast.url, ['transaction.posted']);
      fast.secrets.push(endpoint.secret);
      const player = await world.player(100_000);
      const posted = (
        await Promise.all(
          Array.from({ length: 4 }, async (_, writer) => {
            const ids: string[] = [];
            for (let index = 0; index < 30; index += 1) ids.push(await debitThrough(world, 0, player.id, `one pod ${writer}.${index}`));
            return ids;
          }),
        )
      ).flat();
      const firsts = await waitFor('every debit acknowledged', 5000, () => {
        const seen = new Map<string, number>();
        for (const delivery of fast.deliveries) {
          const id = transactionOf(delivery);
          if (delivery.status === 200 && id && !seen.has(id)) seen.set(id, delivery.event?.account_sequence as number);
        }
        return posted.every((id) => seen.has(id)) ? [...seen.values()] : undefined;
      });
      // First receipts in the account's order.
      expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
    } finally {
      await fast.close();
    }
  });
});
