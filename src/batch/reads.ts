import type pg from 'pg';
import type { Dialect } from '../db/database.js';
import { KEYED_PLANS } from '../db/keyed-plans.js';
import type { PipelinedStatement } from '../db/pipeline.js';
import { timestamp } from '../db/sql.js';
import {
  toAccountRecord,
  toEntryRecord,
  toHoldRecord,
  toTransactionRecord,
  toWalletRecord,
  type EntryRecord,
} from '../ledger/ledger-records.js';
import { int8 } from '../db/sql.js';
import { toItem, type ItemRow } from '../shop/catalog/item-repository.js';
import { ENTITLEMENTS, ORDER_LINES, ORDERS, toEntitlementRecord, toOrderLineRecord, toOrderRecord } from '../shop/orders/order-records.js';
import { JOBS, PURCHASE_ATTEMPTS, PURCHASE_REQUESTS, toJobRecord } from '../sellers/purchases/purchase-records.js';
import { toAttempt, toRequest } from '../sellers/purchases/purchase-repository.js';
import { PSP_EVENTS, TOPUP_LOG, TOPUPS, toPspEventRecord } from '../shop/topups/topup-records.js';
import { EVENT_COLUMNS, toTopupEvent, type EventRow } from '../shop/topups/psp-event-repository.js';
import { EVENTS, toEventRecord } from '../events/event-records.js';
import { WEBHOOK_ENDPOINTS, toEndpointRecord } from '../webhooks/endpoint-records.js';
import { ENDPOINTS_READ_PARAM, ENDPOINTS_READ_TEXT } from '../webhooks/fan-out.js';
import { TOPUP_COLUMNS, toTopup, type TopupRow } from '../shop/topups/topup-repository.js';
import {
  CALLBACKS_SHOWN_MAX,
  PAYOUT_EVENTS,
  toPayoutEventRecord,
  toWithdrawalRecord,
  WITHDRAWALS,
} from '../withdrawals/withdrawal-records.js';
import type { TrackedTable } from './journal.js';
import type { Needs } from './operation.js';
import { Unit } from './unit.js';

type Rows = Array<Record<string, unknown>>;

/** Everything a batch reads, merged over its operations. */
export interface ReadSet {
  accounts: string[];
  holds: string[];
  transactions: string[];
  items: string[];
  orders: string[];
  purchase_requests: string[];
  topups: string[];
  psp_events: string[];
  events: string[];
  withdrawals: string[];
  payout_events: string[];
  obligations: string[];
}

export function mergeNeeds(all: readonly Needs[]): ReadSet {
  const union = (pick: (needs: Needs) => readonly string[] | undefined) => [...new Set(all.flatMap((needs) => pick(needs) ?? []))].sort();
  return {
    accounts: union((needs) => needs.accounts),
    holds: union((needs) => needs.holds),
    transactions: union((needs) => needs.transactions),
    items: union((needs) => needs.items),
    orders: union((needs) => needs.orders),
    purchase_requests: union((needs) => needs.purchase_requests),
    topups: union((needs) => needs.topups),
    psp_events: union((needs) => needs.psp_events),
    events: union((needs) => needs.events),
    withdrawals: union((needs) => needs.withdrawals),
    payout_events: union((needs) => needs.payout_events),
    obligations: union((needs) => needs.obligations),
  };
}

/** One read of the batch: a fixed statement text, its parameter from the read set, and how its rows load. */
interface Reader {
  name: string;
  text: string;
  param(set: ReadSet, shard: number): unknown | undefined;
  load(unit: Unit, rows: Rows, set: ReadSet): void;
}

const nonEmpty = (ids: readonly string[]) => (ids.length > 0 ? ids : undefined);

function loadAll<R extends object>(table: TrackedTable<R>, rows: Rows, parse: (row: Record<string, unknown>) => R): void {
  for (const row of rows) table.load(parse(row));
}

