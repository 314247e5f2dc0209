import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { numberedPlaceholders } from '../src/db/sql.js';
import { isRetryable, type RetryPolicy } from '../src/db/transaction-runner.js';
import { requestFingerprint } from '../src/idempotency/fingerprint.js';
import type { PostedTransaction, TransactionReferences } from '../src/ledger/ledger-repository.js';
import { transactionView } from '../src/ledger/views.js';
import type { Item } from '../src/shop/catalog/item.js';
import { toItem, type ItemRow } from '../src/shop/catalog/item-repository.js';
import type { Order } from '../src/shop/orders/order-records.js';
import { priceOrder, type OrderLimits, type PricedOrder } from '../src/shop/orders/pricing.js';
import { orderView } from '../src/shop/orders/views.js';
import { BENCH_SERVICE } from './api.js';
import type { Operation, Outcome } from './load.js';

// The statements the service sends for one HTTP debit (debitWallet) and one immediate two-line
// order (placeOrder), copied verbatim from the source: src/idempotency/command-runner.ts (key read
// outside the transaction, INSERT … ON CONFLICT DO NOTHING inside), src/db/transaction-runner.ts
// (BEGIN/COMMIT as simple queries, the contention-queue probe as the first statement),
// src/ledger/ledger-repository.ts (one accounts-counter update per transaction, in blocks of 16),
// src/shop/catalog/item-repository.ts, src/shop/orders/order-repository.ts and
// entitlement-repository.ts. Like src/db/sql.ts, every statement is a named prepared statement
// ({ name, text, values }), so PostgreSQL parses and plans it once per connection.
// Keep in step with the source when those files change.
const REFERENCE_COLUMNS = [
  'reason',
  'reference',
  'note',
  'original_transaction_id',
  'hold_id',
  'order_id',
  'refund_id',
  'topup_id',
  'purchase_request_id',
] as const;
const ENTRY_PLACEHOLDERS = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';
const SEQUENCE_BLOCK = 16;
const BEGIN = 'BEGIN ISOLATION LEVEL SERIALIZABLE';
const STATEMENTS = {
  find_key: 'SELECT request_fingerprint, status_code, response_body FROM idempotency_keys WHERE caller = ? AND key = ?',
  probe_queue: 'SELECT account_id FROM contention_locks WHERE account_id IN (?) ORDER BY account_id FOR SHARE NOWAIT',
  find_items: 'SELECT * FROM items WHERE id = ANY(?::text[])',
  reserve_sequence: "UPDATE accounts SET entry_seq = entry_seq + ? WHERE id = ? AND kind = 'player' RETURNING entry_seq, crdb_region",
  debit_wallet: `UPDATE wallets SET balance_minor = balance_minor + ?, updated_at = now()
       WHERE account_id = ? AND currency = ? AND balance_minor - held_minor + ? >= 0 RETURNING balance_minor`,
  credit_shard: `INSERT INTO system_balance_shards (account_id, currency, shard, balance_minor, crdb_region) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (account_id, currency, shard) DO UPDATE
       SET balance_minor = system_balance_shards.balance_minor + excluded.balance_minor, updated_at = now()
     RETURNING balance_minor`,
  insert_transaction: `INSERT INTO ledger_transactions (id, type, account_id, currency, amount_minor,
       ${REFERENCE_COLUMNS.join(', ')}, crdb_region)
     VALUES (?, ?, ?, ?, ?, ${REFERENCE_COLUMNS.map(() => '?').join(', ')}, ?) RETURNING created_at`,
  insert_entries: `INSERT INTO ledger_entries (id, transaction_id, account_id, currency, amount_minor,
       balance_after_minor, account_seq, shard, crdb_region)
     VALUES ${ENTRY_PLACEHOLDERS}, ${ENTRY_PLACEHOLDERS}`,
  insert_order: `INSERT INTO orders (id, account_id, account_seq, mode, status, currency, total_minor, hold_id, payment_transaction_id,
       pending_until, completed_at, status_history, crdb_region)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now() + CAST(? AS INTERVAL), CASE WHEN ? = 'COMPLETED' THEN now() END,
       (SELECT jsonb_agg(jsonb_build_object('status', s, 'reason', NULL, 'at', now())) FROM unnest(?::text[]) AS s), ?)
     RETURNING *`,
  insert_order_lines: `INSERT INTO order_lines (order_id, line_no, item_id, item_name, kind, quantity, unit_price_minor, refundable,
       grants_currency, grants_amount_minor, crdb_region)
     VALUES ${['(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'].join(', ')}`,
  insert_entitlements: `INSERT INTO entitlements (id, account_id, account_seq, order_id, line_no, item_id, quantity, status, crdb_region)
     VALUES ${["(?, ?, ?, ?, ?, ?, ?, 'ACTIVE', ?)", "(?, ?, ?, ?, ?, ?, ?, 'ACTIVE', ?)"].join(', ')}`,
  insert_key: `INSERT INTO idempotency_keys (caller, key, request_fingerprint, status_code, response_body, crdb_region, expires_at)
       VALUES (?, ?, ?, ?, ?::jsonb, ?, now() + CAST(? AS INTERVAL))
       ON CONFLICT (caller, key) DO NOTHING RETURNING key`,
};

