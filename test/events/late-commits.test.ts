import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookListener, type WebhookListener } from '../../tools/webhook-listener/listener.js';
import { request, type ApiResponse } from '../support/cluster.js';
import { allEvents, createEndpoint, key, startEventWorld, waitFor, type EventWorld } from '../support/events.js';

// Many writers on three pods, and commits made late on purpose: a debit whose transaction has
// begun (its events take that start as created_at) is held on its account's row lock while
// other batches commit events with later timestamps, then commits. The global list, paged while
// all this happens, and the deliveries must still miss nothing: compared at the end with the
// ledger's own set of transaction ids.

// A wider window than the other event tests' so the 700 ms late commit stays well under the guard
// (half the window) on a loaded machine.
const SETTLE_WINDOW_MS = 3000;
let world: EventWorld;
let receiver: WebhookListener;
let endpoint_id: string;

beforeAll(async () => {
  world = await startEventWorld({ EVENTS_SETTLE_WINDOW_MS: String(SETTLE_WINDOW_MS) });
  receiver = await startWebhookListener({ secrets: [] });
  const endpoint = await createEndpoint(world, receiver.url);
  receiver.secrets.push(endpoint.secret);
  endpoint_id = endpoint.id;
});

/** Every delivery of the endpoint, walked page by page through the pods. */
async function allDeliveries(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page === 0 || cursor; page += 1) {
    const query = new URLSearchParams({ limit: '50', ...(cursor ? { cursor } : {}) });
    const answer: ApiResponse = await request(
      world.pod(page),
      'GET',
      `/v1/webhook-endpoints/${endpoint_id}/deliveries?${query}`,
      undefined,
      {
        token: world.admin,
      },
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    ids.push(...answer.body.data.map((delivery: { id: string }) => delivery.id));
    cursor = answer.body.next_cursor;
  }
  return ids;
}
afterAll(async () => {
  await receiver?.close();
  await world?.stop();
});

const now_ms = async () =>
  Number((await world.db.query<{ ms: string }>('SELECT (extract(epoch FROM now()) * 1000)::int8 AS ms')).rows[0]!.ms);

/**
 * A debit that begins, waits `hold_ms` on its account's row held by another transaction while
 * `meanwhile` commits other events twice, then commits.
 */
async function lateDebit(account_id: string, hold_ms: number, meanwhile: () => Promise<void>) {
  // Statistics of the tiny table as autovacuum leaves them at some point of a run (and the page pruned of
  // what the writers left dead): with them PostgreSQL joined a batch's keys to a scan of every account,
  // so the held debit conflicted with every write meanwhile and was refused as a pivot at each try (on
  // CI's loaded cores, where autovacuum had run, every try). Batches now look rows up by their keys.
  await world.db.query('VACUUM accounts');
  const locker = new pg.Client({ connectionString: world.database.url });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM accounts WHERE id = $1 FOR UPDATE', [account_id]);
    const debit = request(
      world.urls[1]!,
      'POST',
      `/v1/accounts/${account_id}/debits`,
      { amount: 1, currency: 'EUR', reason: 'late' },
      {
        token: world.service,
        key: key(),
      },
    );
    // Two writes, not a stream of them: each updates an account row on the heap page the held debit's
    // account shares, whose dead versions cannot be pruned while the held transactions run; once the page
    // is full an update inserts into the primary key's index page the debit has read, and SERIALIZABLE
    // may refuse the debit (40001) as a pivot. The lock is let go on time whatever the writes cost (a
    // slow one past the settle guard would turn the debit into a rerun too).
    const trickle = (async () => {
      for (const pause_ms of [100, 150]) {
        await sleep(pause_ms);
        await meanwhile();
      }
    })();
    await sleep(hold_ms);
    await locker.query('COMMIT');
    const released_ms = Date.now();
    await trickle;
    const answer: ApiResponse = await debit;
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return { id: answer.body.id as string, created_ms: Date.parse(answer.body.created_at), released_ms };
  } finally {
    await locker.end();
  }
}

