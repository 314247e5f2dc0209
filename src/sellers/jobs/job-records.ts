import type { TableSpec } from '../../batch/table-writer.js';

export type JobKind = 'purchase' | 'payout';

/**
 * A durable job as the batch inserts it, in the same transaction as what it works for (a
 * withdrawal's payout): claims, leases and completion are written by the job queue itself
 * (job-queue.ts), outside batches.
 */
export interface NewJobRecord {
  id: string;
  kind: JobKind;
  /** What the job works on: a purchase request, a withdrawal. */
  subject_id: string;
  run_after: string;
  region: string;
  created_at: string;
  updated_at: string;
}

export const JOBS: TableSpec<NewJobRecord> = {
  table: 'jobs',
  keyOf: (row) => row.id,
  columns: {
    id: 'uuid',
    kind: 'text',
    subject_id: 'uuid',
    run_after: 'timestamptz',
    region: 'region',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
  },
  key: ['id'],
};
