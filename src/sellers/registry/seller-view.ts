import Joi from 'joi';
import type { SqlTx } from '../../db/sql.js';
import { timestampSchema, unionMembers, viewPart, viewSchema, type ViewKeys } from '../../platform/view-schema.js';
import type { SellerConfig } from '../seller-config.js';
import { sellerHealth, type Seller, type SellerHealth } from './seller-repository.js';

export type SellerView = Seller & { health: SellerHealth | null };

const sellerHealthSchema = viewPart({
  circuit_state: Joi.string().valid(...unionMembers<SellerHealth['circuit_state']>({ closed: true, open: true, half_open: true })),
  circuit_opened_at: timestampSchema.allow(null),
  circuit_probe_after: timestampSchema.allow(null),
  recent_calls: Joi.number().integer(),
  recent_failures: Joi.number().integer(),
  recent_error_rate: Joi.number().min(0).max(1),
  latency_ms_avg: Joi.number().allow(null),
  calls_in_current_window: Joi.number().integer(),
  rate_window_started_at: timestampSchema,
  rate_window_ms: Joi.number().integer(),
  calls_total: Joi.number().integer(),
  failures_total: Joi.number().integer(),
  last_error: Joi.string().allow(null),
  last_call_at: timestampSchema.allow(null),
} satisfies Record<keyof SellerHealth, Joi.Schema>);

export const sellerViewSchema = viewSchema('Seller', {
  id: Joi.string(),
  base_url: Joi.string(),
  rate_limit_per_minute: Joi.number().integer(),
  timeout_ms: Joi.number().integer(),
  supports_holds: Joi.boolean(),
  active: Joi.boolean(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
  health: sellerHealthSchema.allow(null),
} satisfies ViewKeys<SellerView>);

/** Sellers with their health, read in one query for the whole page. */
export async function withHealth(tx: SqlTx, sellers: readonly Seller[], config: SellerConfig): Promise<SellerView[]> {
  const health = await sellerHealth(
    tx,
    sellers.map((seller) => seller.id),
    { circuit_window_ms: config.circuit_window_ms, rate_window_ms: config.rate_window_ms, now_ms: Date.now() },
  );
  return sellers.map((seller) => ({ ...seller, health: health.get(seller.id) ?? null }));
}
