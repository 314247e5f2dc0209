import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookListener, type ReceivedDelivery, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { request } from '../support/cluster.js';
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

  it('when a pod gives an event back behind one another pod delivers before the give-back is written, then it carries it on', async () => {
    // Pod 1 commits the account's next event while pod 0 sends the one before: pod 1 gives it back.
    // Pod 0's delivery is written first (its wake finds the next one still held by pod 1), because
    // pod 1's flush waits on a row this test locks. Once pod 1 has written the give-back, nothing
    // before the event is pending: pod 1 claims it again. Before, it waited for a poll (a minute).
    const [player, other] = [await world.player(10_000), await world.player(10_000)];
    for (const old of (await request(world.urls[0]!, 'GET', '/v1/webhook-endpoints', undefined, { token: world.admin })).body.data) {
      await request(world.urls[0]!, 'PATCH', `/v1/webhook-endpoints/${old.id}`, { status: 'disabled' }, { token: world.admin });
    }
    const gate = () => {
      let open = () => {};
      const opened = new Promise<void>((resolve) => (open = resolve));
      return { opened, open };
    };
    const [other_gate, player_gate] = [gate(), gate()];
    const gated = new Set<string>();
    const listener = await startWebhookListener({
      secrets: [],
      answer: async (delivery) => {
        const account = delivery.event?.account_id ?? '';
        gated.add(transactionOf(delivery) ?? '');
        if (account === other.id) await other_gate.opened;
        if (account === player.id) await player_gate.opened;
        return 200;
      },
    });
    const locker = new pg.Client({ connectionString: world.database.url });
    await locker.connect();
    try {
      const endpoint = await createEndpoint(world, listener.url, ['transaction.posted']);
      listener.secrets.push(endpoint.secret);
      const arrived = (id: string) => waitFor(`${id} at the receiver`, 5000, () => (gated.has(id) ? true : undefined));
      // Pod 1 sends the other account's event; its outcome will wait on the row locked here.
      await arrived(await debitThrough(world, 1, other.id, 'blocks the flush'));
      await locker.query('BEGIN');
      await locker.query('SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND account_id = $2 FOR UPDATE', [
        endpoint.id,
        other.id,
      ]);
      other_gate.open();
      await waitFor('pod 1 flush waiting on the lock', 5000, async () => {
        const waiting = await world.db.query("SELECT 1 FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')");
        return waiting.rowCount! > 0 ? true : undefined;
      });
      const first = await debitThrough(world, 0, player.id, 'sent by pod 0');
      await arrived(first);
      const second = await debitThrough(world, 1, player.id, 'given back by pod 1');
      // Pod 1's order check finds the first pending at pod 0; its give-back waits behind the flush.
      await sleep(500);
      player_gate.open();
      await waitFor('pod 0 wrote its delivery', 5000, async () => {
        const states = await world.db.query("SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1 AND state = 'delivered'", [
          endpoint.id,
        ]);
        return states.rowCount === 1 ? true : undefined;
      });
      await locker.query('COMMIT');
      const delivered = () => listener.deliveries.filter((delivery) => delivery.status === 200).map(transactionOf);
      await waitFor('the second delivered', 4000, () => (delivered().includes(second) ? true : undefined));
      expect(delivered().filter((id) => id === first || id === second)).toEqual([first, second]);
    } finally {
      await locker.end();
      await listener.close();
    }
  });
});
