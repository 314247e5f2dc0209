import Joi from 'joi';

// Public (they are in this file): a pod started with them can only ever talk to a fake Stripe.
export const DEVELOPMENT_STRIPE_SECRET_KEY = 'sk_test_creditshop_development_key_not_for_production';
export const DEVELOPMENT_STRIPE_WEBHOOK_SECRET = 'whsec_creditshop_development_secret_not_for_production';

/** Where the SDK sends its calls, when not to api.stripe.com (its host, port and protocol options). */
export interface StripeApiAddress {
  protocol: 'http' | 'https';
  host: string;
  port: number;
}

/** Settings of the Stripe adapter (PSP_PROVIDER=stripe); every wait and retry of a Stripe call is bounded by one of these. */
export interface StripeConfig {
  /** sk_live_… in production (rk_ restricted keys too); never logged. */
  secret_key: string;
  /** The signing secret of the webhook endpoint (whsec_…); never logged. */
  webhook_secret: string;
  /** Undefined: api.stripe.com. */
  api_address: StripeApiAddress | undefined;
  /** One Stripe API call, per try. */
  timeout_ms: number;
  /** Tries after the first, by the SDK, with the same Stripe idempotency key. */
  max_network_retries: number;
  /** Stripe calls in flight per pod; a top-up that finds none free within STRIPE_TIMEOUT_MS is answered 503. */
  calls_in_flight_max: number;
  /** A Stripe-Signature older than this is refused (the SDK's constructEvent tolerance). */
  webhook_tolerance_seconds: number;
  /** The currencies a top-up may be paid in through Stripe (a subset of CURRENCIES). */
  currencies: string[];
}

const integer = () => Joi.number().integer();

/** Environment variables of the Stripe adapter, merged into the one start-up schema (config.ts). */
export const STRIPE_CONFIG_KEYS = {
  STRIPE_SECRET_KEY: Joi.string()
    .pattern(/^(sk|rk)_(test|live)_[A-Za-z0-9_]{8,240}$/)
    .default(DEVELOPMENT_STRIPE_SECRET_KEY),
  STRIPE_WEBHOOK_SECRET: Joi.string()
    .pattern(/^whsec_[A-Za-z0-9_+/=-]{8,240}$/)
    .default(DEVELOPMENT_STRIPE_WEBHOOK_SECRET),
  // The SDK has no base path option: only a scheme, a host and a port.
  STRIPE_API_BASE_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .pattern(/^https?:\/\/[^/?#]+\/?$/, 'scheme, host and port only'),
  STRIPE_TIMEOUT_MS: integer().min(100).max(80_000).default(8000),
  STRIPE_MAX_NETWORK_RETRIES: integer().min(0).max(10).default(2),
  STRIPE_CALLS_IN_FLIGHT_MAX: integer().min(1).max(10_000).default(64),
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: integer().min(1).max(3600).default(300),
  STRIPE_CURRENCIES: Joi.string()
    .pattern(/^[A-Z]{3}(,[A-Z]{3})*$/)
    .default('EUR,USD,GBP'),
};

/** The validated environment (config.ts ran STRIPE_CONFIG_KEYS) as settings. */
export function toStripeConfig(value: Record<string, unknown>): StripeConfig {
  const base_url = value['STRIPE_API_BASE_URL'] as string | undefined;
  return {
    secret_key: value['STRIPE_SECRET_KEY'] as string,
    webhook_secret: value['STRIPE_WEBHOOK_SECRET'] as string,
    api_address: base_url === undefined ? undefined : apiAddress(new URL(base_url)),
    timeout_ms: value['STRIPE_TIMEOUT_MS'] as number,
    max_network_retries: value['STRIPE_MAX_NETWORK_RETRIES'] as number,
    calls_in_flight_max: value['STRIPE_CALLS_IN_FLIGHT_MAX'] as number,
    webhook_tolerance_seconds: value['STRIPE_WEBHOOK_TOLERANCE_SECONDS'] as number,
    currencies: String(value['STRIPE_CURRENCIES']).split(','),
  };
}

function apiAddress(url: URL): StripeApiAddress {
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { protocol, host: url.hostname, port: url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port) };
}

/** Cross-field rules of a pod that uses Stripe; each returned string is a configuration error. */
export function stripeConfigProblems(stripe: StripeConfig, context: { currencies: string[]; http_request_timeout_ms: number }): string[] {
  const problems: string[] = [];
  const unknown = stripe.currencies.filter((currency) => !context.currencies.includes(currency));
  if (unknown.length > 0) problems.push(`STRIPE_CURRENCIES names currencies that are not in CURRENCIES: ${unknown.join(', ')}`);
  // A top-up answers within the HTTP request timeout even when every try of its Stripe call times out.
  if ((stripe.max_network_retries + 1) * stripe.timeout_ms >= context.http_request_timeout_ms) {
    problems.push('(STRIPE_MAX_NETWORK_RETRIES + 1) * STRIPE_TIMEOUT_MS must stay below HTTP_REQUEST_TIMEOUT_MS');
  }
  return problems;
}

/** What production refuses of a pod that uses Stripe: development or test-mode credentials, plain HTTP. */
export function stripeProductionProblems(stripe: StripeConfig): string[] {
  const problems: string[] = [];
  if (stripe.secret_key === DEVELOPMENT_STRIPE_SECRET_KEY) problems.push('STRIPE_SECRET_KEY is the development key');
  // A test-mode payment moves no money: production must never credit a wallet for one.
  else if (/^(sk|rk)_test_/.test(stripe.secret_key)) problems.push('STRIPE_SECRET_KEY is a test-mode key (sk_test_/rk_test_)');
  if (stripe.webhook_secret === DEVELOPMENT_STRIPE_WEBHOOK_SECRET) problems.push('STRIPE_WEBHOOK_SECRET is the development secret');
  if (stripe.api_address?.protocol === 'http') problems.push('STRIPE_API_BASE_URL must be https');
  return problems;
}
