import type { TableSpec } from '../batch/table-writer.js';
import { int8, timestamp } from '../db/sql.js';

/**
 * The ledger's rows as typed records: parsed once from database rows here (INT8 as safe
 * integers, timestamps as RFC 3339), and the table specs the batch writes them with.
 */

export interface AccountRecord {
  id: string;
  kind: 'player' | 'system';
  region: string;
  /** Last number of the account's history sequence: every entry, order and entitlement takes the next. */
  entry_seq: number;
  created_at: string;
}

export const ACCOUNTS: TableSpec<AccountRecord> = {
  table: 'accounts',
  keyOf: (row) => row.id,
  columns: { id: 'text', kind: 'text', region: 'region', entry_seq: 'int8', created_at: 'timestamptz' },
  key: ['id'],
  mutable: ['entry_seq'],
  guarded: 'entry_seq',
  guards: ['entry_seq'],
};

export function toAccountRecord(row: Record<string, unknown>): AccountRecord {
  return {
    id: row['id'] as string,
    kind: row['kind'] as AccountRecord['kind'],
    region: row['crdb_region'] as string,
    entry_seq: int8(row['entry_seq'] as string),
    created_at: timestamp(row['created_at'] as string),
  };
}

export interface WalletRecord {
  account_id: string;
  currency: string;
  balance_minor: number;
  held_minor: number;
  region: string;
  created_at: string;
  updated_at: string;
}

export const WALLETS: TableSpec<WalletRecord> = {
  table: 'wallets',
  keyOf: (row) => walletKey(row.account_id, row.currency),
  columns: {
    account_id: 'text',
    currency: 'text',
    balance_minor: 'int8',
    held_minor: 'int8',
    region: 'region',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
  },
  key: ['account_id', 'currency'],
  mutable: ['balance_minor', 'held_minor', 'updated_at'],
  guarded: 'balance_minor',
  guards: ['balance_minor', 'held_minor'],
};

export function toWalletRecord(row: Record<string, unknown>): WalletRecord {
  return {
    account_id: row['account_id'] as string,
    currency: row['currency'] as string,
    balance_minor: int8(row['balance_minor'] as string),
    held_minor: int8(row['held_minor'] as string),
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
    updated_at: timestamp(row['updated_at'] as string),
  };
}

export const walletKey = (account_id: string, currency: string) => `${account_id}/${currency}`;

/** What a batch adds to one system account's balance in one currency, on its batcher's shard. */
export interface ShardDelta {
  account_id: string;
  currency: string;
  delta_minor: number;
}

export type TransactionType =
  | 'credit'
  | 'debit'
  | 'refund'
  | 'transfer'
  | 'hold_capture'
  | 'purchase'
  | 'order_refund'
  | 'topup'
  | 'topup_reversal'
  | 'seller_purchase';

export const REFERENCE_FIELDS = [
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

/** What a ledger transaction references besides its postings (all optional). */
export type TransactionReferences = { [K in (typeof REFERENCE_FIELDS)[number]]?: string | null };

export interface TransactionRecord extends Required<TransactionReferences> {
  id: string;
  type: TransactionType;
  /** The account the transaction is about (the payer, or the player credited): its home region holds the row. */
  account_id: string;
  currency: string;
  amount_minor: number;
  region: string;
  created_at: string;
}

export const TRANSACTIONS: TableSpec<TransactionRecord> = {
  table: 'ledger_transactions',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    type: 'text',
    account_id: 'text',
    currency: 'text',
    amount_minor: 'int8',
    reason: 'text',
    reference: 'text',
    note: 'text',
    original_transaction_id: 'uuid',
    hold_id: 'uuid',
    order_id: 'uuid',
    refund_id: 'uuid',
    topup_id: 'uuid',
    purchase_request_id: 'uuid',
    region: 'region',
    created_at: 'timestamptz',
  },
  key: ['id'],
};