type StatementName = keyof typeof STATEMENTS;
const SQL = Object.fromEntries(
  Object.entries(STATEMENTS).map(([name, sql]) => [name, { name: `bench_${name}`, text: numberedPlaceholders(sql) }]),
) as Record<StatementName, { name: string; text: string }>;

function query<R extends pg.QueryResultRow>(
  connection: pg.Pool | pg.PoolClient,
  statement: StatementName,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  return connection.query<R>({ ...SQL[statement], values });
}

// The same caller as the HTTP scenarios: their keys share one range of the idempotency_keys index.
const CALLER = `service:${BENCH_SERVICE}`;
const REVENUE = '@revenue';

export interface CeilingSettings {
  currency: string;
  region: string;
  /** The @revenue shard a client's transaction credits (the service uses one per concurrent slot). */
  shard_of_worker: (worker: number) => number;
  /** The account a client's next transaction is about. */
  account_of_worker: (worker: number) => string;
  policy: RetryPolicy;
  idempotency_retention_hours: number;
  on_retry: () => void;
}

export type CeilingWork =
  | { kind: 'debit'; amount_minor: number }
  | { kind: 'purchase'; lines: Array<{ item_id: string; quantity: number }>; limits: OrderLimits };

interface Attempt {
  account_id: string;
  key: string;
  fingerprint: string;
  shard: number;
}

/**
 * One debit or immediate order through a plain pg.Pool, as CommandRunner + TransactionRunner run
 * it: the key read outside, then the transaction, retried whole on 40001/40P01 with the service's
 * policy (a retry reads the key again inside the transaction, as CommandRunner.once does).
 */
export function ceilingOperation(pool: pg.Pool, settings: CeilingSettings, work: CeilingWork): Operation {
  return async (worker) => {
    const account_id = settings.account_of_worker(worker);
    const key = randomUUID();
    const fingerprint =
      work.kind === 'debit'
        ? requestFingerprint('POST', `/v1/accounts/${account_id}/debits`, {
            amount: work.amount_minor,
            currency: settings.currency,
            reason: 'bench',
          })
        : requestFingerprint('POST', '/v1/orders', { account_id, lines: work.lines });
    const attempt: Attempt = { account_id, key, fingerprint, shard: settings.shard_of_worker(worker) };
    if ((await query(pool, 'find_key', [CALLER, key])).rowCount) return 'idempotency key replayed';
    for (let number = 1; ; number += 1) {
      try {
        return await transaction(pool, settings, work, attempt, number > 1);
      } catch (error) {
        if (!isRetryable(error)) throw error;
        if (number >= settings.policy.attempts_max) return 'retries exhausted';
        settings.on_retry();
        await sleep(Math.random() * Math.min(settings.policy.backoff_max_ms, settings.policy.backoff_base_ms * 2 ** number));
      }
    }
  };
}

