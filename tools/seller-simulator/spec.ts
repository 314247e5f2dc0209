import { behaviourPatchSchema, sellerSpecSchema, validateOrThrow } from './schemas.js';
import type { ResolvedSellerSpec, SellerBehaviourPatch, SimulatedSellerSpec } from './types.js';

const SELLER_DEFAULTS: Omit<ResolvedSellerSpec, 'id' | 'prices' | 'stock'> = {
  currency: 'EUR',
  latency_ms: { median: 0, p99: 0 },
  error_rate: 0,
  timeout_rate: 0,
  rate_limit_per_minute: null,
  supports_holds: true,
  hold_ttl_ms: 60_000,
  quote_ttl_ms: 30_000,
  hang_ms: 30_000,
};

/** Drops keys whose value is undefined, so spreading the result never erases a default. */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

export function resolveSpec(spec: SimulatedSellerSpec): ResolvedSellerSpec {
  const valid = validateOrThrow<SimulatedSellerSpec>(sellerSpecSchema, spec, `seller spec '${spec.id}'`);
  return {
    ...SELLER_DEFAULTS,
    ...definedOnly(valid),
    id: valid.id,
    prices: { ...valid.prices },
    stock: { ...valid.stock },
    latency_ms: { ...(valid.latency_ms ?? SELLER_DEFAULTS.latency_ms) },
  };
}

/** A new spec with `patch` applied; `prices` and `stock` merge key by key. */
export function patchSpec(spec: ResolvedSellerSpec, patch: SellerBehaviourPatch): ResolvedSellerSpec {
  const valid = definedOnly(validateOrThrow<SellerBehaviourPatch>(behaviourPatchSchema, patch, `behaviour of '${spec.id}'`));
  return {
    ...spec,
    ...valid,
    prices: { ...spec.prices, ...valid.prices },
    stock: { ...spec.stock, ...valid.stock },
    latency_ms: { ...(valid.latency_ms ?? spec.latency_ms) },
  };
}
