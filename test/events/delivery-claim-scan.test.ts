import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreparedStatements, SqlTx } from '../../src/db/sql.js';
import { claimDeliveries, claimFollowers, recordAttempts, releaseDeliveries, setAside } from '../../src/webhooks/delivery-store.js';
import { type BacklogDatabase, insertDeliveries, openBacklogDatabase } from '../support/delivery-backlog.js';
import { tuplesRead } from '../support/table-reads.js';

// An endpoint that refuses some accounts' first event again and again (a receiver bug with one
// kind of event, say) while it accepts the others: each such head backs off for up to an hour,
// for days, and its account's later events wait behind it. Claims once walked the endpoint's
// pending deliveries in account order and read every waiting one, each poll of each pod, to find
// the few that could go. A claim must read what is due, not what waits.

const BLOCKED_ACCOUNTS = 2000;
const FOLLOWERS_PER_ACCOUNT = 20;
const READY_ACCOUNTS = 50;
const CLAIM = { owner: 'test', lease_ms: 30_000, limit: 200, scan_max: 1000 };

let backlog: BacklogDatabase;
let client: pg.Client;
let tx: SqlTx;
const endpoint_id = randomUUID();

function insertPending(accounts: string, seq: string, attempts: number, due: string, count: number): Promise<void> {
  return insertDeliveries(client, { endpoint_id, accounts, seq, state: 'pending', attempts, due, count });
}

/** A poll's claim, as the dispatcher makes it: what may go is claimed, what waits is set aside. */
async function claim() {
  const found = await claimDeliveries(tx, { ...CLAIM, endpoint_id, token: randomUUID() });
  await setAside(tx, found.waiting, CLAIM.lease_ms);
  return found.claimed;
}

beforeAll(async () => {
  backlog = await openBacklogDatabase('claim_scan');
  ({ client, tx } = backlog);
  // Heads refused three times, backed off for an hour; their followers due since they committed.
  await insertPending(`'blocked_' || g`, '1', 3, '1 hour', BLOCKED_ACCOUNTS);
  for (let seq = 2; seq <= FOLLOWERS_PER_ACCOUNT + 1; seq += 1) {
    await insertPending(`'blocked_' || (g % ${BLOCKED_ACCOUNTS})`, String(seq), 0, '-10 seconds', BLOCKED_ACCOUNTS);
  }
  // Accounts whose next event may go: after all of those in account order, before them by due time.
  await insertPending(`'ready_' || g`, '1', 0, '-20 seconds', READY_ACCOUNTS);
  await client.query('ANALYZE webhook_deliveries');
  await client.query('SET plan_cache_mode = force_generic_plan');
}, 60_000);
afterAll(async () => {
  await backlog?.close();
});

