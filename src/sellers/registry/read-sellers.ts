import { requireScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import { notFound } from '../../domain/errors.js';
import type { AppDeps } from '../../platform/deps.js';
import { findSeller, listSellersPage } from './seller-repository.js';
import { withHealth, type SellerView } from './seller-view.js';

export async function getSeller(deps: AppDeps, actor: Actor, id: string): Promise<SellerView> {
  requireScope(actor, 'admin');
  return deps.transactions.read(async (tx) => {
    const seller = await findSeller(tx, id);
    if (!seller) throw notFound(`seller ${id}`);
    const [view] = await withHealth(tx, [seller], deps.config.sellers);
    return view!;
  });
}

export async function listSellers(deps: AppDeps, actor: Actor, page: { limit: number; cursor?: string }) {
  requireScope(actor, 'admin');
  return deps.transactions.read(async (tx) => {
    const { sellers, next_cursor } = await listSellersPage(tx, page);
    return { data: await withHealth(tx, sellers, deps.config.sellers), next_cursor };
  });
}
