import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { request, startCluster, type ApiResponse } from '../support/cluster.js';
import { key, ledgerHarness, tally, type LedgerHarness } from '../support/ledger.js';
import { metricSum } from '../support/metrics.js';

let h: LedgerHarness;

beforeAll(async () => {
  h = await ledgerHarness(await startCluster());
});
afterAll(() => h?.cluster.stop());

/** Polls a wallet until `done` resolves; returns every observation. */
async function sampleWallet(account_id: string, done: Promise<unknown>) {
  const seen: Array<{ balance: number; held: number; available: number }> = [];
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished) seen.push(await h.wallet(account_id));
  return seen;
}

/** Batches that queued on a hot account, over this file's pods. */
async function batchesQueued(): Promise<number> {
  const counts = await Promise.all(h.cluster.pods.map((pod) => metricSum(pod.deps, 'batch_queued_total')));
  return counts.reduce((sum, count) => sum + count, 0);
}

/**
 * Sessions that hold a hot-account queue lock (advisory, namespace 'cred') while idle outside any
 * transaction for over a second: a leaked lock. A batch holds one outside its transaction only
 * between its lock and its first read, a round trip apart.
 */
async function idleQueueLockHolders(): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: inject('database_url') });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT a.pid, a.application_name, a.state, a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.classid = 1668441444 AND l.objsubid = 2 AND l.granted
         AND a.state = 'idle' AND a.state_change < now() - interval '1 second'`,
    );
    return rows;
  } finally {
    await client.end();
  }
}

describe('a hot wallet under concurrent debits from every pod', () => {
  it('when 200 debits of 100 race for 10,000, then 100 succeed, 100 are insufficient_funds, none fails, and the balance is 0', async () => {
    const id = await h.openAccount(10_000, { home_region: 'us-east' });
    const player = await h.mint.player(id);
    const debits = Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        request(
          h.pod(i),
          'POST',
          `/v1/accounts/${id}/debits`,
          { amount: 100, currency: 'EUR', reason: `race-${i}` },
          { token: i % 2 ? player : h.service, key: key() },
        ),
      ),
    );
    const [responses, samples] = await Promise.all([debits, sampleWallet(id, debits)]);

    expect(tally(responses)).toEqual({ '201': 100, '409 insufficient_funds': 100 });
    for (const refused of responses.filter((response) => response.status === 409)) {
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
    }
    // Every success saw a distinct balance: the debits were applied one after another.
    const balances_after = responses.filter((response) => response.status === 201).map((response) => response.body.balance_after);
    expect(balances_after.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i * 100));
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.every((sample) => sample.available >= 0 && sample.balance >= 0 && sample.held === 0)).toBe(true);

    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 0, held: 0, available: 0 });
    const history = await h.history(id);
    expect(history.filter((item) => item.type === 'debit')).toHaveLength(100);
    expect(history.filter((item) => item.type === 'credit')).toHaveLength(1);
    await h.expectReconcileClean();
    // The pods took turns on the wallet through the hot-account queue, and gave every lock back.
    expect(await batchesQueued()).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await idleQueueLockHolders()).toEqual([]);
  });
});

describe('one debit sent 40 times at once with one Idempotency-Key', () => {
  it('when the copies race over three pods, then one debit, one ledger transaction, every answer the first (or in flight)', async () => {
    const id = await h.openAccount(1_000, { home_region: 'ap-south' });
    const player = await h.mint.player(id);
    const k = key();
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        request(
          h.pod(i),
          'POST',
          `/v1/accounts/${id}/debits`,
          { amount: 250, currency: 'EUR', reason: 'potion' },
          { token: player, key: k },
        ),
      ),
    );

    const statuses = tally(responses);
    expect(
      Object.keys(statuses).every((label) => label === '201' || label === '409 idempotency_key_in_flight'),
      JSON.stringify(statuses),
    ).toBe(true);
    const successes = responses.filter((response) => response.status === 201);
    expect(successes.length).toBeGreaterThanOrEqual(1);
    const first = successes[0]!.body;
    expect(first).toMatchObject({ type: 'debit', account_id: id, amount: 250, balance_after: 750 });
    for (const success of successes) expect(success.body).toEqual(first);
    expect(successes.filter((response) => response.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);

    expect(await h.wallet(id)).toMatchObject({ balance: 750, available: 750 });
    const debits = (await h.history(id)).filter((item) => item.type === 'debit');
    expect(debits).toHaveLength(1);
    expect(debits[0]).toMatchObject({ transaction_id: first.id, amount: -250, balance_after: 750 });

    // A late retry replays the stored answer.
    const late = await request(
      h.pod(1),
      'POST',
      `/v1/accounts/${id}/debits`,
      { amount: 250, currency: 'EUR', reason: 'potion' },
      { token: player, key: k },
    );
    expect(late.status).toBe(201);
    expect(late.headers.get('idempotent-replayed')).toBe('true');
    expect(late.body).toEqual(first);
    await h.expectReconcileClean();
  });
  it('when 30 copies of an unpayable debit race with one key, then all answer the same insufficient_funds, nothing moves', async () => {
    const id = await h.openAccount(100, { home_region: 'us-east' });
    const k = key();
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        request(
          h.pod(i),
          'POST',
          `/v1/accounts/${id}/debits`,
          { amount: 101, currency: 'EUR', reason: 'too much' },
          { token: h.service, key: k },
        ),
      ),
    );
    const statuses = tally(responses);
    expect(
      Object.keys(statuses).every((label) => label === '409 insufficient_funds' || label === '409 idempotency_key_in_flight'),
      JSON.stringify(statuses),
    ).toBe(true);
    const refusals = responses.filter((response) => response.body.code === 'insufficient_funds');
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    const strip = ({ request_id: _, ...problem }: Record<string, unknown>) => problem;
    for (const refusal of refusals) expect(strip(refusal.body)).toEqual(strip(refusals[0]!.body));
    expect(await h.wallet(id)).toEqual({ currency: 'EUR', balance: 100, held: 0, available: 100 });
    expect((await h.history(id)).map((item) => item.type)).toEqual(['credit']);
  });
});

describe('cross-region transfers in both directions at once', () => {
  it('when 60 transfers race between an eu-west and an ap-south account, then all succeed, no deadlock, money is conserved', async () => {
    const a = await h.openAccount(5_000, { home_region: 'eu-west' });
    const b = await h.openAccount(5_000, { home_region: 'ap-south' });
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const forward = i % 2 === 0;
        const body = forward
          ? { from_account_id: a, to_account_id: b, amount: 7, currency: 'EUR', note: `f${i}` }
          : { from_account_id: b, to_account_id: a, amount: 11, currency: 'EUR', note: `b${i}` };
        return request(h.pod(i), 'POST', '/v1/transfers', body, { token: h.service, key: key() });
      }),
    );

    expect(tally(responses)).toEqual({ '201': 60 });
    for (const response of responses) expect(response.body).toMatchObject({ status: 'COMPLETED', currency: 'EUR' });
    // 30 × 7 went a → b and 30 × 11 went b → a.
    const wallet_a = await h.wallet(a);
    const wallet_b = await h.wallet(b);
    expect(wallet_a).toMatchObject({ balance: 5_000 - 210 + 330, held: 0 });
    expect(wallet_b).toMatchObject({ balance: 5_000 + 210 - 330, held: 0 });
    expect(wallet_a.balance + wallet_b.balance).toBe(10_000);

    const history_a = await h.history(a);
    expect(history_a.filter((item) => item.type === 'transfer')).toHaveLength(60);
    // History balances chain: each entry's balance_after is the previous one plus its amount.
    const oldest_first = [...history_a].reverse();
    for (let i = 1; i < oldest_first.length; i += 1) {
      expect(oldest_first[i]!.balance_after).toBe(oldest_first[i - 1]!.balance_after! + oldest_first[i]!.amount);
    }
    await h.expectReconcileClean();
  });
});

describe('racing partial refunds of one debit', () => {
  it('when 10 refunds of 30 race a debit of 100, then exactly 3 succeed, 7 are refund_exceeds_remaining and 90 comes back', async () => {
    const id = await h.openAccount(500, { home_region: 'eu-west' });
    const debit = await request(
      h.pod(0),
      'POST',
      `/v1/accounts/${id}/debits`,
      { amount: 100, currency: 'EUR', reason: 'skin' },
      { token: h.service, key: key() },
    );
    expect(debit.status).toBe(201);
    const responses: ApiResponse[] = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(
          h.pod(i),
          'POST',
          `/v1/transactions/${debit.body.id}/refunds`,
          { amount: 30, reason: `r${i}` },
          { token: h.service, key: key() },
        ),
      ),
    );

    expect(tally(responses)).toEqual({ '201': 3, '422 refund_exceeds_remaining': 7 });
    for (const refund of responses.filter((response) => response.status === 201)) {
      expect(refund.body).toMatchObject({ type: 'refund', amount: 30, account_id: id, original_transaction_id: debit.body.id });
    }
    expect(await h.wallet(id)).toMatchObject({ balance: 500 - 100 + 90, available: 490 });

    // What is left (10) can still be refunded, once.
    const rest = await request(h.pod(2), 'POST', `/v1/transactions/${debit.body.id}/refunds`, {}, { token: h.service, key: key() });
    expect(rest.status).toBe(201);
    expect(rest.body.amount).toBe(10);
    const beyond = await request(
      h.pod(1),
      'POST',
      `/v1/transactions/${debit.body.id}/refunds`,
      { amount: 1 },
      { token: h.service, key: key() },
    );
    expect(beyond.status).toBe(422);
    expect(beyond.body.code).toBe('refund_exceeds_remaining');
    expect(await h.wallet(id)).toMatchObject({ balance: 500 });
    await h.expectReconcileClean();
  });
});
