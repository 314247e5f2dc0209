import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CreditshopClientOptions } from '../../src/client/creditshop-client.js';
import type { Fetch } from '../../src/client/retry.js';
import { client, contractCheckedFetch } from '../support/client.js';
import { startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';
import { startAnswerLosingProxy, startCuttableProxy, type AnswerLosingProxy, type CuttableProxy } from '../support/fault-proxies.js';
import { takeContractViolations } from '../support/openapi-contract.js';

// The typed client's retries against real failures: pods whose database connection is cut for a
// moment (a TCP proxy between them and PostgreSQL) answer 503 with Retry-After; a proxy in front of a
// pod hangs up after the pod has answered. Retries carry the same Idempotency-Key, so every debit is
// applied once; whatever else fails is answered at once.

let database: CuttableProxy;
let cluster: TestCluster;
let service: string;
let admin: string;

beforeAll(async () => {
  database = await startCuttableProxy(inject('database_url'));
  cluster = await startCluster({ env: { DATABASE_URL: database.url, DB_CONNECT_TIMEOUT_MS: '1000' } });
  const mint = tokens(cluster.config);
  service = await mint.service('accounts:write credits:write', 'game-server');
  admin = await mint.service('admin', 'ops');
});
afterEach(() => database.restore());
afterAll(async () => {
  await cluster?.stop();
  await database?.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const eu = () => cluster.pod('eu-west').url;

/** One attempt as it went over the wire. */
interface Attempt {
  path: string;
  idempotency_key: string | null;
  sent_ms: number;
  received_ms?: number;
  status?: number;
  retry_after?: string | null;
  /** No answer: the connection failed. */
  failed?: true;
}

/** The contract-checked fetch, keeping every attempt the client makes. */
function recording(attempts: Attempt[]): Fetch {
  return async (request) => {
    const attempt: Attempt = {
      path: new URL(request.url).pathname,
      idempotency_key: request.headers.get('Idempotency-Key'),
      sent_ms: Date.now(),
    };
    attempts.push(attempt);
    try {
      const response = await contractCheckedFetch(request);
      Object.assign(attempt, { received_ms: Date.now(), status: response.status, retry_after: response.headers.get('Retry-After') });
      return response;
    } catch (error) {
      Object.assign(attempt, { received_ms: Date.now(), failed: true });
      throw error;
    }
  };
}

function recordedClient(attempts: Attempt[], options: Omit<CreditshopClientOptions, 'baseUrl' | 'fetch'> = {}, base = eu()) {
  return client(base, options.token ?? service, { ...options, fetch: recording(attempts) });
}

async function openAccount(balance: number): Promise<string> {
  const id = uniqueId('p');
  const api = client(eu(), service);
  expect((await api.POST('/v1/accounts', { body: { id, currency: 'EUR' } })).response.status).toBe(201);
  const credit = await api.POST('/v1/accounts/{id}/credits', {
    params: { path: { id } },
    body: { amount: balance, currency: 'EUR', reason: 'seed' },
  });
  expect(credit.response.status).toBe(201);
  return id;
}

function debit(api: ReturnType<typeof client>, id: string, amount: number, idempotency_key?: string) {
  return api.POST('/v1/accounts/{id}/debits', {
    params: { path: { id }, ...(idempotency_key ? { header: { 'Idempotency-Key': idempotency_key } } : {}) },
    body: { amount, currency: 'EUR', reason: 'retried' },
  });
}

/** The debits in an account's history (every page), as transaction ids. */
async function debitsOf(id: string): Promise<string[]> {
  const { data } = await client(eu(), service).GET('/v1/accounts/{id}/transactions', { params: { path: { id }, query: { limit: 200 } } });
  expect(data!.next_cursor).toBeNull();
  return data!.data.filter((item) => item.type === 'debit').map((item) => item.transaction_id);
}

async function expectReconcileClean(): Promise<void> {
  expect((await client(eu(), admin).POST('/v1/admin/reconcile')).data).toEqual({ ok: true, mismatches: [] });
}

/** The attempts by Idempotency-Key: the attempts of one call, in order. */
function byKey(attempts: Attempt[]): Map<string | null, Attempt[]> {
  const calls = new Map<string | null, Attempt[]>();
  for (const attempt of attempts) calls.set(attempt.idempotency_key, [...(calls.get(attempt.idempotency_key) ?? []), attempt]);
  return calls;
}

/** Within each call, every 503 was followed by the next attempt no sooner than its Retry-After said. */
function expectRetryAfterHonoured(attempts: Attempt[]): void {
  for (const call of byKey(attempts).values()) {
    for (const [index, attempt] of call.entries()) {
      const next = call[index + 1];
      if (attempt.status !== 503 || !next) continue;
      expect(next.sent_ms - attempt.received_ms!).toBeGreaterThanOrEqual(Number(attempt.retry_after) * 1000);
    }
  }
}

describe('503 from a pod whose database is cut', () => {
  it('when a debit meets the outage, the client waits out Retry-After, retries with the same key, applied once', async () => {
    const id = await openAccount(1_000);
    const attempts: Attempt[] = [];
    database.cut();
    const restored = sleep(700).then(() => database.restore());
    const { data, error, response } = await debit(recordedClient(attempts, { retry: { attempts_max: 8 } }), id, 300);
    await restored;
    expect(error).toBeUndefined();
    expect(response.status).toBe(201);
    expect(data).toMatchObject({ type: 'debit', amount: 300, balance_after: 700 });
    expect(attempts[0]).toMatchObject({ status: 503, retry_after: '1' });
    expect(attempts.at(-1)!.status).toBe(201);
    // The client made the key (none was given), and every attempt carried it.
    expect(attempts[0]!.idempotency_key).toMatch(UUID);
    expect(new Set(attempts.map((attempt) => attempt.idempotency_key))).toEqual(new Set([attempts[0]!.idempotency_key]));
    expectRetryAfterHonoured(attempts);
    expect(await debitsOf(id)).toEqual([data!.id]);
    await expectReconcileClean();
  });

  it('when the database is cut while 40 debits stream through three pods, every one ends 201 and is applied exactly once', async () => {
    const id = await openAccount(10_000);
    const attempts: Attempt[] = [];
    const acknowledged: string[] = [];
    let restored: Promise<void> | undefined;
    const worker = async (pod: number) => {
      const api = recordedClient(attempts, { retry: { attempts_max: 10 } }, cluster.pods[pod % cluster.pods.length]!.url);
      for (let i = 0; i < 10; i += 1) {
        const { data, error } = await debit(api, id, 10);
        expect(error, JSON.stringify(error)).toBeUndefined();
        acknowledged.push(data!.id);
        // The outage starts while the other workers have debits in flight.
        if (acknowledged.length === 8) {
          database.cut();
          restored = sleep(800).then(() => database.restore());
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    await restored;
    expect(attempts.filter((attempt) => attempt.status === 503).length).toBeGreaterThan(0);
    const by_key = byKey(attempts);
    expect(by_key.size).toBe(40);
    for (const tries of by_key.values()) expect(tries.map((attempt) => attempt.status).at(-1)).toBe(201);
    expectRetryAfterHonoured(attempts);
    expect(new Set(acknowledged).size).toBe(40);
    expect(new Set(await debitsOf(id))).toEqual(new Set(acknowledged));
    const wallets = await client(eu(), service).GET('/v1/accounts/{id}/wallets', { params: { path: { id } } });
    expect(wallets.data!.data).toEqual([{ currency: 'EUR', balance: 9_600, held: 0, available: 9_600 }]);
    await expectReconcileClean();
  });

  it('when a read meets the outage, it is retried as well', async () => {
    const id = await openAccount(500);
    const attempts: Attempt[] = [];
    database.cut();
    const restored = sleep(700).then(() => database.restore());
    const wallets = await recordedClient(attempts).GET('/v1/accounts/{id}/wallets', { params: { path: { id } } });
    await restored;
    expect(wallets.data!.data[0]).toMatchObject({ balance: 500 });
    expect(attempts.map((attempt) => attempt.status)).toEqual([...Array(attempts.length - 1).fill(503), 200]);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
  });

  it('when the outage outlasts the attempts or time allowed, the typed 503 is returned; nothing applied, the key still works', async () => {
    const id = await openAccount(1_000);
    const idempotency_key = uniqueId('k');
    database.cut();
    const by_attempts: Attempt[] = [];
    const gave_up = await debit(recordedClient(by_attempts, { retry: { attempts_max: 2 } }), id, 100, idempotency_key);
    expect(gave_up.response.status).toBe(503);
    expect(gave_up.error).toMatchObject({ status: 503, code: 'unavailable' });
    expect(by_attempts.map((attempt) => [attempt.status, attempt.idempotency_key])).toEqual([
      [503, idempotency_key],
      [503, idempotency_key],
    ]);
    expectRetryAfterHonoured(by_attempts);

    // Retry-After (1 s) does not fit in 500 ms: no wait is started.
    const by_time: Attempt[] = [];
    const started_ms = Date.now();
    const out_of_time = await debit(recordedClient(by_time, { retry: { elapsed_max_ms: 500 } }), id, 100, idempotency_key);
    expect(out_of_time.error?.code).toBe('unavailable');
    expect(by_time).toHaveLength(1);
    expect(Date.now() - started_ms).toBeLessThan(1000);

    database.restore();
    expect(await debitsOf(id)).toEqual([]);
    // A 503 is not remembered under the key: the same key now applies the debit, and a further call replays it.
    const applied = await debit(client(eu(), service), id, 100, idempotency_key);
    expect(applied.response.status).toBe(201);
    expect(applied.response.headers.get('idempotent-replayed')).toBeNull();
    const replayed = await debit(client(eu(), service), id, 100, idempotency_key);
    expect(replayed.response.headers.get('idempotent-replayed')).toBe('true');
    expect(replayed.data!.id).toBe(applied.data!.id);
    expect(await debitsOf(id)).toEqual([applied.data!.id]);
  });
});

describe('answers that are not retried', () => {
  it('when a call fails for a reason of its own (409, 400, 404), it is answered once, never retried', async () => {
    const id = await openAccount(100);
    const attempts: Attempt[] = [];
    const api = recordedClient(attempts);
    expect((await debit(api, id, 101)).error?.code).toBe('insufficient_funds');
    expect((await debit(api, id, 0)).error?.code).toBe('validation_error');
    expect((await debit(api, uniqueId('nobody'), 1)).error?.code).toBe('not_found');
    expect(attempts.map((attempt) => attempt.status)).toEqual([409, 400, 404]);
  });

  it('when a POST without an Idempotency-Key meets the outage, its 503 is returned at once', async () => {
    const attempts: Attempt[] = [];
    database.cut();
    const report = await recordedClient(attempts, { token: admin }).POST('/v1/admin/reconcile');
    expect(report.error).toMatchObject({ status: 503, code: 'unavailable' });
    expect(attempts.map((attempt) => [attempt.status, attempt.idempotency_key])).toEqual([[503, null]]);
  });
});

describe('a connection that fails after the pod answered', () => {
  let lossy: AnswerLosingProxy;
  beforeAll(async () => {
    lossy = await startAnswerLosingProxy(eu());
  });
  afterAll(() => lossy?.close());

  it('when the answer to a debit is lost, the retry with the same key gets the stored answer, and the debit is applied once', async () => {
    const id = await openAccount(1_000);
    const idempotency_key = uniqueId('k');
    lossy.loseAnswers(idempotency_key, 1);
    const attempts: Attempt[] = [];
    const { data, response } = await debit(recordedClient(attempts, {}, lossy.url), id, 250, idempotency_key);
    expect(response.status).toBe(201);
    expect(response.headers.get('idempotent-replayed')).toBe('true');
    expect(attempts.map((attempt) => [attempt.failed ?? attempt.status, attempt.idempotency_key])).toEqual([
      [true, idempotency_key],
      [201, idempotency_key],
    ]);
    // The pod answered both: the first answer was applied and lost on the way back.
    expect(lossy.forwarded.filter((line) => line.includes(`/${id}/debits`))).toEqual([
      `POST /v1/accounts/${id}/debits 201`,
      `POST /v1/accounts/${id}/debits 201`,
    ]);
    expect(data).toMatchObject({ amount: 250, balance_after: 750 });
    expect(await debitsOf(id)).toEqual([data!.id]);
  });

  it('when every answer is lost, the connection error comes back after attempts_max, and the debit was still applied once', async () => {
    const id = await openAccount(1_000);
    const idempotency_key = uniqueId('k');
    lossy.loseAnswers(idempotency_key, 3);
    const attempts: Attempt[] = [];
    const api = recordedClient(attempts, { retry: { attempts_max: 3, backoff_initial_ms: 10 } }, lossy.url);
    await expect(debit(api, id, 40, idempotency_key)).rejects.toBeInstanceOf(TypeError);
    expect(attempts.map((attempt) => attempt.failed)).toEqual([true, true, true]);
    const debits = await debitsOf(id);
    expect(debits).toHaveLength(1);
    // Once the answers get through, the same key is answered with the debit that was applied.
    const answered = await debit(api, id, 40, idempotency_key);
    expect(answered.response.headers.get('idempotent-replayed')).toBe('true');
    expect([answered.data!.id]).toEqual(debits);
  });
});

describe('the contract check of answers the client receives', () => {
  it('when a server answers what /openapi.json does not describe, the departure is reported as for request()', async () => {
    const document = await (await fetch(`${eu()}/openapi.json`)).text();
    const server: Server = createServer((request, reply) => {
      const body =
        request.url === '/openapi.json' ? document : JSON.stringify({ data: [{ currency: 'EUR', balance: 1 }], next_cursor: null });
      reply.writeHead(200, { 'Content-Type': 'application/json', 'X-Region': 'eu-west', 'X-Request-Id': 'r-1' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      await client(`http://127.0.0.1:${port}`, service).GET('/v1/accounts/{id}/wallets', { params: { path: { id: 'p-1' } } });
      const violations = takeContractViolations();
      expect(violations).toHaveLength(1);
      expect(violations[0]).toMatch(/GET \/v1\/accounts\/p-1\/wallets -> 200: the body does not match its schema/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
