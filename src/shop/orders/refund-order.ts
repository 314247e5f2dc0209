import { randomUUID } from 'node:crypto';
import { hasScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { DomainError, forbidden, invalidState } from '../../domain/errors.js';
import type { RequestAnswer, RequestIdempotency } from '../../batch/operation.js';
import { postTransaction } from '../../ledger/posting.js';
import { movement } from '../../ledger/postings.js';
import type { AppDeps } from '../../platform/deps.js';
import { changeStatus, insertRefund, markLinesRefunded, revokeEntitlements } from './order-book.js';
import { orderCommand } from './order-access.js';
import type { Order } from './order-records.js';
import { grantPostings, planRefund, type RefundLineRequest } from './pricing.js';

export interface RefundOrderInput {
  order_id: string;
  lines?: RefundLineRequest[];
  amount?: number;
  reason: string;
}

const DAY_MS = 86_400_000;

/**
 * Who may refund: a service with refunds:write, any order, any item; a player, their own order,
 * within the refund window after completion, only refundable items that are not consumables.
 */
function refundRules(deps: AppDeps, actor: Actor, order: Order) {
  if (hasScope(actor, 'refunds:write')) return { enforce_policy: false };
  if (actor.kind !== 'player') throw forbidden('requires scope refunds:write');
  const window_ms = deps.config.player_refund_window_days * DAY_MS;
  if (order.completed_at && Date.now() - Date.parse(order.completed_at) > window_ms) {
    throw new DomainError('not_refundable', `orders can be refunded by the player within ${deps.config.player_refund_window_days} days`);
  }
  return { enforce_policy: true };
}

/**
 * Refunds an order by lines or by amount. The money returns to the wallet, refunded units lose
 * their entitlements and currency-pack grants are taken back, all in one transaction; racing
 * refunds both update the order row, so only one commits on what it read.
 */
export async function refundOrder(
  deps: AppDeps,
  actor: Actor,
  input: RefundOrderInput,
  idempotency: RequestIdempotency,
): Promise<RequestAnswer> {
  return orderCommand(deps, actor, input.order_id, 'refund_order', idempotency, (unit, order) => {
    // Nothing left is "exceeds what is left", as for ledger refunds: a refund that loses a race
    // to the last one gets the same answer whether it read 1 unit left or none.
    if (order.status === 'REFUNDED')
      throw new DomainError('refund_exceeds_remaining', `order ${order.id} is fully refunded; 0 is left to refund`, { remaining: 0 });
    if (order.status !== 'COMPLETED' && order.status !== 'PARTIALLY_REFUNDED') throw invalidState(`order ${order.id} is ${order.status}`);
    const plan = planRefund(order, { lines: input.lines, amount_minor: input.amount }, refundRules(deps, actor, order));
    const refund_id = randomUUID();
    const posted = postTransaction(
      unit,
      {
        type: 'order_refund',
        account_id: order.account_id,
        currency: order.currency,
        amount_minor: plan.amount_minor,
        reason: input.reason,
        order_id: order.id,
        refund_id,
        postings: [
          ...movement('@revenue', order.account_id, order.currency, plan.amount_minor),
          ...grantPostings(order.account_id, plan.lines, -1),
        ],
      },
      deps.config.limits,
    );
    const units = plan.lines.map(({ line, quantity }) => ({ line_no: line.line_no, quantity }));
    markLinesRefunded(unit, order.id, units);
    revokeEntitlements(unit, order.id, units);
    const lines = plan.lines.map(({ line, quantity }) => ({ item_id: line.item_id, quantity }));
    const { created_at } = insertRefund(unit, {
      id: refund_id,
      order_id: order.id,
      amount_minor: plan.amount_minor,
      lines,
      reason: input.reason,
      transaction_id: posted.id,
      region: order.region,
    });
    const status = plan.completes_refund ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    changeStatus(unit, order, status, { refunded_minor: order.refunded_minor + plan.amount_minor, reason: input.reason });
    return {
      id: refund_id,
      order_id: order.id,
      amount: plan.amount_minor,
      currency: order.currency,
      lines,
      reason: input.reason,
      transaction_id: posted.id,
      order_status: status,
      created_at,
    };
  });
}