describe('late commits', () => {
  it('events committed late are listed and delivered: nothing missing against the ledger, paging never skips', async () => {
    const accounts = await Promise.all(Array.from({ length: 12 }, () => world.player(1_000_000)));
    const late_accounts = await Promise.all(Array.from({ length: 3 }, () => world.player(1_000)));
    let writing = true;
    let paused = false;
    const write = async (worker: number, i: number, pod: string) => {
      const from = accounts[(worker + i) % accounts.length]!;
      const to = accounts[(worker + 2 * i + 1) % accounts.length]!;
      const answer =
        i % 3 === 2 && from.id !== to.id
          ? await request(
              pod,
              'POST',
              '/v1/transfers',
              { from_account_id: from.id, to_account_id: to.id, amount: 5, currency: 'EUR' },
              {
                token: world.service,
                key: key(),
              },
            )
          : await request(
              pod,
              'POST',
              `/v1/accounts/${from.id}/${i % 2 ? 'credits' : 'debits'}`,
              { amount: 7, currency: 'EUR', reason: 'w' },
              {
                token: world.service,
                key: key(),
              },
            );
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    };
    const writers = Array.from({ length: 24 }, async (_, worker) => {
      for (let i = 0; writing; i += 1) {
        if (paused) await sleep(20);
        else await write(worker, i, world.pod(worker + i));
      }
    });
    // Global walks while the writers write: each remembers when it began (database clock).
    const walks: Array<{ started_ms: number; ended_ms: number; ids: string[] }> = [];
    const delivery_walks: Array<{ started_ms: number; ids: string[] }> = [];
    const walker = (async () => {
      while (writing) {
        const started_ms = await now_ms();
        const ids = (await allEvents(world.urls, world.reader, {}, 50)).map((event) => event.id);
        walks.push({ started_ms, ended_ms: await now_ms(), ids });
        // The endpoint's deliveries, walked the same way: once paged with no settle window, a walk
        // missed those committed late between its pages.
        delivery_walks.push({ started_ms: await now_ms(), ids: await allDeliveries() });
        await sleep(150);
      }
    })();
    await sleep(1500);
    // While a debit waits on pod 1, two writes commit one by one on pod 0 (see lateDebit). A debit refused
    // (40001) and begun again is not a late commit: then it is tried again.
    paused = true;
    let trickle = 0;
    const meanwhile = () => write(0, 3 * trickle++, world.urls[0]!);
    // Late by 700 ms, under the settle guard (half of the 3 s window): it commits with its early created_at.
    let late = await lateDebit(late_accounts[0]!.id, 700, meanwhile);
    for (let tries = 1; tries < 8 && late.released_ms - late.created_ms < 500; tries += 1) {
      late = await lateDebit(late_accounts[0]!.id, 700, meanwhile);
    }
    // Late by 3.4 s, past the guard and the window: refused at its end, the batch runs again with a new start
    // (committed, it would be missing from the walks that run after its created_at + 3 s and before its commit).
    const rerun = await lateDebit(late_accounts[1]!.id, 3400, meanwhile);
    paused = false;
    await sleep(1000);
    writing = false;
    await Promise.all([...writers, walker]);
    await sleep(SETTLE_WINDOW_MS + 200);

    const all = (
      await world.db.query<{ id: string; ms: string }>('SELECT id, (extract(epoch FROM created_at) * 1000)::int8 AS ms FROM events')
    ).rows;
    const created_ms = new Map(all.map((row) => [row.id, Number(row.ms)]));
    // The late debit committed after events that began after it (other accounts kept committing while it waited)...
    const late_event = (await allEvents(world.urls, world.reader, { account_id: late_accounts[0]!.id })).find(
      (event) => event.data.id === late.id,
    );
    expect(Date.parse(late_event.created_at)).toBe(late.created_ms);
    expect(late.released_ms - late.created_ms).toBeGreaterThanOrEqual(500);
    expect(all.filter((row) => Number(row.ms) > late.created_ms + 100 && Number(row.ms) < late.released_ms - 100).length).toBeGreaterThan(
      0,
    );
    // ...the one held past the guard began again after its wait.
    expect(rerun.created_ms).toBeGreaterThanOrEqual(rerun.released_ms - 1000);

    // Every walk saw every event settled when it began, once, and none that had not settled when it ended.
    expect(walks.length).toBeGreaterThan(3);
    for (const walk of walks) {
      expect(new Set(walk.ids).size).toBe(walk.ids.length);
      const seen = new Set(walk.ids);
      const settled = all.filter((row) => Number(row.ms) <= walk.started_ms - SETTLE_WINDOW_MS).map((row) => row.id);
      expect(settled.filter((id) => !seen.has(id))).toEqual([]);
      expect(walk.ids.every((id) => created_ms.get(id)! <= walk.ended_ms - SETTLE_WINDOW_MS + 1)).toBe(true);
    }

    const deliveries = (
      await world.db.query<{ id: string; ms: string }>(
        'SELECT id, (extract(epoch FROM created_at) * 1000)::int8 AS ms FROM webhook_deliveries WHERE endpoint_id = $1',
        [endpoint_id],
      )
    ).rows;
    const delivery_ms = new Map(deliveries.map((row) => [row.id, Number(row.ms)]));
    expect(delivery_walks.length).toBeGreaterThan(3);
    for (const walk of delivery_walks) {
      const seen = new Set(walk.ids);
      expect(seen.size).toBe(walk.ids.length);
      const settled = deliveries.filter((row) => Number(row.ms) <= walk.started_ms - SETTLE_WINDOW_MS).map((row) => row.id);
      expect(settled.filter((id) => !seen.has(id))).toEqual([]);
      // No gap: every delivery between the newest and the oldest a walk showed is in it (the late debit's was not).
      const shown_ms = walk.ids.map((id) => delivery_ms.get(id)!);
      const [oldest_ms, newest_ms] = [Math.min(...shown_ms), Math.max(...shown_ms)];
      const between = deliveries.filter((row) => Number(row.ms) > oldest_ms && Number(row.ms) < newest_ms).map((row) => row.id);
      expect(between.filter((id) => !seen.has(id))).toEqual([]);
    }

    // At the end: the ledger's transactions = the listed transaction.posted events = the delivered ones.
    const ledger = new Set((await world.db.query<{ id: string }>('SELECT id FROM ledger_transactions')).rows.map((row) => row.id));
    expect(ledger.has(late.id) && ledger.has(rerun.id)).toBe(true);
    const listed = await allEvents(world.urls, world.reader, { type: 'transaction.posted' });
    expect(new Set(listed.map((event) => event.data.id))).toEqual(ledger);
    expect(listed).toHaveLength(ledger.size);
    const per_account = (
      await Promise.all([...accounts, ...late_accounts].map((account) => allEvents(world.urls, world.reader, { account_id: account.id })))
    )
      .flat()
      .filter((event) => event.type === 'transaction.posted');
    expect(new Set(per_account.map((event) => event.data.id))).toEqual(ledger);
    const delivered = await waitFor('every transaction delivered', 30_000, () => {
      const ids = new Set(
        receiver.deliveries
          .filter((delivery) => delivery.status === 200 && delivery.event_type === 'transaction.posted')
          .map((delivery) => (delivery.event!.data as { id: string }).id),
      );
      return ids.size >= ledger.size ? ids : undefined;
    });
    expect(delivered).toEqual(ledger);
    expect(receiver.deliveries.every((delivery) => delivery.verified)).toBe(true);
    await world.expectReconcileClean();
  });
});