async function transaction(
  pool: pg.Pool,
  settings: CeilingSettings,
  work: CeilingWork,
  attempt: Attempt,
  retry: boolean,
): Promise<Outcome> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query(BEGIN);
    await query(client, 'probe_queue', [attempt.account_id]);
    if (retry && (await query(client, 'find_key', [CALLER, attempt.key])).rowCount) {
      await client.query('COMMIT');
      return 'idempotency key replayed';
    }
    const outcome =
      work.kind === 'debit' ? await debit(client, settings, work.amount_minor, attempt) : await purchase(client, settings, work, attempt);
    await client.query(outcome === undefined ? 'COMMIT' : 'ROLLBACK');
    return outcome;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw error;
  } finally {
    client.release(broken);
  }
}

interface Posted {
  id: string;
  region: string;
  created_at: Date;
  wallet_after: number;
  revenue_after: number;
  /** The first unused number of the account's block of 16. */
  next_seq: number;
}

/** postTransaction for a movement player → @revenue: counter block, wallet, shard, transaction, two entries. */
async function postMovement(
  client: pg.PoolClient,
  settings: CeilingSettings,
  attempt: Attempt,
  type: string,
  amount_minor: number,
  references: TransactionReferences,
): Promise<Posted | string> {
  const { account_id, shard } = attempt;
  const { currency, region } = settings;
  const account = (await query<{ entry_seq: string; crdb_region: string }>(client, 'reserve_sequence', [SEQUENCE_BLOCK, account_id]))
    .rows[0];
  if (!account) return 'account not found';
  const first_seq = Number(account.entry_seq) - SEQUENCE_BLOCK + 1;
  const wallet = (await query<{ balance_minor: string }>(client, 'debit_wallet', [-amount_minor, account_id, currency, -amount_minor]))
    .rows[0];
  if (!wallet) return 'insufficient_funds';
  const revenue = (await query<{ balance_minor: string }>(client, 'credit_shard', [REVENUE, currency, shard, amount_minor, region]))
    .rows[0]!;
  const id = randomUUID();
  const inserted = await query<{ created_at: Date }>(client, 'insert_transaction', [
    id,
    type,
    account_id,
    currency,
    amount_minor,
    ...REFERENCE_COLUMNS.map((column) => references[column] ?? null),
    account.crdb_region,
  ]);
  await query(client, 'insert_entries', [
    randomUUID(),
    id,
    account_id,
    currency,
    -amount_minor,
    Number(wallet.balance_minor),
    first_seq,
    null,
    account.crdb_region,
    randomUUID(),
    id,
    REVENUE,
    currency,
    amount_minor,
    Number(revenue.balance_minor),
    null,
    shard,
    region,
  ]);
  return {
    id,
    region: account.crdb_region,
    created_at: inserted.rows[0]!.created_at,
    wallet_after: Number(wallet.balance_minor),
    revenue_after: Number(revenue.balance_minor),
    next_seq: first_seq + 1,
  };
}

function postedView(
  settings: CeilingSettings,
  attempt: Attempt,
  type: PostedTransaction['type'],
  amount_minor: number,
  references: TransactionReferences,
  posted: Posted,
) {
  const { account_id } = attempt;
  const { currency } = settings;
  return transactionView({
    ...Object.fromEntries(REFERENCE_COLUMNS.map((column) => [column, references[column] ?? null])),
    id: posted.id,
    type,
    account_id,
    currency,
    amount_minor,
    metadata: {},
    entries: [
      { account_id, currency, amount_minor: -amount_minor, balance_after_minor: posted.wallet_after },
      { account_id: REVENUE, currency, amount_minor, balance_after_minor: posted.revenue_after },
    ],
    region: posted.region,
    created_at: posted.created_at.toISOString(),
  });
}

