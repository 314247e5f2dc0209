import { requireScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { invalidState, notFound } from '../../domain/errors.js';
import type { AppDeps } from '../../platform/deps.js';
import { findPspEvent, settleReview } from './psp-event-repository.js';
import { reviewView } from './topup-repository.js';

/**
 * An operator has dealt with an event held for review (credited by hand, confirmed with the PSP,
 * ...): the note says how. Nothing moves here; the event stays in the log with its reason, and
 * reconciliation stops reporting it. PUT semantics: settling again only replaces the note.
 */
export async function settlePspEventReview(deps: AppDeps, actor: Actor, log_id: string, settlement: string) {
  requireScope(actor, 'admin');
  const settled = await deps.transactions.run('settle_psp_event_review', async (tx) => {
    const event = await settleReview(tx, log_id, settlement);
    if (event) return event;
    if (await findPspEvent(tx, log_id)) throw invalidState(`PSP event ${log_id} is not held for review`);
    throw notFound(`PSP event ${log_id}`);
  });
  return reviewView(settled);
}
