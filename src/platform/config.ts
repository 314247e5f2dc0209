import Joi from 'joi';
import type { BatchLimits } from '../batch/batcher.js';
import { loadTopology, regionNames, type Topology } from './regions.js';
import { SELLER_CONFIG_KEYS, sellerConfigProblems, toSellerConfig, type SellerConfig } from '../sellers/seller-config.js';
import {
  DEVELOPMENT_WEBHOOK_SECRETS_KEY,
  WEBHOOK_CONFIG_KEYS,
  toWebhookConfig,
  webhookConfigProblems,
  type WebhookConfig,
} from '../webhooks/webhook-config.js';
import {
  DEVELOPMENT_PAYOUT_PROVIDER_URL,
  DEVELOPMENT_PAYOUT_SECRET,
  toKycSettings,
  toWalletConfig,
  WALLET_CONFIG_KEYS,
  walletConfigProblems,
  type KycSettings,
  type WalletConfig,
} from './wallet-config.js';
import {
  STRIPE_CONFIG_KEYS,
  stripeConfigProblems,
  stripeProductionProblems,
  toStripeConfig,
  type StripeConfig,
} from '../shop/topups/stripe/stripe-config.js';

// Development secrets are public (they are in this file); production refuses them.
export const DEVELOPMENT_JWT_SECRET = 'creditshop-development-jwt-secret-not-for-production';
export const DEVELOPMENT_PSP_SECRET = 'creditshop-development-psp-secret-not-for-production';
const DEVELOPMENT_SECRETS = new Set([DEVELOPMENT_JWT_SECRET, DEVELOPMENT_PSP_SECRET, DEVELOPMENT_PAYOUT_SECRET]);
const SECRET_LENGTH_MIN = 32;
/** Unless set, the client gives a query this much longer than the server's statement_timeout. */
const QUERY_TIMEOUT_MARGIN_MS = 5000;

export interface Limits {
  amount_max_minor: number;
  balance_max_minor: number;
  order_lines_max: number;
  order_quantity_max: number;
  body_limit_bytes: number;
  /** Deepest nesting of objects and arrays in a request body; deeper bodies are refused before anything recursive reads them. */
  body_depth_max: number;
  /** Most items of any array in a request body; longer ones are refused before the schema judges each item. */
  body_array_items_max: number;
  page_size_max: number;
  page_size_default: number;
  transaction_attempts_max: number;
  hold_ttl_max_seconds: number;
  /** KYC tier limits and velocity checks, applied by the ledger to every money movement. */
  kyc: KycSettings;
  /** How far below zero a merchant's wallet may go when refunds take its revenue share back. */
  merchant_credit_limit_minor: number;
}

