import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { mintToken } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { loadTopology } from '../../src/platform/regions.js';
import { startPod, type Pod } from '../../src/pod.js';
import { contractOf, recordViolations } from './openapi-contract.js';

export interface TestCluster {
  config: Config;
  pods: Pod[];
  /** The pod of a region. */
  pod(region: string): Pod;
  stop(): Promise<void>;
}

/**
 * KYC limits are off unless a test turns them on: the other suites move amounts (up to the wallet
 * maximum) that an unverified account may not; test/wallet covers the limits.
 */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: inject('database_url'),
    LOG_LEVEL: 'silent',
    DB_POOL_MAX: '12',
    KYC_LIMITS_ENABLED: 'false',
    ...overrides,
  });
}

/** One in-process pod per region, on random ports, against the shared test database (or env.DATABASE_URL). */
export async function startCluster(options: { env?: Record<string, string>; workers?: boolean } = {}): Promise<TestCluster> {
  const config = testConfig(options.env);
  const topology = loadTopology();
  const pods = await Promise.all(
    topology.regions.map((region) =>
      startPod({
        config,
        topology,
        region: region.name,
        database_url: options.env?.['DATABASE_URL'] ?? inject('database_url'),
        host: '127.0.0.1',
        port: 0,
        process_metrics: false,
        run_workers: options.workers ?? false,
        logger: createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent', region: region.name }),
      }),
    ),
  );
  return {
    config,
    pods,
    pod: (region) => pods.find((pod) => pod.deps.region === region) ?? pods[0]!,
    stop: async () => {
      await Promise.all(pods.map((pod) => pod.stop()));
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  /** The body exactly as received, for byte-for-byte comparisons. */
  text: string;
}

export interface RequestOptions {
  token?: string;
  key?: string;
  headers?: Record<string, string>;
  raw?: string | Buffer;
}

/**
 * One HTTP request to a pod. Every answer is checked against the /openapi.json the pod publishes
 * (test/support/openapi-contract.ts); what departs from it fails the test (contract-setup.ts).
 */
export async function request<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['Authorization'] = `Bearer ${options.token}`;
  if (options.key) headers['Idempotency-Key'] = options.key;
  const raw = typeof options.raw === 'string' || options.raw === undefined ? options.raw : new Uint8Array(options.raw);
  const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
  if (payload !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
  const contract = await contractOf(base);
  const response = await fetch(`${base}${path}`, { method, headers, body: payload });
  const text = await response.text();
  recordViolations(contract, { method, path, status: response.status, headers: response.headers, text });
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Non-JSON bodies (Prometheus text) are returned as text.
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}

export function tokens(config: Config) {
  const settings = { secret: config.auth_jwt_secret };
  return {
    player: (sub: string, expires_in_seconds = 600) => mintToken({ sub, expires_in_seconds }, settings),
    service: (scope: string, sub = 'test-service') => mintToken({ sub, scope, expires_in_seconds: 600 }, settings),
  };
}
