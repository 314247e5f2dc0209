import Joi from 'joi';

/**
 * Settings of the seller aggregator (SPEC §6 "Seller aggregator"). Every loop, wait and batch of
 * the aggregator is bounded by one of these; the names carry their units.
 */
export interface SellerConfig {
  /** End to end, from the 202 to a final status (SPEC: 15 s by default). */
  deadline_ms: number;
  /** Most of the deadline the quote fan-out may use; the rest is kept for hold and order calls. */
  quote_phase_max_ms: number;
  /** Sellers asked in parallel per phase; a phase ends when all answered or timed out. */
  fanout_phase_size: number;
  /** Sellers asked per fan-out at most (over all phases). */
  fanout_sellers_max: number;
  /** A fan-out stops starting new phases once it holds this many available quotes. */
  fanout_enough_quotes: number;
  /** Share of the first phase that refreshes the oldest knowledge instead of asking the likely winners. */
  fanout_explore_share: number;
  /** A phase stops waiting for stragglers once this share of its calls has answered... */
  fanout_quorum: number;
  /** ...plus this grace (late answers still count for seller health). */
  fanout_straggler_grace_ms: number;
  /** Seller calls in flight per pod at most. */
  calls_in_flight_max: number;
  /** Bytes read from one seller response at most. */
  response_bytes_max: number;
  /** Open connections per seller origin (scheme, host and port) at most, per process. */
  sockets_per_origin_max: number;
  /** Fixed rate-limit window; `rate_limit_per_minute` calls are allowed per window (60 s in production). */
  rate_window_ms: number;
  /** A call reserved this close to a window's end also counts against the next window (clock skew, flight time). */
  rate_boundary_guard_ms: number;
  circuit_min_calls: number;
  /** Failure share (0..1) over the circuit window that opens the circuit. */
  circuit_failure_rate: number;
  circuit_window_ms: number;
  /** How long an open circuit stays open before one probe call is allowed (half-open). */
  circuit_cooldown_ms: number;
  /**
   * The currency of a quote that names none (SPEC §6's quote has no currency field): a purchase in
   * another currency cannot use it, so free game currency never buys what a seller prices in money.
   */
  quote_currency_default: string;
  /** Quotes are shared between requests for this long, never past the quote's own expiry; 0 disables. */
  quote_cache_ttl_ms: number;
  /** A quote is used only while it stays valid at least this much longer. */
  quote_expiry_margin_ms: number;
  /** How often a request waiting for another pod's fan-out looks for its result. */
  coalesce_poll_ms: number;
  /** Coalescing (in-pod single-flight and the cross-pod fan-out lease) on or off (for benchmarks). */
  coalescing: boolean;
  /** Lifetime of the wallet hold of a purchase request: far beyond the deadline, so that crash recovery can still capture it. */
  purchase_hold_ttl_seconds: number;
  /** Quotes recorded on a purchase request at most. */
  quotes_recorded_max: number;
  job_lease_ms: number;
  job_poll_interval_ms: number;
  /** Purchase jobs running per pod at most. */
  job_concurrency_max: number;
  /**
   * Claims of one job in a row that ended in an error or a crash (a deliberate reschedule starts
   * the count again); then the request fails and its hold is voided, or, with a seller order of
   * unknown outcome, it is left for review with the hold kept.
   */
  job_claims_max: number;
  job_retry_backoff_ms: number;
  /** First pause between re-sends of an order whose outcome is unknown (same Idempotency-Key), doubling... */
  order_resend_interval_min_ms: number;
  /** ...up to this; re-sends go on until a definite answer or the request deadline. */
  order_resend_interval_max_ms: number;
  /**
   * After the deadline, a request in review re-asks its seller (a rescheduled job) after half the
   * time since the deadline, at least this...
   */
  recheck_interval_min_ms: number;
  /** ...and at most this. */
  recheck_interval_max_ms: number;
  /** How long after the deadline the seller is re-asked at all; then the request stays in review for a person. */
  recheck_duration_max_ms: number;
  /** Rate windows, cached quotes and fan-out records older than this are purged. */
  state_retention_ms: number;
}

const integer = () => Joi.number().integer();

