import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import { invalidState, notFound } from '../domain/errors.js';
import type { AppDeps } from '../platform/deps.js';
import { findPayoutEvent } from './withdrawal-reads.js';
import { toPayoutEventRecord } from './withdrawal-records.js';
import { payoutReviewView } from './withdrawal-view.js';

/**
 * An operator has dealt with a payout callback held for review (asked the provider, corrected
 * by hand, ...): the note says how. Nothing moves; the event keeps its reason and reconciliation
 * stops reporting it. PUT semantics: settling again only replaces the note. The log's rows are
 * only ever inserted by batches, so this update races nothing but itself.
 */
export async function settlePayoutEventReview(deps: AppDeps, actor: Actor, log_id: string, settlement: string) {
  requireScope(actor, 'admin');
  const row = await deps.transactions.run('settle_payout_event_review', async (tx) => {
    const settled = await tx.maybeOne<Record<string, unknown>>(
      `UPDATE payout_events SET review_settled_at = COALESCE(review_settled_at, now()), review_settlement = ?
       WHERE id = ? AND review_reason IS NOT NULL RETURNING *`,
      [settlement, log_id],
    );
    if (settled) return settled;
    if (await findPayoutEvent(tx, log_id)) throw invalidState(`payout event ${log_id} is not held for review`);
    throw notFound(`payout event ${log_id}`);
  });
  return payoutReviewView(toPayoutEventRecord(row));
}
