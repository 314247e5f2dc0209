import { hasScope, isVisibleTo } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { notFound, forbidden } from '../../domain/errors.js';
import type { SqlTx } from '../../db/sql.js';
import type { CommandResult, IdempotencyScope } from '../../idempotency/command-runner.js';
import type { AppDeps } from '../../platform/deps.js';
import { findOrder, type Order } from './order-repository.js';

/** The order if the actor may see it: its owner, or a service acting on accounts. Others get 404. */
export async function visibleOrder(tx: SqlTx, actor: Actor, order_id: string): Promise<Order> {
  const order = await findOrder(tx, order_id);
  if (!order || !isVisibleTo(actor, order.account_id)) throw notFound(`order ${order_id}`);
  return order;
}

/** Whose wallet an order moves, looked up before the transaction to queue on that wallet. */
export async function orderOwner(deps: AppDeps, actor: Actor, order_id: string): Promise<string> {
  const order = await deps.transactions.read((tx) => visibleOrder(tx, actor, order_id));
  return order.account_id;
}

/**
 * An idempotent command on one order: queued on the owner's wallet, run on the order as the
 * transaction reads it, its idempotency record homed with the order.
 */
export async function orderCommand<T>(
  deps: AppDeps,
  actor: Actor,
  order_id: string,
  name: string,
  idempotency: IdempotencyScope,
  work: (tx: SqlTx, order: Order) => Promise<T>,
): Promise<CommandResult<T>> {
  const account_id = await orderOwner(deps, actor, order_id);
  return deps.commands.run(
    name,
    idempotency,
    async (tx, placement) => {
      const order = await visibleOrder(tx, actor, order_id);
      placement.region = order.region;
      return work(tx, order);
    },
    { contended_accounts: [account_id] },
  );
}

/** Completing or cancelling: the owner, or a service with credits:write. */
export function requireOrderControl(actor: Actor): void {
  if (actor.kind === 'service' && !hasScope(actor, 'credits:write')) throw forbidden('requires scope credits:write');
}
