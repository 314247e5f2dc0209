import { requireAccountRead, requireReadScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { notFound } from '../../domain/errors.js';
import type { SqlTx } from '../../db/sql.js';
import type { AppDeps } from '../../platform/deps.js';
import { listEntitlements } from './entitlement-repository.js';
import { visibleOrder } from './order-access.js';
import { listOrders } from './order-repository.js';
import { orderView } from './views.js';

async function requireAccount(tx: SqlTx, account_id: string): Promise<void> {
  if (!(await tx.maybeOne('SELECT id FROM accounts WHERE id = ?', [account_id]))) throw notFound(`account ${account_id}`);
}

export async function getOrder(deps: AppDeps, actor: Actor, order_id: string) {
  requireReadScope(actor, 'money');
  return orderView(await deps.transactions.read((tx) => visibleOrder(tx, actor, order_id)));
}

export async function accountOrders(deps: AppDeps, actor: Actor, account_id: string, page: { limit: number; cursor?: string }) {
  requireAccountRead(actor, account_id, 'money');
  return deps.transactions.read(async (tx) => {
    await requireAccount(tx, account_id);
    const { orders, next_cursor } = await listOrders(tx, account_id, page);
    return { data: orders.map(orderView), next_cursor };
  });
}

export async function accountEntitlements(
  deps: AppDeps,
  actor: Actor,
  account_id: string,
  page: { limit: number; cursor?: string; status?: string },
) {
  requireAccountRead(actor, account_id, 'money');
  return deps.transactions.read(async (tx) => {
    await requireAccount(tx, account_id);
    return listEntitlements(tx, account_id, page);
  });
}
