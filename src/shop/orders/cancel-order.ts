import type { Actor } from '../../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../../batch/operation.js';
import type { Unit } from '../../batch/unit.js';
import { invalidState } from '../../domain/errors.js';
import { releaseHold } from '../../ledger/holds.js';
import type { AppDeps } from '../../platform/deps.js';
import { changeStatus } from './order-book.js';
import { orderCommand, requireOrderControl } from './order-access.js';
import type { Order } from './order-records.js';
import { orderView } from './views.js';

/** Ends a PENDING two-step order without charging: its hold is voided in the same batch. */
export function cancelPendingOrder(unit: Unit, order: Order, reason: string): Order {
  if (order.status !== 'PENDING') throw invalidState(`order ${order.id} is ${order.status}`);
  const hold = order.hold_id ? unit.holds.get(order.hold_id) : undefined;
  if (hold?.status === 'ACTIVE') releaseHold(unit, hold, 'VOIDED');
  return changeStatus(unit, order, 'CANCELLED', { reason });
}

export async function cancelOrder(deps: AppDeps, actor: Actor, order_id: string, idempotency: RequestIdempotency): Promise<RequestAnswer> {
  requireOrderControl(actor);
  return orderCommand(deps, actor, order_id, 'cancel_order', idempotency, (unit, order) =>
    orderView(cancelPendingOrder(unit, order, 'cancelled by request')),
  );
}
