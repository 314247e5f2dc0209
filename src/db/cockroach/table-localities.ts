// The ONE place that declares each table's CockroachDB locality.
//
// - 'regional_by_row': rows live in the region named by their `crdb_region` column
//   (type `crdb_internal_region`, NOT NULL, set explicitly from the owning account's home_region).
//   On PostgreSQL `crdb_region` is an ordinary column and nothing here applies.
// - 'global': low-latency reads from every region, slow (commit-wait) writes. Only for rarely
//   written, widely read data (catalog, sellers).
//
// Adding a table: add one line below. `npm run migrate` (DB_DIALECT=cockroach) applies the
// locality after the migrations on every run; `npm run db:regions -- --print` shows the DDL.
// A table that is not listed stays REGIONAL BY TABLE IN PRIMARY REGION (CockroachDB's default).

export type TableLocality = 'regional_by_row' | 'global';

/** Name of the region column of every REGIONAL BY ROW table. */
export const REGION_COLUMN = 'crdb_region';

export const TABLE_LOCALITIES = {
  // account-owned data, homed in the account's home region
  accounts: 'regional_by_row',
  wallets: 'regional_by_row',
  idempotency_keys: 'regional_by_row',
  ledger_transactions: 'regional_by_row',
  ledger_entries: 'regional_by_row',
  system_balance_shards: 'regional_by_row',
  holds: 'regional_by_row',
  contention_locks: 'regional_by_row',
  orders: 'regional_by_row',
  order_lines: 'regional_by_row',
  entitlements: 'regional_by_row',
  order_refunds: 'regional_by_row',
  topups: 'regional_by_row',
  psp_events: 'regional_by_row',
  purchase_requests: 'regional_by_row',
  purchase_attempts: 'regional_by_row',
  jobs: 'regional_by_row',
  // the outbox and its deliveries, homed with the account of the event (or the writing pod's region)
  events: 'regional_by_row',
  webhook_deliveries: 'regional_by_row',
  withdrawals: 'regional_by_row',
  payout_events: 'regional_by_row',
  review_flags: 'regional_by_row',
  compliance_actions: 'regional_by_row',
  // the fleet-wide quote cache and fan-out leases (crdb_region = region of the pod that wrote the row last)
  seller_quotes: 'regional_by_row',
  quote_fanouts: 'regional_by_row',
  // which pod of a region holds which system-balance shard slot (crdb_region = the pods' region)
  pod_slots: 'regional_by_row',

  // read everywhere, written rarely
  items: 'global',
  sellers: 'global',
  webhook_endpoints: 'global',

  // Deliberately NOT listed (REGIONAL BY TABLE IN PRIMARY REGION): seller_rate_windows and
  // seller_health are counters written by every seller call from every pod; GLOBAL would add a
  // commit-wait to each write, and one row per seller must be shared by all regions anyway.
  // webhook_endpoint_health likewise: written by delivering pods of every region.
} as const satisfies Record<string, TableLocality>;

export type LocalizedTable = keyof typeof TABLE_LOCALITIES;

/** Table names in declaration order. */
export function localizedTables(): LocalizedTable[] {
  return Object.keys(TABLE_LOCALITIES) as LocalizedTable[];
}

export function tablesWithLocality(locality: TableLocality): LocalizedTable[] {
  return localizedTables().filter((table) => TABLE_LOCALITIES[table] === locality);
}
