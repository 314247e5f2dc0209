import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { failureLabel, type Operation } from './load.js';

/**
 * The baseline `m`: the minimal per-request wallet debit a simple game-server wallet does, in raw
 * SQL from a bare pg.Pool, at READ COMMITTED (PostgreSQL's default, as such servers run):
 * BEGIN; SELECT balance … FOR UPDATE; UPDATE the balance; INSERT one ledger row; COMMIT. Five
 * round trips, the three statements prepared. No authentication, no idempotency, no double entry,
 * no HTTP: what the whole service is measured against. Its tables are its own (the service's
 * ledger stays reconcilable).
 */
const STATEMENTS = {
  read: { name: 'baseline_read', text: 'SELECT balance_minor FROM bench_wallets WHERE account_id = $1 AND currency = $2 FOR UPDATE' },
  update: { name: 'baseline_update', text: 'UPDATE bench_wallets SET balance_minor = $3 WHERE account_id = $1 AND currency = $2' },
  insert: {
    name: 'baseline_insert',
    text: 'INSERT INTO bench_ledger (id, account_id, currency, amount_minor, balance_after_minor) VALUES ($1, $2, $3, $4, $5)',
  },
};
const CURRENCY = 'EUR';
const DEBIT_MINOR = 100;
const FUNDING_MINOR = 1e15;

export async function prepareBaseline(pool: pg.Pool, wallets: number): Promise<string[]> {
  await pool.query(`CREATE TABLE IF NOT EXISTS bench_wallets (
    account_id TEXT NOT NULL, currency TEXT NOT NULL, balance_minor INT8 NOT NULL, PRIMARY KEY (account_id, currency))`);
  await pool.query(`CREATE TABLE IF NOT EXISTS bench_ledger (
    id UUID PRIMARY KEY, account_id TEXT NOT NULL, currency TEXT NOT NULL, amount_minor INT8 NOT NULL,
    balance_after_minor INT8 NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
  await pool.query(
    `INSERT INTO bench_wallets SELECT 'baseline-' || g, $1, $2 FROM generate_series(0, $3 - 1) AS g ON CONFLICT DO NOTHING`,
    [CURRENCY, FUNDING_MINOR, wallets],
  );
  return Array.from({ length: wallets }, (_, index) => `baseline-${index}`);
}

export function baselineDebit(pool: pg.Pool, account: () => string): Operation {
  return async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const wallet = account();
      const read = await client.query<{ balance_minor: string }>({ ...STATEMENTS.read, values: [wallet, CURRENCY] });
      const balance_minor = Number(read.rows[0]!.balance_minor) - DEBIT_MINOR;
      await client.query({ ...STATEMENTS.update, values: [wallet, CURRENCY, balance_minor] });
      await client.query({ ...STATEMENTS.insert, values: [randomUUID(), wallet, CURRENCY, -DEBIT_MINOR, balance_minor] });
      await client.query('COMMIT');
      return undefined;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      return failureLabel(error);
    } finally {
      client.release();
    }
  };
}