/** Readers in lock order: accounts first (the only rows locked), so batches never deadlock on each other. */
const READERS: Reader[] = [
  {
    name: 'batch_read_accounts',
    text: "SELECT * FROM accounts WHERE id = ANY($1::text[]) AND kind <> 'system' ORDER BY id FOR UPDATE",
    param: (set) => nonEmpty(set.accounts),
    load(unit, rows, set) {
      for (const row of rows) unit.accounts.load(toAccountRecord(row));
      for (const id of set.accounts) if (!unit.accounts.has(id)) unit.missing_accounts.add(id);
    },
  },
  {
    name: 'batch_read_wallets',
    text: 'SELECT * FROM wallets WHERE account_id = ANY($1::text[])',
    param: (set) => nonEmpty(set.accounts),
    load: (unit, rows) => loadAll(unit.wallets, rows, toWalletRecord),
  },
  {
    name: 'batch_read_holds',
    text: 'SELECT * FROM holds WHERE id = ANY($1::uuid[])',
    param: (set) => nonEmpty(set.holds),
    load: (unit, rows) => loadAll(unit.holds, rows, toHoldRecord),
  },
  {
    name: 'batch_read_transactions',
    text: `SELECT t.*, (SELECT SUM(r.amount_minor) FROM ledger_transactions r WHERE r.original_transaction_id = t.id AND r.type = 'refund')
             AS refunded_minor
           FROM ledger_transactions t WHERE t.id = ANY($1::uuid[])`,
    param: (set) => nonEmpty(set.transactions),
    load(unit, rows) {
      for (const row of rows) {
        const refunded = row['refunded_minor'] as string | null;
        unit.posted.load({ transaction: toTransactionRecord(row), entries: [], refunded_minor: refunded === null ? 0 : int8(refunded) });
      }
    },
  },
  {
    name: 'batch_read_entries',
    text: 'SELECT * FROM ledger_entries WHERE transaction_id = ANY($1::uuid[]) ORDER BY amount_minor, account_id',
    param: (set) => nonEmpty(set.transactions),
    load(unit, rows) {
      const by_transaction = new Map<string, EntryRecord[]>();
      for (const entry of rows.map(toEntryRecord))
        by_transaction.set(entry.transaction_id, [...(by_transaction.get(entry.transaction_id) ?? []), entry]);
      for (const [id, entries] of by_transaction) {
        const posted = unit.posted.get(id);
        if (posted) unit.posted.load({ ...posted, entries });
      }
    },
  },
  {
    name: 'batch_read_items',
    text: 'SELECT * FROM items WHERE id = ANY($1::text[])',
    param: (set) => nonEmpty(set.items),
    load(unit, rows) {
      for (const row of rows) unit.items.set(row['id'] as string, toItem(row as unknown as ItemRow));
    },
  },
  {
    name: 'batch_read_orders',
    text: 'SELECT * FROM orders WHERE id = ANY($1::uuid[])',
    param: (set) => nonEmpty(set.orders),
    load: (unit, rows) => loadAll(unit.table(ORDERS), rows, toOrderRecord),
  },
  {
    name: 'batch_read_order_lines',
    text: 'SELECT * FROM order_lines WHERE order_id = ANY($1::uuid[])',
    param: (set) => nonEmpty(set.orders),
    load: (unit, rows) => loadAll(unit.table(ORDER_LINES), rows, toOrderLineRecord),
  },
  {
    name: 'batch_read_entitlements',
    text: 'SELECT * FROM entitlements WHERE order_id = ANY($1::uuid[])',
    param: (set) => nonEmpty(set.orders),
    load: (unit, rows) => loadAll(unit.table(ENTITLEMENTS), rows, toEntitlementRecord),
  },
  {
    name: 'batch_read_purchase_requests',
    text: 'SELECT * FROM purchase_requests WHERE id = ANY($1::uuid[])',
    param: (set) => nonEmpty(set.purchase_requests),
    load: (unit, rows) => loadAll(unit.table(PURCHASE_REQUESTS), rows, (row) => toRequest(row as never)),
  },
  {
    name: 'batch_read_purchase_attempts',
    text: 'SELECT * FROM purchase_attempts WHERE purchase_request_id = ANY($1::uuid[])',
    param: (set) => nonEmpty(set.purchase_requests),
    load: (unit, rows) =>
      loadAll(unit.table(PURCHASE_ATTEMPTS), rows, (row) => ({
        ...toAttempt(row as never),
        purchase_request_id: row['purchase_request_id'] as string,
      })),
  },
  {
    name: 'batch_read_purchase_jobs',
    text: "SELECT * FROM jobs WHERE kind = 'purchase' AND subject_id = ANY($1::uuid[])",
    param: (set) => nonEmpty(set.purchase_requests),
    load: (unit, rows) => loadAll(unit.table(JOBS), rows, toJobRecord),
  },
  {
    name: 'batch_read_topups',
    text: `SELECT ${TOPUP_COLUMNS} FROM topups WHERE id = ANY($1::uuid[])`,
    param: (set) => nonEmpty(set.topups),
    load: (unit, rows) => loadAll(unit.table(TOPUPS), rows, (row) => toTopup(row as unknown as TopupRow)),
  },
  {
    name: 'batch_read_psp_events',
    text: 'SELECT * FROM psp_events WHERE id = ANY($1::text[])',
    param: (set) => nonEmpty(set.psp_events),
    load: (unit, rows) => loadAll(unit.table(PSP_EVENTS), rows, toPspEventRecord),
  },
  {
    name: 'batch_read_topup_log',
    text: `SELECT topup_id, ${EVENT_COLUMNS} FROM psp_events WHERE topup_id = ANY($1::uuid[])`,
    param: (set) => nonEmpty(set.topups),
    load: (unit, rows) =>
      loadAll(unit.table(TOPUP_LOG), rows, (row) => ({ ...toTopupEvent(row as unknown as EventRow), topup_id: row['topup_id'] as string })),
  },
  {
    name: 'batch_read_events',
    text: 'SELECT * FROM events WHERE id = ANY($1::uuid[])',
    param: (set) => nonEmpty(set.events),
    load: (unit, rows) => loadAll(unit.table(EVENTS), rows, toEventRecord),
  },
  {
    // Every batch may write events, so every batch fans them out to the endpoints it reads here.
    name: 'batch_read_webhook_endpoints',
    text: ENDPOINTS_READ_TEXT,
    param: () => ENDPOINTS_READ_PARAM,
    load: (unit, rows) => loadAll(unit.table(WEBHOOK_ENDPOINTS), rows, toEndpointRecord),
  },
  {
    name: 'batch_read_withdrawals',
    text: 'SELECT * FROM withdrawals WHERE id = ANY($1::uuid[])',
    param: (set) => nonEmpty(set.withdrawals),
    load: (unit, rows) => loadAll(unit.table(WITHDRAWALS), rows, toWithdrawalRecord),
  },
  {
    name: 'batch_read_payout_events',
    text: 'SELECT * FROM payout_events WHERE id = ANY($1::text[])',
    param: (set) => nonEmpty(set.payout_events),
    load: (unit, rows) => loadAll(unit.table(PAYOUT_EVENTS), rows, toPayoutEventRecord),
  },
  {
    // Every callback of the batch's withdrawals: a withdrawal's event shows them, as its GET does.
    name: 'batch_read_withdrawal_callbacks',
    // As many as a withdrawal's view shows, chosen as its GET chooses them: a provider may send any number.
    text: `SELECT e.* FROM unnest($1::uuid[]) AS w(id) CROSS JOIN LATERAL (
             SELECT * FROM payout_events WHERE withdrawal_id = w.id
             ORDER BY review_reason IS NULL, received_at, id LIMIT ${CALLBACKS_SHOWN_MAX}) AS e`,
    param: (set) => nonEmpty(set.withdrawals),
    load: (unit, rows) => loadAll(unit.table(PAYOUT_EVENTS), rows, toPayoutEventRecord),
  },
  {
    name: 'batch_read_pending_withdrawals',
    text: "SELECT * FROM withdrawals WHERE account_id = ANY($1::text[]) AND status = 'PENDING'",
    param: (set) => nonEmpty(set.obligations),
    load: (unit, rows) => loadAll(unit.table(WITHDRAWALS), rows, toWithdrawalRecord),
  },
  {
    name: 'batch_read_pending_topups',
    text: `SELECT ${TOPUP_COLUMNS} FROM topups WHERE account_id = ANY($1::text[]) AND status = 'PENDING'`,
    param: (set) => nonEmpty(set.obligations),
    load: (unit, rows) => loadAll(unit.table(TOPUPS), rows, (row) => toTopup(row as unknown as TopupRow)),
  },
];

