import type { TableSpec } from '../batch/table-writer.js';
import type { KycTier, LimitOverrides } from '../compliance/kyc-tiers.js';
import { int8, optionalInt8, optionalTimestamp, timestamp } from '../db/sql.js';

/**
 * The ledger's rows as typed records: parsed once from database rows here (INT8 as safe
 * integers, timestamps as RFC 3339), and the table specs the batch writes them with.
 */

export type AccountKind = 'player' | 'system' | 'merchant';
export type AccountStatus = 'active' | 'frozen' | 'closed';

export interface AccountRecord {
  id: string;
  /** Players and merchants have wallets and a history; system accounts have neither. */
  kind: AccountKind;
  status: AccountStatus;
  kyc_tier: KycTier;
  /** Limits of this account that differ from its tier's. */
  limit_overrides: LimitOverrides;
  /** A merchant's fee plan; null for players. */
  fee_bps: number | null;
  fee_min_minor: number | null;
  region: string;
  /** Last number of the account's history sequence: every entry, order and entitlement takes the next. */
  entry_seq: number;
  created_at: string;
}

export const ACCOUNTS: TableSpec<AccountRecord> = {
  table: 'accounts',
  keyOf: (row) => row.id,
  columns: {
    id: 'text',
    kind: 'text',
    status: 'text',
    kyc_tier: 'int4',
    limit_overrides: 'jsonb',
    fee_bps: 'int4',
    fee_min_minor: 'int8',
    region: 'region',
    entry_seq: 'int8',
    created_at: 'timestamptz',
  },
  key: ['id'],
  mutable: ['entry_seq', 'status', 'kyc_tier', 'limit_overrides'],
  guarded: 'entry_seq',
  guards: ['entry_seq', 'status', 'kyc_tier'],
};

export function toAccountRecord(row: Record<string, unknown>): AccountRecord {
  return {
    id: row['id'] as string,
    kind: row['kind'] as AccountKind,
    status: row['status'] as AccountStatus,
    kyc_tier: row['kyc_tier'] as KycTier,
    limit_overrides: row['limit_overrides'] as LimitOverrides,
    fee_bps: (row['fee_bps'] as number | null) ?? null,
    fee_min_minor: optionalInt8(row['fee_min_minor']),
    region: row['crdb_region'] as string,
    entry_seq: int8(row['entry_seq'] as string),
    created_at: timestamp(row['created_at'] as string),
  };
}

/** What a wallet moved out in the current UTC day and hour: what KYC limits and velocity checks count. */
export interface WalletUsage {
  /** Start of the UTC day the sums below count; null before the first limited outflow. */
  usage_day_start: string | null;
  debits_today_minor: number;
  transfers_out_today_minor: number;
  withdrawals_today_minor: number;
  usage_hour_start: string | null;
  transfers_out_this_hour: number;
  /** Limits already flagged for AML review in the current windows (`<limit>@<window start>`). */
  flagged_limits: string[];
}

export interface WalletRecord extends WalletUsage {
  account_id: string;
  currency: string;
  balance_minor: number;
  held_minor: number;
  /** A merchant's wallet: refunds may take its revenue share back below zero, within the merchant credit limit. */
  overdraft_allowed: boolean;
  region: string;
  created_at: string;
  updated_at: string;
}

export const NO_USAGE: WalletUsage = {
  usage_day_start: null,
  debits_today_minor: 0,
  transfers_out_today_minor: 0,
  withdrawals_today_minor: 0,
  usage_hour_start: null,
  transfers_out_this_hour: 0,
  flagged_limits: [],
};

export const WALLETS: TableSpec<WalletRecord> = {
  table: 'wallets',
  keyOf: (row) => walletKey(row.account_id, row.currency),
  columns: {
    account_id: 'text',
    currency: 'text',
    balance_minor: 'int8',
    held_minor: 'int8',
    overdraft_allowed: 'bool',
    usage_day_start: 'timestamptz',
    debits_today_minor: 'int8',
    transfers_out_today_minor: 'int8',
    withdrawals_today_minor: 'int8',
    usage_hour_start: 'timestamptz',
    transfers_out_this_hour: 'int4',
    flagged_limits: 'jsonb',
    region: 'region',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
  },
  key: ['account_id', 'currency'],
  mutable: [
    'balance_minor',
    'held_minor',
    'usage_day_start',
    'debits_today_minor',
    'transfers_out_today_minor',
    'withdrawals_today_minor',
    'usage_hour_start',
    'transfers_out_this_hour',
    'flagged_limits',
    'updated_at',
  ],
  guarded: 'balance_minor',
  guards: ['balance_minor', 'held_minor'],
};

export function toWalletRecord(row: Record<string, unknown>): WalletRecord {
  return {
    account_id: row['account_id'] as string,
    currency: row['currency'] as string,
    balance_minor: int8(row['balance_minor'] as string),
    held_minor: int8(row['held_minor'] as string),
    overdraft_allowed: row['overdraft_allowed'] as boolean,
    usage_day_start: optionalTimestamp(row['usage_day_start']),
    debits_today_minor: int8(row['debits_today_minor'] as string),
    transfers_out_today_minor: int8(row['transfers_out_today_minor'] as string),
    withdrawals_today_minor: int8(row['withdrawals_today_minor'] as string),
    usage_hour_start: optionalTimestamp(row['usage_hour_start']),
    transfers_out_this_hour: row['transfers_out_this_hour'] as number,
    flagged_limits: row['flagged_limits'] as string[],
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
    updated_at: timestamp(row['updated_at'] as string),
  };
}

/** A new, empty wallet of an account: a merchant's may go below zero (refund take-backs). */
export function newWallet(account: { id: string; kind: AccountKind; region: string }, currency: string, now: string): WalletRecord {
  return {
    account_id: account.id,
    currency,
    balance_minor: 0,
    held_minor: 0,
    overdraft_allowed: account.kind === 'merchant',
    ...NO_USAGE,
    region: account.region,
    created_at: now,
    updated_at: now,
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
  | 'seller_purchase'
  | 'merchant_payment'
  | 'withdrawal'
  | 'payout'
  | 'withdrawal_return'
  | 'chargeback_recovery';

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
  'withdrawal_id',
  'merchant_id',
] as const;

/** What a ledger transaction references besides its postings (all optional). */
export type TransactionReferences = { [K in (typeof REFERENCE_FIELDS)[number]]?: string | null };

/** Up to METADATA_KEYS_MAX string values a client attaches to a money object (SPEC §10). */
export type Metadata = Record<string, string>;

export interface TransactionRecord extends Required<TransactionReferences> {
  id: string;
  type: TransactionType;
  /** The account the transaction is about (the payer, or the player credited): its home region holds the row. */
  account_id: string;
  currency: string;
  amount_minor: number;
  metadata: Metadata;
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
    withdrawal_id: 'uuid',
    merchant_id: 'text',
    metadata: 'jsonb',
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
    metadata: row['metadata'] as Metadata,
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
  metadata: Metadata;
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
    metadata: 'jsonb',
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
    metadata: row['metadata'] as Metadata,
    expires_at: timestamp(row['expires_at'] as string),
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
    updated_at: timestamp(row['updated_at'] as string),
  };
}
