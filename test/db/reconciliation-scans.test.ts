import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderRefunds, topupReversals } from '../../src/reconciliation/shop-checks.js';
import { type BacklogDatabase, openBacklogDatabase } from '../support/delivery-backlog.js';
import { tuplesRead } from '../support/table-reads.js';

// Reconciliation over a ledger of some size: each check reads the ledger once, whatever the number
// of orders or top-ups it checks. Looked up per order (and per top-up) it was a scan of the ledger
// each: after ten minutes of load (172,942 transactions, 1,700 refunded orders) one check took 24 s,
// past the statement timeout, and every reconciliation failed from then on.

const REFUNDED_ORDERS = 200;
const REVERSED_TOPUPS = 200;
const OTHER_TRANSACTIONS = 3_000;

let backlog: BacklogDatabase;

beforeAll(async () => {
  backlog = await openBacklogDatabase('reconcile_scans');
  const { client } = backlog;
  await client.query(
    `INSERT INTO orders (id, account_id, account_seq, mode, status, currency, total_minor, refunded_minor, status_history, crdb_region)
     SELECT gen_random_uuid(), 'p' || g, 1, 'immediate', 'REFUNDED', 'EUR', 100, 100, '[]', 'eu-west'
     FROM generate_series(1, $1::int) AS g`,
    [REFUNDED_ORDERS],
  );
  await client.query(
    `INSERT INTO ledger_transactions (id, type, account_id, currency, amount_minor, order_id, crdb_region)
     SELECT gen_random_uuid(), 'order_refund', account_id, 'EUR', 100, id, 'eu-west' FROM orders`,
  );
  await client.query(
    `INSERT INTO order_refunds (id, order_id, amount_minor, lines, reason, transaction_id, crdb_region)
     SELECT gen_random_uuid(), order_id, 100, '[]', 'r', id, 'eu-west' FROM ledger_transactions WHERE type = 'order_refund'`,
  );
  await client.query(
    `INSERT INTO topups (id, account_id, amount_minor, currency, status, reversed_minor, crdb_region)
     SELECT gen_random_uuid(), 'p' || g, 100, 'EUR', 'REVERSED', 100, 'eu-west' FROM generate_series(1, $1::int) AS g`,
    [REVERSED_TOPUPS],
  );
  await client.query(
    `INSERT INTO ledger_transactions (id, type, account_id, currency, amount_minor, topup_id, crdb_region)
     SELECT gen_random_uuid(), 'topup_reversal', account_id, 'EUR', 100, id, 'eu-west' FROM topups`,
  );
  await client.query(
    `INSERT INTO ledger_transactions (id, type, account_id, currency, amount_minor, crdb_region)
     SELECT gen_random_uuid(), 'credit', 'p' || g, 'EUR', 1, 'eu-west' FROM generate_series(1, $1::int) AS g`,
    [OTHER_TRANSACTIONS],
  );
  await client.query('ANALYZE');
}, 60_000);
afterAll(async () => {
  await backlog?.close();
});

describe('reconciliation over a ledger of some size', () => {
  const ledger_rows = REFUNDED_ORDERS + REVERSED_TOPUPS + OTHER_TRANSACTIONS;

  it('checks every refunded order against the ledger in one read of it', async () => {
    const { result, tuples } = await tuplesRead(backlog.client, 'ledger_transactions', () => orderRefunds(backlog.tx));
    expect(result).toEqual([]);
    // Once REFUNDED_ORDERS × ledger_rows (680,000 here).
    expect(tuples).toBeLessThanOrEqual(ledger_rows * 2);
  });

  it('checks every reversed top-up against the ledger in one read of it', async () => {
    const { result, tuples } = await tuplesRead(backlog.client, 'ledger_transactions', () => topupReversals(backlog.tx));
    expect(result).toEqual([]);
    expect(tuples).toBeLessThanOrEqual(ledger_rows * 2);
  });
});