const BEGIN: PipelinedStatement = { name: 'batch_begin', text: 'BEGIN ISOLATION LEVEL SERIALIZABLE', values: [] };
// The transaction's timestamp, and on PostgreSQL keyed plans for every statement of the batch after it.
const NOW: Record<Dialect, PipelinedStatement> = {
  postgres: { name: 'batch_now', text: `SELECT now() AS now, ${KEYED_PLANS} AS plans`, values: [] },
  cockroach: { name: 'batch_now', text: 'SELECT now() AS now', values: [] },
};

/** BEGIN, the transaction's timestamp, then every read the set needs: the first round trip of a batch. */
export function readStatements(set: ReadSet, shard: number, dialect: Dialect): { statements: PipelinedStatement[]; readers: Reader[] } {
  const readers = READERS.filter((reader) => reader.param(set, shard) !== undefined);
  const statements = [
    BEGIN,
    NOW[dialect],
    ...readers.map((reader) => ({ name: reader.name, text: reader.text, values: [reader.param(set, shard)] })),
  ];
  return { statements, readers };
}

/** The batch's state from the results of its first round trip. */
export function loadUnit(
  results: readonly pg.QueryResult[],
  readers: readonly Reader[],
  set: ReadSet,
  batch: { region: string; shard: number },
): Unit {
  const now = timestamp((results[1]!.rows[0] as { now: string }).now);
  const unit = new Unit(now, batch.region, batch.shard);
  for (const [index, reader] of readers.entries()) reader.load(unit, results[index + 2]!.rows, set);
  return unit;
}
