import { randomUUID } from 'node:crypto';
import type { SqlParam, SqlTx } from '../../db/sql.js';
import type { AppDeps } from '../../platform/deps.js';
import { autocommit } from '../guard/autocommit.js';

/** What a durable job works on: a purchase request's seller calls, a withdrawal's payout call. */
export type JobKind = 'purchase' | 'payout';

/**
 * Durable jobs in the database, claimed by any pod with a lease: `FOR UPDATE SKIP LOCKED` lets
 * pods claim different jobs without waiting for each other (it works on PostgreSQL and
 * CockroachDB), and a job whose lease has expired (its pod died) is claimable again. Every claim
 * gets a fresh lease token; every write a job makes checks it (fencing), so a pod that lost its
 * lease cannot write over its successor.
 */
export interface ClaimedJob {
  id: string;
  kind: JobKind;
  subject_id: string;
  claims: number;
  region: string;
  lease_token: string;
  /** Local clock just before the claim was sent: the lease certainly lasts until this + lease_ms. */
  claimed_at_ms: number;
}

type Deps = Pick<AppDeps, 'transactions' | 'config'>;
type ClaimRow = { id: string; kind: JobKind; subject_id: string; claims: number; crdb_region: string };

export class LeaseLost extends Error {
  constructor(job_id: string) {
    super(`the lease of job ${job_id} was taken over`);
    this.name = 'LeaseLost';
  }
}

const CLAIMABLE = 'finished_at IS NULL AND run_after <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())';

/** Claims the jobs `where` selects (its placeholders bound to `values`), under a new lease token. */
async function claimWhere(deps: Deps, owner: string, where: string, values: readonly SqlParam[]): Promise<ClaimedJob[]> {
  const token = randomUUID();
  const claimed_at_ms = Date.now();
  const rows = await autocommit(deps, (tx) =>
    tx.rows<ClaimRow>(
      `UPDATE jobs SET lease_token = ?, lease_owner = ?, lease_expires_at = now() + CAST(? AS INTERVAL),
         claims = claims + 1, updated_at = now()
       WHERE ${where}
       RETURNING id, kind, subject_id, claims, crdb_region`,
      [token, owner, `${deps.config.sellers.job_lease_ms} milliseconds`, ...values],
    ),
  );
  return rows.map((row) => toClaimed(row, token, claimed_at_ms));
}

/** Claims up to `limit` runnable jobs of a kind, this region's first (their rows are local on CockroachDB). */
export function claimJobs(deps: Deps, owner: string, kind: JobKind, region: string, limit: number): Promise<ClaimedJob[]> {
  return claimWhere(
    deps,
    owner,
    `id IN (SELECT id FROM jobs WHERE kind = ? AND ${CLAIMABLE}
            ORDER BY CASE WHEN crdb_region = ? THEN 0 ELSE 1 END, run_after LIMIT ? FOR UPDATE SKIP LOCKED)`,
    [kind, region, limit],
  );
}

/** Claims the job of one subject at once (the pod that accepted a request starts it without waiting for a poll). */
export async function claimJobOf(deps: Deps, owner: string, kind: JobKind, subject_id: string): Promise<ClaimedJob | undefined> {
  return (await claimWhere(deps, owner, `kind = ? AND subject_id = ? AND ${CLAIMABLE}`, [kind, subject_id]))[0];
}

function toClaimed(row: ClaimRow, lease_token: string, claimed_at_ms: number): ClaimedJob {
  return {
    id: row.id,
    kind: row.kind,
    subject_id: row.subject_id,
    claims: row.claims,
    region: row.crdb_region,
    lease_token,
    claimed_at_ms,
  };
}

/** Extends the lease; false when it is no longer ours. */
/** Whether the job of a subject is still to run or running (not finished): it may still call its partner. */
export async function isJobUnfinished(tx: SqlTx, kind: JobKind, subject_id: string): Promise<boolean> {
  const job = await tx.maybeOne('SELECT id FROM jobs WHERE kind = ? AND subject_id = ? AND finished_at IS NULL', [kind, subject_id]);
  return job !== undefined;
}

