import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEVELOPMENT_JWT_SECRET, DEVELOPMENT_PSP_SECRET, loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { DEVELOPMENT_STRIPE_SECRET_KEY, DEVELOPMENT_STRIPE_WEBHOOK_SECRET } from '../../src/shop/topups/stripe/stripe-config.js';

// As `openssl rand -hex 20` would make them (production refuses a secret of few different characters).
const REAL_JWT = '5b0e9c1d7a3f8e2b6c4d0a9f1e7b3c8d2a6f4e0b';
const REAL_PSP = 'c7e1a9f3b5d2e8c4a0f6b1d9e3c7a5f2b8d4e0c6';
const REAL_WEBHOOK_KEY = '9d3b7f1e5c2a8d6b0f4e9a3c7d1b5f8e2a6c0d4b';
const REAL_PAYOUT = 'e4a8c2f6b0d9e3a7c1f5b9d2e6a0c4f8b3d7e1a5';
const URL = 'postgres://u:p@db:5432/shop';

describe('configuration', () => {
  it('when production starts with a development secret, then it refuses to start', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: URL, PSP_WEBHOOK_SECRET: REAL_PSP })).toThrow(
      /AUTH_JWT_SECRET is the development secret/,
    );
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: URL, AUTH_JWT_SECRET: REAL_JWT })).toThrow(
      /PSP_WEBHOOK_SECRET is the development secret/,
    );
    expect(() =>
      loadConfig({ NODE_ENV: 'production', DATABASE_URL: URL, AUTH_JWT_SECRET: REAL_JWT, PSP_WEBHOOK_SECRET: REAL_JWT }),
    ).toThrow(/must differ/);
    expect(() => loadConfig({ NODE_ENV: 'production', AUTH_JWT_SECRET: REAL_JWT, PSP_WEBHOOK_SECRET: REAL_PSP })).toThrow(
      /DATABASE_URL is required/,
    );
    expect(() =>
      loadConfig({ NODE_ENV: 'production', DATABASE_URL: URL, AUTH_JWT_SECRET: REAL_JWT, PSP_WEBHOOK_SECRET: REAL_PSP }),
    ).toThrow(/PAYOUT_WEBHOOK_SECRET is the development secret/);
    const secrets = {
      AUTH_JWT_SECRET: REAL_JWT,
      PSP_WEBHOOK_SECRET: REAL_PSP,
      PAYOUT_WEBHOOK_SECRET: REAL_PAYOUT,
      PAYOUT_PROVIDER_URL: 'https://payouts.example.com',
    };
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: URL, ...secrets, PAYOUT_WEBHOOK_SECRET: REAL_PSP })).toThrow(
      /must differ/,
    );
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: URL, ...secrets })).toThrow(
      /WEBHOOK_SECRETS_KEY is the development key/,
    );
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: URL, ...secrets, WEBHOOK_SECRETS_KEY: REAL_PAYOUT })).toThrow(
      /must differ/,
    );
    // Long enough, and guessed at once: 32 spaces, one letter 40 times (never quoted in the refusal).
    for (const weak of [' '.repeat(32), 'j'.repeat(40), 'abab'.repeat(10)]) {
      const refusal = () =>
        loadConfig({ NODE_ENV: 'production', DATABASE_URL: URL, ...secrets, WEBHOOK_SECRETS_KEY: REAL_WEBHOOK_KEY, AUTH_JWT_SECRET: weak });
      expect(refusal).toThrow(/AUTH_JWT_SECRET is too weak/);
      expect(refusal).not.toThrow(weak);
    }
    // Left at its default, withdrawals would go to the development payout simulator on the pod's host.
    const { PAYOUT_PROVIDER_URL: _, ...simulated } = secrets;
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: URL, ...simulated, WEBHOOK_SECRETS_KEY: REAL_WEBHOOK_KEY })).toThrow(
      /PAYOUT_PROVIDER_URL is the development payout simulator/,
    );
    const production = loadConfig({ NODE_ENV: 'production', DATABASE_URL: URL, ...secrets, WEBHOOK_SECRETS_KEY: REAL_WEBHOOK_KEY });
    expect(production.auth_jwt_secret).toBe(REAL_JWT);
    // Endpoints naming private or loopback addresses are refused in production unless allowed explicitly.
    expect(production.webhooks.private_urls).toBe('refuse');
    expect(loadConfig({}).webhooks.private_urls).toBe('allow');
    expect(() => loadConfig({ WEBHOOK_TIMEOUT_MS: '20000', WEBHOOK_LEASE_MS: '21000' })).toThrow(/WEBHOOK_LEASE_MS/);
    expect(() => loadConfig({ EVENTS_RETENTION_DAYS: '1', WEBHOOK_RETRY_WINDOW_HOURS: '72' })).toThrow(/EVENTS_RETENTION_DAYS must cover/);
    expect(loadConfig({ EVENTS_RETENTION_DAYS: '3', WEBHOOK_RETRY_WINDOW_HOURS: '72' }).webhooks.events_retention_days).toBe(3);
  });

  it('when production takes top-ups through Stripe, then it refuses development, test-mode and plain-HTTP Stripe settings', () => {
    const secrets = {
      AUTH_JWT_SECRET: REAL_JWT,
      PSP_WEBHOOK_SECRET: REAL_PSP,
      PAYOUT_WEBHOOK_SECRET: REAL_PAYOUT,
      WEBHOOK_SECRETS_KEY: REAL_WEBHOOK_KEY,
      PAYOUT_PROVIDER_URL: 'https://payouts.example.com',
    };
    const base = { NODE_ENV: 'production', DATABASE_URL: URL, ...secrets };
    const live = { STRIPE_SECRET_KEY: 'sk_live_0123456789abcdef', STRIPE_WEBHOOK_SECRET: 'whsec_0123456789abcdefghij' };
    const start = (env: Record<string, string>) => () => loadConfig({ ...base, PSP_PROVIDER: 'stripe', ...live, ...env });
    expect(start({ STRIPE_SECRET_KEY: DEVELOPMENT_STRIPE_SECRET_KEY })).toThrow(/STRIPE_SECRET_KEY is the development key/);
    expect(start({ STRIPE_SECRET_KEY: 'rk_test_0123456789abcdef' })).toThrow(/STRIPE_SECRET_KEY is a test-mode key/);
    expect(start({ STRIPE_WEBHOOK_SECRET: DEVELOPMENT_STRIPE_WEBHOOK_SECRET })).toThrow(/STRIPE_WEBHOOK_SECRET is the development secret/);
    expect(start({ STRIPE_API_BASE_URL: 'http://stripe.internal:8080' })).toThrow(/STRIPE_API_BASE_URL must be https/);
    expect(start({})().stripe).toMatchObject({ secret_key: live.STRIPE_SECRET_KEY, api_address: undefined });
    // Without Stripe, its settings are not looked at.
    expect(loadConfig(base).psp_provider).toBe('generic');
  });

  it('when the Stripe settings contradict the others, then start-up fails naming them', () => {
    const stripe = (env: Record<string, string>) => () => loadConfig({ PSP_PROVIDER: 'stripe', ...env });
    expect(stripe({ STRIPE_CURRENCIES: 'EUR,JPY' })).toThrow(/STRIPE_CURRENCIES names currencies that are not in CURRENCIES: JPY/);
    expect(stripe({ STRIPE_TIMEOUT_MS: '20000', STRIPE_MAX_NETWORK_RETRIES: '1' })).toThrow(/must stay below HTTP_REQUEST_TIMEOUT_MS/);
    expect(stripe({ STRIPE_API_BASE_URL: 'http://127.0.0.1:12111/v1' })).toThrow(/STRIPE_API_BASE_URL/);
    expect(stripe({ STRIPE_SECRET_KEY: 'pk_live_0123456789abcdef' })).toThrow(/STRIPE_SECRET_KEY/);
    // A live key with a stray newline (from a mounted secret file) is refused without being quoted.
    const live_key = `sk_live_${'k3y'.repeat(8)}`;
    expect(stripe({ STRIPE_SECRET_KEY: `${live_key}\n` })).toThrow(/STRIPE_SECRET_KEY is not valid/);
    expect(stripe({ STRIPE_SECRET_KEY: `${live_key}\n` })).not.toThrow(live_key);
    expect(stripe({ STRIPE_API_BASE_URL: 'http://127.0.0.1:12111' })().stripe.api_address).toEqual({
      protocol: 'http',
      host: '127.0.0.1',
      port: 12111,
    });
  });

  it('when development starts without secrets, then it uses the development ones', () => {
    const config = loadConfig({});
    expect(config.auth_jwt_secret).toBe(DEVELOPMENT_JWT_SECRET);
    expect(config.psp_webhook_secret).toBe(DEVELOPMENT_PSP_SECRET);
    expect(config.limits).toMatchObject({
      amount_max_minor: 1e12,
      balance_max_minor: 1e15,
      order_lines_max: 50,
      body_limit_bytes: 65536,
      page_size_max: 200,
    });
  });

  it('when a setting is invalid, then start-up fails with every problem named', () => {
    const attempt = () => loadConfig({ TX_ATTEMPTS_MAX: '0', REGIONS: 'eu-west,mars', AUTH_JWT_SECRET: 'short' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/TX_ATTEMPTS_MAX/);
    expect(attempt).toThrow(/mars/);
    expect(attempt).toThrow(/AUTH_JWT_SECRET/);
    // A claim's scan is rows, at least one, bounded.
    for (const rows of ['0', '1.5', 'lots', '100001'])
      expect(() => loadConfig({ WEBHOOK_CLAIM_SCAN_MAX: rows })).toThrow(/WEBHOOK_CLAIM_SCAN_MAX/);
    expect(loadConfig({ WEBHOOK_CLAIM_SCAN_MAX: '50' }).webhooks.claim_scan_max).toBe(50);
  });

  it('database faults: the client query timeout follows the statement timeout unless set and must exceed it; backoffs in order', () => {
    expect(loadConfig({ DB_STATEMENT_TIMEOUT_MS: '30000' })).toMatchObject({ db_statement_timeout_ms: 30000, db_query_timeout_ms: 35000 });
    expect(loadConfig({ DB_QUERY_TIMEOUT_MS: '16000' }).db_query_timeout_ms).toBe(16000);
    expect(() => loadConfig({ DB_STATEMENT_TIMEOUT_MS: '20000', DB_QUERY_TIMEOUT_MS: '20000' })).toThrow(/DB_QUERY_TIMEOUT_MS/);
    expect(() => loadConfig({ DB_WAIT_BACKOFF_INITIAL_MS: '5000', DB_WAIT_BACKOFF_MAX_MS: '1000' })).toThrow(/DB_WAIT_BACKOFF_MAX_MS/);
    expect(() => loadConfig({ SUPERVISOR_BACKOFF_INITIAL_MS: '5000', SUPERVISOR_BACKOFF_MAX_MS: '1000' })).toThrow(
      /SUPERVISOR_BACKOFF_MAX_MS/,
    );
    expect(() => loadConfig({ WORKER_INTERVAL_MS: '5000', WORKER_BACKOFF_MAX_MS: '1000' })).toThrow(/WORKER_BACKOFF_MAX_MS/);
  });
});

describe('logging', () => {
  it('never writes credentials: authorization headers, signatures, tokens, passwords, database URLs', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write: (chunk, _encoding, done) => {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ level: 'info' }, sink);
    logger.info(
      {
        headers: { authorization: 'Bearer eyJsecret', 'psp-signature': 't=1,v1=abc', 'stripe-signature': 't=2,v1=def' },
        token: 'eyJtoken',
        payment: { client_secret: 'pi_1_secret_2' },
        stripe: { secret_key: 'sk_live_3', webhook_secret: 'whsec_4' },
        config: { database_url: 'postgres://u:hunter2@db/x', password: 'hunter2' },
      },
      'request',
    );
    const output = lines.join('');
    for (const secret of ['eyJsecret', 't=1,v1=abc', 't=2,v1=def', 'eyJtoken', 'hunter2', 'pi_1_secret_2', 'sk_live_3', 'whsec_4']) {
      expect(output).not.toContain(secret);
    }
    expect(output).toContain('[redacted]');
  });
});
