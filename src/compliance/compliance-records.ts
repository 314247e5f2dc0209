import type { TableSpec } from '../batch/table-writer.js';
import { int8, optionalTimestamp, timestamp } from '../db/sql.js';

/** An AML review flag: a velocity breach that was refused (SPEC §10), until a person resolves it. */
export interface ReviewFlagRecord {
  id: string;
  account_id: string;
  currency: string;
  limit_name: string;
  limit_value: number;
  /** Used in the window before the refused operation. */
  used: number;
  /** What the refused operation asked for (minor units; 1 for a count). */
  attempted: number;
  /** The refused operation's ledger transaction type (debit, transfer, withdrawal, ...). */
  operation: string;
  window_start: string;
  status: 'open' | 'resolved';
  resolution: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  region: string;
  created_at: string;
}

export const REVIEW_FLAGS: TableSpec<ReviewFlagRecord> = {
  table: 'review_flags',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    account_id: 'text',
    currency: 'text',
    limit_name: 'text',
    limit_value: 'int8',
    used: 'int8',
    attempted: 'int8',
    operation: 'text',
    window_start: 'timestamptz',
    status: 'text',
    resolution: 'text',
    resolved_by: 'text',
    resolved_at: 'timestamptz',
    region: 'region',
    created_at: 'timestamptz',
  },
  key: ['id'],
};

export function toReviewFlagRecord(row: Record<string, unknown>): ReviewFlagRecord {
  return {
    id: row['id'] as string,
    account_id: row['account_id'] as string,
    currency: row['currency'] as string,
    limit_name: row['limit_name'] as string,
    limit_value: int8(row['limit_value'] as string),
    used: int8(row['used'] as string),
    attempted: int8(row['attempted'] as string),
    operation: row['operation'] as string,
    window_start: timestamp(row['window_start'] as string),
    status: row['status'] as ReviewFlagRecord['status'],
    resolution: (row['resolution'] as string | null) ?? null,
    resolved_by: (row['resolved_by'] as string | null) ?? null,
    resolved_at: optionalTimestamp(row['resolved_at']),
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
  };
}

export type ComplianceActionKind = 'freeze' | 'unfreeze' | 'close' | 'kyc_tier' | 'limits';

/** Who changed an account's status, KYC tier or limits, when and why. */
export interface ComplianceActionRecord {
  id: string;
  account_id: string;
  /** Position in the account's history sequence: actions are listed in commit order. */
  account_seq: number;
  action: ComplianceActionKind;
  /** `service:<id>` or `player:<id>` of the token that asked. */
  actor: string;
  reason: string | null;
  /** What changed: {from, to} of a status or tier, or the limits set and cleared. */
  details: Record<string, unknown>;
  region: string;
  created_at: string;
}

export const COMPLIANCE_ACTIONS: TableSpec<ComplianceActionRecord> = {
  table: 'compliance_actions',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    account_id: 'text',
    account_seq: 'int8',
    action: 'text',
    actor: 'text',
    reason: 'text',
    details: 'jsonb',
    region: 'region',
    created_at: 'timestamptz',
  },
  key: ['id'],
};

export function toComplianceActionRecord(row: Record<string, unknown>): ComplianceActionRecord {
  return {
    id: row['id'] as string,
    account_id: row['account_id'] as string,
    account_seq: int8(row['account_seq'] as string),
    action: row['action'] as ComplianceActionKind,
    actor: row['actor'] as string,
    reason: (row['reason'] as string | null) ?? null,
    details: row['details'] as Record<string, unknown>,
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
  };
}
