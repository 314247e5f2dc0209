import { requireScope } from '../auth/access.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../batch/operation.js';
import { invalidState, notFound } from '../domain/errors.js';
import { isJobUnfinished } from '../sellers/jobs/job-queue.js';
import type { AppDeps } from '../platform/deps.js';
import { callbacksOf, requireWithdrawal, settleWithdrawal } from './withdrawal-book.js';
import { findWithdrawal, withdrawalEvents } from './withdrawal-reads.js';
import { withdrawalView } from './withdrawal-view.js';

export interface HandSettlement {
  withdrawal_id: string;
  status: 'PAID' | 'FAILED';
  /** What the provider said when asked, and who asked: kept on the withdrawal and its transaction. */
  settlement: string;
  payout_id?: string;
}

/**
 * An operator settles a withdrawal the provider left unanswered, once they have asked the
 * provider what became of it: PAID (the money to @payouts) or FAILED (back in the wallet), as
 * the callback would have, in one batch. Only a withdrawal flagged for reconciliation whose payout
 * job has finished (flagged by the pending timeout, its job may still be calling the provider): a
 * guess could pay it out twice. A callback arriving later is applied as any late one: agreeing,
 * `already_*`; contradicting, held.
 */
export async function settleWithdrawalByHand(
  deps: AppDeps,
  actor: Actor,
  input: HandSettlement,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireScope(actor, 'admin');
  const found = await deps.transactions.read(async (tx) => {
    const withdrawal = await findWithdrawal(tx, input.withdrawal_id);
    if (!withdrawal) return undefined;
    const job_unfinished = await isJobUnfinished(tx, 'payout', withdrawal.id);
    return { withdrawal, job_unfinished, callbacks: await withdrawalEvents(tx, withdrawal.id) };
  });
  if (!found) throw notFound(`withdrawal ${input.withdrawal_id}`);
  // A job once finished never runs again: while it has not, it may be calling the provider now.
  if (found.job_unfinished && found.withdrawal.status === 'PENDING') {
    throw invalidState(
      `the payout job of withdrawal ${found.withdrawal.id} is still running: it settles it, or gives up and leaves it to you`,
    );
  }
  const { withdrawal: read } = found;
  return deps.writes.request(
    {
      name: 'settle_withdrawal_by_hand',
      region: read.region,
      // Its callbacks, so that its withdrawal.* event shows them as its GET does.
      needs: { accounts: [read.account_id], withdrawals: [read.id], payout_events: found.callbacks.map((event) => event.id) },
      decide: (unit) => {
        const withdrawal = requireWithdrawal(unit, read.id);
        if (withdrawal.status !== 'PENDING') throw invalidState(`withdrawal ${withdrawal.id} is ${withdrawal.status} already`);
        if (withdrawal.reconciliation_required_at === null) {
          throw invalidState(`withdrawal ${withdrawal.id} is not flagged for reconciliation: its payout job or the provider settles it`);
        }
        if (input.payout_id !== undefined && withdrawal.payout_id !== null && input.payout_id !== withdrawal.payout_id) {
          throw invalidState(`the withdrawal's payout is ${withdrawal.payout_id}, not ${input.payout_id}`);
        }
        const reason = `settled by ${actor.id}: ${input.settlement}`;
        const settled = settleWithdrawal(
          unit,
          withdrawal,
          { status: input.status, payout_id: input.payout_id ?? null, reason },
          deps.config.limits,
        );
        return withdrawalView(settled, callbacksOf(unit, settled.id));
      },
    },
    idempotency,
  );
}
