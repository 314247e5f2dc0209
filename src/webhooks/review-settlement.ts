import type { Actor } from '../auth/tokens.js';
import { timestamp, type SqlTx } from '../db/sql.js';
import { invalidState, notFound } from '../domain/errors.js';

/** The event logs of payment partners whose held events an operator settles. */
export type PartnerLog = 'psp_events' | 'payout_events';

/**
 * An operator has dealt with a partner's event held for review (credited by hand, confirmed with
 * the partner, ...): the note says how and the log keeps who wrote it. Nothing moves; the event
 * keeps its reason and reconciliation stops reporting it. Settled once: the same note again is
 * the same settlement (a PUT retried), another note is 409 and never replaces the first. The log's
 * rows are only ever inserted by batches, so this update races nothing but itself.
 */
export async function settleHeldEvent(tx: SqlTx, log: PartnerLog, log_id: string, settlement: string, actor: Actor): Promise<void> {
  const what = log === 'psp_events' ? 'PSP event' : 'payout event';
  const settled = await tx.maybeOne(
    `UPDATE ${log} SET review_settled_at = now(), review_settlement = ?, review_settled_by = ?
     WHERE id = ? AND review_reason IS NOT NULL AND review_settled_at IS NULL RETURNING id`,
    [settlement, `${actor.kind}:${actor.id}`, log_id],
  );
  if (settled) return;
  const row = await tx.maybeOne<{ review_reason: string | null; review_settlement: string | null; by: string | null; at: string | null }>(
    `SELECT review_reason, review_settlement, review_settled_by AS by, review_settled_at AS at FROM ${log} WHERE id = ?`,
    [log_id],
  );
  if (!row) throw notFound(`${what} ${log_id}`);
  if (row.review_reason === null) throw invalidState(`${what} ${log_id} is not held for review`);
  if (row.review_settlement !== settlement) {
    const when = row.at === null ? '' : ` at ${timestamp(row.at)}`;
    throw invalidState(`${what} ${log_id} was settled by ${row.by ?? 'an operator'}${when} with another note, which stands`);
  }
}
