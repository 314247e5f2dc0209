import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlTx } from '../../src/db/sql.js';
import {
  blockedDeliveries,
  claimDeliveries,
  claimFollowers,
  recordAttempts,
  releaseDeliveries,
  setAside,
} from '../../src/webhooks/delivery-store.js';
import { type BacklogDatabase, insertDeliveries, openBacklogDatabase } from '../support/delivery-backlog.js';
import { tuplesRead } from '../support/table-reads.js';

// The claims of webhook deliveries against a backlog that built up after the table's statistics
// were taken, as after a receiver outage under load. With such statistics the claim once planned
// its "no earlier pending delivery of the account" check as an anti-join that rescanned the
// endpoint's whole pending index for every row: 7-13 s per claim over 13,000 pending deliveries
// in the benchmark, and outcome writes read the whole pending index. Each account here has two
// pending deliveries; a claim must hand out heads only.

const ACCOUNTS = 10_000;
const CLAIM_LIMIT = 200;
// Per statement, against about 2 s for the quadratic plan on the test machine (and 10 ms for a linear one).
const STATEMENT_TIMEOUT_MS = 1000;

let backlog: BacklogDatabase;
let client: pg.Client;
let tx: SqlTx;
const endpoint_id = randomUUID();

/** `per_account` deliveries of each account, account_seq from `seq_from`, due a second ago. */
function insertBacklog(state: 'pending' | 'delivered', seq_from: number, per_account: number): Promise<void> {
  return insertDeliveries(client, {
    endpoint_id,
    accounts: `'acct_' || (g % ${ACCOUNTS})`,
    seq: `${seq_from} + g / ${ACCOUNTS}`,
    state,
    attempts: 0,
    due: '-1 second',
    count: ACCOUNTS * per_account,
  });
}