export interface Config {
  node_env: 'development' | 'test' | 'production';
  database_url: string | undefined;
  db_dialect: 'postgres' | 'cockroach' | undefined;
  regions: string[];
  /** Fixed by the operator (a StatefulSet ordinal, say); undefined: the pod leases a free slot of its region. */
  pod_index: number | undefined;
  pod_slot_lease_ms: number;
  host: string;
  port_offset: number;
  auth_jwt_secret: string;
  auth_jwt_issuer: string | undefined;
  auth_jwt_audience: string | undefined;
  /** A token whose expiry is further away than this is refused (whoever holds the secret may sign anything). */
  auth_jwt_lifetime_max_seconds: number;
  psp_webhook_secret: string;
  psp_signature_tolerance_seconds: number;
  /** Who takes top-up payments: the generic signed PSP format, or Stripe (PaymentIntents and its webhooks). */
  psp_provider: 'generic' | 'stripe';
  stripe: StripeConfig;
  log_level: string;
  data_dir: string;
  embedded_pg_port: number;
  db_pool_max: number;
  db_connect_timeout_ms: number;
  db_statement_timeout_ms: number;
  db_idle_in_transaction_timeout_ms: number;
  /** Client side: a query the server has not answered by then (a stalled server) fails as unavailable. */
  db_query_timeout_ms: number;
  /** Start-up waits for the database with exponential backoff between these bounds. */
  db_wait_backoff_initial_ms: number;
  db_wait_backoff_max_ms: number;
  /** /ready answers within this, whatever the database does. */
  ready_probe_timeout_ms: number;
  transaction_backoff_base_ms: number;
  transaction_backoff_max_ms: number;
  http_request_timeout_ms: number;
  rate_limit_per_second: number;
  rate_limit_burst: number;
  shutdown_grace_ms: number;
  idempotency_retention_hours: number;
  worker_interval_ms: number;
  worker_batch_size: number;
  /** A background task failing again and again waits up to this long between runs. */
  worker_backoff_max_ms: number;
  /** `npm start` restarts an exited pod after a delay doubling from initial to max, back to initial once it ran for reset_after. */
  supervisor_backoff_initial_ms: number;
  supervisor_backoff_max_ms: number;
  supervisor_backoff_reset_after_ms: number;
  currencies: string[];
  order_pending_timeout_seconds: number;
  player_refund_window_days: number;
  topup_pending_timeout_seconds: number;
  /** Reversals (waiting or applied) one top-up records; more are held for review. */
  topup_reversals_max: number;
  /** Nesting depth of a signed PSP event body; deeper ones are recorded as malformed. */
  psp_event_depth_max: number;
  default_currency: string;
  limits: Limits;
  batch: BatchLimits;
  account_directory_entries_max: number;
  /** Queue batches of several pods on hot accounts: `auto` means on PostgreSQL only. */
  batch_account_queue: 'auto' | 'on' | 'off';
  /** One batcher per home region (else one per pod): `auto` means on CockroachDB only. */
  batch_by_home_region: 'auto' | 'on' | 'off';
  hot_account_ttl_ms: number;
  /** After a batch found the database unreachable, writes are refused at once (503) for this long. */
  database_unreachable_pause_ms: number;
  /** One pod of the fleet at a time reconciles the whole database this often (a fleet task). */
  reconciliation_interval_seconds: number;
  /** A fleet task's lease, renewed while it runs; a pod that died frees the task once its lease expires. */
  fleet_task_lease_ms: number;
  /** Every pod reads the fleet's gauges (held for review, circuits, last reconciliation) this often. */
  fleet_gauges_interval_ms: number;
  /** Rows one fleet gauge counts at most: a gauge at this value means at least this many. */
  fleet_gauges_rows_max: number;
  sellers: SellerConfig;
  webhooks: WebhookConfig;
  wallet: WalletConfig;
}

const integer = () => Joi.number().integer();

