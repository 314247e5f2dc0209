import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { request, startCluster } from '../support/cluster.js';
import { key, ledgerHarness, type LedgerHarness } from '../support/ledger.js';

// A batch that runs out of time (DB_STATEMENT_TIMEOUT_MS) behind a lock held long on one account
// answers its own requests 503, and only them. A database found unreachable pauses the pod's
// writes (DATABASE_UNREACHABLE_PAUSE_MS: 503 at once rather than waiting on it); a timeout once did
// too, so one hot account's lock made every write of the pod 503 for the pause.

let h: LedgerHarness;

beforeAll(async () => {
  // The timeout bounds every statement of these pods, not only the locked one: at 300 ms, opening an
  // account or the other debit timed out now and then on a loaded machine. 2 s bounds the lock wait
  // just as well.
  h = await ledgerHarness(await startCluster({ env: { DB_STATEMENT_TIMEOUT_MS: '2000', DATABASE_UNREACHABLE_PAUSE_MS: '30000' } }));
});
afterAll(() => h?.cluster.stop());

describe('a batch that runs out of time', () => {
  it('when one account is locked past the statement timeout, then its debit is 503 and another account debits at once', async () => {
    const [locked, other] = [await h.openAccount(1_000), await h.openAccount(1_000)];
    const debit = (id: string) =>
      request(
        h.urls[0]!,
        'POST',
        `/v1/accounts/${id}/debits`,
        { amount: 10, currency: 'EUR', reason: 'spend' },
        { token: h.service, key: key() },
      );
    const holder = new pg.Client({ connectionString: inject('database_url') });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM accounts WHERE id = $1 FOR UPDATE', [locked]);
      const timed_out = await debit(locked);
      expect(timed_out).toMatchObject({ status: 503, body: { code: 'unavailable' } });
      expect(timed_out.body.detail).toMatch(/did not finish in time/);
      expect((await debit(other)).status).toBe(201);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect((await debit(locked)).status).toBe(201);
    expect((await h.wallet(locked)).balance).toBe(990);
  });
});
