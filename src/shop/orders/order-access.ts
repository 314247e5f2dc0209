import { hasScope, isVisibleTo } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import type { RequestAnswer, RequestIdempotency } from '../../batch/operation.js';
import type { Unit } from '../../batch/unit.js';
import { forbidden, notFound } from '../../domain/errors.js';
import type { SqlTx } from '../../db/sql.js';
import type { AppDeps } from '../../platform/deps.js';
import { requireOpen } from '../../compliance/account-status.js';
import { requireAccount } from '../../ledger/posting.js';
import { requireOrder } from './order-book.js';
import type { Order } from './order-records.js';
import { findOrder } from './order-repository.js';

/** The order if the actor may see it: its owner, or a service acting on accounts. Others get 404. */
export async function visibleOrder(tx: SqlTx, actor: Actor, order_id: string): Promise<Order> {
  const order = await findOrder(tx, order_id);
  if (!order || !isVisibleTo(actor, order.account_id)) throw notFound(`order ${order_id}`);
  return order;
}

/**
 * An idempotent command on one order, batched: the order is looked up first to know whose wallet
 * it moves (the batcher, the account locked, its hold), then the batch decides on the order as
 * its transaction reads it.
 */
export async function orderCommand<T>(
  deps: AppDeps,
  actor: Actor,
  order_id: string,
  name: string,
  idempotency: RequestIdempotency,
  decide: (unit: Unit, order: Order) => T,
): Promise<RequestAnswer> {
  const known = await deps.transactions.read((tx) => visibleOrder(tx, actor, order_id));
  return deps.writes.request(
    {
      name,
      region: known.region,
      // The merchants of its lines too: completing pays their shares, refunding takes them back.
      needs: {
        accounts: [known.account_id, ...new Set(known.lines.flatMap((line) => (line.merchant_id ? [line.merchant_id] : [])))],
        orders: [order_id],
        holds: known.hold_id ? [known.hold_id] : [],
      },
      decide: (unit) => {
        // Nothing changes a closed account, whatever became of the order.
        requireOpen(requireAccount(unit, known.account_id));
        return decide(unit, requireOrder(unit, order_id));
      },
    },
    idempotency,
  );
}

/** Completing or cancelling: the owner, or a service with credits:write. */
export function requireOrderControl(actor: Actor): void {
  if (actor.kind === 'service' && !hasScope(actor, 'credits:write')) throw forbidden('requires scope credits:write');
}
