import Joi from 'joi';

// Public (it is in this file): production refuses it.
export const DEVELOPMENT_WEBHOOK_SECRETS_KEY = 'creditshop-development-webhook-secrets-key-not-for-production';

/**
 * Settings of the events API and of webhook deliveries (SPEC §11). Every queue, wait, retry and
 * list of them is bounded by one of these; the names carry their units.
 */
export interface WebhookConfig {
  /** Events (and their deliveries) older than this are purged. */
  events_retention_days: number;
  /** Rows one purge statement deletes at most. */
  events_purge_batch_size: number;
  /**
   * The global events list shows only events at least this old, and no batch commits an event
   * older than half of it (src/events/settle-guard.ts): so paging never skips a late commit.
   */
  events_settle_window_ms: number;
  /** Derives every endpoint's signing secrets from the salt stored with it (nothing secret is stored). */
  secrets_key: string;
  endpoints_max: number;
  url_length_max: number;
  description_length_max: number;
  /** `refuse`: endpoint URLs naming loopback, private or link-local addresses (or localhost) are refused. */
  private_urls: 'allow' | 'refuse';
  /** After a rotation the previous secret keeps signing this long by default. */
  secret_overlap_seconds: number;
  /** Secrets signing at once (during overlaps) at most. */
  secrets_active_max: number;
  timeout_ms: number;
  /** A pod holds a delivery this long; longer than a delivery attempt can take (timeout + margin). */
  lease_ms: number;
  poll_interval_ms: number;
  /** Deliveries to one endpoint in flight at once, per pod. */
  concurrency_per_endpoint: number;
  /** Deliveries of one endpoint a pod holds (queued or in flight) at most; beyond, they wait in the database. */
  queue_per_endpoint_max: number;
  /** Deliveries one claim statement takes at most. */
  claim_batch_max: number;
  /** Due deliveries one claim statement reads at most (those waiting for an earlier one are set aside). */
  claim_scan_max: number;
  retry_base_ms: number;
  retry_max_ms: number;
  /** A delivery failing this long after its event is given up (failed). */
  retry_window_hours: number;
  /** An endpoint failing without a single success for this long is disabled. */
  disable_after_seconds: number;
  /**
   * After this many failed attempts in a row, a pod only probes the endpoint (one delivery at a
   * time) until one succeeds: a dead endpoint costs almost nothing, and its backlog is not pushed
   * into ever longer backoffs, so it drains as soon as the endpoint is back.
   */
  probe_after_failures: number;
  /**
   * The longest pause between two probes of a pod: probes back off from WEBHOOK_RETRY_BASE_MS,
   * doubling, up to this (and WEBHOOK_RETRY_MAX_MS), so an endpoint that comes back after a long
   * outage is found within it.
   */
  probe_interval_max_ms: number;
  response_bytes_max: number;
  /** Attempts a delivery remembers (status, latency, error): the latest ones. */
  attempt_log_max: number;
  /** Delivery outcomes written by one statement at most. */
  flush_rows_max: number;
}

const integer = () => Joi.number().integer();

/** Environment variables of events and webhooks, merged into the one start-up schema (config.ts). */
export const WEBHOOK_CONFIG_KEYS = {
  EVENTS_RETENTION_DAYS: integer().min(1).max(3650).default(30),
  EVENTS_PURGE_BATCH_SIZE: integer().min(1).max(100_000).default(1000),
  EVENTS_SETTLE_WINDOW_MS: integer().min(200).max(600_000).default(5000),
  WEBHOOK_SECRETS_KEY: Joi.string().min(32).default(DEVELOPMENT_WEBHOOK_SECRETS_KEY),
  WEBHOOK_ENDPOINTS_MAX: integer().min(1).max(1000).default(50),
  WEBHOOK_URL_LENGTH_MAX: integer().min(64).max(8192).default(2048),
  WEBHOOK_DESCRIPTION_LENGTH_MAX: integer().min(1).max(5000).default(500),
  WEBHOOK_PRIVATE_URLS: Joi.string()
    .valid('allow', 'refuse')
    .default((env: Record<string, unknown>) => (env['NODE_ENV'] === 'production' ? 'refuse' : 'allow')),
  WEBHOOK_SECRET_OVERLAP_SECONDS: integer()
    .min(0)
    .max(7 * 24 * 3600)
    .default(24 * 3600),
  WEBHOOK_SECRETS_ACTIVE_MAX: integer().min(2).max(20).default(5),
  WEBHOOK_TIMEOUT_MS: integer().min(100).max(60_000).default(10_000),
  WEBHOOK_LEASE_MS: integer().min(1000).max(600_000).default(30_000),
  WEBHOOK_POLL_INTERVAL_MS: integer().min(10).max(60_000).default(500),
  WEBHOOK_CONCURRENCY_PER_ENDPOINT: integer().min(1).max(256).default(32),
  WEBHOOK_QUEUE_PER_ENDPOINT_MAX: integer().min(1).max(100_000).default(2000),
  WEBHOOK_CLAIM_BATCH_MAX: integer().min(1).max(10_000).default(200),
  WEBHOOK_CLAIM_SCAN_MAX: integer().min(1).max(100_000).default(1000),
  WEBHOOK_RETRY_BASE_MS: integer().min(10).max(3_600_000).default(5000),
  WEBHOOK_RETRY_MAX_MS: integer()
    .min(Joi.ref('WEBHOOK_RETRY_BASE_MS'))
    .max(24 * 3_600_000)
    .default(3_600_000),
  WEBHOOK_RETRY_WINDOW_HOURS: integer().min(1).max(720).default(72),
  WEBHOOK_DISABLE_AFTER_SECONDS: integer()
    .min(1)
    .max(30 * 24 * 3600)
    .default(3 * 24 * 3600),
  WEBHOOK_PROBE_AFTER_FAILURES: integer().min(1).max(10_000).default(5),
  WEBHOOK_PROBE_INTERVAL_MAX_MS: integer().min(10).max(3_600_000).default(10_000),
  WEBHOOK_RESPONSE_BYTES_MAX: integer()
    .min(1024)
    .max(1024 * 1024)
    .default(64 * 1024),
  WEBHOOK_ATTEMPT_LOG_MAX: integer().min(1).max(200).default(20),
  WEBHOOK_FLUSH_ROWS_MAX: integer().min(1).max(10_000).default(500),
};