describe('claiming deliveries behind heads that keep failing', () => {
  it('claims what may go; waiting followers are set aside once, and later claims do not read them again', async () => {
    const claimed = await claim();
    expect(claimed.map((delivery) => delivery.account_id).sort()).toEqual(
      Array.from({ length: READY_ACCOUNTS }, (_, n) => `ready_${n}`).sort(),
    );
    // Every follower seen waiting is set aside until its head can be tried again: a few claims
    // sweep them all once, each reading a few rows per row of its scan (the row, its head, the
    // same again to lock it, skipping a locked one, and to set it aside).
    for (let sweep = 0; sweep < (BLOCKED_ACCOUNTS * FOLLOWERS_PER_ACCOUNT) / CLAIM.scan_max; sweep += 1) {
      const { result, tuples } = await tuplesRead(client, 'webhook_deliveries', claim);
      expect(result).toEqual([]);
      expect(tuples).toBeLessThan(CLAIM.scan_max * 7);
    }
    const { result, tuples } = await tuplesRead(client, 'webhook_deliveries', claim);
    expect(result).toEqual([]);
    // 42,050 pending deliveries, none may go: it reads only the 50 due ones held under a lease
    // (a claim that walks the pending ones read 82,050 rows, each follower and its head).
    expect(tuples).toBeLessThanOrEqual(READY_ACCOUNTS + 10);
  });

  it('a head delivered wakes the next delivery of its account, which is claimed with the rest of its chain', async () => {
    const { rows } = await client.query<{ id: string }>(
      `UPDATE webhook_deliveries SET lease_token = 'held' WHERE endpoint_id = $1 AND account_id = 'blocked_7' AND account_seq = 1
       RETURNING id`,
      [endpoint_id],
    );
    const entry = { attempt: 4, at: new Date().toISOString(), status_code: 200, latency_ms: 5, error: null };
    const head = { id: rows[0]!.id, endpoint_id, account_id: 'blocked_7', account_seq: 1, lease_token: 'held' };
    await recordAttempts(tx, [{ ...head, state: 'delivered', retry_in_ms: 0, entry }], 20);
    const heads = await claim();
    expect(heads.map((delivery) => [delivery.account_id, delivery.account_seq])).toEqual([['blocked_7', 2]]);
    const token = randomUUID();
    const followers = await claimFollowers(tx, { ...CLAIM, endpoint_id, accounts: ['blocked_7'], token, per_chain: 1000 });
    expect(followers.map((delivery) => delivery.account_seq).sort((a, b) => a! - b!)).toEqual(
      Array.from({ length: FOLLOWERS_PER_ACCOUNT - 1 }, (_, n) => n + 3),
    );
    expect(await claim()).toEqual([]);
    // Given back unattempted (a pod stopping, say): due at once, not when they were set aside until.
    await releaseDeliveries(
      tx,
      followers.map((delivery) => ({ id: delivery.id, lease_token: token, carry_on: false })),
    );
    const { rows: due } = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM webhook_deliveries WHERE id = ANY($1::uuid[]) AND next_attempt_at <= now() AND lease_token IS NULL',
      [followers.map((delivery) => delivery.id)],
    );
    expect(Number(due[0]!.n)).toBe(followers.length);
    // Their head is still held: the next claim sets them aside again.
    expect(await claim()).toEqual([]);
  });

  it('a head done while its follower is being set aside: the wake is not undone', async () => {
    await insertPending(`'race'`, '1', 0, '-5 seconds', 1);
    await insertPending(`'race'`, '2', 0, '-5 seconds', 1);
    const found = await claimDeliveries(tx, { ...CLAIM, endpoint_id, token: randomUUID() });
    const [head] = found.claimed;
    expect([head?.account_id, head?.account_seq]).toEqual(['race', 1]);
    expect(found.waiting).toHaveLength(1);
    // The head's outcome and wake are written, not yet committed, when the setting aside comes: it
    // skips the follower the wake holds instead of waiting for it (two settings aside that waited
    // for each other deadlocked), so it never writes over the wake.
    const other = new pg.Client({ connectionString: backlog.url });
    await other.connect();
    try {
      const { rows } = await other.query<{ lease_token: string }>('SELECT lease_token FROM webhook_deliveries WHERE id = $1', [head!.id]);
      const entry = { attempt: 1, at: new Date().toISOString(), status_code: 200, latency_ms: 5, error: null };
      await other.query('BEGIN');
      const outcome = { ...head!, lease_token: rows[0]!.lease_token, state: 'delivered' as const, retry_in_ms: 0, entry };
      await recordAttempts(new SqlTx(other, new PreparedStatements()), [outcome], 20);
      expect(await setAside(tx, found.waiting, CLAIM.lease_ms)).toBe(0);
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    expect((await claim()).map((delivery) => [delivery.account_id, delivery.account_seq])).toEqual([['race', 2]]);
  });

  it('a wake lost after its outcome was written is made when the flush writes the outcome again', async () => {
    await insertPending(`'rewake'`, '1', 0, '-5 seconds', 1);
    await insertPending(`'rewake'`, '2', 0, '-5 seconds', 1);
    const token = randomUUID();
    const found = await claimDeliveries(tx, { ...CLAIM, endpoint_id, token });
    await setAside(tx, found.waiting, CLAIM.lease_ms);
    const [head] = found.claimed;
    expect([head?.account_id, head?.account_seq, found.waiting.length]).toEqual(['rewake', 1, 1]);
    // The outcome write committed, the wake after it failed (its statement timed out, say).
    await client.query(`UPDATE webhook_deliveries SET state = 'delivered', attempts = 1, lease_token = NULL WHERE id = $1`, [head!.id]);
    expect(await claim()).toEqual([]);
    // The flush writes the outcome again: nothing left to write, but the wake is made.
    const entry = { attempt: 1, at: new Date().toISOString(), status_code: 200, latency_ms: 5, error: null };
    await recordAttempts(tx, [{ ...head!, lease_token: token, state: 'delivered', retry_in_ms: 0, entry }], 20);
    expect((await claim()).map((delivery) => [delivery.account_id, delivery.account_seq])).toEqual([['rewake', 2]]);
  });

  it('followers are claimed at most per_chain of each account, of the first rows read in account order', async () => {
    for (let seq = 1; seq <= 6; seq += 1) await insertPending(`'chain_' || g`, String(seq), 0, '-5 seconds', 3);
    await client.query(
      `UPDATE webhook_deliveries SET lease_token = 'held', lease_expires_at = now() + INTERVAL '1 minute'
       WHERE endpoint_id = $1 AND account_id LIKE 'chain_%' AND account_seq = 1`,
      [endpoint_id],
    );
    const accounts = ['chain_0', 'chain_1', 'chain_2'];
    const taken = async (limit: number, per_chain: number) => {
      const token = randomUUID();
      const rows = await claimFollowers(tx, { ...CLAIM, endpoint_id, accounts, token, limit, per_chain });
      await releaseDeliveries(
        tx,
        rows.map((row) => ({ id: row.id, lease_token: token, carry_on: false })),
      );
      return rows.map((row) => `${row.account_id}:${row.account_seq}`).sort();
    };
    expect(await taken(1000, 2)).toEqual(['chain_0:2', 'chain_0:3', 'chain_1:2', 'chain_1:3', 'chain_2:2', 'chain_2:3']);
    expect(await taken(7, 100)).toEqual(['chain_0:2', 'chain_0:3', 'chain_0:4', 'chain_0:5', 'chain_0:6', 'chain_1:2', 'chain_1:3']);
  });
});