function buildSchema(topology: Topology) {
  const names = regionNames(topology);
  return Joi.object({
    NODE_ENV: Joi.string().valid('development', 'test', 'production').default('development'),
    DATABASE_URL: Joi.string().uri({ scheme: ['postgres', 'postgresql'] }),
    DB_DIALECT: Joi.string().valid('postgres', 'cockroach'),
    REGIONS: Joi.string()
      .pattern(/^[a-z0-9-]+(,[a-z0-9-]+)*$/)
      .custom((value: string, helpers) => {
        const unknown = value.split(',').filter((name) => !names.includes(name));
        return unknown.length === 0 ? value : helpers.message({ custom: `unknown region(s): ${unknown.join(', ')}` });
      })
      .default(names.join(',')),
    CURRENCIES: Joi.string()
      .pattern(/^[A-Z][A-Z0-9]{2,9}(,[A-Z][A-Z0-9]{2,9})*$/)
      .default('EUR,USD,GBP,GEMS,COINS'),
    DEFAULT_CURRENCY: Joi.string()
      .pattern(/^[A-Z][A-Z0-9]{2,9}$/)
      .default('EUR'),
    HOST: Joi.string().hostname().default('127.0.0.1'),
    ORDER_PENDING_TIMEOUT_SECONDS: integer()
      .min(1)
      .max(7 * 24 * 3600)
      .default(900),
    PLAYER_REFUND_WINDOW_DAYS: integer().min(0).max(365).default(14),
    TOPUP_PENDING_TIMEOUT_SECONDS: integer()
      .min(1)
      .max(30 * 24 * 3600)
      .default(3600),
    TOPUP_REVERSALS_MAX: integer().min(1).max(10000).default(100),
    PSP_EVENT_DEPTH_MAX: integer().min(4).max(1000).default(32),
    POD_INDEX: integer().min(0).max(63),
    POD_SLOT_LEASE_MS: integer().min(1000).max(600000).default(30000),
    PORT_OFFSET: integer().min(-1000).max(60000).default(0),
    AUTH_JWT_SECRET: Joi.string().min(SECRET_LENGTH_MIN).default(DEVELOPMENT_JWT_SECRET),
    AUTH_JWT_ISSUER: Joi.string().min(1).max(255),
    AUTH_JWT_AUDIENCE: Joi.string().min(1).max(255),
    AUTH_JWT_LIFETIME_MAX_SECONDS: integer()
      .min(60)
      .max(366 * 24 * 3600)
      .default(30 * 24 * 3600),
    PSP_WEBHOOK_SECRET: Joi.string().min(SECRET_LENGTH_MIN).default(DEVELOPMENT_PSP_SECRET),
    PSP_SIGNATURE_TOLERANCE_SECONDS: integer().min(1).max(3600).default(300),
    PSP_PROVIDER: Joi.string().valid('generic', 'stripe').default('generic'),
    LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
    DATA_DIR: Joi.string().default('.data'),
    EMBEDDED_PG_PORT: integer().min(1024).max(65535).default(54329),
    DB_POOL_MAX: integer().min(2).max(200).default(24),
    DB_CONNECT_TIMEOUT_MS: integer().min(100).max(60000).default(5000),
    DB_STATEMENT_TIMEOUT_MS: integer().min(100).max(600000).default(15000),
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: integer().min(100).max(600000).default(30000),
    DB_QUERY_TIMEOUT_MS: integer().greater(Joi.ref('DB_STATEMENT_TIMEOUT_MS')).max(660000),
    DB_WAIT_BACKOFF_INITIAL_MS: integer().min(10).max(60000).default(250),
    DB_WAIT_BACKOFF_MAX_MS: integer().min(Joi.ref('DB_WAIT_BACKOFF_INITIAL_MS')).max(300000).default(10000),
    READY_PROBE_TIMEOUT_MS: integer().min(50).max(10000).default(800),
    TX_ATTEMPTS_MAX: integer().min(1).max(50).default(10),
    TX_BACKOFF_BASE_MS: integer().min(0).max(1000).default(2),
    TX_BACKOFF_MAX_MS: integer().min(1).max(10000).default(250),
    RATE_LIMIT_PER_SECOND: integer().min(1).max(1_000_000).default(1000),
    RATE_LIMIT_BURST: integer().min(1).max(1_000_000).default(2000),
    HTTP_REQUEST_TIMEOUT_MS: integer().min(100).max(600000).default(30000),
    SHUTDOWN_GRACE_MS: integer().min(0).max(120000).default(10000),
    IDEMPOTENCY_RETENTION_HOURS: integer()
      .min(24)
      .max(24 * 90)
      .default(48),
    WORKER_INTERVAL_MS: integer().min(50).max(600000).default(1000),
    WORKER_BATCH_SIZE: integer().min(1).max(1000).default(100),
    WORKER_BACKOFF_MAX_MS: integer().min(Joi.ref('WORKER_INTERVAL_MS')).max(600000).default(30000),
    SUPERVISOR_BACKOFF_INITIAL_MS: integer().min(10).max(60000).default(1000),
    SUPERVISOR_BACKOFF_MAX_MS: integer().min(Joi.ref('SUPERVISOR_BACKOFF_INITIAL_MS')).max(600000).default(30000),
    SUPERVISOR_BACKOFF_RESET_AFTER_MS: integer().min(100).max(3600000).default(60000),
    AMOUNT_MAX_MINOR: integer().min(1).max(1e12).default(1e12),
    BALANCE_MAX_MINOR: integer().min(1).max(1e15).default(1e15),
    ORDER_LINES_MAX: integer().min(1).max(500).default(50),
    ORDER_QUANTITY_MAX: integer().min(1).max(100000).default(1000),
    BODY_LIMIT_BYTES: integer()
      .min(1024)
      .max(10 * 1024 * 1024)
      .default(64 * 1024),
    BODY_DEPTH_MAX: integer().min(4).max(256).default(32),
    BODY_ARRAY_ITEMS_MAX: integer().min(10).max(100_000).default(1000),
    PAGE_SIZE_MAX: integer().min(1).max(1000).default(200),
    PAGE_SIZE_DEFAULT: integer().min(1).max(1000).default(50),
    BATCH_OPERATIONS_MAX: integer().min(1).max(4096).default(256),
    BATCH_BYTES_MAX: integer()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(4 * 1024 * 1024),
    BATCH_QUEUED_MAX: integer().min(1).max(1_000_000).default(20_000),
    BATCH_ACCOUNT_QUEUE: Joi.string().valid('auto', 'on', 'off').default('auto'),
    BATCH_BY_HOME_REGION: Joi.string().valid('auto', 'on', 'off').default('auto'),
    HOT_ACCOUNT_TTL_MS: integer().min(0).max(600_000).default(2000),
    DATABASE_UNREACHABLE_PAUSE_MS: integer().min(0).max(60_000).default(500),
    ACCOUNT_DIRECTORY_ENTRIES_MAX: integer().min(1).max(10_000_000).default(1_000_000),
    RECONCILIATION_INTERVAL_SECONDS: integer().min(1).max(86_400).default(300),
    FLEET_TASK_LEASE_MS: integer().min(100).max(600_000).default(30_000),
    FLEET_GAUGES_INTERVAL_MS: integer().min(50).max(600_000).default(15_000),
    FLEET_GAUGES_ROWS_MAX: integer().min(1).max(1_000_000).default(10_000),
    HOLD_TTL_MAX_SECONDS: integer()
      .min(1)
      .max(30 * 24 * 3600)
      .default(7 * 24 * 3600),
    ...SELLER_CONFIG_KEYS,
    ...WEBHOOK_CONFIG_KEYS,
    ...WALLET_CONFIG_KEYS,
    ...STRIPE_CONFIG_KEYS,
  }).unknown(true);
}

