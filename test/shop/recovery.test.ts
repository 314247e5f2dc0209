import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signatureHeader } from '../../src/shop/topups/psp-signature.js';
import { request, testConfig, uniqueId, type ApiResponse, type TestCluster } from '../support/cluster.js';
import { spawnDetached, type DetachedProcess } from '../support/pod-process.js';
import { freePort } from '../support/ports.js';
import { key, shopHarness, tally, type ShopHarness, startShopCluster } from '../support/shop.js';

// Nothing is left half done: the recovery worker cancels two-step orders nobody completed and
// flags top-ups the PSP never confirmed; and a real pod process SIGKILLed in the middle of a
// stream of purchases leaves a ledger where every debit has its order and entitlements and
// every completed order its debit, with retries of the lost requests applied exactly once.

async function eventually<T>(what: string, within_ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + within_ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${within_ms} ms`);
    await sleep(100);
  }
}

// Pending windows of 3 s: long enough for a busy machine to create an order, read the wallet and
// complete the other order inside it; the worker runs every 200 ms.
describe('recovery worker (in-process pods with workers, 3 s timeouts)', () => {
  let cluster: TestCluster;
  let h: ShopHarness;

  beforeAll(async () => {
    ({ cluster, h } = await startShopCluster({
      workers: true,
      env: { ORDER_PENDING_TIMEOUT_SECONDS: '3', TOPUP_PENDING_TIMEOUT_SECONDS: '3', WORKER_INTERVAL_MS: '200' },
    }));
  });
  afterAll(() => cluster?.stop());

  async function createTopup(buyer: { id: string; token: string }, amount: number): Promise<ApiResponse> {
    const created = await request(
      h.pod(0),
      'POST',
      '/v1/topups',
      { account_id: buyer.id, amount, currency: 'EUR' },
      {
        token: buyer.token,
        key: key(),
      },
    );
    expect(created.status).toBe(201);
    return created;
  }

  /** The top-up once the recovery worker has flagged it. */
  const untilFlagged = (buyer: { token: string }, topup_id: string) =>
    eventually('the top-up is flagged', 15_000, async () => {
      const topup = await request(h.pod(1), 'GET', `/v1/topups/${topup_id}`, undefined, { token: buyer.token });
      return topup.body.needs_reconciliation ? topup.body : undefined;
    });

  it('when a two-step order outlives its PENDING window, it is CANCELLED, hold VOIDED; one completed in time is untouched', async () => {
    const item = await h.putItem({ name: 'Game', kind: 'game', price: 700 });
    const buyer = await h.player(1000);
    const in_time = await h.player(1000);
    // Each step right after the one its window depends on: under load, a window spent on the other
    // order's requests once ran out before the wallet was read.
    const abandoned = await request(
      h.pod(0),
      'POST',
      '/v1/orders',
      { account_id: buyer.id, lines: [{ item_id: item, quantity: 1 }], mode: 'two_step' },
      { token: buyer.token, key: key() },
    );
    expect(abandoned.status).toBe(201);
    expect(abandoned.body).toMatchObject({ status: 'PENDING', pending_until: expect.any(String) });
    expect(await h.wallet(buyer.id)).toMatchObject({ balance: 1000, held: 700, available: 300 });
    const completed = await request(
      h.pod(1),
      'POST',
      '/v1/orders',
      { account_id: in_time.id, lines: [{ item_id: item, quantity: 1 }], mode: 'two_step' },
      { token: in_time.token, key: key() },
    );
    expect(completed.status).toBe(201);
    const done = await request(h.pod(2), 'POST', `/v1/orders/${completed.body.id}/complete`, {}, { token: in_time.token, key: key() });
    expect(done.status).toBe(200);

    const cancelled = await eventually('the abandoned order is cancelled', 15_000, async () => {
      const order = await request(h.pod(1), 'GET', `/v1/orders/${abandoned.body.id}`, undefined, { token: buyer.token });
      return order.body.status === 'PENDING' ? undefined : order.body;
    });
    expect(cancelled).toMatchObject({ status: 'CANCELLED', payment_transaction_id: null, pending_until: null });
    expect(cancelled.status_history).toEqual([
      expect.objectContaining({ status: 'PENDING' }),
      expect.objectContaining({ status: 'CANCELLED', reason: 'not completed in time' }),
    ]);
    const hold = await request(h.pod(2), 'GET', `/v1/holds/${abandoned.body.hold_id}`, undefined, { token: buyer.token });
    expect(hold.body).toMatchObject({ status: 'VOIDED' });
    expect(await h.wallet(buyer.id)).toMatchObject({ balance: 1000, held: 0, available: 1000 });
    expect(await h.entitlements(buyer.id)).toEqual([]);
    const late = await request(h.pod(0), 'POST', `/v1/orders/${abandoned.body.id}/complete`, {}, { token: buyer.token, key: key() });
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('invalid_state');
    expect(await h.wallet(buyer.id)).toMatchObject({ balance: 1000, held: 0 });

    // Several recovery passes later, the order completed in time is still COMPLETED and paid.
    await sleep(600);
    const kept = await request(h.pod(0), 'GET', `/v1/orders/${completed.body.id}`, undefined, { token: in_time.token });
    expect(kept.body.status).toBe('COMPLETED');
    expect(await h.wallet(in_time.id)).toMatchObject({ balance: 300, held: 0 });
    await h.expectReconcileClean();
  });

  it('when a top-up outlives its PENDING timeout, then needs_reconciliation, no credit; a late signed success credits once', async () => {
    const buyer = await h.player(0);
    const created = await createTopup(buyer, 1500);
    expect(created.body).toMatchObject({ status: 'PENDING', needs_reconciliation: false });
    const flagged = await untilFlagged(buyer, created.body.id);
    expect(flagged).toMatchObject({ status: 'PENDING', needs_reconciliation: true, credit_transaction_id: null });
    expect((await h.wallet(buyer.id)).balance).toBe(0);

    const event = {
      id: uniqueId('evt'),
      type: 'payment.succeeded',
      data: { topup_id: created.body.id, amount: 1500, currency: 'EUR', psp_payment_id: uniqueId('pay') },
    };
    const raw = JSON.stringify(event);
    const deliver = (base: string) =>
      request(base, 'POST', '/v1/psp/events', undefined, {
        raw,
        headers: { 'Psp-Signature': signatureHeader(cluster.config.psp_webhook_secret, Math.floor(Date.now() / 1000), raw) },
      });
    const deliveries = await Promise.all([deliver(h.pod(0)), deliver(h.pod(1)), deliver(h.pod(2))]);
    // Each delivery gets the first one's answer (SPEC §1.3); the wallet is credited once.
    expect(deliveries.map((delivery) => delivery.body.outcome)).toEqual(['credited', 'credited', 'credited']);
    const settled = await request(h.pod(2), 'GET', `/v1/topups/${created.body.id}`, undefined, { token: buyer.token });
    // Settled by the PSP: nothing left to reconcile (the flag on the row no longer means anything).
    expect(settled.body).toMatchObject({ status: 'SUCCEEDED', credit_transaction_id: expect.any(String), needs_reconciliation: false });
    expect((await h.wallet(buyer.id)).balance).toBe(1500);
    await h.expectReconcileClean();
  });

  it('when a FAILED top-up has a refund waiting for a success that does not come, then it is flagged too', async () => {
    const buyer = await h.player(0);
    const created = await createTopup(buyer, 900);
    const payment = { topup_id: created.body.id, amount: 900, currency: 'EUR', psp_payment_id: uniqueId('pay') };
    const send = (type: string) => {
      const raw = JSON.stringify({ id: uniqueId('evt'), type, data: payment });
      const header = signatureHeader(cluster.config.psp_webhook_secret, Math.floor(Date.now() / 1000), raw);
      return request(h.pod(1), 'POST', '/v1/psp/events', undefined, { raw, headers: { 'Psp-Signature': header } });
    };
    expect((await send('payment.failed')).body.outcome).toBe('failed');
    expect((await send('payment.refunded')).body.outcome).toBe('reversal_waiting');
    // Once it waited unseen: neither held nor flagged, a refund of money that never arrived here.
    const flagged = await untilFlagged(buyer, created.body.id);
    expect(flagged).toMatchObject({ status: 'FAILED', pending_reversal_amount: 900 });
    expect((await send('payment.succeeded')).body.outcome).toBe('credited');
    expect((await h.wallet(buyer.id)).balance).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// The crash test: a real pod process, SIGKILLed mid-stream.

interface PodProcess extends DetachedProcess {
  url: string;
}

const spawned: PodProcess[] = [];
const proxies: DelayingProxy[] = [];

function killGroup(pod: PodProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-pod.pid, signal);
  } catch {
    // The group is already gone.
  }
}
const killAllOnExit = () => {
  for (const pod of spawned) killGroup(pod, 'SIGKILL');
};

function spawnPod(port: number, secrets: { jwt: string; psp: string }): PodProcess {
  // Object.assign keeps the object whose `done` the exit handler sets.
  const pod: PodProcess = Object.assign(
    spawnDetached('src/cli/pod.ts', ['--region', 'eu-west', '--port', String(port)], {
      NODE_ENV: 'test',
      DATABASE_URL: inject('database_url'),
      REGIONS: 'eu-west',
      LOG_LEVEL: 'warn',
      // KYC limits off, as in testConfig: these players hold more than an unverified account may.
      KYC_LIMITS_ENABLED: 'false',
      ORDER_PENDING_TIMEOUT_SECONDS: '2',
      WORKER_INTERVAL_MS: '200',
      DB_POOL_MAX: '12',
      AUTH_JWT_SECRET: secrets.jwt,
      PSP_WEBHOOK_SECRET: secrets.psp,
    }),
    { url: `http://127.0.0.1:${port}` },
  );
  spawned.push(pod);
  return pod;
}