/** Environment variables of the aggregator, merged into the one start-up schema (config.ts). */
export const SELLER_CONFIG_KEYS = {
  SELLER_DEADLINE_MS: integer().min(1000).max(120_000).default(15_000),
  SELLER_QUOTE_PHASE_MAX_MS: integer().min(100).max(60_000).default(5000),
  SELLER_FANOUT_PHASE_SIZE: integer().min(1).max(2000).default(250),
  SELLER_FANOUT_SELLERS_MAX: integer().min(1).max(20_000).default(2000),
  SELLER_FANOUT_ENOUGH_QUOTES: integer().min(1).max(10_000).default(50),
  SELLER_FANOUT_EXPLORE_SHARE: Joi.number().min(0).max(1).default(0.2),
  SELLER_FANOUT_QUORUM: Joi.number().min(0.5).max(1).default(0.95),
  SELLER_FANOUT_STRAGGLER_GRACE_MS: integer().min(0).max(60_000).default(400),
  SELLER_CALLS_IN_FLIGHT_MAX: integer().min(1).max(10_000).default(1000),
  SELLER_RESPONSE_BYTES_MAX: integer()
    .min(1024)
    .max(1024 * 1024)
    .default(64 * 1024),
  SELLER_SOCKETS_PER_ORIGIN_MAX: integer().min(1).max(10_000).default(256),
  SELLER_RATE_WINDOW_MS: integer().min(100).max(3_600_000).default(60_000),
  SELLER_RATE_BOUNDARY_GUARD_MS: integer().min(0).max(10_000).default(250),
  SELLER_CIRCUIT_MIN_CALLS: integer().min(1).max(10_000).default(10),
  SELLER_CIRCUIT_FAILURE_RATE: Joi.number().greater(0).max(1).default(0.5),
  SELLER_CIRCUIT_WINDOW_MS: integer().min(100).max(3_600_000).default(30_000),
  SELLER_CIRCUIT_COOLDOWN_MS: integer().min(100).max(3_600_000).default(30_000),
  SELLER_QUOTE_CURRENCY: Joi.string()
    .pattern(/^[A-Z][A-Z0-9]{2,9}$/)
    .default(Joi.ref('DEFAULT_CURRENCY')),
  SELLER_QUOTE_CACHE_TTL_MS: integer().min(0).max(600_000).default(5000),
  SELLER_QUOTE_EXPIRY_MARGIN_MS: integer().min(0).max(600_000).default(2000),
  SELLER_COALESCE_POLL_MS: integer().min(5).max(5000).default(50),
  SELLER_COALESCING: Joi.boolean().default(true),
  PURCHASE_HOLD_TTL_SECONDS: integer()
    .min(60)
    .max(7 * 24 * 3600)
    .default(24 * 3600),
  PURCHASE_QUOTES_RECORDED_MAX: integer().min(1).max(10_000).default(500),
  JOB_LEASE_MS: integer().min(500).max(600_000).default(10_000),
  JOB_POLL_INTERVAL_MS: integer().min(10).max(60_000).default(250),
  JOB_CONCURRENCY_MAX: integer().min(1).max(10_000).default(64),
  JOB_CLAIMS_MAX: integer().min(1).max(1000).default(20),
  JOB_RETRY_BACKOFF_MS: integer().min(0).max(600_000).default(250),
  SELLER_ORDER_RESEND_INTERVAL_MIN_MS: integer().min(10).max(60_000).default(200),
  SELLER_ORDER_RESEND_INTERVAL_MAX_MS: integer().min(10).max(60_000).default(2000),
  PURCHASE_RECHECK_INTERVAL_MIN_MS: integer().min(10).max(3_600_000).default(1000),
  PURCHASE_RECHECK_INTERVAL_MAX_MS: integer().min(10).max(3_600_000).default(300_000),
  PURCHASE_RECHECK_DURATION_MAX_MS: integer()
    .min(0)
    .max(6 * 24 * 3_600_000)
    .default(6 * 3_600_000),
  SELLER_STATE_RETENTION_MS: integer()
    .min(60_000)
    .max(30 * 24 * 3_600_000)
    .default(24 * 3_600_000),
};