beforeAll(async () => {
  backlog = await openBacklogDatabase('claims');
  ({ client, tx } = backlog);
  // Statistics taken while every delivery was delivered; then the backlog.
  await insertBacklog('delivered', 1, 2);
  await client.query('ANALYZE webhook_deliveries');
  await insertBacklog('pending', 3, 2);
  // The pods' statements are named prepared statements: plan them as the generic plan they end up with.
  await client.query('SET plan_cache_mode = force_generic_plan');
  await client.query(`SET statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
}, 60_000);
afterAll(async () => {
  await backlog?.close();
});

describe('claiming webhook deliveries from a backlog the statistics have not seen', () => {
  it('a claim hands out the first pending delivery of each account, in a statement that does not scan the backlog per row', async () => {
    const claim = { endpoint_id, owner: 'test', lease_ms: 30_000, limit: CLAIM_LIMIT, scan_max: CLAIM_LIMIT * 5 };
    const { claimed: first } = await claimDeliveries(tx, { ...claim, token: randomUUID() });
    expect(first).toHaveLength(CLAIM_LIMIT);
    expect(new Set(first.map((delivery) => delivery.account_id)).size).toBe(CLAIM_LIMIT);
    expect(first.every((delivery) => delivery.account_seq === 3)).toBe(true);
    // Leased: the next claim skips them and takes other accounts' heads, never their followers.
    const { claimed: second } = await claimDeliveries(tx, { ...claim, token: randomUUID() });
    expect(second).toHaveLength(CLAIM_LIMIT);
    const accounts = new Set(first.map((delivery) => delivery.account_id));
    expect(second.every((delivery) => delivery.account_seq === 3 && !accounts.has(delivery.account_id))).toBe(true);
  });

  it('the order check finds the followers whose head is pending and not held, and frees those whose head is held', async () => {
    const { rows } = await client.query<{ id: string; account_id: string; account_seq: string }>(
      `SELECT id, account_id, account_seq FROM webhook_deliveries
       WHERE state = 'pending' AND account_seq = 4 ORDER BY account_id LIMIT ${CLAIM_LIMIT}`,
    );
    // The first 50 are checked as if this pod held their heads (account_seq 3), the others not.
    const candidates = rows.map((row, index) => ({
      ...row,
      endpoint_id,
      account_seq: Number(row.account_seq),
      held_before_seq: index < 50 ? 3 : null,
    }));
    const blocked = await blockedDeliveries(tx, candidates);
    expect([...blocked].sort()).toEqual(
      candidates
        .slice(50)
        .map((candidate) => candidate.id)
        .sort(),
    );
  });

  it('the order check of a hot account reads what lies after the last delivery held before each candidate, not the chain', async () => {
    // One account's chain of 2,000 pending deliveries, all held by this pod, and 50 more to check.
    const hot_endpoint_id = randomUUID();
    await insertDeliveries(client, {
      endpoint_id: hot_endpoint_id,
      accounts: `'acct_hot'`,
      seq: '1 + g',
      state: 'pending',
      attempts: 0,
      due: '-1 second',
      count: 2050,
    });
    const { rows } = await client.query<{ id: string; account_seq: string }>(
      'SELECT id, account_seq FROM webhook_deliveries WHERE endpoint_id = $1 AND account_seq > 2000 ORDER BY account_seq',
      [hot_endpoint_id],
    );
    const candidates = rows.map((row) => ({
      id: row.id,
      endpoint_id: hot_endpoint_id,
      account_id: 'acct_hot',
      account_seq: Number(row.account_seq),
      held_before_seq: Number(row.account_seq) - 1,
    }));
    // Excluding the 2,000 held ids instead read the whole held chain per candidate: 100,000 rows.
    const { result: blocked, tuples } = await tuplesRead(client, 'webhook_deliveries', () => blockedDeliveries(tx, candidates));
    expect(blocked.size).toBe(0);
    expect(tuples).toBeLessThanOrEqual(candidates.length * 3);
    // Not held, the chain's first pending delivery comes before them all.
    const unheld = await blockedDeliveries(
      tx,
      candidates.map((candidate) => ({ ...candidate, held_before_seq: null })),
    );
    expect(unheld.size).toBe(candidates.length);
  });

  it('outcomes and give-backs are written by id and lease token: a delivery held under another token is left alone', async () => {
    const claim = { endpoint_id, owner: 'test', lease_ms: 30_000, limit: CLAIM_LIMIT, scan_max: CLAIM_LIMIT * 5, token: randomUUID() };
    const { claimed } = await claimDeliveries(tx, claim);
    const [delivered, given_back, stale] = [claimed.slice(0, 100), claimed.slice(100, 150), claimed.slice(150)];
    const entry = { attempt: 1, at: new Date().toISOString(), status_code: 200, latency_ms: 5, error: null };
    const outcome = (delivery: (typeof claimed)[number], lease_token: string) => ({
      ...delivery,
      lease_token,
      state: 'delivered' as const,
      retry_in_ms: 0,
      entry,
    });
    // The outcome write and the wake of the deliveries behind those delivered read those rows and
    // the next of each chain, not the backlog: the wake once joined the table and read every pending
    // delivery per row (11.8 ms a wake in the benchmark; here tens of thousands of rows).
    const { tuples } = await tuplesRead(client, 'webhook_deliveries', () =>
      recordAttempts(
        tx,
        [...delivered.map((delivery) => outcome(delivery, claim.token)), ...stale.map((delivery) => outcome(delivery, randomUUID()))],
        20,
      ),
    );
    expect(tuples).toBeLessThanOrEqual(claimed.length * 4);
    const carried = await releaseDeliveries(tx, [
      ...given_back.map((delivery) => ({ id: delivery.id, lease_token: claim.token, carry_on: true })),
      ...stale.map((delivery) => ({ id: delivery.id, lease_token: randomUUID(), carry_on: true })),
    ]);
    // Those given back are first in their chains again: theirs to carry on; a give-back not written, none.
    expect(carried.map((chain) => chain.account_id).sort()).toEqual(given_back.map((delivery) => delivery.account_id).sort());
    const { rows } = await client.query<{ id: string; state: string; attempts: number; lease_token: string | null }>(
      'SELECT id, state, attempts, lease_token FROM webhook_deliveries WHERE id = ANY($1::uuid[])',
      [claimed.map((delivery) => delivery.id)],
    );
    const by_id = new Map(rows.map((row) => [row.id, row]));
    for (const delivery of delivered) expect(by_id.get(delivery.id)).toMatchObject({ state: 'delivered', attempts: 1, lease_token: null });
    // Each delivered one woke the next of its account, and so did the outcomes not written (a lease
    // lost: their next only becomes due, and a claim sets it aside again); those given back, none.
    const { rows: woken } = await client.query<{ account_id: string }>(
      `SELECT account_id FROM webhook_deliveries
       WHERE endpoint_id = $1 AND state = 'pending' AND account_seq = 4 AND next_attempt_at >= $2::timestamptz`,
      [endpoint_id, entry.at],
    );
    expect(woken.map((row) => row.account_id).sort()).toEqual([...delivered, ...stale].map((delivery) => delivery.account_id).sort());
    for (const delivery of given_back) expect(by_id.get(delivery.id)).toMatchObject({ state: 'pending', attempts: 0, lease_token: null });
    for (const delivery of stale) expect(by_id.get(delivery.id)).toMatchObject({ state: 'pending', attempts: 0, lease_token: claim.token });
  });

  it('a follower claim leaves a delivery waiting out its backoff, and what follows it, where it is', async () => {
    const chains_endpoint_id = randomUUID();
    const insert = (account: string, seq: number, attempts: number, due: string) =>
      insertDeliveries(client, {
        endpoint_id: chains_endpoint_id,
        accounts: `'${account}'`,
        seq: String(seq),
        state: 'pending',
        attempts,
        due,
        count: 1,
      });
    // A head that failed and was given back between the claim of its chain's head and this one.
    await insert('acct_backoff', 1, 1, '5 seconds');
    await insert('acct_backoff', 2, 0, '-1 second');
    // A head whose backoff is over, and a chain set aside behind a head delivered since.
    await insert('acct_due', 1, 1, '-1 second');
    await insert('acct_due', 2, 0, '-1 second');
    await insert('acct_set_aside', 1, 0, '1 hour');
    await insert('acct_set_aside', 2, 0, '1 hour');
    const claim = { endpoint_id: chains_endpoint_id, owner: 'test', lease_ms: 30_000, token: randomUUID(), limit: 100, per_chain: 5 };
    const followers = await claimFollowers(tx, { ...claim, accounts: ['acct_backoff', 'acct_due', 'acct_set_aside'] });
    expect(followers.map((delivery) => `${delivery.account_id} ${delivery.account_seq}`).sort()).toEqual([
      'acct_due 1',
      'acct_due 2',
      'acct_set_aside 1',
      'acct_set_aside 2',
    ]);
  });
  it('setting aside skips a waiting delivery another statement holds instead of waiting for it (two such waits deadlocked)', async () => {
    const aside_endpoint_id = randomUUID();
    await insertDeliveries(client, {
      endpoint_id: aside_endpoint_id,
      accounts: `'acct_aside'`,
      seq: '1 + g',
      state: 'pending',
      attempts: 0,
      due: '-1 second',
      count: 3,
    });
    const claim = { endpoint_id: aside_endpoint_id, owner: 'test', lease_ms: 30_000, limit: 10, scan_max: 10, token: randomUUID() };
    const { claimed, waiting } = await claimDeliveries(tx, claim);
    expect(claimed.map((delivery) => delivery.account_seq)).toEqual([1]);
    expect(waiting).toHaveLength(2);
    const holder = new pg.Client({ connectionString: backlog.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM webhook_deliveries WHERE id = $1 FOR UPDATE', [waiting[0]!.id]);
      // Under the statement timeout: waiting for the held row would fail it.
      expect(await setAside(tx, waiting, 30_000)).toBe(1);
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    const { rows } = await client.query<{ id: string; set_aside: boolean }>(
      `SELECT id, next_attempt_at > now() + INTERVAL '10 seconds' AS set_aside FROM webhook_deliveries WHERE id = ANY($1::uuid[])`,
      [waiting.map((row) => row.id)],
    );
    expect(Object.fromEntries(rows.map((row) => [row.id, row.set_aside]))).toEqual({ [waiting[0]!.id]: false, [waiting[1]!.id]: true });
  });
});