export async function renewLease(deps: Deps, job: ClaimedJob): Promise<boolean> {
  const renewed = await autocommit(deps, (tx) =>
    tx.execute(
      `UPDATE jobs SET lease_expires_at = now() + CAST(? AS INTERVAL), updated_at = now()
       WHERE id = ? AND lease_token = ? AND finished_at IS NULL`,
      [`${deps.config.sellers.job_lease_ms} milliseconds`, job.id, job.lease_token],
    ),
  );
  return renewed === 1;
}

/**
 * The fence of every write a job makes, inside the write's serializable transaction: the lease
 * is still ours. A successor's claim that commits concurrently conflicts with this read, so
 * only one of the two transactions commits in an order where the lease is held.
 */
export async function assertLeaseIn(tx: SqlTx, job: ClaimedJob): Promise<void> {
  const row = await tx.maybeOne<{ lease_token: string | null; finished: boolean }>(
    'SELECT lease_token, finished_at IS NOT NULL AS finished FROM jobs WHERE id = ?',
    [job.id],
  );
  if (!row || row.finished || row.lease_token !== job.lease_token) throw new LeaseLost(job.id);
}

export async function finishJobIn(tx: SqlTx, job: ClaimedJob): Promise<void> {
  const finished = await tx.execute(
    `UPDATE jobs SET finished_at = now(), lease_token = NULL, lease_expires_at = NULL, updated_at = now()
     WHERE id = ? AND lease_token = ? AND finished_at IS NULL`,
    [job.id, job.lease_token],
  );
  if (finished !== 1) throw new LeaseLost(job.id);
}

/**
 * Gives the job back on purpose, to run again after `delay_ms` (a recheck), inside the
 * transaction that records why. The claim count starts again: it counts failed runs in a row.
 */
export async function rescheduleJobIn(tx: SqlTx, job: ClaimedJob, delay_ms: number, note: string): Promise<void> {
  const rescheduled = await tx.execute(
    `UPDATE jobs SET lease_token = NULL, lease_expires_at = NULL, run_after = now() + CAST(? AS INTERVAL), claims = 0,
       last_error = ?, updated_at = now()
     WHERE id = ? AND lease_token = ? AND finished_at IS NULL`,
    [`${delay_ms} milliseconds`, note.slice(0, 500), job.id, job.lease_token],
  );
  if (rescheduled !== 1) throw new LeaseLost(job.id);
}

/**
 * Gives the job back after a failure, to be claimed again after `delay_ms`. `counted: false`: this
 * run did nothing (it waits for something, as a frozen account's payout does): its claim does not
 * count among the job's runs.
 */
export async function releaseJob(deps: Deps, job: ClaimedJob, error: string, delay_ms: number, counted = true): Promise<void> {
  await autocommit(deps, (tx) =>
    tx.execute(
      `UPDATE jobs SET lease_token = NULL, lease_expires_at = NULL, run_after = now() + CAST(? AS INTERVAL),
         last_error = ?, claims = claims - ?, updated_at = now()
       WHERE id = ? AND lease_token = ? AND finished_at IS NULL`,
      [`${delay_ms} milliseconds`, error.slice(0, 500), counted ? 0 : 1, job.id, job.lease_token],
    ),
  );
}

/** Ends a job outside any other transaction; false when it is no longer ours (another pod took it over). */
export async function finishJob(deps: Deps, job: ClaimedJob, note: string | null = null): Promise<boolean> {
  const finished = await autocommit(deps, (tx) =>
    tx.execute(
      `UPDATE jobs SET finished_at = now(), lease_token = NULL, lease_expires_at = NULL, last_error = ?, updated_at = now()
       WHERE id = ? AND lease_token = ? AND finished_at IS NULL`,
      [note?.slice(0, 500) ?? null, job.id, job.lease_token],
    ),
  );
  return finished === 1;
}
