import assert from 'node:assert/strict';
import { int8, timestamp, type SqlTx } from '../db/sql.js';
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
  /** When the delivery was created (its retry window starts then). */
  created_at: string;
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

/** Where a delivery stands in the order of its endpoint and account (account_seq null: outside any order). */
export interface ChainPlace {
  endpoint_id: string;
  account_id: string | null;
  account_seq: number | null;
}

/** One chain (endpoint and account) as a map key: its deliveries go one after another. */
export const chainKey = (endpoint_id: string, account_id: string) => `${endpoint_id} ${account_id}`;

/** How an attempt ended, to be written with the verdict. */
export interface AttemptOutcome extends HeldDelivery, ChainPlace {
  state: DeliveryState;
  /** For a delivery to retry: from the write, on the database clock. */
  retry_in_ms: number;
  entry: AttemptRecord;
}

// A pending delivery waits for every earlier pending one of its endpoint and account: it may go
// when its account_seq is the first of those pending (`also` narrows them; `of` names the outer
// row, a delivery of that endpoint and account, or a chain). A correlated scalar subquery, run per
// row through webhook_deliveries_pending whatever the statistics say. Written as NOT EXISTS it
// became an anti-join, and with statistics from before a backlog (the table empty or all
// delivered at the last ANALYZE) PostgreSQL chose to rescan the endpoint's whole pending index
// for every row: claims over 13,000 pending deliveries took 7-13 s in the benchmark, holding the
// rows they had locked, and ran into the statement timeout.
// `value` is what to read of that first pending delivery `p`.
const firstPending = (value: string, also = '', of = 'd') => `(SELECT ${value} FROM webhook_deliveries p
  WHERE p.endpoint_id = ${of}.endpoint_id AND p.account_id = ${of}.account_id AND p.state = 'pending'
    AND p.account_seq IS NOT NULL${also} ORDER BY p.account_seq LIMIT 1)`;
const firstPendingSeq = (also = '', of = 'd') => firstPending('p.account_seq', also, of);

// An earlier delivery of the same endpoint and account is pending: `d` must wait for it.
const WAITS = `${firstPendingSeq()} < d.account_seq`;

/**
 * A claim reads an endpoint's due deliveries by due time (webhook_deliveries_due), at most
 * `scan_rows` of them, and leases up to `limit` that wait for nothing. It also returns those it
 * found waiting for an earlier delivery of their account, with the due time it read, to be set
 * aside (setAside); `next_attempt_at IS NOT NULL` selects that index (see its migration).
 * Walking the pending deliveries in account order instead, as claims once did, read every waiting
 * delivery in every claim of every pod: 82,050 rows per claim over 42,050 pending in
 * test/events/delivery-claim-scan.test.ts, where claims now read what is due.
 */
const claimText = (scan_rows: number) => `WITH scanned AS (
    SELECT d.id, d.next_attempt_at, COALESCE(${WAITS}, false) AS waits
    FROM webhook_deliveries d
    WHERE d.endpoint_id = ? AND d.state = 'pending' AND d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= now()
      AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
    ORDER BY d.next_attempt_at LIMIT ${scan_rows} FOR UPDATE SKIP LOCKED
  ), ranked AS (
    SELECT s.id, s.next_attempt_at, s.waits, row_number() OVER (PARTITION BY s.waits ORDER BY s.next_attempt_at, s.id) AS place
    FROM scanned AS s
  ), claimed AS (
    UPDATE webhook_deliveries AS w SET lease_token = ?, lease_owner = ?, lease_expires_at = now() + CAST(? AS INTERVAL)
    FROM ranked AS r WHERE w.id = r.id AND NOT r.waits AND r.place <= ?
    RETURNING w.id, w.endpoint_id, w.event_id, w.account_id, w.account_seq, w.attempts, w.created_at
  )
  SELECT c.id, c.endpoint_id, c.event_id, c.account_id, c.account_seq, c.attempts, c.created_at,
    CAST(NULL AS TEXT) AS waiting_due_at FROM claimed AS c
  UNION ALL
  SELECT r.id, NULL, NULL, NULL, NULL, NULL, NULL, CAST(r.next_attempt_at AS TEXT) FROM ranked AS r WHERE r.waits`;

