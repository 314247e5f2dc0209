import Joi from 'joi';
import {
  DEFAULT_TIER_LIMITS,
  KYC_TIERS,
  LIMIT_NAMES,
  type KycTier,
  type LimitName,
  type LimitOverrides,
  type TierLimits,
} from '../compliance/kyc-tiers.js';

/** KYC limits as the ledger applies them inside every batch (config.limits.kyc). */
export interface KycSettings {
  /** Off: no tier limit or velocity check runs (benchmarks compare both). */
  enabled: boolean;
  /** Currencies the limits apply to (real money); game currencies are not limited. */
  limited_currencies: ReadonlySet<string>;
  tiers: Record<KycTier, TierLimits>;
}

/** Settings of withdrawals, the payout provider, merchants, metadata, statements and exports (SPEC §10). */
export interface WalletConfig {
  payout_provider_url: string;
  payout_webhook_secret: string;
  payout_signature_tolerance_seconds: number;
  /** One payout call at most (also bounded by the job's lease). */
  payout_call_timeout_ms: number;
  /** Calls of one withdrawal's payout whose outcome stayed unknown; then it waits for the provider or a person. */
  payout_call_attempts_max: number;
  payout_retry_interval_min_ms: number;
  payout_retry_interval_max_ms: number;
  payout_response_bytes_max: number;
  /** Nesting depth of a signed payout callback; deeper ones are recorded as malformed. */
  payout_event_depth_max: number;
  /** A withdrawal the provider has not settled by then is flagged for reconciliation. */
  withdrawal_pending_timeout_seconds: number;
  metadata_keys_max: number;
  metadata_key_length_max: number;
  metadata_value_length_max: number;
  /** Longest time range of one statement. */
  statement_range_max_days: number;
  /** Longest time range of one export or large-transaction report. */
  export_range_max_days: number;
  /** Ledger transactions read per page of an export (memory held per export). */
  export_page_rows: number;
  /** Exports streaming at once per pod (each holds a database connection for its snapshot). */
  exports_in_flight_max: number;
  /** Longest an export waits for its client to take what it wrote (its snapshot's transaction idle meanwhile). */
  export_client_wait_max_ms: number;
  /** Longest an export streams in all (it holds a connection and an old snapshot throughout). */
  export_duration_max_ms: number;
}

export const DEVELOPMENT_PAYOUT_SECRET = 'creditshop-development-payout-secret-not-for-production';
/** Where `npm run payouts` (the payout simulator) listens: the default for development only. */
export const DEVELOPMENT_PAYOUT_PROVIDER_URL = 'http://127.0.0.1:4100';
const SECRET_LENGTH_MIN = 32;
const MINOR_MAX = 1e15;
const COUNT_MAX = 1_000_000;
const integer = () => Joi.number().integer();

/** The schema of one limit's value, as config and per-account overrides give it. */
export function limitValueSchema(name: LimitName): Joi.Schema {
  if (name === 'withdrawals_allowed') return Joi.boolean().strict();
  return integer()
    .strict()
    .min(0)
    .max(name === 'transfers_out_per_hour_max' ? COUNT_MAX : MINOR_MAX);
}

/** Environment variables of the wallet, merged into the one start-up schema (config.ts). */
export const WALLET_CONFIG_KEYS = {
  KYC_LIMITS_ENABLED: Joi.boolean().default(true),
  KYC_LIMITED_CURRENCIES: Joi.string()
    .pattern(/^[A-Z][A-Z0-9]{2,9}(,[A-Z][A-Z0-9]{2,9})*$/)
    .default('EUR,USD,GBP'),
  /** JSON: tier -> limits, merged over the defaults (src/compliance/kyc-tiers.ts). */
  KYC_TIER_LIMITS: Joi.string().max(10_000),
  MERCHANT_CREDIT_LIMIT_MINOR: integer().min(0).max(MINOR_MAX).default(100_000),
  PAYOUT_PROVIDER_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .default(DEVELOPMENT_PAYOUT_PROVIDER_URL),
  PAYOUT_WEBHOOK_SECRET: Joi.string().min(SECRET_LENGTH_MIN).default(DEVELOPMENT_PAYOUT_SECRET),
  PAYOUT_SIGNATURE_TOLERANCE_SECONDS: integer().min(1).max(3600).default(300),
  PAYOUT_CALL_TIMEOUT_MS: integer().min(100).max(120_000).default(5000),
  PAYOUT_CALL_ATTEMPTS_MAX: integer().min(1).max(1000).default(20),
  PAYOUT_RETRY_INTERVAL_MIN_MS: integer().min(10).max(3_600_000).default(500),
  PAYOUT_RETRY_INTERVAL_MAX_MS: integer().min(10).max(3_600_000).default(60_000),
  PAYOUT_RESPONSE_BYTES_MAX: integer()
    .min(1024)
    .max(1024 * 1024)
    .default(64 * 1024),
  PAYOUT_EVENT_DEPTH_MAX: integer().min(4).max(1000).default(32),
  WITHDRAWAL_PENDING_TIMEOUT_SECONDS: integer()
    .min(1)
    .max(30 * 24 * 3600)
    .default(24 * 3600),
  METADATA_KEYS_MAX: integer().min(1).max(100).default(20),
  METADATA_KEY_LENGTH_MAX: integer().min(1).max(255).default(40),
  METADATA_VALUE_LENGTH_MAX: integer().min(1).max(10_000).default(500),
  STATEMENT_RANGE_MAX_DAYS: integer().min(1).max(3660).default(366),
  EXPORT_RANGE_MAX_DAYS: integer().min(1).max(3660).default(31),
  EXPORT_PAGE_ROWS: integer().min(10).max(100_000).default(1000),
  EXPORTS_IN_FLIGHT_MAX: integer().min(1).max(100).default(4),
  EXPORT_CLIENT_WAIT_MAX_MS: integer().min(1000).max(3_600_000).default(600_000),
  EXPORT_DURATION_MAX_MS: integer().min(1000).max(86_400_000).default(3_600_000),
};