export class ConfigError extends Error {}

// Settings whose value is a secret (or may hold one, as a URL's password): a message about them never
// quotes it (Joi's pattern message does), since start-up errors reach logs.
const SECRET_SETTING = /SECRET|KEY|PASSWORD|TOKEN|_URL$/;

function describeProblem(detail: Joi.ValidationErrorItem): string {
  const name = String(detail.path[0] ?? '');
  return SECRET_SETTING.test(name) ? `${name} is not valid (${detail.type})` : detail.message;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, topology: Topology = loadTopology()): Config {
  const { value, error } = buildSchema(topology).validate(env, { abortEarly: false, convert: true });
  if (error) throw new ConfigError(`invalid configuration: ${error.details.map(describeProblem).join('; ')}`);
  const currencies = String(value.CURRENCIES).split(',');
  const kyc = toKycSettings(value, currencies);
  if (!kyc.settings) throw new ConfigError(`invalid configuration: ${kyc.problems.join('; ')}`);
  const config: Config = {
    node_env: value.NODE_ENV,
    database_url: value.DATABASE_URL,
    db_dialect: value.DB_DIALECT,
    regions: String(value.REGIONS).split(','),
    pod_index: value.POD_INDEX,
    pod_slot_lease_ms: value.POD_SLOT_LEASE_MS,
    host: value.HOST,
    port_offset: value.PORT_OFFSET,
    auth_jwt_secret: value.AUTH_JWT_SECRET,
    auth_jwt_issuer: value.AUTH_JWT_ISSUER,
    auth_jwt_audience: value.AUTH_JWT_AUDIENCE,
    auth_jwt_lifetime_max_seconds: value.AUTH_JWT_LIFETIME_MAX_SECONDS,
    psp_webhook_secret: value.PSP_WEBHOOK_SECRET,
    psp_signature_tolerance_seconds: value.PSP_SIGNATURE_TOLERANCE_SECONDS,
    psp_provider: value.PSP_PROVIDER,
    stripe: toStripeConfig(value),
    log_level: value.LOG_LEVEL,
    data_dir: value.DATA_DIR,
    embedded_pg_port: value.EMBEDDED_PG_PORT,
    db_pool_max: value.DB_POOL_MAX,
    db_connect_timeout_ms: value.DB_CONNECT_TIMEOUT_MS,
    db_statement_timeout_ms: value.DB_STATEMENT_TIMEOUT_MS,
    db_idle_in_transaction_timeout_ms: value.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    db_query_timeout_ms: value.DB_QUERY_TIMEOUT_MS ?? value.DB_STATEMENT_TIMEOUT_MS + QUERY_TIMEOUT_MARGIN_MS,
    db_wait_backoff_initial_ms: value.DB_WAIT_BACKOFF_INITIAL_MS,
    db_wait_backoff_max_ms: value.DB_WAIT_BACKOFF_MAX_MS,
    ready_probe_timeout_ms: value.READY_PROBE_TIMEOUT_MS,
    transaction_backoff_base_ms: value.TX_BACKOFF_BASE_MS,
    transaction_backoff_max_ms: value.TX_BACKOFF_MAX_MS,
    http_request_timeout_ms: value.HTTP_REQUEST_TIMEOUT_MS,
    rate_limit_per_second: value.RATE_LIMIT_PER_SECOND,
    rate_limit_burst: value.RATE_LIMIT_BURST,
    shutdown_grace_ms: value.SHUTDOWN_GRACE_MS,
    idempotency_retention_hours: value.IDEMPOTENCY_RETENTION_HOURS,
    worker_interval_ms: value.WORKER_INTERVAL_MS,
    worker_batch_size: value.WORKER_BATCH_SIZE,
    worker_backoff_max_ms: value.WORKER_BACKOFF_MAX_MS,
    supervisor_backoff_initial_ms: value.SUPERVISOR_BACKOFF_INITIAL_MS,
    supervisor_backoff_max_ms: value.SUPERVISOR_BACKOFF_MAX_MS,
    supervisor_backoff_reset_after_ms: value.SUPERVISOR_BACKOFF_RESET_AFTER_MS,
    currencies,
    order_pending_timeout_seconds: value.ORDER_PENDING_TIMEOUT_SECONDS,
    player_refund_window_days: value.PLAYER_REFUND_WINDOW_DAYS,
    topup_pending_timeout_seconds: value.TOPUP_PENDING_TIMEOUT_SECONDS,
    topup_reversals_max: value.TOPUP_REVERSALS_MAX,
    psp_event_depth_max: value.PSP_EVENT_DEPTH_MAX,
    default_currency: value.DEFAULT_CURRENCY,
    sellers: toSellerConfig(value),
    webhooks: toWebhookConfig(value),
    wallet: toWalletConfig(value),
    batch: {
      operations_max: value.BATCH_OPERATIONS_MAX,
      bytes_max: value.BATCH_BYTES_MAX,
      queued_max: value.BATCH_QUEUED_MAX,
    },
    account_directory_entries_max: value.ACCOUNT_DIRECTORY_ENTRIES_MAX,
    batch_account_queue: value.BATCH_ACCOUNT_QUEUE,
    batch_by_home_region: value.BATCH_BY_HOME_REGION,
    hot_account_ttl_ms: value.HOT_ACCOUNT_TTL_MS,
    database_unreachable_pause_ms: value.DATABASE_UNREACHABLE_PAUSE_MS,
    reconciliation_interval_seconds: value.RECONCILIATION_INTERVAL_SECONDS,
    fleet_task_lease_ms: value.FLEET_TASK_LEASE_MS,
    fleet_gauges_interval_ms: value.FLEET_GAUGES_INTERVAL_MS,
    fleet_gauges_rows_max: value.FLEET_GAUGES_ROWS_MAX,
    limits: {
      amount_max_minor: value.AMOUNT_MAX_MINOR,
      balance_max_minor: value.BALANCE_MAX_MINOR,
      order_lines_max: value.ORDER_LINES_MAX,
      order_quantity_max: value.ORDER_QUANTITY_MAX,
      body_limit_bytes: value.BODY_LIMIT_BYTES,
      body_depth_max: value.BODY_DEPTH_MAX,
      body_array_items_max: value.BODY_ARRAY_ITEMS_MAX,
      page_size_max: value.PAGE_SIZE_MAX,
      page_size_default: Math.min(value.PAGE_SIZE_DEFAULT, value.PAGE_SIZE_MAX),
      transaction_attempts_max: value.TX_ATTEMPTS_MAX,
      hold_ttl_max_seconds: value.HOLD_TTL_MAX_SECONDS,
      kyc: kyc.settings,
      merchant_credit_limit_minor: value.MERCHANT_CREDIT_LIMIT_MINOR,
    },
  };
  const problems = [
    ...sellerConfigProblems(config.sellers),
    ...webhookConfigProblems(config.webhooks),
    ...walletConfigProblems(config.wallet),
    ...(config.psp_provider === 'stripe' ? stripeConfigProblems(config.stripe, config) : []),
  ];
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  if (!config.currencies.includes(config.default_currency)) {
    throw new ConfigError(`invalid configuration: DEFAULT_CURRENCY ${config.default_currency} is not in CURRENCIES`);
  }
  if (config.node_env === 'production') assertProductionReady(config);
  return config;
}

