import { int8, type SqlTx } from '../db/sql.js';
import { toEventRecord, type EventRecord } from '../events/event-records.js';
import type { AttemptRecord, DeliveryState } from './delivery-records.js';

/**
 * The statements of delivering: single statements outside any explicit transaction (like the
 * purchase jobs' claims), never part of a batch. Under READ COMMITTED on PostgreSQL a claim
 * re-checks its conditions on the newest row version after a lock wait, and `SKIP LOCKED` lets
 * pods claim different rows without waiting on each other (both engines).
 */

/** A delivery as a claim hands it over. */
export interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  event_id: string;
  account_id: string | null;
  account_seq: number | null;
  attempts: number;
}

/**
 * Every write of a lease holder is fenced by its token: a pod that lost its lease changes nothing.
 * Only pending deliveries carry a token (a verdict clears it in the same write), so these writes
 * need no `state = 'pending'`, and must not have it: it let PostgreSQL, with statistics from
 * before a backlog, read the whole pending index instead of the rows named by id (an outcome write
 * of 121 rows took 2.8 s over 14,000 pending deliveries in the benchmark).
 */
export interface HeldDelivery {
  id: string;
  lease_token: string;
}

/** How an attempt ended, to be written with the verdict. */
export interface AttemptOutcome extends HeldDelivery {
  state: DeliveryState;
  /** For a delivery to retry: from the write, on the database clock. */
  retry_in_ms: number;
  entry: AttemptRecord;
}

// A pending delivery waits for every earlier pending one of its endpoint and account: it may go
// when its account_seq is the first of those pending (`also` narrows them). A correlated scalar
// subquery, run per row through webhook_deliveries_pending whatever the statistics say. Written
// as NOT EXISTS it became an anti-join, and with statistics from before a backlog (the table empty
// or all delivered at the last ANALYZE) PostgreSQL chose to rescan the endpoint's whole pending
// index for every row: claims over 13,000 pending deliveries took 7-13 s in the benchmark, holding
// the rows they had locked, and ran into the statement timeout.
const firstPendingSeq = (also = '') => `(SELECT min(p.account_seq) FROM webhook_deliveries p
  WHERE p.endpoint_id = d.endpoint_id AND p.account_id = d.account_id AND p.state = 'pending'
    AND p.account_seq IS NOT NULL${also})`;

const claimText = (
  after_account: boolean,
) => `UPDATE webhook_deliveries SET lease_token = ?, lease_owner = ?, lease_expires_at = now() + CAST(? AS INTERVAL)
  WHERE id IN (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.endpoint_id = ?${after_account ? ' AND d.account_id > ?' : ''} AND d.state = 'pending' AND d.next_attempt_at <= now()
      AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
      AND (d.account_seq IS NULL OR d.account_seq <= COALESCE(${firstPendingSeq()}, d.account_seq))
    LIMIT ? FOR UPDATE SKIP LOCKED)
  RETURNING id, endpoint_id, event_id, account_id, account_seq, attempts`;
const CLAIM = claimText(false);
// A probe's: accounts after the one it probed last, so that probes go round every account.
const CLAIM_AFTER_ACCOUNT = claimText(true);

type ClaimRow = {
  id: string;
  endpoint_id: string;
  event_id: string;
  account_id: string | null;
  account_seq: string | null;
  attempts: number;
};

/**
 * Claims up to `limit` due deliveries of an endpoint that wait for nothing, with a lease of
 * `lease_ms`; with `after_account`, only those of accounts after it (in the index's order).
 */
export async function claimDeliveries(
  tx: SqlTx,
  claim: { endpoint_id: string; token: string; owner: string; lease_ms: number; limit: number; after_account?: string },
): Promise<ClaimedDelivery[]> {
  const lease = [claim.token, claim.owner, `${claim.lease_ms} milliseconds`, claim.endpoint_id];
  const rows =
    claim.after_account === undefined
      ? await tx.rows<ClaimRow>(CLAIM, [...lease, claim.limit])
      : await tx.rows<ClaimRow>(CLAIM_AFTER_ACCOUNT, [...lease, claim.after_account, claim.limit]);
  return rows.map((row) => ({ ...row, account_seq: row.account_seq === null ? null : int8(row.account_seq) }));
}

const CLAIM_FOLLOWERS = `UPDATE webhook_deliveries SET lease_token = ?, lease_owner = ?, lease_expires_at = now() + CAST(? AS INTERVAL)
  WHERE id IN (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.endpoint_id = ? AND d.account_id = ANY(?::text[]) AND d.state = 'pending' AND d.account_seq IS NOT NULL
      AND d.next_attempt_at <= now() AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
    ORDER BY d.account_id, d.account_seq LIMIT ? FOR UPDATE SKIP LOCKED)
  RETURNING id, endpoint_id, event_id, account_id, account_seq, attempts`;

/**
 * Claims, for accounts whose first pending delivery this pod has just claimed, the deliveries
 * pending after it: a backlog drains a whole account at a time instead of one delivery per poll.
 * Their order is not checked here (a row another pod holds is skipped): the caller checks it.
 */
