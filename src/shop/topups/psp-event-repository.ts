import { newestFirstPage, type RowPage } from '../../db/keyset-page.js';
import { timestamp, type SqlTx } from '../../db/sql.js';
import type { RecordedDelivery } from './psp-event.js';

/** One row of the PSP event log: every validly signed delivery that was not a duplicate. */
export interface NewPspEvent {
  /** The PSP's event id, or a body key (psp-event.ts bodyKey) when it cannot be recorded under it. */
  id: string;
  type: string;
  topup_id: string | null;
  /** The event's JSON when the database can store it, else null. */
  payload: unknown;
  /** The raw body of a delivery that is not an event we understand (malformed or conflicting). */
  body_base64: string | null;
  outcome: string;
  review_reason: string | null;
  /** For a body that reused an id already recorded with another body: that id. */
  conflicts_with: string | null;
  /** What the state machine was given (a Stripe refund: the part refunded since the last one); null when it was given nothing. */
  amount_minor: number | null;
  currency: string | null;
  region: string;
}

/** An event as a top-up shows it. */
export interface TopupEvent {
  /** The PSP's event id (for a conflicting body, the id it reused). */
  id: string;
  /** The event log's key: the id, or the hash of the body when the body could not be recorded under it. */
  log_id: string;
  type: string;
  amount_minor: number | null;
  currency: string | null;
  outcome: string;
  review_reason: string | null;
  review_settled_at: string | null;
  review_settlement: string | null;
  review_settled_by: string | null;
  received_at: string;
}

// What the state machine was given when it was given something, else what a generic payload says.
export const EVENT_COLUMNS = `id, conflicts_with, type, COALESCE(to_jsonb(amount_minor), payload->'data'->'amount') AS amount,
  COALESCE(to_jsonb(currency), payload->'data'->'currency') AS currency, outcome, review_reason, review_settled_at, review_settlement,
  review_settled_by, received_at`;

export interface EventRow {
  id: string;
  conflicts_with: string | null;
  type: string;
  amount: unknown;
  currency: unknown;
  outcome: string;
  review_reason: string | null;
  review_settled_at: string | null;
  review_settlement: string | null;
  review_settled_by: string | null;
  received_at: string;
}

export function toTopupEvent(row: EventRow): TopupEvent {
  return {
    id: row.conflicts_with ?? row.id,
    log_id: row.id,
    type: row.type,
    amount_minor: typeof row.amount === 'number' ? row.amount : null,
    currency: typeof row.currency === 'string' ? row.currency : null,
    outcome: row.outcome,
    review_reason: row.review_reason,
    review_settled_at: row.review_settled_at && timestamp(row.review_settled_at),
    review_settlement: row.review_settlement,
    review_settled_by: row.review_settled_by,
    received_at: timestamp(row.received_at),
  };
}

/**
 * An event a batch has just recorded, as the top-up will show it once read back (EVENT_COLUMNS:
 * the amount and currency the state machine was given, else what a generic payload says; nobody
 * has settled it yet).
 */
export function recordedTopupEvent(record: NewPspEvent & { received_at: string }): TopupEvent {
  const data = (record.payload as { data?: { amount?: unknown; currency?: unknown } } | null)?.data;
  return {
    id: record.conflicts_with ?? record.id,
    log_id: record.id,
    type: record.type,
    amount_minor: record.amount_minor ?? (typeof data?.amount === 'number' ? data.amount : null),
    currency: record.currency ?? (typeof data?.currency === 'string' ? data.currency : null),
    outcome: record.outcome,
    review_reason: record.review_reason,
    review_settled_at: null,
    review_settlement: null,
    review_settled_by: null,
    received_at: record.received_at,
  };
}

export async function findPspEvent(tx: SqlTx, id: string): Promise<RecordedDelivery | undefined> {
  const row = await tx.maybeOne<Omit<RecordedDelivery, 'region'> & { crdb_region: string }>(
    'SELECT id, topup_id, payload, body_base64, outcome, crdb_region FROM psp_events WHERE id = ?',
    [id],
  );
  return (
    row && {
      id: row.id,
      topup_id: row.topup_id,
      payload: row.payload,
      body_base64: row.body_base64,
      outcome: row.outcome,
      region: row.crdb_region,
    }
  );
}

/**
 * The events recorded against each top-up, oldest first, at most `limit` each; those held for
 * review are never the ones cut off. One statement for any number of top-ups.
 */
export async function listTopupEvents(tx: SqlTx, topup_ids: readonly string[], limit: number): Promise<Map<string, TopupEvent[]>> {
  const events = new Map<string, TopupEvent[]>(topup_ids.map((id) => [id, []]));
  if (topup_ids.length === 0) return events;
  const rows = await tx.rows<EventRow & { topup_id: string }>(
    `SELECT e.* FROM unnest(?::uuid[]) AS t(id) CROSS JOIN LATERAL (
       SELECT topup_id, ${EVENT_COLUMNS} FROM psp_events WHERE topup_id = t.id ORDER BY review_reason IS NULL, received_at, id LIMIT ?
     ) AS e`,
    [[...topup_ids], limit],
  );
  for (const row of rows) events.get(row.topup_id)!.push(toTopupEvent(row));
  for (const list of events.values()) list.sort((a, b) => a.received_at.localeCompare(b.received_at));
  return events;
}

/**
 * Records that an operator settled an event held for review; settling again replaces the note and
 * keeps the first time. Undefined when the log has no such event held for review.
 */
/** One event of the log as a top-up shows it. */
export async function findTopupEvent(tx: SqlTx, log_id: string): Promise<TopupEvent | undefined> {
  const row = await tx.maybeOne<EventRow>(`SELECT ${EVENT_COLUMNS} FROM psp_events WHERE id = ?`, [log_id]);
  return row && toTopupEvent(row);
}

/** An event held for review that nobody has settled yet, and the top-up it names (null when none). */
export type HeldEvent = TopupEvent & { topup_id: string | null };

/** The events held for review and not settled, newest first: what the review queue shows. */
export async function listHeldEvents(tx: SqlTx, page: { limit: number; cursor?: string }): Promise<RowPage<HeldEvent>> {
  const { rows, next_cursor } = await newestFirstPage<EventRow & { topup_id: string | null }>(
    tx,
    {
      columns: `${EVENT_COLUMNS}, topup_id`,
      table: 'psp_events',
      condition: 'review_reason IS NOT NULL AND review_settled_at IS NULL',
      params: [],
      time_column: 'received_at',
      id_type: 'string',
    },
    page,
  );
  return { rows: rows.map((row) => ({ ...toTopupEvent(row), topup_id: row.topup_id })), next_cursor };
}
