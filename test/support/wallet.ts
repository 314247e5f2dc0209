import { expect, inject } from 'vitest';
import pg from 'pg';
import { request, type ApiResponse, type TestCluster } from './cluster.js';
import { key, ledgerHarness, type LedgerHarness } from './ledger.js';

/** The ledger harness plus what the wallet tests (issue 11) need: compliance and admin calls, and SQL for inspection. */
export interface WalletHarness extends LedgerHarness {
  /** compliance:write */
  compliance: string;
  sql: pg.Pool;
  post(path: string, body: unknown, token: string, options?: { pod?: number; key?: string }): Promise<ApiResponse>;
  get(path: string, token: string, pod?: number): Promise<ApiResponse>;
  put(path: string, body: unknown, token: string): Promise<ApiResponse>;
  setTier(account_id: string, tier: number): Promise<void>;
  setLimits(account_id: string, changes: Record<string, number | boolean | null>): Promise<ApiResponse>;
  stop(): Promise<void>;
}

/** `database_url`: the database the cluster runs on, when not the shared test database (a scratch one). */
export async function walletHarness(cluster: TestCluster, options: { database_url?: string } = {}): Promise<WalletHarness> {
  const ledger = await ledgerHarness(cluster);
  const compliance = await ledger.mint.service('compliance:write', 'compliance-desk');
  const sql = new pg.Pool({ connectionString: options.database_url ?? inject('database_url'), max: 2 });
  const harness: WalletHarness = {
    ...ledger,
    compliance,
    sql,
    post: (path, body, token, options = {}) =>
      request(ledger.pod(options.pod ?? 0), 'POST', path, body, { token, key: options.key ?? key() }),
    get: (path, token, pod = 0) => request(ledger.pod(pod), 'GET', path, undefined, { token }),
    put: (path, body, token) => request(ledger.urls[0]!, 'PUT', path, body, { token }),
    async setTier(account_id, tier) {
      const response = await harness.put(`/v1/accounts/${account_id}/kyc`, { tier, reason: 'test' }, compliance);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
    },
    setLimits: (account_id, changes) => harness.put(`/v1/accounts/${account_id}/limits`, changes, compliance),
    async stop() {
      await sql.end();
      await cluster.stop();
    },
  };
  return harness;
}

/** Polls `probe` until it returns a value, every 25 ms, for at most `within_ms`. */
export async function waitFor<T>(what: string, within_ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + within_ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${within_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
