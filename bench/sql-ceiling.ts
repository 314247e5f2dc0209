import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { isRetryable, type RetryPolicy } from '../src/db/transaction-runner.js';
import { requestFingerprint } from '../src/idempotency/fingerprint.js';
import type { PostedTransaction, TransactionReferences } from '../src/ledger/ledger-repository.js';
import { transactionView } from '../src/ledger/views.js';
import { BENCH_SERVICE } from './api.js';
import type { Operation, Outcome } from './load.js';

// The statements of one HTTP debit (debitWallet → CommandRunner.once → postTransaction), copied
// from src/idempotency/command-runner.ts and src/ledger/ledger-repository.ts with their `?`
// placeholders; BEGIN is what knex sends for MikroORM's IsolationLevel.SERIALIZABLE.
// Keep in step with the source when the ledger changes. Left out on purpose: the service's
// contention-queue probe (TransactionRunner.shareQueue, one more statement), which is no part of
// the ledger transaction itself.
const REFERENCE_COLUMNS = ['reason', 'reference', 'note', 'original_transaction_id', 'hold_id', 'order_id', 'refund_id', 'topup_id', 'purchase_request_id'] as const;
const ENTRY_PLACEHOLDERS = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';
const STATEMENTS = {
  begin: 'BEGIN TRANSACTION ISOLATION LEVEL serializable;',
  find_key: 'SELECT request_fingerprint, status_code, response_body FROM idempotency_keys WHERE caller = ? AND key = ?',
  reserve_sequence: "UPDATE accounts SET entry_seq = entry_seq + ? WHERE id = ? AND kind = 'player' RETURNING entry_seq, crdb_region",
  debit_wallet: `UPDATE wallets SET balance_minor = balance_minor + ?, updated_at = now()
       WHERE account_id = ? AND currency = ? AND balance_minor - held_minor + ? >= 0 RETURNING balance_minor`,
  credit_shard: `INSERT INTO system_balance_shards (account_id, currency, shard, balance_minor, crdb_region) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (account_id, currency, shard) DO UPDATE
       SET balance_minor = system_balance_shards.balance_minor + excluded.balance_minor, updated_at = now()
     RETURNING balance_minor`,
  insert_transaction: `INSERT INTO ledger_transactions (id, type, account_id, currency, amount_minor, ${REFERENCE_COLUMNS.join(', ')}, crdb_region)
     VALUES (?, ?, ?, ?, ?, ${REFERENCE_COLUMNS.map(() => '?').join(', ')}, ?) RETURNING created_at`,
  insert_entries: `INSERT INTO ledger_entries (id, transaction_id, account_id, currency, amount_minor, balance_after_minor, account_seq, shard, crdb_region)
     VALUES ${ENTRY_PLACEHOLDERS}, ${ENTRY_PLACEHOLDERS}`,
  insert_key: `INSERT INTO idempotency_keys (caller, key, request_fingerprint, status_code, response_body, crdb_region, expires_at)
       VALUES (?, ?, ?, ?, ?::jsonb, ?, now() + CAST(? AS INTERVAL))
       ON CONFLICT (caller, key) DO NOTHING RETURNING key`,
  commit: 'COMMIT;',
};

/** knex's `?` placeholders as node-postgres `$n`. */
function numbered(sql: string): string {
  let index = 0;
  return sql.replace(/\?/g, () => `$${++index}`);
}
const SQL = Object.fromEntries(Object.entries(STATEMENTS).map(([name, sql]) => [name, numbered(sql)])) as typeof STATEMENTS;

// The same caller as the HTTP scenarios: their keys share one range of the idempotency_keys index.
const CALLER = `service:${BENCH_SERVICE}`;
const REVENUE = '@revenue';

export interface CeilingSettings {
  accounts: readonly string[];
  currency: string;
  amount_minor: number;
  region: string;
  /** The @revenue shard a client's transaction credits (the service uses one per concurrent slot). */
  shard_of_worker: (worker: number) => number;
  policy: RetryPolicy;
  idempotency_retention_hours: number;
  on_retry: () => void;
}