export async function claimFollowers(
  tx: SqlTx,
  claim: { endpoint_id: string; accounts: readonly string[]; token: string; owner: string; lease_ms: number; limit: number },
): Promise<ClaimedDelivery[]> {
  if (claim.accounts.length === 0 || claim.limit <= 0) return [];
  const rows = await tx.rows<ClaimRow>(CLAIM_FOLLOWERS, [
    claim.token,
    claim.owner,
    `${claim.lease_ms} milliseconds`,
    claim.endpoint_id,
    [...claim.accounts],
    claim.limit,
  ]);
  return rows.map((row) => ({ ...row, account_seq: row.account_seq === null ? null : int8(row.account_seq) }));
}

/**
 * Of deliveries this pod took with their batch, those that must wait: an earlier delivery of the
 * same endpoint and account is pending and not one of `held` (the jobs this pod holds in order).
 */
export async function blockedDeliveries(
  tx: SqlTx,
  candidates: ReadonlyArray<{ id: string; endpoint_id: string; account_id: string; account_seq: number }>,
  held: readonly string[],
): Promise<Set<string>> {
  if (candidates.length === 0) return new Set();
  const rows = await tx.rows<{ id: string }>(
    `SELECT d.id FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::int8[]) AS d(id, endpoint_id, account_id, account_seq)
     WHERE ${firstPendingSeq(' AND p.id <> ALL(?::uuid[])')} < d.account_seq`,
    [
      candidates.map((candidate) => candidate.id),
      candidates.map((candidate) => candidate.endpoint_id),
      candidates.map((candidate) => candidate.account_id),
      candidates.map((candidate) => String(candidate.account_seq)),
      [...held],
    ],
  );
  return new Set(rows.map((row) => row.id));
}

export async function findEvents(tx: SqlTx, ids: readonly string[]): Promise<Map<string, EventRecord>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.rows<Record<string, unknown>>('SELECT * FROM events WHERE id = ANY(?::uuid[])', [[...ids]]);
  return new Map(rows.map((row) => [row['id'] as string, toEventRecord(row)]));
}

/** Gives deliveries back unattempted: claimable again at once (by any pod, this one included). */
export async function releaseDeliveries(tx: SqlTx, held: readonly HeldDelivery[]): Promise<void> {
  if (held.length === 0) return;
  await tx.execute(
    `UPDATE webhook_deliveries AS d SET lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
     FROM unnest(?::uuid[], ?::text[]) AS v(id, lease_token)
     WHERE d.id = v.id AND d.lease_token = v.lease_token`,
    [held.map((delivery) => delivery.id), held.map((delivery) => delivery.lease_token)],
  );
}

/**
 * Writes the outcomes of attempts, many in one statement: the verdict, the attempt (a failed one
 * appended to the delivery's log, the latest `log_max` kept; the last one in last_*), the lease
 * given back. A delivery that succeeds at once, as most do, touches no JSON.
 */
export async function recordAttempts(tx: SqlTx, outcomes: readonly AttemptOutcome[], log_max: number): Promise<void> {
  if (outcomes.length === 0) return;
  const column = <T>(pick: (outcome: AttemptOutcome) => T) => outcomes.map(pick);
  await tx.execute(
    `UPDATE webhook_deliveries AS d SET
       state = v.state,
       attempts = d.attempts + 1,
       next_attempt_at = CASE WHEN v.state = 'pending' THEN now() + v.retry_in_ms * INTERVAL '1 millisecond' ELSE d.next_attempt_at END,
       delivered_at = CASE WHEN v.state = 'delivered' THEN now() ELSE d.delivered_at END,
       last_attempt_at = v.attempted_at, last_status_code = v.status_code, last_latency_ms = v.latency_ms, last_error = v.error,
       attempt_log = CASE WHEN v.state = 'delivered' THEN d.attempt_log
         ELSE (CASE WHEN jsonb_array_length(d.attempt_log) >= ? THEN d.attempt_log - 0 ELSE d.attempt_log END)
              || jsonb_build_array(CAST(v.entry AS JSONB)) END,
       lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
     FROM unnest(?::uuid[], ?::text[], ?::text[], ?::int8[], ?::timestamptz[], ?::int4[], ?::int4[], ?::text[], ?::text[])
       AS v(id, lease_token, state, retry_in_ms, attempted_at, status_code, latency_ms, error, entry)
     WHERE d.id = v.id AND d.lease_token = v.lease_token`,
    [
      log_max,
      column((outcome) => outcome.id),
      column((outcome) => outcome.lease_token),
      column((outcome) => outcome.state),
      column((outcome) => String(outcome.retry_in_ms)),
      column((outcome) => outcome.entry.at),
      column((outcome) => outcome.entry.status_code),
      column((outcome) => outcome.entry.latency_ms),
      column((outcome) => outcome.entry.error),
      column((outcome) => JSON.stringify(outcome.entry)),
    ],
  );
}

/** A delivery whose event is gone (retention): nothing can be sent any more. */
export function eventGoneOutcome(delivery: HeldDelivery & { attempts: number }, now: string): AttemptOutcome {
  return {
    ...delivery,
    state: 'failed',
    retry_in_ms: 0,
    entry: { attempt: delivery.attempts + 1, at: now, status_code: null, latency_ms: 0, error: 'the event was purged (retention)' },
  };
}
