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
  region: string;
}

/** An event as a top-up shows it. */
export interface TopupEvent {
  id: string;
  type: string;
  amount_minor: number | null;
  currency: string | null;
  outcome: string;
  review_reason: string | null;
  received_at: string;
}

export async function findPspEvent(tx: SqlTx, id: string): Promise<RecordedDelivery | undefined> {
  const row = await tx.maybeOne<{ id: string; topup_id: string | null; payload: unknown; body_base64: string | null; crdb_region: string }>(
    'SELECT id, topup_id, payload, body_base64, crdb_region FROM psp_events WHERE id = ?',
    [id],
  );
  return row && { id: row.id, topup_id: row.topup_id, payload: row.payload, body_base64: row.body_base64, region: row.crdb_region };
}

/** Appends an event to the log; false when a twin delivery recorded the same id first. */
export async function insertPspEvent(tx: SqlTx, event: NewPspEvent): Promise<boolean> {
  const inserted = await tx.rows(
    `INSERT INTO psp_events (id, type, topup_id, payload, body_base64, outcome, review_reason, conflicts_with, crdb_region)
     VALUES (?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id`,
    [
      event.id,
      event.type,
      event.topup_id,
      JSON.stringify(event.payload),
      event.body_base64,
      event.outcome,
      event.review_reason,
      event.conflicts_with,
      event.region,
    ],
  );
  return inserted.length === 1;
}

/** The events recorded against a top-up, oldest first; those held for review are never the ones cut off. */
export async function listTopupEvents(tx: SqlTx, topup_id: string, limit: number): Promise<TopupEvent[]> {
  const rows = await tx.rows<{
    id: string;
    conflicts_with: string | null;
    type: string;
    amount: unknown;
    currency: unknown;
    outcome: string;
    review_reason: string | null;
    received_at: string;
  }>(
    `SELECT id, conflicts_with, type, payload->'data'->'amount' AS amount, payload->'data'->'currency' AS currency,
            outcome, review_reason, received_at
     FROM psp_events WHERE topup_id = ?
     ORDER BY review_reason IS NULL, received_at, id LIMIT ?`,
    [topup_id, limit],
  );
  return rows
    .map((row) => ({
      id: row.conflicts_with ?? row.id,
      type: row.type,
      amount_minor: typeof row.amount === 'number' ? row.amount : null,
      currency: typeof row.currency === 'string' ? row.currency : null,
      outcome: row.outcome,
      review_reason: row.review_reason,
      received_at: timestamp(row.received_at),
    }))
    .sort((a, b) => a.received_at.localeCompare(b.received_at));
}
