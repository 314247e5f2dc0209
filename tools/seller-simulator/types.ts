/** Latency of one seller call; `p99` >= `median`, both in milliseconds. */
export interface LatencySpec {
  median: number;
  p99: number;
}

/** One simulated third-party seller. Every optional field has the default noted beside it. */
export interface SimulatedSellerSpec {
  /** 1..64 of [A-Za-z0-9_-]; also the path segment of the seller's base URL. */
  id: string;
  /** Price per product in minor units; a product without a price is quoted `available: false`. */
  prices: Record<string, number>;
  /** Units in stock per product; a missing product has 0. */
  stock: Record<string, number>;
  /** Default 'EUR'. */
  currency?: string;
  /** Default {median: 0, p99: 0}: answers at once. */
  latency_ms?: LatencySpec;
  /** Share of calls answered 500, 0..1. Default 0. */
  error_rate?: number;
  /** Share of calls never answered (socket held for `hang_ms`, then destroyed), 0..1. Default 0. */
  timeout_rate?: number;
  /** Calls allowed per fixed rate window (`window_ms`, 60 s by default); null or absent: unlimited. */
  rate_limit_per_minute?: number | null;
  /** Default true. Without holds the seller exposes only POST /orders {quote_id}. */
  supports_holds?: boolean;
  /** Default 60000. */
  hold_ttl_ms?: number;
  /** Default 30000. */
  quote_ttl_ms?: number;
  /** How long a timed-out call keeps its socket before destroying it. Default 30000. */
  hang_ms?: number;
}

/** A spec with every default applied. */
export type ResolvedSellerSpec = Required<SimulatedSellerSpec>;

/** What `setBehaviour` may change; `prices` and `stock` merge key by key. */
export type SellerBehaviourPatch = Partial<Omit<SimulatedSellerSpec, 'id'>>;

export interface SellerSimulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: a random free port. */
  port?: number;
  sellers: SimulatedSellerSpec[];
  /**
   * Length of the rate-limit window, aligned to multiples of itself since the epoch (so the
   * default 60000 is the wall-clock minute). A seller allows `rate_limit_per_minute` calls per
   * window, so tests can shorten it (e.g. 2000) without waiting a minute.
   */
  window_ms?: number;
  /** Seeds the per-seller random draws (latency, errors, timeouts). Default 0. */
  seed?: number;
}

/**
 * Call counters of one seller. A "call" is every request routed to the seller (quote, hold or
 * order), including those answered 429, 500 or never answered: it measures what the client sent.
 */
export interface SellerStats {
  quote_calls: number;
  hold_calls: number;
  order_calls: number;
  orders_created: number;
  rejected_429: number;
  errors_500: number;
  timeouts: number;
  /** Calls per fixed window, keyed by the window's start (epoch ms); the last 1440 windows. */
  calls_by_window: Map<number, number>;
  /** Most calls inside any sliding window of `window_ms` (covers every fixed window too). */
  max_calls_in_any_window: number;
  /** Most calls inside one fixed (aligned) window. */
  max_calls_in_fixed_window: number;
}

export interface SimulatedOrder {
  order_id: string;
  idempotency_key: string;
  product_id: string;
  price: number;
}

export interface SellerSimulator {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** `${url}/sellers/${seller_id}`; throws for an unknown seller. */
  baseUrl(seller_id: string): string;
  /** Stops listening and destroys every open socket, hanging ones included. */
  close(): Promise<void>;
  stats(seller_id: string): SellerStats;
  orders(seller_id: string): SimulatedOrder[];
  /** The seller's current spec (a copy). */
  spec(seller_id: string): ResolvedSellerSpec;
  sellerIds(): string[];
  setPrice(seller_id: string, product_id: string, price: number): void;
  setStock(seller_id: string, product_id: string, units: number): void;
  setFailing(seller_id: string, error_rate: number): void;
  setLatency(seller_id: string, latency_ms: LatencySpec): void;
  setBehaviour(seller_id: string, patch: SellerBehaviourPatch): void;
  /** Zeroes the counters of every seller; stock, quotes, holds, orders and rate windows stay. */
  resetStats(): void;
}
