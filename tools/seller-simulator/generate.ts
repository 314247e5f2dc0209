import { createPrng, randomBetween, randomInt, type Prng } from './prng.js';
import { generateOptionsSchema, validateOrThrow } from './schemas.js';
import { definedOnly } from './spec.js';
import type { SimulatedSellerSpec } from './types.js';

export interface Range {
  min: number;
  max: number;
}

/** Knobs of a generated population; every range is drawn uniformly per seller. */
export interface GenerateSellersOptions {
  count: number;
  seed: number;
  product_ids: string[];
  /** Default 'EUR'. */
  currency?: string;
  /** Ids are `<prefix>-001`, `<prefix>-002`, ...; default 'seller'. */
  id_prefix?: string;
  /** Reference price of each product, minor units; default {min: 500, max: 6000}. */
  price_minor?: Range;
  /** Each seller prices within ±spread of the reference; default 0.25. */
  price_spread?: number;
  /** Default {min: 1, max: 50}. */
  stock?: Range;
  /** Chance that a seller has none of a product; default 0.1. */
  out_of_stock_rate?: number;
  /** Default {min: 5, max: 150}. */
  latency_median_ms?: Range;
  /** p99 = median × factor; default {min: 2, max: 8}. */
  latency_tail_factor?: Range;
  /** Default {min: 0, max: 0.05}. */
  error_rate?: Range;
  /** Default {min: 0, max: 0.02}. */
  timeout_rate?: Range;
  /** Default {min: 60, max: 1200}. */
  rate_limit_per_minute?: Range;
  /** Share of sellers supporting holds; default 0.6. */
  holds_rate?: number;
  /** Defaults 60000, 30000 and 30000. */
  hold_ttl_ms?: number;
  quote_ttl_ms?: number;
  hang_ms?: number;
}

type Knobs = Required<GenerateSellersOptions>;

const GENERATE_DEFAULTS: Omit<Knobs, 'count' | 'seed' | 'product_ids'> = {
  currency: 'EUR',
  id_prefix: 'seller',
  price_minor: { min: 500, max: 6000 },
  price_spread: 0.25,
  stock: { min: 1, max: 50 },
  out_of_stock_rate: 0.1,
  latency_median_ms: { min: 5, max: 150 },
  latency_tail_factor: { min: 2, max: 8 },
  error_rate: { min: 0, max: 0.05 },
  timeout_rate: { min: 0, max: 0.02 },
  rate_limit_per_minute: { min: 60, max: 1200 },
  holds_rate: 0.6,
  hold_ttl_ms: 60_000,
  quote_ttl_ms: 30_000,
  hang_ms: 30_000,
};

// Rates are rounded so printed specs stay readable.
const RATE_DECIMALS = 4;
const ID_DIGITS_MIN = 3;

const roundRate = (value: number) => Number(value.toFixed(RATE_DECIMALS));
const drawInt = (rng: Prng, range: Range) => randomInt(rng, Math.ceil(range.min), Math.floor(range.max));

/** A reproducible population: the same options always give the same sellers. */
export function generateSellers(options: GenerateSellersOptions): SimulatedSellerSpec[] {
  const valid = validateOrThrow<GenerateSellersOptions>(generateOptionsSchema, options, 'generateSellers options');
  const knobs: Knobs = { ...GENERATE_DEFAULTS, ...definedOnly(valid) } as Knobs;
  const rng = createPrng(knobs.seed);
  const reference = new Map(knobs.product_ids.map((product) => [product, drawInt(rng, knobs.price_minor)]));
  const digits = Math.max(ID_DIGITS_MIN, String(knobs.count).length);
  return Array.from({ length: knobs.count }, (_, index) =>
    drawSeller(rng, knobs, reference, `${knobs.id_prefix}-${String(index + 1).padStart(digits, '0')}`),
  );
}

function drawSeller(rng: Prng, knobs: Knobs, reference: Map<string, number>, id: string): SimulatedSellerSpec {
  const median = drawInt(rng, knobs.latency_median_ms);
  return {
    id,
    currency: knobs.currency,
    prices: drawPrices(rng, knobs.price_spread, reference),
    stock: drawStock(rng, knobs, [...reference.keys()]),
    latency_ms: { median, p99: Math.round(median * randomBetween(rng, knobs.latency_tail_factor.min, knobs.latency_tail_factor.max)) },
    error_rate: roundRate(randomBetween(rng, knobs.error_rate.min, knobs.error_rate.max)),
    timeout_rate: roundRate(randomBetween(rng, knobs.timeout_rate.min, knobs.timeout_rate.max)),
    rate_limit_per_minute: drawInt(rng, knobs.rate_limit_per_minute),
    supports_holds: rng() < knobs.holds_rate,
    hold_ttl_ms: knobs.hold_ttl_ms,
    quote_ttl_ms: knobs.quote_ttl_ms,
    hang_ms: knobs.hang_ms,
  };
}

function drawPrices(rng: Prng, spread: number, reference: Map<string, number>): Record<string, number> {
  const prices: Record<string, number> = {};
  for (const [product, price] of reference) {
    prices[product] = Math.max(1, Math.round(price * (1 + spread * (2 * rng() - 1))));
  }
  return prices;
}

function drawStock(rng: Prng, knobs: Knobs, products: string[]): Record<string, number> {
  const stock: Record<string, number> = {};
  for (const product of products) {
    stock[product] = rng() < knobs.out_of_stock_rate ? 0 : drawInt(rng, knobs.stock);
  }
  return stock;
}
