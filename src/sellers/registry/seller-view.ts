import type { SqlTx } from '../../db/sql.js';
import type { SellerConfig } from '../seller-config.js';
import { sellerHealth, type Seller, type SellerHealth } from './seller-repository.js';

export type SellerView = Seller & { health: SellerHealth | null };

/** Sellers with their health, read in one query for the whole page. */
export async function withHealth(tx: SqlTx, sellers: readonly Seller[], config: SellerConfig): Promise<SellerView[]> {
  const health = await sellerHealth(
    tx,
    sellers.map((seller) => seller.id),
    { circuit_window_ms: config.circuit_window_ms, rate_window_ms: config.rate_window_ms, now_ms: Date.now() },
  );
  return sellers.map((seller) => ({ ...seller, health: health.get(seller.id) ?? null }));
}
