import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PreparedStatements, SqlTx } from '../../src/db/sql.js';
import { blockedDeliveries, claimDeliveries } from '../../src/webhooks/delivery-store.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database.js';

// The claims of webhook deliveries against a backlog that built up after the table's statistics
// were taken, as after a receiver outage under load. With such statistics the claim once planned
// its "no earlier pending delivery of the account" check as an anti-join that rescanned the
// endpoint's whole pending index for every row: 7-13 s per claim over 13,000 pending deliveries
// in the benchmark. Each account here has two pending deliveries; a claim must hand out heads only.

const ACCOUNTS = 10_000;
const CLAIM_LIMIT = 200;
// Per statement, against about 2 s for the quadratic plan on the test machine (and 10 ms for a linear one).
const STATEMENT_TIMEOUT_MS = 1000;

let scratch: ScratchDatabase;
let client: pg.Client;
let tx: SqlTx;
const endpoint_id = randomUUID();

async function insertDeliveries(state: 'pending' | 'delivered', seq_from: number, per_account: number): Promise<void> {
  await client.query(
    `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, account_id, account_seq, manual, state, attempts,
       next_attempt_at, event_created_at, crdb_region, created_at)
     SELECT gen_random_uuid(), $1::uuid, gen_random_uuid(), 'transaction.posted', 'acct_' || (g % $2::int), $3::int + g / $2::int,
       false, $4::text, 0, now() - INTERVAL '1 second', now(), 'eu-west', now()
     FROM generate_series(0, $2::int * $5::int - 1) AS g`,
    [endpoint_id, ACCOUNTS, seq_from, state, per_account],
  );
}

beforeAll(async () => {
  scratch = await createScratchDatabase(inject('database_url'), 'claims');
  client = new pg.Client({ connectionString: scratch.url });
  await client.connect();
  // Statistics taken while every delivery was delivered; then the backlog.
  await insertDeliveries('delivered', 1, 2);
  await client.query('ANALYZE webhook_deliveries');
  await insertDeliveries('pending', 3, 2);
  // The pods' statements are named prepared statements: plan them as the generic plan they end up with.
  await client.query('SET plan_cache_mode = force_generic_plan');
  await client.query(`SET statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
  tx = new SqlTx(client, new PreparedStatements());
}, 60_000);
afterAll(async () => {
  await client?.end();
  await scratch?.drop();
});

describe('claiming webhook deliveries from a backlog the statistics have not seen', () => {
  it('a claim hands out the first pending delivery of each account, in a statement that does not scan the backlog per row', async () => {
    const claim = { endpoint_id, owner: 'test', lease_ms: 30_000, limit: CLAIM_LIMIT };
    const first = await claimDeliveries(tx, { ...claim, token: randomUUID() });
    expect(first).toHaveLength(CLAIM_LIMIT);
    expect(new Set(first.map((delivery) => delivery.account_id)).size).toBe(CLAIM_LIMIT);
    expect(first.every((delivery) => delivery.account_seq === 3)).toBe(true);
    // Leased: the next claim skips them and takes other accounts' heads, never their followers.
    const second = await claimDeliveries(tx, { ...claim, token: randomUUID() });
    expect(second).toHaveLength(CLAIM_LIMIT);
    const accounts = new Set(first.map((delivery) => delivery.account_id));
    expect(second.every((delivery) => delivery.account_seq === 3 && !accounts.has(delivery.account_id))).toBe(true);
  });

  it('the order check finds the followers whose head is pending and not held, and frees those whose head is held', async () => {
    const { rows } = await client.query<{ id: string; account_id: string; account_seq: string }>(
      `SELECT id, account_id, account_seq FROM webhook_deliveries
       WHERE state = 'pending' AND account_seq = 4 ORDER BY account_id LIMIT ${CLAIM_LIMIT}`,
    );
    const candidates = rows.map((row) => ({ ...row, endpoint_id, account_seq: Number(row.account_seq) }));
    const heads = await client.query<{ id: string }>(
      `SELECT id FROM webhook_deliveries WHERE state = 'pending' AND account_seq = 3 AND account_id = ANY($1::text[])`,
      [candidates.slice(0, 50).map((candidate) => candidate.account_id)],
    );
    const blocked = await blockedDeliveries(
      tx,
      candidates,
      heads.rows.map((row) => row.id),
    );
    expect([...blocked].sort()).toEqual(
      candidates
        .slice(50)
        .map((candidate) => candidate.id)
        .sort(),
    );
  });
});