/** The validated environment (config.ts ran WEBHOOK_CONFIG_KEYS) as settings. */
export function toWebhookConfig(value: Record<string, unknown>): WebhookConfig {
  const read = (name: keyof typeof WEBHOOK_CONFIG_KEYS) => value[name] as number;
  return {
    events_retention_days: read('EVENTS_RETENTION_DAYS'),
    events_purge_batch_size: read('EVENTS_PURGE_BATCH_SIZE'),
    events_settle_window_ms: read('EVENTS_SETTLE_WINDOW_MS'),
    secrets_key: value['WEBHOOK_SECRETS_KEY'] as string,
    endpoints_max: read('WEBHOOK_ENDPOINTS_MAX'),
    url_length_max: read('WEBHOOK_URL_LENGTH_MAX'),
    description_length_max: read('WEBHOOK_DESCRIPTION_LENGTH_MAX'),
    private_urls: value['WEBHOOK_PRIVATE_URLS'] as WebhookConfig['private_urls'],
    secret_overlap_seconds: read('WEBHOOK_SECRET_OVERLAP_SECONDS'),
    secrets_active_max: read('WEBHOOK_SECRETS_ACTIVE_MAX'),
    timeout_ms: read('WEBHOOK_TIMEOUT_MS'),
    lease_ms: read('WEBHOOK_LEASE_MS'),
    poll_interval_ms: read('WEBHOOK_POLL_INTERVAL_MS'),
    concurrency_per_endpoint: read('WEBHOOK_CONCURRENCY_PER_ENDPOINT'),
    queue_per_endpoint_max: read('WEBHOOK_QUEUE_PER_ENDPOINT_MAX'),
    claim_batch_max: read('WEBHOOK_CLAIM_BATCH_MAX'),
    claim_scan_max: read('WEBHOOK_CLAIM_SCAN_MAX'),
    retry_base_ms: read('WEBHOOK_RETRY_BASE_MS'),
    retry_max_ms: read('WEBHOOK_RETRY_MAX_MS'),
    retry_window_hours: read('WEBHOOK_RETRY_WINDOW_HOURS'),
    disable_after_seconds: read('WEBHOOK_DISABLE_AFTER_SECONDS'),
    probe_after_failures: read('WEBHOOK_PROBE_AFTER_FAILURES'),
    probe_interval_max_ms: read('WEBHOOK_PROBE_INTERVAL_MAX_MS'),
    response_bytes_max: read('WEBHOOK_RESPONSE_BYTES_MAX'),
    attempt_log_max: read('WEBHOOK_ATTEMPT_LOG_MAX'),
    flush_rows_max: read('WEBHOOK_FLUSH_ROWS_MAX'),
  };
}

/** A delivery attempt ends (timeout included) this long before its lease could run out. */
export const LEASE_SAFETY_MARGIN_MS = 1000;

/** Cross-field rules; each returned string is a configuration error. */
export function webhookConfigProblems(config: WebhookConfig): string[] {
  const problems: string[] = [];
  if (config.lease_ms < config.timeout_ms + 2 * LEASE_SAFETY_MARGIN_MS) {
    problems.push(`WEBHOOK_LEASE_MS must exceed WEBHOOK_TIMEOUT_MS by at least ${2 * LEASE_SAFETY_MARGIN_MS} ms`);
  }
  // An event purged while its deliveries still retry would never arrive.
  if (config.events_retention_days * 24 < config.retry_window_hours) {
    problems.push('EVENTS_RETENTION_DAYS must cover WEBHOOK_RETRY_WINDOW_HOURS (events are kept while their deliveries may retry)');
  }
  return problems;
}
