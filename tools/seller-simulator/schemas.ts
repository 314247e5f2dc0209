import Joi from 'joi';

const MINOR_UNITS_MAX = 1_000_000_000_000;
const STOCK_MAX = 1_000_000_000;
const DURATION_MAX_MS = 7 * 24 * 3600 * 1000;
const HANG_MAX_MS = 600_000;
const SELLERS_MAX = 10_000;

const productId = Joi.string().min(1).max(128);
const share = Joi.number().min(0).max(1);
const milliseconds = Joi.number().integer().min(0).max(HANG_MAX_MS);
const ttl = Joi.number().integer().min(1).max(DURATION_MAX_MS);
export const sellerIdSchema = Joi.string().pattern(/^[A-Za-z0-9_-]{1,64}$/);
export const priceSchema = Joi.number().integer().min(1).max(MINOR_UNITS_MAX);
export const stockSchema = Joi.number().integer().min(0).max(STOCK_MAX);

export const latencySchema = Joi.object({
  median: milliseconds.required(),
  p99: milliseconds.min(Joi.ref('median')).required(),
});

const behaviour = {
  prices: Joi.object().pattern(productId, priceSchema),
  stock: Joi.object().pattern(productId, stockSchema),
  currency: Joi.string().pattern(/^[A-Z]{3,8}$/),
  latency_ms: latencySchema,
  error_rate: share,
  timeout_rate: share,
  rate_limit_per_minute: Joi.number().integer().min(1).allow(null),
  supports_holds: Joi.boolean(),
  hold_ttl_ms: ttl,
  quote_ttl_ms: ttl,
  hang_ms: milliseconds,
};

export const behaviourPatchSchema = Joi.object(behaviour);

export const sellerSpecSchema = Joi.object({
  ...behaviour,
  id: sellerIdSchema.required(),
  prices: behaviour.prices.required(),
  stock: behaviour.stock.required(),
});

export const simulatorOptionsSchema = Joi.object({
  host: Joi.string().min(1).default('127.0.0.1'),
  port: Joi.number().integer().min(0).max(65535).default(0),
  // Each seller is validated on its own later, so errors name the seller.
  sellers: Joi.array()
    .items(Joi.object({ id: Joi.string() }).unknown())
    .min(1)
    .max(SELLERS_MAX)
    .unique('id')
    .required(),
  window_ms: Joi.number().integer().min(100).max(DURATION_MAX_MS).default(60_000),
  seed: Joi.number().integer().default(0),
});

const range = (min: number, max: number) =>
  Joi.object({ min: Joi.number().min(min).max(max).required(), max: Joi.number().min(Joi.ref('min')).max(max).required() });

export const generateOptionsSchema = Joi.object({
  count: Joi.number().integer().min(1).max(SELLERS_MAX).required(),
  seed: Joi.number().integer().required(),
  product_ids: Joi.array().items(productId).min(1).max(1000).unique().required(),
  currency: behaviour.currency,
  id_prefix: Joi.string().pattern(/^[A-Za-z0-9_-]{1,40}$/),
  price_minor: range(1, MINOR_UNITS_MAX),
  price_spread: Joi.number().min(0).max(0.9),
  stock: range(0, STOCK_MAX),
  out_of_stock_rate: share,
  latency_median_ms: range(0, HANG_MAX_MS),
  latency_tail_factor: range(1, 100),
  error_rate: range(0, 1),
  timeout_rate: range(0, 1),
  rate_limit_per_minute: range(1, 1_000_000),
  holds_rate: share,
  hold_ttl_ms: ttl,
  quote_ttl_ms: ttl,
  hang_ms: milliseconds,
});

const token = Joi.string().min(1).max(200);
export const holdBodySchema = Joi.object({ quote_id: token.required() });
export const orderBodySchema = Joi.object({ hold_id: token, quote_id: token }).xor('hold_id', 'quote_id');
export const idempotencyKeySchema = Joi.string().pattern(/^[\x20-\x7e]{1,255}$/);

/** Joi's `validate`, throwing a readable error; for programmer-supplied options only. */
export function validateOrThrow<T>(schema: Joi.Schema, value: unknown, what: string): T {
  const { error, value: valid } = schema.validate(value, { abortEarly: false });
  if (error) throw new TypeError(`invalid ${what}: ${error.details.map((detail) => detail.message).join('; ')}`);
  return valid as T;
}
