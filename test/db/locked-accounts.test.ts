import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { request, startCluster, type ApiResponse } from '../support/cluster.js';
import { key, ledgerHarness, tally, type LedgerHarness } from '../support/ledger.js';

// A row lock held by another transaction (a pod stalled in the middle of its batch, a session left
// open) on one account: that account's operations wait for it, the pod's other accounts do not.
// A batcher runs one batch at a time: its other accounts used to wait out the statement timeout
// with it, and be answered 503.
const LOCK_WAIT_MAX_MS = 300;
/** As long as an operation waits for its locked account before it is answered 503. */
const STATEMENT_TIMEOUT_MS = 3000;

let h: LedgerHarness;
let holder: pg.Client;

beforeAll(async () => {
  const env = { BATCH_LOCK_WAIT_MAX_MS: String(LOCK_WAIT_MAX_MS), DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) };
  h = await ledgerHarness(await startCluster({ env }));
  holder = new pg.Client({ connectionString: inject('database_url') });
  await holder.connect();
});
afterAll(async () => {
  await holder?.end();
  await h?.cluster.stop();
});

const credit = (account_id: string, idempotency_key = key()) =>
  request(
    h.pod(0),
    'POST',
    `/v1/accounts/${account_id}/credits`,
    { amount: 10, currency: 'EUR', reason: 'x' },
    {
      token: h.service,
      key: idempotency_key,
    },
  );

/** Runs `work` while another session holds the account's row locked. */
async function whileLocked<T>(account_id: string, work: () => Promise<T>): Promise<T> {
  await holder.query('BEGIN');
  await holder.query('SELECT * FROM accounts WHERE id = $1 FOR UPDATE', [account_id]);
  try {
    return await work();
  } finally {
    await holder.query('ROLLBACK');
  }
}

describe('an account locked by another transaction', () => {
  it('when its row is held a while, then its operations wait for it and every other account is served meanwhile', async () => {
    const locked = await h.openAccount(0);
    const others = await Promise.all(Array.from({ length: 6 }, () => h.openAccount(0)));
    const waiting: Array<Promise<ApiResponse>> = [];
    const served = await whileLocked(locked, async () => {
      const answers: ApiResponse[] = [];
      // Rounds over longer than a lock wait: the first batch waits and learns, later ones look before they wait.
      for (let round = 0; round < 6; round += 1) {
        waiting.push(credit(locked));
        answers.push(...(await Promise.all(others.map((other) => credit(other)))));
        await sleep(LOCK_WAIT_MAX_MS / 3);
      }
      return answers;
    });
    expect(tally(served)).toEqual({ 201: 36 });
    expect(tally(await Promise.all(waiting))).toEqual({ 201: 6 });
    expect(await h.wallet(locked)).toMatchObject({ balance: 60 });
    const metrics = await request(h.pod(0), 'GET', '/metrics');
    expect(metrics.text).toMatch(/^batch_locked_operations_total(\{[^}]*\})? [1-9]/m);
    await h.expectReconcileClean();
  });

  it('when its row stays locked longer than a statement may wait, then 503, and the same key applies it once free', async () => {
    const locked = await h.openAccount(0);
    const idempotency_key = key();
    const answer = await whileLocked(locked, () => credit(locked, idempotency_key));
    expect(tally([answer])).toEqual({ '503 unavailable': 1 });
    expect(answer.headers.get('retry-after')).not.toBeNull();
    expect(tally([await credit(locked, idempotency_key)])).toEqual({ 201: 1 });
    expect(await h.wallet(locked)).toMatchObject({ balance: 10 });
  });
});
