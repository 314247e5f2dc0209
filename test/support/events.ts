import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { request, startCluster, uniqueId, type ApiResponse, type TestCluster } from './cluster.js';
import { createScratchDatabase, type ScratchDatabase } from './scratch-database.js';
import { shopHarness, type ShopHarness } from './shop.js';

export const key = () => uniqueId('k');

/**
 * Three in-process pods running their background work (webhook deliveries included) on a database
 * of their own: webhook endpoints are global to a database, so a file sharing one would deliver
 * every other file's events (and they its).
 */
export interface EventWorld extends ShopHarness {
  cluster: TestCluster;
  database: ScratchDatabase;
  /** events:read */
  reader: string;
  /** A connection to the world's database, for what a test checks or arranges in its tables. */
  db: pg.Client;
  stop(): Promise<void>;
}

/** Fast polls and short retries, so tests see deliveries and retries within seconds. */
export const FAST_WEBHOOKS = {
  WORKER_INTERVAL_MS: '200',
  WEBHOOK_POLL_INTERVAL_MS: '100',
  WEBHOOK_RETRY_BASE_MS: '200',
  WEBHOOK_RETRY_MAX_MS: '1000',
  EVENTS_SETTLE_WINDOW_MS: '2000',
};

export async function startEventWorld(env: Record<string, string> = {}, options: { workers?: boolean } = {}): Promise<EventWorld> {
  const database = await createScratchDatabase(inject('database_url'), 'events');
  const cluster = await startCluster({ workers: options.workers ?? true, env: { DATABASE_URL: database.url, ...FAST_WEBHOOKS, ...env } });
  const harness = await shopHarness(
    cluster.pods.map((pod) => pod.url),
    cluster.config,
  );
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  return {
    ...harness,
    cluster,
    database,
    reader: await harness.mint.service('events:read', 'integrator'),
    db,
    async stop() {
      await db.end();
      await cluster.stop();
      await database.drop();
    },
  };
}

/** Waits for `probe` to return something, polling every 20 ms, for at most `within_ms`. */
export async function waitFor<T>(what: string, within_ms: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + within_ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${within_ms} ms`);
    await sleep(20);
  }
}

/** Every page of GET /v1/events for `query`, newest first, each page from the next pod. */
export async function allEvents(urls: readonly string[], token: string, query: Record<string, string> = {}, limit = 200): Promise<any[]> {
  const events: any[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page += 1) {
    const params = new URLSearchParams({ ...query, limit: String(limit), ...(cursor ? { cursor } : {}) });
    const response: ApiResponse = await request(urls[page % urls.length]!, 'GET', `/v1/events?${params}`, undefined, { token });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    events.push(...response.body.data);
    cursor = response.body.next_cursor;
    if (cursor === null) return events;
  }
  throw new Error('the event list did not end');
}

/** An endpoint subscribed to `enabled_events` at `url`; its id and signing secret. */
export async function createEndpoint(
  world: Pick<EventWorld, 'urls' | 'admin'>,
  url: string,
  enabled_events: string[] = ['*'],
): Promise<{ id: string; secret: string }> {
  const created = await request(
    world.urls[0]!,
    'POST',
    '/v1/webhook-endpoints',
    { url, enabled_events },
    { token: world.admin, key: key() },
  );
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
  return { id: created.body.id, secret: created.body.secret };
}

/** A debit of 1 EUR from `account_id` through pod `pod_index` (round robin) with the service token: its transaction id. */
export async function debitThrough(
  world: Pick<EventWorld, 'pod' | 'service'>,
  pod_index: number,
  account_id: string,
  reason: string,
): Promise<string> {
  const answer = await request(
    world.pod(pod_index),
    'POST',
    `/v1/accounts/${account_id}/debits`,
    { amount: 1, currency: 'EUR', reason },
    { token: world.service, key: key() },
  );
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body.id as string;
}