async function recordKey(client: pg.PoolClient, settings: CeilingSettings, attempt: Attempt, region: string, body: unknown): Promise<void> {
  const inserted = await query(client, 'insert_key', [
    CALLER,
    attempt.key,
    attempt.fingerprint,
    201,
    JSON.stringify({ ok: true, body }),
    region,
    `${settings.idempotency_retention_hours} hours`,
  ]);
  if (inserted.rowCount === 0) throw Object.assign(new Error('a concurrent duplicate committed first'), { code: '40001' });
}

async function debit(client: pg.PoolClient, settings: CeilingSettings, amount_minor: number, attempt: Attempt): Promise<Outcome> {
  const references: TransactionReferences = { reason: 'bench', reference: null };
  const posted = await postMovement(client, settings, attempt, 'debit', amount_minor, references);
  if (typeof posted === 'string') return posted;
  await recordKey(client, settings, attempt, posted.region, postedView(settings, attempt, 'debit', amount_minor, references, posted));
  return undefined;
}

/** placeOrder immediate: items, the payment (postTransaction), the order in its final state with its lines, the entitlements. */
async function purchase(
  client: pg.PoolClient,
  settings: CeilingSettings,
  work: Extract<CeilingWork, { kind: 'purchase' }>,
  attempt: Attempt,
): Promise<Outcome> {
  // The bench's pool parses timestamps into Dates; the service's keeps their text.
  const rows = (
    await query<Omit<ItemRow, 'created_at' | 'updated_at'> & { created_at: Date; updated_at: Date }>(client, 'find_items', [
      work.lines.map((line) => line.item_id),
    ])
  ).rows;
  const catalog = new Map<string, Item>(
    rows.map((row) => [row.id, toItem({ ...row, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString() })]),
  );
  const priced: PricedOrder = priceOrder(work.lines, catalog, work.limits);
  if (priced.lines.length !== 2 || priced.lines.some((line) => line.grants !== null))
    return 'the purchase ceiling covers two lines without currency packs';
  const order_id = randomUUID();
  const posted = await postMovement(client, settings, attempt, 'purchase', priced.total_minor, { order_id });
  if (typeof posted === 'string') return posted;
  const { account_id } = attempt;
  const order_seq = posted.next_seq;
  const order_row = (
    await query<{
      status_history: Array<{ status: Order['status']; reason: null; at: string }>;
      created_at: Date;
      updated_at: Date;
      completed_at: Date;
      crdb_region: string;
    }>(client, 'insert_order', [
      order_id,
      account_id,
      order_seq,
      'immediate',
      'COMPLETED',
      priced.currency,
      priced.total_minor,
      null,
      posted.id,
      null,
      'COMPLETED',
      ['PENDING', 'COMPLETED'],
      posted.region,
    ])
  ).rows[0]!;
  await query(
    client,
    'insert_order_lines',
    priced.lines.flatMap((line) => [
      order_id,
      line.line_no,
      line.item_id,
      line.item_name,
      line.kind,
      line.quantity,
      line.unit_price_minor,
      line.refundable,
      null,
      null,
      posted.region,
    ]),
  );
  await query(
    client,
    'insert_entitlements',
    priced.lines.flatMap((line, index) => [
      randomUUID(),
      account_id,
      order_seq + 1 + index,
      order_id,
      line.line_no,
      line.item_id,
      line.quantity,
      posted.region,
    ]),
  );
  const order: Order = {
    id: order_id,
    account_id,
    mode: 'immediate',
    status: 'COMPLETED',
    currency: priced.currency,
    total_minor: priced.total_minor,
    refunded_minor: 0,
    hold_id: null,
    payment_transaction_id: posted.id,
    pending_until: null,
    completed_at: order_row.completed_at.toISOString(),
    region: order_row.crdb_region,
    created_at: order_row.created_at.toISOString(),
    updated_at: order_row.updated_at.toISOString(),
    lines: priced.lines.map((line) => ({ ...line, refunded_quantity: 0, refunded_minor: 0 })),
    metadata: {},
    status_history: order_row.status_history.map((change) => ({
      status: change.status,
      reason: change.reason,
      at: new Date(change.at).toISOString(),
    })),
  };
  await recordKey(client, settings, attempt, order.region, orderView(order));
  return undefined;
}