interface Debit {
  account_id: string;
  key: string;
  shard: number;
}

/** Debits of random accounts through a plain pg.Pool, retried whole on 40001 like TransactionRunner. */
export function ceilingOperation(pool: pg.Pool, settings: CeilingSettings): Operation {
  return async (worker) => {
    const account_id = settings.accounts[Math.floor(Math.random() * settings.accounts.length)]!;
    const debit = { account_id, key: randomUUID(), shard: settings.shard_of_worker(worker) };
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await attemptDebit(pool, settings, debit);
      } catch (error) {
        if (!isRetryable(error)) throw error;
        if (attempt >= settings.policy.attempts_max) return 'retries exhausted';
        settings.on_retry();
        await sleep(Math.random() * Math.min(settings.policy.backoff_max_ms, settings.policy.backoff_base_ms * 2 ** attempt));
      }
    }
  };
}

async function attemptDebit(pool: pg.Pool, settings: CeilingSettings, debit: Debit): Promise<Outcome> {
  const client = await pool.connect();
  try {
    await client.query(SQL.begin);
    const outcome = await debitStatements(client, settings, debit);
    await client.query(outcome === undefined ? SQL.commit : 'ROLLBACK');
    client.release();
    return outcome;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
    throw error;
  }
}

async function debitStatements(client: pg.PoolClient, settings: CeilingSettings, debit: Debit): Promise<Outcome> {
  const { account_id, shard } = debit;
  const { currency, amount_minor, region } = settings;
  const request = { amount: amount_minor, currency, reason: 'bench' };
  const fingerprint = requestFingerprint('POST', `/v1/accounts/${account_id}/debits`, request);
  if ((await client.query(SQL.find_key, [CALLER, debit.key])).rowCount) return 'idempotency key replayed';
  const account = (await client.query<{ entry_seq: string; crdb_region: string }>(SQL.reserve_sequence, [1, account_id])).rows[0];
  if (!account) return 'account not found';
  const wallet = (await client.query<{ balance_minor: string }>(SQL.debit_wallet, [-amount_minor, account_id, currency, -amount_minor])).rows[0];
  if (!wallet) return 'insufficient_funds';
  const revenue = (await client.query<{ balance_minor: string }>(SQL.credit_shard, [REVENUE, currency, shard, amount_minor, region])).rows[0]!;
  const id = randomUUID();
  const references: TransactionReferences = Object.fromEntries(REFERENCE_COLUMNS.map((column) => [column, column === 'reason' ? request.reason : null]));
  const inserted = await client.query<{ created_at: Date }>(SQL.insert_transaction, [
    id, 'debit', account_id, currency, amount_minor, ...REFERENCE_COLUMNS.map((column) => references[column] ?? null), account.crdb_region,
  ]);
  await client.query(SQL.insert_entries, [
    randomUUID(), id, account_id, currency, -amount_minor, wallet.balance_minor, account.entry_seq, null, account.crdb_region,
    randomUUID(), id, REVENUE, currency, amount_minor, revenue.balance_minor, null, shard, region,
  ]);
  const posted: PostedTransaction = {
    ...references,
    id,
    type: 'debit',
    account_id,
    currency,
    amount_minor,
    entries: [
      { account_id, currency, amount_minor: -amount_minor, balance_after_minor: Number(wallet.balance_minor) },
      { account_id: REVENUE, currency, amount_minor, balance_after_minor: Number(revenue.balance_minor) },
    ],
    region: account.crdb_region,
    created_at: inserted.rows[0]!.created_at.toISOString(),
  };
  const response = JSON.stringify({ ok: true, body: transactionView(posted) });
  await client.query(SQL.insert_key, [CALLER, debit.key, fingerprint, 201, response, account.crdb_region, `${settings.idempotency_retention_hours} hours`]);
  return undefined;
}
