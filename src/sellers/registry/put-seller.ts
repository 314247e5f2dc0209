import { requireScope } from '../../auth/access.js';
import type { Actor } from '../../auth/tokens.js';
import type { AppDeps } from '../../platform/deps.js';
import { upsertSeller, type SellerInput } from './seller-repository.js';
import { withHealth, type SellerView } from './seller-view.js';

/**
 * Registers or replaces a seller (admin). A PUT is idempotent by itself, so it needs no
 * Idempotency-Key; a write to the GLOBAL registry is slow on CockroachDB, which is fine for an
 * admin operation.
 */
export async function putSeller(
  deps: AppDeps,
  actor: Actor,
  id: string,
  input: SellerInput,
): Promise<{ created: boolean; seller: SellerView }> {
  requireScope(actor, 'admin');
  return deps.transactions.run('put_seller', async (tx) => {
    const { seller, created } = await upsertSeller(tx, id, input);
    const [view] = await withHealth(tx, [seller], deps.config.sellers);
    return { created, seller: view! };
  });
}