/**
 * Sets aside deliveries a claim found waiting: due again only after their head could be tried
 * again (its due time, or when its lease runs out) and a lease more, so no claim reads them again
 * while they wait. A head that keeps failing for days costs its followers a write each, not a
 * read per poll of every pod. Followers come back claimed behind their head (claimFollowers) or
 * woken when it is done (wakeFollowers). A fresh statement, and only where the due time is still
 * the one the claim read: a wake changes it, so one that came between the claim and this is
 * never undone (and one that comes after finds the delivery set aside). It never waits for a row
 * another statement holds (`SKIP LOCKED`: that one is changing it anyway, and a delivery not set
 * aside is only read again by a later claim): two pods' claims read the same waiting deliveries, and
 * their settings aside, each taking the rows in its own order, deadlocked under load (40P01).
 */
const SET_ASIDE = `WITH free AS (
    SELECT w.id FROM webhook_deliveries AS w WHERE w.id = ANY(?::uuid[]) FOR UPDATE SKIP LOCKED
  )
  UPDATE webhook_deliveries AS d SET next_attempt_at = COALESCE(
    ${firstPending(
      'GREATEST(p.next_attempt_at, COALESCE(p.lease_expires_at, p.next_attempt_at), now()) + CAST(? AS INTERVAL)',
      ' AND p.account_seq < d.account_seq',
    )},
    d.next_attempt_at)
  FROM unnest(?::uuid[], ?::timestamptz[]) AS v(id, seen_due_at), free AS f
  WHERE d.id = v.id AND f.id = v.id AND d.next_attempt_at = v.seen_due_at AND d.state = 'pending'
    AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
    AND ${WAITS}`;

type ClaimRow = {
  id: string;
  endpoint_id: string;
  event_id: string;
  account_id: string | null;
  account_seq: string | null;
  attempts: number;
  created_at: string | Date;
};

const toClaimed = (row: ClaimRow): ClaimedDelivery => ({
  id: row.id,
  endpoint_id: row.endpoint_id,
  event_id: row.event_id,
  account_id: row.account_id,
  account_seq: row.account_seq === null ? null : int8(row.account_seq),
  attempts: row.attempts,
  created_at: timestamp(row.created_at),
});

/** What a claim took, and what it found waiting (to set aside). */
export interface Claim {
  claimed: ClaimedDelivery[];
  waiting: Array<{ id: string; due_at: string }>;
}

/**
 * Claims, with a lease of `lease_ms`, up to `limit` due deliveries of an endpoint that wait for
 * nothing, reading at most `scan_max` due ones.
 */
export async function claimDeliveries(
  tx: SqlTx,
  claim: { endpoint_id: string; token: string; owner: string; lease_ms: number; limit: number; scan_max: number },
): Promise<Claim> {
  const scan_rows = Math.max(claim.scan_max, claim.limit);
  // A literal, not a parameter: PostgreSQL's generic plan guesses a tenth of the table for `LIMIT $n`
  // and then joins the update to the claimed rows by hashing the whole table.
  assert(Number.isSafeInteger(scan_rows) && scan_rows > 0, 'a claim scans a positive whole number of rows');
  const rows = await tx.rows<ClaimRow & { waiting_due_at: string | null }>(claimText(scan_rows), [
    claim.endpoint_id,
    claim.token,
    claim.owner,
    `${claim.lease_ms} milliseconds`,
    claim.limit,
  ]);
  const result: Claim = { claimed: [], waiting: [] };
  for (const row of rows) {
    if (row.waiting_due_at === null) result.claimed.push(toClaimed(row));
    else result.waiting.push({ id: row.id, due_at: row.waiting_due_at });
  }
  return result;
}

/** Sets aside what a claim found waiting (see SET_ASIDE), `lease_ms` past the earliest its head could be done: how many. */
export async function setAside(tx: SqlTx, waiting: Claim['waiting'], lease_ms: number): Promise<number> {
  if (waiting.length === 0) return 0;
  const ids = waiting.map((row) => row.id);
  return tx.execute(SET_ASIDE, [ids, `${lease_ms} milliseconds`, ids, waiting.map((row) => row.due_at)]);
}

// The rows are read (and locked) as one scan of webhook_deliveries_pending in account order, and
// cut per account after it: a LATERAL lookup per account would spread the scan fairly over the
// accounts, but CockroachDB may plan it as a join over the whole index, locking what it reads.
const CLAIM_FOLLOWERS = `UPDATE webhook_deliveries SET lease_token = ?, lease_owner = ?, lease_expires_at = now() + CAST(? AS INTERVAL)
  WHERE id = ANY(ARRAY(
    SELECT c.id FROM (
      SELECT s.id, row_number() OVER chain AS place, bool_and(s.ready) OVER chain AS ready_so_far FROM (
        SELECT d.id, d.account_id, d.account_seq,
          (d.attempts = 0 OR d.next_attempt_at IS NULL OR d.next_attempt_at <= now()) AS ready
        FROM webhook_deliveries d
        WHERE d.endpoint_id = ? AND d.account_id = ANY(?::text[]) AND d.state = 'pending' AND d.account_seq IS NOT NULL
          AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
        ORDER BY d.account_id, d.account_seq LIMIT ? FOR UPDATE SKIP LOCKED) AS s
      WINDOW chain AS (PARTITION BY s.account_id ORDER BY s.account_seq)
    ) AS c WHERE c.place <= ? AND c.ready_so_far))
  RETURNING id, endpoint_id, event_id, account_id, account_seq, attempts, created_at`;

