import { requireScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import type { AppDeps } from '../../platform/deps.js';
import { settleHeldEvent } from '../../webhooks/review-settlement.js';
import { findTopupEvent } from './psp-event-repository.js';
import { reviewView } from './topup-repository.js';

/** An operator settles a PSP event held for review, once (review-settlement.ts). */
export async function settlePspEventReview(deps: AppDeps, actor: Actor, log_id: string, settlement: string) {
  requireScope(actor, 'admin');
  const settled = await deps.transactions.run('settle_psp_event_review', async (tx) => {
    await settleHeldEvent(tx, 'psp_events', log_id, settlement, actor);
    return (await findTopupEvent(tx, log_id))!;
  });
  return reviewView(settled);
}
