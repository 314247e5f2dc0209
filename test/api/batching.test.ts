import { inject, afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { request, startCluster, type ApiResponse } from '../support/cluster.js';
import { key, ledgerHarness, type LedgerHarness } from '../support/ledger.js';
import { planCounts } from '../support/plan-counts.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database.js';

/**
 * The write path groups operations into batches. These tests make a batch happen for sure: a
 * first operation's batch is held at its first round trip by a real row lock taken from another
 * connection, the operations under test queue behind it in the same pod and region (the pod's
 * write queue depth says when they all wait), and releasing the lock lets the next batch take
 * them all at once.
 */
const REGION = 'eu-west';

async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = (await request(url, 'GET', '/metrics')).body as string;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && candidate.includes(labels));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; tries < 500; tries += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${what} did not happen`);
}

/** Holds the account row of `blocker` locked until released, from a connection of the test's own. */
async function lockAccount(database_url: string, blocker: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: database_url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT id FROM accounts WHERE id = $1 FOR UPDATE', [blocker]);
  return async () => {
    await client.query('COMMIT');
    await client.end();
  };
}

/** Sends `requests` to one pod behind a held batch, and answers them once they ran as the next batch. */
async function inOneBatch(
  h: LedgerHarness,
  database_url: string,
  url: string,
  requests: ReadonlyArray<() => Promise<ApiResponse>>,
  /** Operations that wait for the batch: a copy of an Idempotency-Key in flight waits for its twin instead. */
  queued = requests.length,
): Promise<{ answers: ApiResponse[]; batches: number; operations: number }> {
  const blocker = await h.openAccount(1_000, { home_region: REGION, base: url });
  const release = await lockAccount(database_url, blocker);
  const labels = `batch_region="${REGION}"`;
  const batches_before = await metric(url, 'batch_operations_count', labels);
  const operations_before = await metric(url, 'batch_operations_sum', labels);
  const held = request(
    url,
    'POST',
    `/v1/accounts/${blocker}/debits`,
    { amount: 1, currency: 'EUR', reason: 'held' },
    { token: h.service, key: key() },
  );
  await until('the held batch started', async () => (await metric(url, 'batch_operations_count', labels)) > batches_before);
  const answers = requests.map((send) => send());
  await until('every operation waiting', async () => (await metric(url, 'write_queue_depth')) === queued);
  await release();
  expect((await held).status).toBe(201);
  const settled = await Promise.all(answers);
  return {
    answers: settled,
    batches: (await metric(url, 'batch_operations_count', labels)) - batches_before,
    operations: (await metric(url, 'batch_operations_sum', labels)) - operations_before,
  };
}

describe('one batch, many operations, each with its own answer', () => {
  let h: LedgerHarness;
  beforeAll(async () => {
    h = await ledgerHarness(await startCluster());
  });
  afterAll(() => h?.cluster.stop());

  it('when successes, refusals, a twin key, a currency mismatch and an unknown account share a batch, each gets an answer', async () => {
    const url = h.cluster.pod(REGION).url;
    const rich = await h.openAccount(1_000, { home_region: REGION, base: url });
    const poor = await h.openAccount(50, { home_region: REGION, base: url });
    const euro_only = await h.openAccount(500, { home_region: REGION, base: url });
    const twice = key();
    const post =
      (path: string, body: unknown, idempotency = key()) =>
      () =>
        request(url, 'POST', path, body, { token: h.service, key: idempotency });
    const debit = (amount: number, currency = 'EUR') => ({ amount, currency, reason: 'batched' });
    const { answers, batches, operations } = await inOneBatch(
      h,
      inject('database_url'),
      url,
      [
        post(`/v1/accounts/${rich}/debits`, debit(100)),
        post(`/v1/accounts/${poor}/debits`, debit(100)),
        post(`/v1/accounts/${rich}/debits`, debit(200), twice),
        post(`/v1/accounts/${euro_only}/debits`, debit(10, 'GEMS')),
        post('/v1/accounts/nobody-has-this-account/debits', debit(10)),
        post(`/v1/accounts/${rich}/credits`, { amount: 30, currency: 'EUR', reason: 'batched' }),
        post(`/v1/accounts/${rich}/debits`, debit(200), twice),
      ],
      6,
    );
    // The held batch, then the seven: six operations (the second copy of `twice` waited for the first in the pod).
    expect(batches).toBe(2);
    expect(operations).toBe(1 + 6);
    const [first, refused, keyed, mismatched, unknown, credited, replayed] = answers;
    expect(first!.status).toBe(201);
    expect({ status: refused!.status, code: refused!.body.code }).toEqual({ status: 409, code: 'insufficient_funds' });
    expect(keyed!.status).toBe(201);
    expect({ status: mismatched!.status, code: mismatched!.body.code }).toEqual({ status: 422, code: 'currency_mismatch' });
    expect({ status: unknown!.status, code: unknown!.body.code }).toEqual({ status: 404, code: 'not_found' });
    expect(credited!.status).toBe(201);
    expect(replayed!.status).toBe(201);
    expect(replayed!.headers.get('idempotent-replayed')).toBe('true');
    expect(replayed!.body).toEqual(keyed!.body);
    // In arrival order: 1,000 − 100 − 200 + 30; each success saw the balance its predecessors left.
    expect([first!.body.balance_after, keyed!.body.balance_after, credited!.body.balance_after]).toEqual([900, 700, 730]);
    expect(await h.wallet(rich)).toMatchObject({ balance: 730, held: 0 });
    expect(await h.wallet(poor)).toMatchObject({ balance: 50 });
    expect(await h.wallet(euro_only)).toMatchObject({ balance: 500 });
    expect((await h.history(rich)).map((item) => item.amount)).toEqual([30, -200, -100, 1_000]);
    await h.expectReconcileClean();
  });

  it('when batches of every size run, then their statements are planned once per connection, the setting kept in the batch', async () => {
    const pod = h.cluster.pod(REGION);
    const wallets = await Promise.all(Array.from({ length: 4 }, () => h.openAccount(1_000, { home_region: REGION, base: pod.url })));
    // Sequential debits make batches of one; concurrent ones, batches of several: arrays of every length.
    const debit = (account: string) =>
      request(
        pod.url,
        'POST',
        `/v1/accounts/${account}/debits`,
        { amount: 1, currency: 'EUR', reason: 'plans' },
        { token: h.service, key: key() },
      );
    for (const account of [...wallets, ...wallets]) expect((await debit(account)).status).toBe(201);
    const together = await Promise.all(wallets.flatMap((account) => [debit(account), debit(account)]));
    expect(together.map((answer) => answer.status)).toEqual(together.map(() => 201));

    const { plans, modes } = await planCounts(pod.deps.db.tx_pool);
    for (const name of [
      'batch_read_idempotency_keys',
      'batch_read_accounts',
      'batch_read_wallets',
      'batch_update_accounts',
      'batch_update_wallets',
      'batch_insert_ledger_transactions',
    ])
      expect({ name, generic: (plans.get(name)?.generic ?? 0) > 0 }).toEqual({ name, generic: true });
    expect([...plans].filter(([name, count]) => name.startsWith('batch_') && count.custom > 0)).toEqual([]);
    expect([...modes]).toEqual(['enable_hashjoin=on enable_mergejoin=on plan_cache_mode=auto']);
  });
});

describe('a statement that fails for one operation of a batch', () => {
  let scratch: ScratchDatabase;
  let h: LedgerHarness;
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject('database_url'), 'batch_poison');
    // Crafted data the in-memory rules cannot foresee: the database refuses one reason only.
    const admin = new pg.Client({ connectionString: scratch.url });
    await admin.connect();
    await admin.query("ALTER TABLE ledger_transactions ADD CONSTRAINT test_poison CHECK (reason IS DISTINCT FROM 'poison')");
    // And one reason whose statement loses its connection (the server ends the session that writes it).
    await admin.query(`CREATE FUNCTION test_vanish() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.reason = 'vanish' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
        RETURN NEW;
      END $$`);
    await admin.query('CREATE TRIGGER test_vanish BEFORE INSERT ON ledger_transactions FOR EACH ROW EXECUTE FUNCTION test_vanish()');
    await admin.end();
    h = await ledgerHarness(await startCluster({ env: { DATABASE_URL: scratch.url } }));
  });
  afterAll(async () => {
    await h?.cluster.stop();
    await scratch?.drop();
  });

  it('when one debit of a batch violates a CHECK, then it alone fails (500) and its neighbours commit', async () => {
    const url = h.cluster.pod(REGION).url;
    const shared = await h.openAccount(1_000, { home_region: REGION, base: url });
    const other = await h.openAccount(1_000, { home_region: REGION, base: url });
    const debit = (account: string, reason: string) => () =>
      request(url, 'POST', `/v1/accounts/${account}/debits`, { amount: 100, currency: 'EUR', reason }, { token: h.service, key: key() });
    const splits_before = await metric(url, 'batch_splits_total', `batch_region="${REGION}"`);
    const { answers, batches } = await inOneBatch(h, scratch.url, url, [
      debit(shared, 'fine'),
      debit(other, 'fine'),
      debit(shared, 'poison'),
      debit(shared, 'fine'),
      debit(other, 'fine'),
    ]);
    // All five started as one batch; the failed statement split it until the culprit ran alone.
    expect(batches).toBe(2);
    expect(await metric(url, 'batch_splits_total', `batch_region="${REGION}"`)).toBeGreaterThan(splits_before);
    expect(answers.map((answer) => answer.status)).toEqual([201, 201, 500, 201, 201]);
    expect(answers[2]!.body.code).toBe('internal_error');
    expect(await h.wallet(shared)).toMatchObject({ balance: 800 });
    expect(await h.wallet(other)).toMatchObject({ balance: 800 });
    // The poisoned debit left nothing: no ledger row, no idempotency record (a retry may still succeed).
    expect((await h.history(shared)).filter((item) => item.reason === 'poison')).toEqual([]);
    await h.expectReconcileClean();
  });

  it('when a split batch loses its connection, then every operation is answered (503) and retries with the same keys commit', async () => {
    const url = h.cluster.pod(REGION).url;
    const account = await h.openAccount(1_000, { home_region: REGION, base: url });
    const keys = ['poison', 'vanish', 'fine', 'fine'].map((reason) => ({ reason, key: key() }));
    const debit = (reason: string, idempotency_key: string) => () =>
      request(
        url,
        'POST',
        `/v1/accounts/${account}/debits`,
        { amount: 100, currency: 'EUR', reason },
        { token: h.service, key: idempotency_key },
      );
    // The poisoned row fails first and splits the batch; the first half then loses the connection
    // with the vanishing row, and the second half, which has not run, can no longer run on it.
    const { answers } = await inOneBatch(
      h,
      scratch.url,
      url,
      keys.map(({ reason, key: idempotency_key }) => debit(reason, idempotency_key)),
    );
    expect(answers.map((answer) => answer.status)).toEqual([500, 503, 503, 503]);
    for (const answer of answers.slice(1)) expect(answer.body.code).toBe('unavailable');
    expect(await h.wallet(account)).toMatchObject({ balance: 1_000 });
    // The pod reconnects alone; the fine debits, sent again with their keys, commit once.
    const retried = async () => Promise.all(keys.slice(2).map(({ reason, key: idempotency_key }) => debit(reason, idempotency_key)()));
    let statuses: number[] = [];
    for (let tries = 0; tries < 50; tries += 1) {
      statuses = (await retried()).map((answer) => answer.status);
      if (statuses.every((status) => status === 201)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(statuses).toEqual([201, 201]);
    expect(await h.wallet(account)).toMatchObject({ balance: 800 });
    await h.expectReconcileClean();
  });

  it('when a migration adds a column while pods run, then batches prepare their statements again and nothing fails', async () => {
    const url = h.cluster.pod(REGION).url;
    const account = await h.openAccount(100_000, { home_region: REGION, base: url });
    const debits = (count: number) =>
      Promise.all(
        Array.from({ length: count }, () =>
          request(
            url,
            'POST',
            `/v1/accounts/${account}/debits`,
            { amount: 1, currency: 'EUR', reason: 'fine' },
            { token: h.service, key: key() },
          ),
        ),
      );
    // Every connection of the pod prepares the batch's `SELECT * FROM accounts` and `wallets`.
    expect(new Set((await debits(40)).map((answer) => answer.status))).toEqual(new Set([201]));
    const admin = new pg.Client({ connectionString: scratch.url });
    await admin.connect();
    await admin.query('ALTER TABLE accounts ADD COLUMN test_added integer');
    await admin.query('ALTER TABLE wallets ADD COLUMN test_added integer');
    await admin.end();
    // Before: "cached plan must not change result type" on every prepared connection, split down to 500s.
    const after = await debits(40);
    expect(after.filter((answer) => answer.status !== 201).map((answer) => [answer.status, answer.body.code])).toEqual([]);
    expect(await h.wallet(account)).toMatchObject({ balance: 100_000 - 80 });
  });
});