/**
 * Claims, for accounts whose first pending delivery this pod has just claimed, the deliveries
 * pending after it, at most `per_chain` of each, of the first `limit` read: a backlog drains a
 * whole account at a time instead of one delivery per poll. Due or set aside alike: a follower waits for
 * nothing but its head. But a delivery that failed waits out its backoff, and so does the rest of
 * its chain: the head may have failed, been given back and become pending again between the claim
 * of the head and this one, and was sent again at once. Their order is not checked here (a row
 * another pod holds is skipped): the caller checks it.
 */
export async function claimFollowers(
  tx: SqlTx,
  claim: {
    endpoint_id: string;
    accounts: readonly string[];
    token: string;
    owner: string;
    lease_ms: number;
    limit: number;
    per_chain: number;
  },
): Promise<ClaimedDelivery[]> {
  if (claim.accounts.length === 0 || claim.limit <= 0 || claim.per_chain <= 0) return [];
  const rows = await tx.rows<ClaimRow>(CLAIM_FOLLOWERS, [
    claim.token,
    claim.owner,
    `${claim.lease_ms} milliseconds`,
    claim.endpoint_id,
    [...claim.accounts],
    claim.limit,
    claim.per_chain,
  ]);
  return rows.map(toClaimed);
}

/** A delivery whose order is to be checked, and the last delivery before it in its chain that this pod holds (or null). */
export interface OrderCandidate {
  id: string;
  endpoint_id: string;
  account_id: string;
  account_seq: number;
  held_before_seq: number | null;
}

/**
 * Of deliveries this pod took with their batch (or claimed as followers), those that must wait:
 * an earlier delivery of the same endpoint and account is pending that this pod does not hold.
 * What a pod holds of a chain is in order with nothing pending between (each was so checked, and
 * one given back takes the rest of its chain with it), so only what lies after the last one held
 * before a candidate is read: a few rows, or the chain's first pending one. Excluding the held ids
 * instead read, for every candidate, every held delivery of its chain (up to 2,000 for a hot
 * account): checks ran into the statement timeout under 12 accounts written through three pods.
 */
export async function blockedDeliveries(tx: SqlTx, candidates: readonly OrderCandidate[]): Promise<Set<string>> {
  if (candidates.length === 0) return new Set();
  const rows = await tx.rows<{ id: string }>(
    // A bound of the index scan (account_seq starts at 1): `IS NULL OR` made it a filter over the whole chain.
    `SELECT d.id FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::int8[], ?::int8[]) AS d(id, endpoint_id, account_id, account_seq, after)
     WHERE ${firstPendingSeq(' AND p.account_seq > COALESCE(d.after, 0)')} < d.account_seq`,
    [
      candidates.map((candidate) => candidate.id),
      candidates.map((candidate) => candidate.endpoint_id),
      candidates.map((candidate) => candidate.account_id),
      candidates.map((candidate) => String(candidate.account_seq)),
      candidates.map((candidate) => (candidate.held_before_seq === null ? null : String(candidate.held_before_seq))),
    ],
  );
  return new Set(rows.map((row) => row.id));
}

export async function findEvents(tx: SqlTx, ids: readonly string[]): Promise<Map<string, EventRecord>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.rows<Record<string, unknown>>('SELECT * FROM events WHERE id = ANY(?::uuid[])', [[...ids]]);
  return new Map(rows.map((row) => [row['id'] as string, toEventRecord(row)]));
}

/** A delivery given back unattempted; `carry_on`: the pod would send it once nothing before it is pending. */
export interface GivenBack extends HeldDelivery {
  carry_on: boolean;
}

/**
 * Gives deliveries back unattempted: claimable again at once (by any pod, this one included), a
 * follower set aside and then claimed behind its head too. Such a one would otherwise wait out its
 * setting aside (a minute): its head's wake found it held, and nothing wakes it again. Returns the
 * chains where one to carry on is now first pending: given back for an earlier delivery another pod
 * was sending, which that pod finished meanwhile, its wake finding this one still held here. Nothing
 * else would claim it before a poll.
 */