/** A random secret of 32 or more characters has far more; a typed or padded placeholder has fewer. */
const SECRET_DISTINCT_CHARACTERS_MIN = 8;

function assertProductionReady(config: Config): void {
  const problems: string[] = [];
  if (DEVELOPMENT_SECRETS.has(config.auth_jwt_secret)) problems.push('AUTH_JWT_SECRET is the development secret');
  if (DEVELOPMENT_SECRETS.has(config.psp_webhook_secret)) problems.push('PSP_WEBHOOK_SECRET is the development secret');
  if (DEVELOPMENT_SECRETS.has(config.wallet.payout_webhook_secret)) problems.push('PAYOUT_WEBHOOK_SECRET is the development secret');
  const secrets = [config.auth_jwt_secret, config.psp_webhook_secret, config.wallet.payout_webhook_secret];
  if (new Set(secrets).size < secrets.length) problems.push('AUTH_JWT_SECRET, PSP_WEBHOOK_SECRET and PAYOUT_WEBHOOK_SECRET must differ');
  if (config.webhooks.secrets_key === DEVELOPMENT_WEBHOOK_SECRETS_KEY) problems.push('WEBHOOK_SECRETS_KEY is the development key');
  if (secrets.includes(config.webhooks.secrets_key)) {
    problems.push('WEBHOOK_SECRETS_KEY must differ from AUTH_JWT_SECRET, PSP_WEBHOOK_SECRET and PAYOUT_WEBHOOK_SECRET');
  }
  const named = {
    AUTH_JWT_SECRET: config.auth_jwt_secret,
    PSP_WEBHOOK_SECRET: config.psp_webhook_secret,
    PAYOUT_WEBHOOK_SECRET: config.wallet.payout_webhook_secret,
    WEBHOOK_SECRETS_KEY: config.webhooks.secrets_key,
  };
  for (const [name, value] of Object.entries(named)) {
    // 32 spaces, or one letter 32 times, pass the length rule and are guessed at once: an admin token forged with them is valid.
    if (new Set(value).size < SECRET_DISTINCT_CHARACTERS_MIN) {
      problems.push(`${name} is too weak (fewer than ${SECRET_DISTINCT_CHARACTERS_MIN} different characters): use a random value`);
    }
  }
  if (!config.database_url) problems.push('DATABASE_URL is required (no embedded database in production)');
  // Left at its default, withdrawals would be paid out by the development simulator on the pod's own host.
  if (config.wallet.payout_provider_url === DEVELOPMENT_PAYOUT_PROVIDER_URL) {
    problems.push(
      `PAYOUT_PROVIDER_URL is the development payout simulator (${DEVELOPMENT_PAYOUT_PROVIDER_URL}): set the provider's address`,
    );
  }
  if (config.psp_provider === 'stripe') problems.push(...stripeProductionProblems(config.stripe));
  if (problems.length > 0) throw new ConfigError(`refusing to start in production: ${problems.join('; ')}`);
}