/** The validated environment (config.ts ran SELLER_CONFIG_KEYS) as settings. */
export function toSellerConfig(value: Record<string, unknown>): SellerConfig {
  const read = (name: keyof typeof SELLER_CONFIG_KEYS) => value[name] as number;
  return {
    deadline_ms: read('SELLER_DEADLINE_MS'),
    quote_phase_max_ms: read('SELLER_QUOTE_PHASE_MAX_MS'),
    fanout_phase_size: read('SELLER_FANOUT_PHASE_SIZE'),
    fanout_sellers_max: read('SELLER_FANOUT_SELLERS_MAX'),
    fanout_enough_quotes: read('SELLER_FANOUT_ENOUGH_QUOTES'),
    fanout_explore_share: read('SELLER_FANOUT_EXPLORE_SHARE'),
    fanout_quorum: read('SELLER_FANOUT_QUORUM'),
    fanout_straggler_grace_ms: read('SELLER_FANOUT_STRAGGLER_GRACE_MS'),
    calls_in_flight_max: read('SELLER_CALLS_IN_FLIGHT_MAX'),
    response_bytes_max: read('SELLER_RESPONSE_BYTES_MAX'),
    sockets_per_origin_max: read('SELLER_SOCKETS_PER_ORIGIN_MAX'),
    rate_window_ms: read('SELLER_RATE_WINDOW_MS'),
    rate_boundary_guard_ms: read('SELLER_RATE_BOUNDARY_GUARD_MS'),
    circuit_min_calls: read('SELLER_CIRCUIT_MIN_CALLS'),
    circuit_failure_rate: read('SELLER_CIRCUIT_FAILURE_RATE'),
    circuit_window_ms: read('SELLER_CIRCUIT_WINDOW_MS'),
    circuit_cooldown_ms: read('SELLER_CIRCUIT_COOLDOWN_MS'),
    quote_currency_default: value['SELLER_QUOTE_CURRENCY'] as string,
    quote_cache_ttl_ms: read('SELLER_QUOTE_CACHE_TTL_MS'),
    quote_expiry_margin_ms: read('SELLER_QUOTE_EXPIRY_MARGIN_MS'),
    coalesce_poll_ms: read('SELLER_COALESCE_POLL_MS'),
    coalescing: value['SELLER_COALESCING'] as boolean,
    purchase_hold_ttl_seconds: read('PURCHASE_HOLD_TTL_SECONDS'),
    quotes_recorded_max: read('PURCHASE_QUOTES_RECORDED_MAX'),
    job_lease_ms: read('JOB_LEASE_MS'),
    job_poll_interval_ms: read('JOB_POLL_INTERVAL_MS'),
    job_concurrency_max: read('JOB_CONCURRENCY_MAX'),
    job_claims_max: read('JOB_CLAIMS_MAX'),
    job_retry_backoff_ms: read('JOB_RETRY_BACKOFF_MS'),
    order_resend_interval_min_ms: read('SELLER_ORDER_RESEND_INTERVAL_MIN_MS'),
    order_resend_interval_max_ms: read('SELLER_ORDER_RESEND_INTERVAL_MAX_MS'),
    recheck_interval_min_ms: read('PURCHASE_RECHECK_INTERVAL_MIN_MS'),
    recheck_interval_max_ms: read('PURCHASE_RECHECK_INTERVAL_MAX_MS'),
    recheck_duration_max_ms: read('PURCHASE_RECHECK_DURATION_MAX_MS'),
    state_retention_ms: read('SELLER_STATE_RETENTION_MS'),
  };
}

/** Cross-field rules; each returned string is a configuration error. */
export function sellerConfigProblems(config: SellerConfig): string[] {
  const problems: string[] = [];
  if (config.quote_phase_max_ms >= config.deadline_ms) problems.push('SELLER_QUOTE_PHASE_MAX_MS must be below SELLER_DEADLINE_MS');
  // The hold must still be ACTIVE when the last recheck captures it.
  const last_capture_ms = config.deadline_ms + config.recheck_duration_max_ms + config.recheck_interval_max_ms + config.job_lease_ms;
  if (config.purchase_hold_ttl_seconds * 1000 <= last_capture_ms) {
    const terms = 'SELLER_DEADLINE_MS + PURCHASE_RECHECK_DURATION_MAX_MS + PURCHASE_RECHECK_INTERVAL_MAX_MS + JOB_LEASE_MS';
    problems.push(`PURCHASE_HOLD_TTL_SECONDS must outlast ${terms}`);
  }
  if (config.order_resend_interval_min_ms > config.order_resend_interval_max_ms) {
    problems.push('SELLER_ORDER_RESEND_INTERVAL_MIN_MS must not exceed SELLER_ORDER_RESEND_INTERVAL_MAX_MS');
  }
  if (config.recheck_interval_min_ms > config.recheck_interval_max_ms) {
    problems.push('PURCHASE_RECHECK_INTERVAL_MIN_MS must not exceed PURCHASE_RECHECK_INTERVAL_MAX_MS');
  }
  return problems;
}
