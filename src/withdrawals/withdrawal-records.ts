import type { TableSpec } from '../batch/table-writer.js';
import { int8, optionalTimestamp, timestamp } from '../db/sql.js';
import type { Metadata } from '../ledger/ledger-records.js';

export type WithdrawalStatus = 'PENDING' | 'PAID' | 'FAILED';

/** Where the provider pays the money: a bank account, a wallet at another service, ... */
export interface Destination {
  type: string;
  reference: string;
}

export interface WithdrawalStatusChange {
  status: WithdrawalStatus;
  reason: string | null;
  at: string;
}

export interface WithdrawalRecord {
  id: string;
  account_id: string;
  /** Position in the account's history sequence: an account's withdrawals are listed in commit order. */
  account_seq: number;
  amount_minor: number;
  currency: string;
  destination: Destination;
  metadata: Metadata;
  status: WithdrawalStatus;
  /** The provider's id of the payout, once it answered the payout call (or a callback named it). */
  payout_id: string | null;
  /** What the provider said of the payout when it accepted it. */
  provider_status: string | null;
  failure_reason: string | null;
  /** The ledger transaction that moved the money from the wallet to @payouts_pending. */
  debit_transaction_id: string;
  /** The one that settled it: to @payouts (PAID) or back to the wallet (FAILED). */
  settlement_transaction_id: string | null;
  status_history: WithdrawalStatusChange[];
  /** Set by the recovery worker when the provider has not settled it in time; written outside batches. */
  reconciliation_required_at: string | null;
  region: string;
  created_at: string;
  updated_at: string;
  settled_at: string | null;
}

export const WITHDRAWALS: TableSpec<WithdrawalRecord> = {
  table: 'withdrawals',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    account_id: 'text',
    account_seq: 'int8',
    amount_minor: 'int8',
    currency: 'text',
    destination: 'jsonb',
    metadata: 'jsonb',
    status: 'text',
    payout_id: 'text',
    provider_status: 'text',
    failure_reason: 'text',
    debit_transaction_id: 'uuid',
    settlement_transaction_id: 'uuid',
    status_history: 'jsonb',
    region: 'region',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
    settled_at: 'timestamptz',
  },
  key: ['id'],
  mutable: [
    'status',
    'payout_id',
    'provider_status',
    'failure_reason',
    'settlement_transaction_id',
    'status_history',
    'updated_at',
    'settled_at',
  ],
  guarded: 'status',
  guards: ['status', 'payout_id'],
};

export function toWithdrawalRecord(row: Record<string, unknown>): WithdrawalRecord {
  const history = row['status_history'] as WithdrawalStatusChange[];
  return {
    id: row['id'] as string,
    account_id: row['account_id'] as string,
    account_seq: int8(row['account_seq'] as string),
    amount_minor: int8(row['amount_minor'] as string),
    currency: row['currency'] as string,
    destination: row['destination'] as Destination,
    metadata: row['metadata'] as Metadata,
    status: row['status'] as WithdrawalStatus,
    payout_id: (row['payout_id'] as string | null) ?? null,
    provider_status: (row['provider_status'] as string | null) ?? null,
    failure_reason: (row['failure_reason'] as string | null) ?? null,
    debit_transaction_id: row['debit_transaction_id'] as string,
    settlement_transaction_id: (row['settlement_transaction_id'] as string | null) ?? null,
    status_history: history.map((change) => ({ status: change.status, reason: change.reason, at: timestamp(change.at) })),
    reconciliation_required_at: optionalTimestamp(row['reconciliation_required_at']),
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
    updated_at: timestamp(row['updated_at'] as string),
    settled_at: optionalTimestamp(row['settled_at']),
  };
}

/** A row of the payout event log: every validly signed callback that was not a duplicate. */
export interface PayoutEventRecord {
  /** The provider's event id, or a body key (signed-delivery.ts) when the body cannot be recorded under it. */
  id: string;
  type: string;
  withdrawal_id: string | null;
  payload: unknown;
  body_base64: string | null;
  outcome: string;
  review_reason: string | null;
  conflicts_with: string | null;
  review_settled_at: string | null;
  review_settlement: string | null;
  review_settled_by: string | null;
  region: string;
  received_at: string;
}

/** Callbacks a withdrawal's view shows at most (reviews first, then the earliest): its GET and its events alike. */
export const CALLBACKS_SHOWN_MAX = 100;

export const PAYOUT_EVENTS: TableSpec<PayoutEventRecord> = {
  table: 'payout_events',
  keyOf: (row) => row.id,
  columns: {
    id: 'text',
    type: 'text',
    withdrawal_id: 'uuid',
    payload: 'jsonb',
    body_base64: 'text',
    outcome: 'text',
    review_reason: 'text',
    conflicts_with: 'text',
    region: 'region',
    received_at: 'timestamptz',
  },
  key: ['id'],
};

export function toPayoutEventRecord(row: Record<string, unknown>): PayoutEventRecord {
  return {
    id: row['id'] as string,
    type: row['type'] as string,
    withdrawal_id: (row['withdrawal_id'] as string | null) ?? null,
    payload: row['payload'] ?? null,
    body_base64: (row['body_base64'] as string | null) ?? null,
    outcome: row['outcome'] as string,
    review_reason: (row['review_reason'] as string | null) ?? null,
    conflicts_with: (row['conflicts_with'] as string | null) ?? null,
    review_settled_at: optionalTimestamp(row['review_settled_at']),
    review_settlement: (row['review_settlement'] as string | null) ?? null,
    review_settled_by: (row['review_settled_by'] as string | null) ?? null,
    region: row['crdb_region'] as string,
    received_at: timestamp(row['received_at'] as string),
  };
}
