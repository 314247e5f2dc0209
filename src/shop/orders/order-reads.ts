import { requireAccountRead, requireReadScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { requireAccountExists } from '../../accounts/account-repository.js';
import type { AppDeps } from '../../platform/deps.js';
import { listEntitlements } from './entitlement-repository.js';
import { visibleOrder } from './order-access.js';
import { listOrders } from './order-repository.js';
import { orderView } from './views.js';

export async function getOrder(deps: AppDeps, actor: Actor, order_id: string) {
  requireReadScope(actor, 'money');
  return orderView(await deps.transactions.read((tx) => visibleOrder(tx, actor, order_id)));
}

export async function accountOrders(deps: AppDeps, actor: Actor, account_id: string, page: { limit: number; cursor?: string }) {
  requireAccountRead(actor, account_id, 'money');
  return deps.transactions.read(async (tx) => {
    await requireAccountExists(tx, account_id);
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
    await requireAccountExists(tx, account_id);
    return listEntitlements(tx, account_id, page);
  });
}