export function toTransactionRecord(row: Record<string, unknown>): TransactionRecord {
  const references = Object.fromEntries(REFERENCE_FIELDS.map((field) => [field, (row[field] as string | null) ?? null]));
  return {
    ...(references as Required<TransactionReferences>),
    id: row['id'] as string,
    type: row['type'] as TransactionType,
    account_id: row['account_id'] as string,
    currency: row['currency'] as string,
    amount_minor: int8(row['amount_minor'] as string),
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
  };
}

export interface EntryRecord {
  id: string;
  transaction_id: string;
  account_id: string;
  currency: string;
  amount_minor: number;
  /** The wallet's balance after this entry; null for a system account (its balance is sharded). */
  balance_after_minor: number | null;
  /** Position in the player account's history; null for system accounts. */
  account_seq: number | null;
  /** The system-balance shard written; null for player accounts. */
  shard: number | null;
  region: string;
  created_at: string;
}

export const ENTRIES: TableSpec<EntryRecord> = {
  table: 'ledger_entries',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    transaction_id: 'uuid',
    account_id: 'text',
    currency: 'text',
    amount_minor: 'int8',
    balance_after_minor: 'int8',
    account_seq: 'int8',
    shard: 'int4',
    region: 'region',
    created_at: 'timestamptz',
  },
  key: ['id'],
};

export function toEntryRecord(row: Record<string, unknown>): EntryRecord {
  const account_seq = row['account_seq'] as string | null;
  return {
    id: row['id'] as string,
    transaction_id: row['transaction_id'] as string,
    account_id: row['account_id'] as string,
    currency: row['currency'] as string,
    amount_minor: int8(row['amount_minor'] as string),
    balance_after_minor: row['balance_after_minor'] === null ? null : int8(row['balance_after_minor'] as string),
    account_seq: account_seq === null ? null : int8(account_seq),
    shard: (row['shard'] as number | null) ?? null,
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
  };
}

export type HoldStatus = 'ACTIVE' | 'CAPTURED' | 'VOIDED' | 'EXPIRED';
/** Who settles a hold: the holds API, or the order or purchase request it pays for (only they may). */
export type HoldOwner = 'api' | 'order' | 'purchase_request';

export interface HoldRecord {
  id: string;
  account_id: string;
  currency: string;
  amount_minor: number;
  captured_minor: number;
  status: HoldStatus;
  owner: HoldOwner;
  destination_account_id: string;
  reference: string | null;
  capture_transaction_id: string | null;
  expires_at: string;
  region: string;
  created_at: string;
  updated_at: string;
}

export const HOLDS: TableSpec<HoldRecord> = {
  table: 'holds',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    account_id: 'text',
    currency: 'text',
    amount_minor: 'int8',
    captured_minor: 'int8',
    status: 'text',
    owner: 'text',
    destination_account_id: 'text',
    reference: 'text',
    capture_transaction_id: 'uuid',
    expires_at: 'timestamptz',
    region: 'region',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
  },
  key: ['id'],
  mutable: ['status', 'captured_minor', 'capture_transaction_id', 'updated_at'],
  guarded: 'status',
  guards: ['status'],
};

export function toHoldRecord(row: Record<string, unknown>): HoldRecord {
  return {
    id: row['id'] as string,
    account_id: row['account_id'] as string,
    currency: row['currency'] as string,
    amount_minor: int8(row['amount_minor'] as string),
    captured_minor: int8(row['captured_minor'] as string),
    status: row['status'] as HoldStatus,
    owner: row['owner'] as HoldOwner,
    destination_account_id: row['destination_account_id'] as string,
    reference: (row['reference'] as string | null) ?? null,
    capture_transaction_id: (row['capture_transaction_id'] as string | null) ?? null,
    expires_at: timestamp(row['expires_at'] as string),
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
    updated_at: timestamp(row['updated_at'] as string),
  };
}
