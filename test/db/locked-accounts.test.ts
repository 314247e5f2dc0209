import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { request, startCluster } from '../support/cluster.js';
import { key, ledgerHarness, tally, type LedgerHarness } from '../support/ledger.js';

// A row lock held by another transaction (a pod stalled in the middle of its batch, a session left
// open) on one account: only that account's operations wait, and not past BATCH_LOCK_WAIT_MAX_MS.
// A batcher runs one batch at a time: its other accounts waited out the statement timeout with it.
const LOCK_WAIT_MAX_MS = 300;

let h: LedgerHarness;
let holder: pg.Client;

beforeAll(async () => {
  h = await ledgerHarness(await startCluster({ env: { BATCH_LOCK_WAIT_MAX_MS: String(LOCK_WAIT_MAX_MS) } }));
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

describe('an account locked by another transaction', () => {
  it('when its row stays locked, then its operations get 503 at once and every other account is served', async () => {
    const locked = await h.openAccount(0);
    const others = await Promise.all(Array.from({ length: 6 }, () => h.openAccount(0)));
    await holder.query('BEGIN');
    await holder.query('SELECT * FROM accounts WHERE id = $1 FOR UPDATE', [locked]);
    const locked_keys: string[] = [];
    const answers = { locked: [] as Awaited<ReturnType<typeof credit>>[], others: [] as Awaited<ReturnType<typeof credit>>[] };
    try {
      // Rounds over longer than a lock wait: the first batch waits and learns, the later ones set the account aside.
      for (let round = 0; round < 8; round += 1) {
        const idempotency_key = key();
        locked_keys.push(idempotency_key);
        const [mine, ...theirs] = await Promise.all([credit(locked, idempotency_key), ...others.map((other) => credit(other))]);
        answers.locked.push(mine!);
        answers.others.push(...theirs);
      }
    } finally {
      await holder.query('ROLLBACK');
    }
    expect(tally(answers.others)).toEqual({ 201: 48 });
    expect(tally(answers.locked)).toEqual({ '503 unavailable': 8 });
    expect(answers.locked[0]!.headers.get('retry-after')).not.toBeNull();

    // Free again: the same keys apply each credit once.
    const retried = await Promise.all(locked_keys.map((idempotency_key) => credit(locked, idempotency_key)));
    expect(tally(retried)).toEqual({ 201: 8 });
    expect(await h.wallet(locked)).toMatchObject({ balance: 80 });
    const metrics = await request(h.pod(0), 'GET', '/metrics');
    expect(metrics.text).toMatch(/^batch_locked_operations_total(\{[^}]*\})? [1-9]/m);
    await h.expectReconcileClean();
  });
});
