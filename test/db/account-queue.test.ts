import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { AccountQueue, QUEUE_RELEASE } from '../../src/batch/account-queue.js';
import { runPipeline } from '../../src/db/pipeline.js';

// Well over the 200 ms the first test lets the holding session sit idle while the second waits: at
// 400 ms a late timer on a loaded machine let the server end it first.
const IDLE_TIMEOUT_MS = 1500;
const queue = new AccountQueue({ hot_ms: 1_000, entries_max: 10, idle_timeout_ms: IDLE_TIMEOUT_MS });
const clients: pg.Client[] = [];

async function session(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: inject('database_url') });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
});

describe('the hot-account queue (PostgreSQL advisory locks held by a batch session)', () => {
  it('a second session waits for an account the first holds, and gets it once the first releases with its commit', async () => {
    const account = `queue-${randomUUID()}`;
    const [first, second] = [await session(), await session()];
    await runPipeline(first, queue.lock([account, account]));
    let second_holds = false;
    const waiting = runPipeline(second, queue.lock([account])).then(() => (second_holds = true));
    await sleep(200);
    expect(second_holds).toBe(false);
    await runPipeline(first, [
      { name: 'begin', text: 'BEGIN', values: [] },
      { name: 'commit', text: 'COMMIT', values: [] },
      ...QUEUE_RELEASE,
    ]);
    await waiting;
    expect(second_holds).toBe(true);
    await runPipeline(second, [...QUEUE_RELEASE]);
    // Released, the first session's idle bound is the server's again: it outlives the bound.
    await sleep(IDLE_TIMEOUT_MS * 2);
    expect((await first.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await second.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('a session that holds accounts and then stalls outside a transaction is ended by the server, freeing them', async () => {
    const account = `queue-${randomUUID()}`;
    const [stalled, next] = [await session(), await session()];
    await runPipeline(stalled, queue.lock([account]));
    const started_ms = Date.now();
    // The stalled pod sends nothing more; the next batch gets the account when the server ends that session.
    await runPipeline(next, queue.lock([account]));
    expect(Date.now() - started_ms).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 50);
    await expect(stalled.query('SELECT 1')).rejects.toThrow();
    await runPipeline(next, [...QUEUE_RELEASE]);
  });
});