async function ready(pod: PodProcess): Promise<void> {
  await eventually('the pod answers /ready', 40_000, async () => {
    if (pod.done) throw new Error(`pod exited during start-up:\n${pod.output()}`);
    try {
      const response = await fetch(`${pod.url}/ready`, { signal: AbortSignal.timeout(2000) });
      return response.status === 200 ? true : undefined;
    } catch {
      return undefined;
    }
  });
}

/**
 * A TCP proxy in front of the pod that hands each response to the client `delay_ms` late. When
 * the pod is killed, cut() drops what it still holds: those are answers to transactions that had
 * committed, lost on the way, exactly what a client sees when a pod dies after COMMIT and before
 * its response left the machine. Without it that window is too short to ever be hit.
 */
interface DelayingProxy {
  url: string;
  cut(): void;
  close(): Promise<void>;
}

async function delayingProxy(target: string, delay_ms: number): Promise<DelayingProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let cut = false;
  const later = (action: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!cut) action();
    }, delay_ms);
    timers.add(timer);
  };
  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), hostname);
    sockets.add(client);
    sockets.add(upstream);
    const destroy = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.pipe(upstream);
    upstream.on('data', (chunk) => later(() => client.write(chunk)));
    upstream.on('end', () => later(() => client.end()));
    // Once cut, nothing is delayed any more: a connection that was still being set up goes too.
    upstream.on('close', () => (cut ? destroy() : later(destroy)));
    upstream.on('error', () => (cut ? destroy() : later(destroy)));
    client.on('error', destroy);
    client.on('close', destroy);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  let closed: Promise<void> | undefined;
  const proxy: DelayingProxy = {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    cut() {
      cut = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    close: () => (closed ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  };
  proxies.push(proxy);
  return proxy;
}

type CallKind = 'immediate' | 'create_two_step' | 'complete';

interface Call {
  kind: CallKind;
  player: { id: string; token: string };
  path: string;
  body: Record<string, unknown>;
  key: string;
  response?: ApiResponse;
  error?: unknown;
  /** How many 503 (retry with the same key) answers the client got and retried. */
  unavailable: number;
  /** The first and second retries with the same key against the restarted pod. */
  retries: ApiResponse[];
}

/** The final answer the client holds for a call: its response, or the first retry's. */
const outcome = (call: Call): ApiResponse | undefined => call.response ?? call.retries[0];
const label = (response: ApiResponse) => (response.status >= 400 ? `${response.status} ${response.body?.code}` : String(response.status));

describe.sequential('crash: a real pod SIGKILLed while serving purchases and two-step orders', () => {
  const PLAYERS = 6;
  const CLIENTS = 12;
  const INITIAL = 200_000;
  let db: pg.Client;

  beforeAll(async () => {
    process.on('exit', killAllOnExit);
    db = new pg.Client({ connectionString: inject('database_url'), application_name: 'creditshop:test-recovery' });
    await db.connect();
  });

  afterAll(async () => {
    for (const proxy of proxies) {
      proxy.cut();
      await proxy.close();
    }
    for (const pod of spawned.filter((candidate) => !candidate.done)) killGroup(pod, 'SIGTERM');
    await Promise.race([Promise.all(spawned.map((pod) => pod.exited)), sleep(5000, undefined, { ref: false })]);
    killAllOnExit();
    await Promise.race([Promise.all(spawned.map((pod) => pod.exited)), sleep(3000, undefined, { ref: false })]);
    process.off('exit', killAllOnExit);
    await db?.end();
  });

  it('when the pod dies mid-stream and a new one recovers, no order is half done, retries apply once, balances are initial − completed', {
    timeout: 60_000,
  }, async () => {
    const started = Date.now();
    const marks: string[] = [];
    const mark = (what: string) => marks.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)}s`);
    const config = testConfig();
    const secrets = { jwt: config.auth_jwt_secret, psp: config.psp_webhook_secret };
    const first = spawnPod(await freePort(), secrets);
    await ready(first);
    mark('first pod ready');
    let h = await shopHarness([first.url], config);

    const items = [
      await h.putItem({ name: 'Skin', kind: 'skin', price: 100 }),
      await h.putItem({ name: 'Game', kind: 'game', price: 1999 }),
      await h.putItem({
        name: 'Gem pack',
        kind: 'currency_pack',
        price: 499,
        grants: { currency: 'GEMS', amount: 500 },
        refundable: false,
      }),
    ];
    const players = await Promise.all(Array.from({ length: PLAYERS }, () => h.player(INITIAL)));
    const player_ids = players.map((player) => player.id);

    // The stream: every client buys for one player, immediate orders and two-step orders
    // (created, then completed — except one in five, left for the recovery worker).
    const calls: Call[] = [];
    let dead = false;
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    // A 503 says "retry with the same Idempotency-Key" (SPEC §4): the client does, as told.
    const send = async (call: Call, base: string) => {
      calls.push(call);
      try {
        for (;;) {
          const response = await request(base, 'POST', call.path, call.body, { token: call.player.token, key: call.key });
          if (response.status !== 503) {
            call.response = response;
            break;
          }
          call.unavailable += 1;
          if (dead) throw new Error('503 when the pod was killed');
          await sleep(20 + random() * 80);
        }
      } catch (error) {
        call.error = error;
      }
      return call.response;
    };
    // Half the clients talk to the pod directly, half through the delaying proxy.
    const client = async (index: number) => {
      const player = players[index % PLAYERS]!;
      const base = index % 2 === 0 ? first.url : proxy.url;
      while (!dead) {
        const lines =
          random() < 0.5
            ? [{ item_id: items[0]!, quantity: 1 + Math.floor(random() * 3) }]
            : [
                { item_id: items[1]!, quantity: 1 },
                { item_id: items[2]!, quantity: 2 },
              ];
        if (random() < 0.5) {
          await send(
            {
              kind: 'immediate',
              player,
              path: '/v1/orders',
              body: { account_id: player.id, lines },
              key: key(),
              unavailable: 0,
              retries: [],
            },
            base,
          );
          continue;
        }
        const created = await send(
          {
            kind: 'create_two_step',
            player,
            path: '/v1/orders',
            body: { account_id: player.id, lines, mode: 'two_step' },
            key: key(),
            unavailable: 0,
            retries: [],
          },
          base,
        );
        if (created?.status !== 201 || dead || random() < 0.2) continue;
        await send(
          { kind: 'complete', player, path: `/v1/orders/${created.body.id}/complete`, body: {}, key: key(), unavailable: 0, retries: [] },
          base,
        );
      }
    };
    mark('seeded');
    const proxy = await delayingProxy(first.url, 250);
    const stream = Promise.all(Array.from({ length: CLIENTS }, (_, index) => client(index)));
    await eventually('enough of the stream is served', 30_000, async () =>
      calls.filter((call) => call.response).length >= 100 ? true : undefined,
    );
    const in_flight_at_kill = calls.filter((call) => !call.response && !call.error).length;
    mark('kill');
    process.kill(-first.pid, 'SIGKILL');
    proxy.cut();
    dead = true;
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.race([
      stream,
      sleep(15_000, undefined, { ref: false }).then(() => Promise.reject(new Error('a client hung after the kill'))),
    ]);
    await proxy.close();

    // Before the kill every request got an answer the client can act on: never a 5xx other than
    // the 503s (retry with the same key) that the clients already retried above.
    const answered = calls.filter((call) => call.response);
    const allowed: Record<CallKind, string[]> = {
      immediate: ['201', '409 insufficient_funds'],
      create_two_step: ['201', '409 insufficient_funds'],
      complete: ['200', '409 invalid_state'],
    };
    const unexpected = answered.filter((call) => !allowed[call.kind].includes(label(call.response!)));
    expect(
      unexpected.map((call) => `${call.kind}: ${label(call.response!)} ${JSON.stringify(call.response!.body)}`),
      `pod output:\n${first.output()}`,
    ).toEqual([]);
    // Requests in flight when the pod died failed at the client (connection reset): expected.
    const lost = calls.filter((call) => call.error);
    expect(lost.length).toBeLessThanOrEqual(in_flight_at_kill);

    // A new pod process on the same database.
    const second = spawnPod(await freePort(), secrets);
    await ready(second);
    mark('second pod ready');
    h = await shopHarness([second.url], config);

    // Every lost request, retried with its Idempotency-Key, either replays what committed before
    // the crash or executes now; a second retry replays that first retry exactly.
    const retry503 = async (call: Call) => {
      for (let attempt = 1; ; attempt += 1) {
        const response = await request(second.url, 'POST', call.path, call.body, { token: call.player.token, key: call.key });
        if (response.status !== 503 || attempt === 10) return response;
        await sleep(50);
      }
    };
    for (const call of lost) {
      const retry = await retry503(call);
      expect(
        allowed[call.kind],
        `${call.kind} retry: ${label(retry)} ${JSON.stringify(retry.body)}\npod output:\n${second.output()}`,
      ).toContain(label(retry));
      call.retries.push(retry);
    }
    for (const call of lost) {
      const again = await request(second.url, 'POST', call.path, call.body, { token: call.player.token, key: call.key });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect({ status: again.status, body: again.body.code ?? again.body }).toEqual({
        status: call.retries[0]!.status,
        body: call.retries[0]!.body.code ?? call.retries[0]!.body,
      });
      call.retries.push(again);
    }
    // Answers to committed transactions lost on the way (held by the proxy) replay; transactions
    // cut by the kill (rolled back) execute on their retry. Which of the two each lost call was
    // depends on timing, so the run only requires that calls were lost; the checks below hold either way.
    expect(lost.length).toBeGreaterThan(0);
    const replays_of_committed = lost.filter((call) => call.retries[0]!.headers.get('idempotent-replayed') === 'true').length;

    // One recovery pass of the new pod: PENDING two-step orders past their 2 s window are cancelled.
    await eventually('no PENDING order is left', 20_000, async () => {
      const pending = await db.query("SELECT count(*)::int AS n FROM orders WHERE account_id = ANY($1) AND status = 'PENDING'", [
        player_ids,
      ]);
      return pending.rows[0].n === 0 ? true : undefined;
    });

    mark('recovered');
    await h.expectReconcileClean();

    // What the clients know, after the retries, is exactly what the database holds.
    const known_orders = new Set<string>();
    const completed_by_client = new Set<string>();
    for (const call of calls) {
      const answer = outcome(call);
      expect(answer, `${call.kind} ${call.key} has an outcome`).toBeDefined();
      if (call.kind !== 'complete' && answer!.status === 201) known_orders.add(answer!.body.id);
      if (answer!.status < 300 && answer!.body.status === 'COMPLETED') completed_by_client.add(answer!.body.id);
    }
    const orders = await db.query<{
      id: string;
      account_id: string;
      status: string;
      mode: string;
      total_minor: string;
      payment_transaction_id: string | null;
      hold_id: string | null;
    }>('SELECT id, account_id, status, mode, total_minor, payment_transaction_id, hold_id FROM orders WHERE account_id = ANY($1)', [
      player_ids,
    ]);
    expect(new Set(orders.rows.map((order) => order.id))).toEqual(known_orders);
    const wrong_status = orders.rows.filter((order) => order.status !== (completed_by_client.has(order.id) ? 'COMPLETED' : 'CANCELLED'));
    expect(wrong_status.map((order) => `${order.id} ${order.mode} ${order.status}`)).toEqual([]);
    expect(orders.rows.filter((order) => order.status === 'COMPLETED').length).toBeGreaterThan(0);
    expect(orders.rows.filter((order) => order.status === 'CANCELLED').length).toBeGreaterThan(0);

    // Every COMPLETED order has its payment transaction for its total and one matching
    // entitlement per line; no other order has a payment or entitlements.
    const paid = await db.query<{
      id: string;
      status: string;
      total_minor: string;
      payment_type: string | null;
      payment_order: string | null;
      payment_minor: string | null;
      lines: number;
      entitlements: number;
      matching: number;
      transactions: number;
    }>(
      `SELECT o.id, o.status, o.total_minor, t.type AS payment_type, t.order_id AS payment_order, t.amount_minor AS payment_minor,
              (SELECT count(*)::int FROM order_lines l WHERE l.order_id = o.id) AS lines,
              (SELECT count(*)::int FROM entitlements e WHERE e.order_id = o.id) AS entitlements,
              (SELECT count(*)::int FROM order_lines l JOIN entitlements e
                 ON e.order_id = l.order_id AND e.line_no = l.line_no AND e.item_id = l.item_id
                AND e.quantity = l.quantity AND e.status = 'ACTIVE'
               WHERE l.order_id = o.id) AS matching,
              (SELECT count(*)::int FROM ledger_transactions x WHERE x.order_id = o.id) AS transactions
       FROM orders o LEFT JOIN ledger_transactions t ON t.id = o.payment_transaction_id
       WHERE o.account_id = ANY($1)`,
      [player_ids],
    );
    for (const row of paid.rows) {
      if (row.status === 'COMPLETED') {
        expect({
          id: row.id,
          type: row.payment_type,
          order: row.payment_order,
          amount: row.payment_minor,
          entitlements: row.entitlements,
          matching: row.matching,
        }).toEqual({
          id: row.id,
          type: 'purchase',
          order: row.id,
          amount: row.total_minor,
          entitlements: row.lines,
          matching: row.lines,
        });
      } else {
        expect({ id: row.id, payment: row.payment_type, entitlements: row.entitlements, transactions: row.transactions }).toEqual({
          id: row.id,
          payment: null,
          entitlements: 0,
          transactions: 0,
        });
      }
    }
    // Every purchase transaction belongs to a COMPLETED order of the same account.
    const orphans = await db.query(
      `SELECT t.id, t.order_id, o.status FROM ledger_transactions t LEFT JOIN orders o ON o.id = t.order_id AND o.account_id = t.account_id
       WHERE t.type = 'purchase' AND t.account_id = ANY($1) AND (o.id IS NULL OR o.status <> 'COMPLETED')`,
      [player_ids],
    );
    expect(orphans.rows).toEqual([]);
    // Every hold of a cancelled order was voided; nothing is held any more.
    const holds = await db.query<{ status: string; n: number }>(
      `SELECT h.status, count(*)::int AS n FROM holds h JOIN orders o ON o.hold_id = h.id
       WHERE o.account_id = ANY($1) GROUP BY h.status`,
      [player_ids],
    );
    const two_step = orders.rows.filter((order) => order.mode === 'two_step');
    expect(Object.fromEntries(holds.rows.map((row) => [row.status, row.n]))).toEqual({
      ...(two_step.some((order) => order.status === 'COMPLETED')
        ? { CAPTURED: two_step.filter((order) => order.status === 'COMPLETED').length }
        : {}),
      ...(two_step.some((order) => order.status === 'CANCELLED')
        ? { VOIDED: two_step.filter((order) => order.status === 'CANCELLED').length }
        : {}),
    });

    // Each player's balance is the initial credit minus the totals of their COMPLETED orders;
    // their gems are what the completed orders' packs granted.
    const spent = new Map<string, number>();
    for (const order of orders.rows) {
      if (order.status === 'COMPLETED') spent.set(order.account_id, (spent.get(order.account_id) ?? 0) + Number(order.total_minor));
    }
    const granted = await db.query<{ account_id: string; gems: string }>(
      `SELECT o.account_id, sum(l.grants_amount_minor * l.quantity) AS gems FROM orders o JOIN order_lines l ON l.order_id = o.id
       WHERE o.account_id = ANY($1) AND o.status = 'COMPLETED' AND l.grants_currency = 'GEMS' GROUP BY o.account_id`,
      [player_ids],
    );
    for (const player of players) {
      expect(await h.wallet(player.id), player.id).toMatchObject({ balance: INITIAL - (spent.get(player.id) ?? 0), held: 0 });
      const gems = Number(granted.rows.find((row) => row.account_id === player.id)?.gems ?? 0);
      expect((await h.wallet(player.id, 'GEMS')).balance, `${player.id} GEMS`).toBe(gems);
    }

    console.info(
      `crash test: ${calls.length} calls, ${answered.length} answered before the kill ` +
        `${JSON.stringify(tally(answered.map((call) => call.response!)))}, ` +
        `${lost.length} lost in flight (${replays_of_committed} had committed and replayed, ` +
        `${lost.length - replays_of_committed} executed on retry), ${orders.rows.length} orders, ` +
        `${calls.reduce((sum, call) => sum + call.unavailable, 0)} 503 answers retried by the clients; ${marks.join(', ')}`,
    );
  });
});
