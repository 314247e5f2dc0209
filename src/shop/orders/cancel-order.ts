import type { Actor } from '../../auth/tokens.js';
import { invalidState } from '../../domain/errors.js';
import type { SqlTx } from '../../db/sql.js';
import type { CommandResult, IdempotencyScope } from '../../idempotency/command-runner.js';
import { findHold } from '../../ledger/ledger-queries.js';
import { releaseHold } from '../../ledger/hold-repository.js';
import type { AppDeps } from '../../platform/deps.js';
import { orderCommand, requireOrderControl } from './order-access.js';
import { changeStatus, type Order } from './order-repository.js';
import { orderView, type OrderView } from './views.js';

/** Ends a PENDING two-step order without charging: its hold is voided in the same transaction. */
export async function cancelPendingOrder(tx: SqlTx, order: Order, reason: string): Promise<Order> {
  if (order.status !== 'PENDING') throw invalidState(`order ${order.id} is ${order.status}`);
  const hold = order.hold_id ? await findHold(tx, order.hold_id) : undefined;
  if (hold?.status === 'ACTIVE') await releaseHold(tx, hold, 'VOIDED');
  return changeStatus(tx, order, 'CANCELLED', { reason });
}

export async function cancelOrder(
  deps: AppDeps,
  actor: Actor,
  order_id: string,
  idempotency: IdempotencyScope,
): Promise<CommandResult<OrderView>> {
  requireOrderControl(actor);
  return orderCommand(deps, actor, order_id, 'cancel_order', idempotency, async (tx, order) =>
    orderView(await cancelPendingOrder(tx, order, 'cancelled by request')),
  );
}
