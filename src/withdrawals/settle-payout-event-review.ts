import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { AppDeps } from '../platform/deps.js';
import { settleHeldEvent } from '../webhooks/review-settlement.js';
import { findPayoutEvent } from './withdrawal-reads.js';
import { payoutReviewView } from './withdrawal-view.js';

/** An operator settles a payout callback held for review, once (review-settlement.ts). */
export async function settlePayoutEventReview(deps: AppDeps, actor: Actor, log_id: string, settlement: string) {
  requireScope(actor, 'admin');
  const settled = await deps.transactions.run('settle_payout_event_review', async (tx) => {
    await settleHeldEvent(tx, 'payout_events', log_id, settlement, actor);
    return (await findPayoutEvent(tx, log_id))!;
  });
  return payoutReviewView(settled);
}
