import type { Actor } from '../../auth/tokens.js';
import { invalidState } from '../../domain/errors.js';
import type { CommandResult, IdempotencyScope } from '../../idempotency/command-runner.js';
import { captureHoldIn } from '../../ledger/capture-hold.js';
import { requireLiveHold } from '../../ledger/hold-repository.js';
import { postTransaction } from '../../ledger/ledger-repository.js';
import type { AppDeps } from '../../platform/deps.js';
import { grantEntitlements } from './entitlement-repository.js';
import { orderCommand, requireOrderControl } from './order-access.js';
import { changeStatus } from './order-repository.js';
import { grantPostings } from './pricing.js';
import { orderView, type OrderView } from './views.js';

/** Two-step, second step: capture the hold, credit pack grants, grant entitlements, COMPLETED — one transaction. */
export async function completeOrder(
  deps: AppDeps,
  actor: Actor,
  order_id: string,
  idempotency: IdempotencyScope,
): Promise<CommandResult<OrderView>> {
  requireOrderControl(actor);
  return orderCommand(deps, actor, order_id, 'complete_order', idempotency, async (tx, order) => {
    if (order.mode !== 'two_step' || order.status !== 'PENDING' || !order.hold_id) {
      throw invalidState(
        `order ${order_id} is ${order.status}${order.mode === 'immediate' ? ' (immediate orders complete by themselves)' : ''}`,
      );
    }
    const hold = await requireLiveHold(tx, order.hold_id, 'order');
    const { posted } = await captureHoldIn(tx, hold, order.total_minor, { type: 'purchase', order_id }, deps.config.limits);
    const grants = grantPostings(
      order.account_id,
      order.lines.map((line) => ({ line, quantity: line.quantity })),
      1,
    );
    const first_grant = grants[0];
    if (first_grant) {
      await postTransaction(
        tx,
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
    await grantEntitlements(tx, order);
    return orderView(await changeStatus(tx, order, 'COMPLETED', { payment_transaction_id: posted.id }));
  });
}
