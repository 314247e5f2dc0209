import { expect } from 'vitest';
import { request, tokens, uniqueId, type ApiResponse, type TestCluster } from './cluster.js';

/** Tokens and small API helpers shared by the ledger test files. */
export interface LedgerHarness {
  cluster: TestCluster;
  mint: ReturnType<typeof tokens>;
  /** accounts:write credits:write */
  service: string;
  admin: string;
  /** The pod urls in region order (eu-west, us-east, ap-south). */
  urls: string[];
  /** The pod url for request number i: spreads load round-robin over every pod. */
  pod(i: number): string;
  openAccount(balance: number, options?: { currency?: string; home_region?: string; base?: string }): Promise<string>;
  wallet(account_id: string, currency?: string): Promise<{ currency: string; balance: number; held: number; available: number }>;
  /** Every history item of an account, newest first, by walking all pages. */
  history(account_id: string, options?: { limit?: number }): Promise<any[]>;
  reconcile(): Promise<ApiResponse>;
  expectReconcileClean(): Promise<void>;
}

export const key = () => uniqueId('k');

export async function ledgerHarness(cluster: TestCluster): Promise<LedgerHarness> {
  const mint = tokens(cluster.config);
  const service = await mint.service('accounts:write credits:write', 'game-server');
  const admin = await mint.service('admin', 'ops');
  const urls = cluster.pods.map((pod) => pod.url);
  const harness: LedgerHarness = {
    cluster,
    mint,
    service,
    admin,
    urls,
    pod: (i) => urls[i % urls.length]!,
    async openAccount(balance, options = {}) {
      const currency = options.currency ?? 'EUR';
      const base = options.base ?? urls[0]!;
      const id = uniqueId('p');
      const body = { id, currency, ...(options.home_region ? { home_region: options.home_region } : {}) };
      const created = await request(base, 'POST', '/v1/accounts', body, { token: service, key: key() });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      if (balance > 0) {
        const credit = await request(
          base,
          'POST',
          `/v1/accounts/${id}/credits`,
          { amount: balance, currency, reason: 'seed' },
          { token: service, key: key() },
        );
        expect(credit.status, JSON.stringify(credit.body)).toBe(201);
      }
      return id;
    },
    async wallet(account_id, currency = 'EUR') {
      const wallets = await request(urls[0]!, 'GET', `/v1/accounts/${account_id}/wallets`, undefined, { token: service });
      expect(wallets.status).toBe(200);
      const wallet = wallets.body.data.find((candidate: { currency: string }) => candidate.currency === currency);
      expect(wallet, `${account_id} has a ${currency} wallet`).toBeDefined();
      return wallet;
    },
    async history(account_id, options = {}) {
      const items: any[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 1000; page += 1) {
        const query: URLSearchParams = new URLSearchParams({ limit: String(options.limit ?? 200), ...(cursor ? { cursor } : {}) });
        const response: ApiResponse = await request(
          urls[page % urls.length]!,
          'GET',
          `/v1/accounts/${account_id}/transactions?${query}`,
          undefined,
          { token: service },
        );
        expect(response.status).toBe(200);
        items.push(...response.body.data);
        cursor = response.body.next_cursor;
        if (cursor === null) return items;
      }
      throw new Error('history did not end');
    },
    reconcile: () => request(urls[0]!, 'POST', '/v1/admin/reconcile', undefined, { token: admin }),
    async expectReconcileClean() {
      const report = await harness.reconcile();
      expect(report.status).toBe(200);
      expect(report.body).toEqual({ ok: true, mismatches: [] });
    },
  };
  return harness;
}

/** Counts responses by "status code" (e.g. "201", "409 insufficient_funds"). */
export function tally(responses: readonly ApiResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const response of responses) {
    const label = response.status >= 400 ? `${response.status} ${response.body?.code}` : String(response.status);
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}