export async function releaseDeliveries(tx: SqlTx, given: readonly GivenBack[]): Promise<WokenChain[]> {
  if (given.length === 0) return [];
  return tx.rows<WokenChain>(
    `WITH released AS (
       UPDATE webhook_deliveries AS d
       SET lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = LEAST(d.next_attempt_at, now())
       FROM unnest(?::uuid[], ?::text[], ?::bool[]) AS v(id, lease_token, carry_on)
       WHERE d.id = v.id AND d.lease_token = v.lease_token
       RETURNING d.endpoint_id, d.account_id, d.account_seq, v.carry_on
     )
     SELECT DISTINCT r.endpoint_id, r.account_id FROM released AS r
     WHERE r.carry_on AND r.account_seq IS NOT NULL AND ${firstPendingSeq(' AND p.account_seq < r.account_seq', 'r')} IS NULL`,
    [given.map((delivery) => delivery.id), given.map((delivery) => delivery.lease_token), given.map((delivery) => delivery.carry_on)],
  );
}

/**
 * Writes the outcomes of attempts, many in one statement: the verdict, the attempt (a failed one
 * appended to the delivery's log, the latest `log_max` kept; the last one in last_*), the lease
 * given back. A delivery that succeeds at once, as most do, touches no JSON. Then the deliveries
 * done wake what they held back: the chains (endpoint and account) where one was woken, waiting
 * in the database, are returned.
 */
export async function recordAttempts(tx: SqlTx, outcomes: readonly AttemptOutcome[], log_max: number): Promise<WokenChain[]> {
  if (outcomes.length === 0) return [];
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
  return wakeFollowers(tx, outcomes);
}

/** A chain whose next delivery waits in the database, never attempted and held by no pod. */
export interface WokenChain {
  endpoint_id: string;
  account_id: string;
}

/**
 * The next delivery of each chain (endpoint and account) with a delivery among `outcomes` ended
 * is due at once (never attempted, not held under a live lease). Written even when it was not set
 * aside: that changes its due time, which keeps a claim that read it waiting before this from
 * setting it aside after. Taken from the outcomes, not from what the outcome write changed: when
 * the wake fails after that write committed, the flush writes the outcomes again (changing
 * nothing, their tokens are cleared) and this wake runs again. One that comes when the outcome
 * was not written (a lease lost) only makes a waiting delivery due: the claim sets it aside again.
 * Per chain the earliest delivery ended is enough: what follows a later one waits for the next
 * after the earliest anyway. The next deliveries are found through webhook_deliveries_pending,
 * one lookup each, and written by id; joined to the table instead, with statistics from before a
 * backlog, PostgreSQL read every pending delivery for each wake (11.8 ms a wake, a third of a
 * core in the benchmark). For the same reason the write names no state: a delivery never
 * attempted is pending (every verdict counts its attempt).
 */
async function wakeFollowers(tx: SqlTx, outcomes: readonly AttemptOutcome[]): Promise<WokenChain[]> {
  const done = new Map<string, { endpoint_id: string; account_id: string; account_seq: number }>();
  for (const { state, endpoint_id, account_id, account_seq } of outcomes) {
    if (state === 'pending' || account_id === null || account_seq === null) continue;
    const chain = chainKey(endpoint_id, account_id);
    if ((done.get(chain)?.account_seq ?? Number.POSITIVE_INFINITY) > account_seq) done.set(chain, { endpoint_id, account_id, account_seq });
  }
  if (done.size === 0) return [];
  const chains = [...done.values()];
  return tx.rows<WokenChain>(
    `UPDATE webhook_deliveries AS n SET next_attempt_at = now()
     WHERE n.id = ANY(ARRAY(
         SELECT ${firstPending('p.id', ' AND p.account_seq > r.account_seq', 'r')}
         FROM unnest(?::uuid[], ?::text[], ?::int8[]) AS r(endpoint_id, account_id, account_seq)))
       AND n.attempts = 0 AND (n.lease_expires_at IS NULL OR n.lease_expires_at < now())
     RETURNING n.endpoint_id, n.account_id`,
    [chains.map((chain) => chain.endpoint_id), chains.map((chain) => chain.account_id), chains.map((chain) => String(chain.account_seq))],
  );
}

/** A delivery whose event is gone (retention): nothing can be sent any more. */
export function eventGoneOutcome(delivery: HeldDelivery & ChainPlace & { attempts: number }, now: string): AttemptOutcome {
  return {
    ...delivery,
    state: 'failed',
    retry_in_ms: 0,
    entry: { attempt: delivery.attempts + 1, at: now, status_code: null, latency_ms: 0, error: 'the event was purged (retention)' },
  };
}
