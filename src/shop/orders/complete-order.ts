import type { Actor } from '../../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../../batch/operation.js';
import { invalidState } from '../../domain/errors.js';
import { captureHold, requireLiveHold } from '../../ledger/holds.js';
import { postTransaction } from '../../ledger/posting.js';
import type { AppDeps } from '../../platform/deps.js';
import { changeStatus, grantEntitlements } from './order-book.js';
import { orderCommand, requireOrderControl } from './order-access.js';
import { grantPostings } from './pricing.js';
import { lineShares } from './place-order.js';
import { sharePostings } from '../../merchants/revenue-shares.js';
import { orderView } from './views.js';

/** Two-step, second step: capture the hold, credit pack grants, grant entitlements, COMPLETED — one batch. */
export async function completeOrder(
  deps: AppDeps,
  actor: Actor,
  order_id: string,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  requireOrderControl(actor);
  return orderCommand(deps, actor, order_id, 'complete_order', idempotency, (unit, order) => {
    if (order.mode !== 'two_step' || order.status !== 'PENDING' || !order.hold_id) {
      throw invalidState(
        `order ${order_id} is ${order.status}${order.mode === 'immediate' ? ' (immediate orders complete by themselves)' : ''}`,
      );
    }
    const hold = requireLiveHold(unit, order.hold_id, 'order');
    const { posted } = captureHold(unit, hold, order.total_minor, { type: 'purchase', order_id }, deps.config.limits);
    const shares = sharePostings(order.currency, lineShares(order.lines), 1);
    if (shares.length > 0) {
      const amount_minor = order.lines.reduce((sum, line) => sum + line.merchant_share_minor, 0);
      const base = { type: 'purchase' as const, account_id: order.account_id, currency: order.currency, order_id };
      postTransaction(unit, { ...base, amount_minor, metadata: order.metadata, postings: shares }, deps.config.limits);
    }
    const grants = grantPostings(
      order.account_id,
      order.lines.map((line) => ({ line, quantity: line.quantity })),
      1,
    );
    const first_grant = grants[0];
    if (first_grant) {
      postTransaction(
        unit,
        {
          type: 'purchase',
          account_id: order.account_id,
          currency: first_grant.currency,
          amount_minor: first_grant.amount_minor,
          order_id,
          postings: grants,
        },
        deps.config.limits,
      );
    }
    grantEntitlements(unit, order);
    return orderView(changeStatus(unit, order, 'COMPLETED', { payment_transaction_id: posted.id }));
  });
}