type Value = Record<string, unknown>;

export function toWalletConfig(value: Value): WalletConfig {
  const read = (name: keyof typeof WALLET_CONFIG_KEYS) => value[name] as number;
  return {
    payout_provider_url: (value['PAYOUT_PROVIDER_URL'] as string).replace(/\/+$/, ''),
    payout_webhook_secret: value['PAYOUT_WEBHOOK_SECRET'] as string,
    payout_signature_tolerance_seconds: read('PAYOUT_SIGNATURE_TOLERANCE_SECONDS'),
    payout_call_timeout_ms: read('PAYOUT_CALL_TIMEOUT_MS'),
    payout_call_attempts_max: read('PAYOUT_CALL_ATTEMPTS_MAX'),
    payout_retry_interval_min_ms: read('PAYOUT_RETRY_INTERVAL_MIN_MS'),
    payout_retry_interval_max_ms: read('PAYOUT_RETRY_INTERVAL_MAX_MS'),
    payout_response_bytes_max: read('PAYOUT_RESPONSE_BYTES_MAX'),
    payout_event_depth_max: read('PAYOUT_EVENT_DEPTH_MAX'),
    withdrawal_pending_timeout_seconds: read('WITHDRAWAL_PENDING_TIMEOUT_SECONDS'),
    metadata_keys_max: read('METADATA_KEYS_MAX'),
    metadata_key_length_max: read('METADATA_KEY_LENGTH_MAX'),
    metadata_value_length_max: read('METADATA_VALUE_LENGTH_MAX'),
    statement_range_max_days: read('STATEMENT_RANGE_MAX_DAYS'),
    export_range_max_days: read('EXPORT_RANGE_MAX_DAYS'),
    export_page_rows: read('EXPORT_PAGE_ROWS'),
    exports_in_flight_max: read('EXPORTS_IN_FLIGHT_MAX'),
    export_client_wait_max_ms: read('EXPORT_CLIENT_WAIT_MAX_MS'),
    export_duration_max_ms: read('EXPORT_DURATION_MAX_MS'),
  };
}

/**
 * `KYC_TIER_LIMITS`: a JSON object of tier -> limits, merged over the defaults, e.g.
 * `{"0":{"daily_debits_max_minor":20000}}`. Unknown tiers or limit names are configuration errors.
 */
function tierLimits(json: string | undefined): { tiers: Record<KycTier, TierLimits> } | { problem: string } {
  if (json === undefined || json.trim() === '') return { tiers: DEFAULT_TIER_LIMITS };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { problem: 'KYC_TIER_LIMITS is not JSON' };
  }
  const tier = Joi.object(Object.fromEntries(LIMIT_NAMES.map((name) => [name, limitValueSchema(name)])));
  const { value, error } = Joi.object({ 0: tier, 1: tier, 2: tier }).validate(parsed, { convert: false, abortEarly: false });
  if (error) return { problem: `KYC_TIER_LIMITS: ${error.message}` };
  const given = value as Partial<Record<KycTier, LimitOverrides>>;
  return {
    tiers: Object.fromEntries(KYC_TIERS.map((tier) => [tier, { ...DEFAULT_TIER_LIMITS[tier], ...given[tier] }])) as Record<
      KycTier,
      TierLimits
    >,
  };
}

/** The KYC settings, or the configuration problems that prevent them. */
export function toKycSettings(value: Value, currencies: readonly string[]): { settings?: KycSettings; problems: string[] } {
  const limited = String(value['KYC_LIMITED_CURRENCIES']).split(',');
  const problems = limited
    .filter((currency) => !currencies.includes(currency))
    .map((c) => `KYC_LIMITED_CURRENCIES: ${c} is not in CURRENCIES`);
  const parsed = tierLimits(value['KYC_TIER_LIMITS'] as string | undefined);
  if ('problem' in parsed) problems.push(parsed.problem);
  if (problems.length > 0 || !('tiers' in parsed)) return { problems };
  return {
    settings: { enabled: value['KYC_LIMITS_ENABLED'] as boolean, limited_currencies: new Set(limited), tiers: parsed.tiers },
    problems,
  };
}

export function walletConfigProblems(config: WalletConfig): string[] {
  return config.payout_retry_interval_min_ms > config.payout_retry_interval_max_ms
    ? ['PAYOUT_RETRY_INTERVAL_MIN_MS must not exceed PAYOUT_RETRY_INTERVAL_MAX_MS']
    : [];
}
