import { randomUUID } from 'node:crypto';
import type { TableSpec } from '../../batch/table-writer.js';
import type { Unit } from '../../batch/unit.js';
import type { JobKind } from '../jobs/job-queue.js';
import { timestamp } from '../../db/sql.js';
import type { Attempt, PurchaseRequest } from './purchase-repository.js';

/**
 * The purchase rows a batch writes when money moves for a request (its wallet hold taken,
 * captured or voided): only the columns those operations write; quotes and attempts in progress
 * are recorded by the job's own fenced transactions.
 */
export const PURCHASE_REQUESTS: TableSpec<PurchaseRequest> = {
  table: 'purchase_requests',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    account_id: 'text',
    product_id: 'text',
    max_price_minor: 'int8',
    currency: 'text',
    status: 'text',
    hold_id: 'uuid',
    deadline_at: 'timestamptz',
    final_price_minor: 'int8',
    seller_id: 'text',
    confirmation: 'jsonb',
    lowest_price_minor: 'int8',
    failure_reason: 'text',
    review_reason: 'text',
    review_settlement: 'text',
    region: 'region',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
    finished_at: 'timestamptz',
  },
  key: ['id'],
  mutable: [
    'status',
    'final_price_minor',
    'seller_id',
    'confirmation',
    'lowest_price_minor',
    'failure_reason',
    'review_reason',
    'review_settlement',
    'updated_at',
    'finished_at',
  ],
  guarded: 'status',
  guards: ['status'],
};

export interface AttemptRecord extends Attempt {
  purchase_request_id: string;
}

export const PURCHASE_ATTEMPTS: TableSpec<AttemptRecord> = {
  table: 'purchase_attempts',
  keyOf: (row) => `${row.purchase_request_id}#${row.position}`,
  columns: {
    purchase_request_id: 'uuid',
    position: 'int4',
    state: 'text',
    outcome: 'text',
    detail: 'text',
    order_id: 'text',
    price_minor: 'int8',
    finished_at: 'timestamptz',
  },
  key: ['purchase_request_id', 'position'],
  mutable: ['state', 'outcome', 'detail', 'order_id', 'price_minor', 'finished_at'],
  guarded: 'state',
  guards: ['state'],
};

/** A durable job row (src/sellers/jobs/job-queue.ts claims and leases them). */
export interface JobRecord {
  id: string;
  kind: JobKind;
  subject_id: string;
  run_after: string;
  lease_token: string | null;
  lease_expires_at: string | null;
  claims: number;
  last_error: string | null;
  region: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export const JOBS: TableSpec<JobRecord> = {
  table: 'jobs',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    kind: 'text',
    subject_id: 'uuid',
    run_after: 'timestamptz',
    lease_token: 'text',
    lease_expires_at: 'timestamptz',
    claims: 'int4',
    last_error: 'text',
    region: 'region',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
    finished_at: 'timestamptz',
  },
  key: ['id'],
  mutable: ['lease_token', 'lease_expires_at', 'finished_at', 'updated_at'],
  // A job is finished only by the holder of its lease: a claim or renewal in between changes the token.
  guarded: 'updated_at',
  guards: ['lease_token'],
};

/** A new durable job, due at once, written in the batch that creates its subject: committed with it or not at all. */
export function insertJob(unit: Unit, kind: JobKind, subject_id: string, region: string): JobRecord {
  return unit.table(JOBS).insert({
    id: randomUUID(),
    kind,
    subject_id,
    run_after: unit.now,
    lease_token: null,
    lease_expires_at: null,
    claims: 0,
    last_error: null,
    region,
    created_at: unit.now,
    updated_at: unit.now,
    finished_at: null,
  });
}

const optionalTimestamp = (value: unknown) => (value === null || value === undefined ? null : timestamp(value as string));

export function toJobRecord(row: Record<string, unknown>): JobRecord {
  return {
    id: row['id'] as string,
    kind: row['kind'] as JobRecord['kind'],
    subject_id: row['subject_id'] as string,
    run_after: timestamp(row['run_after'] as string),
    lease_token: (row['lease_token'] as string | null) ?? null,
    lease_expires_at: optionalTimestamp(row['lease_expires_at']),
    claims: row['claims'] as number,
    last_error: (row['last_error'] as string | null) ?? null,
    region: row['crdb_region'] as string,
    created_at: timestamp(row['created_at'] as string),
    updated_at: timestamp(row['updated_at'] as string),
    finished_at: optionalTimestamp(row['finished_at']),
  };
}
