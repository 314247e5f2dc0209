import { expect } from 'vitest';
import type { Config } from '../../src/platform/config.js';
import { request, startCluster, tokens, uniqueId, type ApiResponse, type TestCluster } from './cluster.js';

/** Tokens and small API helpers shared by the shop test files; works against any set of pod urls. */
export interface ShopHarness {
  /** Pod urls; pod(i) spreads requests round-robin over them. */
  urls: string[];
  pod(i: number): string;
  mint: ReturnType<typeof tokens>;
  /** accounts:write credits:write */
  service: string;
  catalog: string;
  refunds: string;
  admin: string;
  putItem(fields: Record<string, unknown>, id?: string): Promise<string>;
  /** A player account with `balance` in `currency`, and its token; `id` when the test needs a given one. */
  player(balance: number, currency?: string, id?: string): Promise<{ id: string; token: string }>;
  wallet(account_id: string, currency?: string): Promise<{ currency: string; balance: number; held: number; available: number }>;
  /** Every order of an account, newest first, walking all pages. */
  orders(account_id: string, limit?: number): Promise<any[]>;
  entitlements(account_id: string): Promise<any[]>;
  expectReconcileClean(): Promise<void>;
}

export const key = () => uniqueId('k');

/** In-process pods on the shared PostgreSQL and a harness over all of them. */
export async function startShopCluster(
  options: Parameters<typeof startCluster>[0] = {},
): Promise<{ cluster: TestCluster; h: ShopHarness }> {
  const cluster = await startCluster(options);
  const h = await shopHarness(
    cluster.pods.map((pod) => pod.url),
    cluster.config,
  );
  return { cluster, h };
}

export async function shopHarness(urls: string[], config: Config): Promise<ShopHarness> {
  const mint = tokens(config);
  const service = await mint.service('accounts:write credits:write', 'game-server');
  const catalog = await mint.service('catalog:write', 'back-office');
  const refunds = await mint.service('refunds:write', 'support-desk');
  const admin = await mint.service('admin', 'ops');
  const base = () => urls[0]!;
  const walk = async (path: string, limit: number) => {
    const items: any[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 1000; page += 1) {
      const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
      const response: ApiResponse = await request(urls[page % urls.length]!, 'GET', `${path}?${query}`, undefined, { token: service });
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      items.push(...response.body.data);
      cursor = response.body.next_cursor;
      if (cursor === null) return items;
    }
    throw new Error(`${path} did not end`);
  };
  return {
    urls,
    pod: (i) => urls[i % urls.length]!,
    mint,
    service,
    catalog,
    refunds,
    admin,
    async putItem(fields, id = uniqueId('item')) {
      const kind = fields.kind ?? 'skin';
      const body = { name: `Item ${id}`, kind, active: true, refundable: kind !== 'consumable', currency: 'EUR', ...fields };
      const response = await request(base(), 'PUT', `/v1/items/${id}`, body, { token: catalog });
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      return id;
    },
    async player(balance, currency = 'EUR', id = uniqueId('p')) {
      const created = await request(base(), 'POST', '/v1/accounts', { id, currency }, { token: service, key: key() });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      if (balance > 0) {
        const credit = await request(
          base(),
          'POST',
          `/v1/accounts/${id}/credits`,
          { amount: balance, currency, reason: 'seed' },
          { token: service, key: key() },
        );
        expect(credit.status, JSON.stringify(credit.body)).toBe(201);
      }
      return { id, token: await mint.player(id) };
    },
    async wallet(account_id, currency = 'EUR') {
      const wallets = await request(base(), 'GET', `/v1/accounts/${account_id}/wallets`, undefined, { token: service });
      expect(wallets.status).toBe(200);
      return (
        wallets.body.data.find((wallet: { currency: string }) => wallet.currency === currency) ?? {
          currency,
          balance: 0,
          held: 0,
          available: 0,
        }
      );
    },
    orders: (account_id, limit = 200) => walk(`/v1/accounts/${account_id}/orders`, limit),
    entitlements: (account_id) => walk(`/v1/accounts/${account_id}/entitlements`, 200),
    async expectReconcileClean() {
      const report = await request(base(), 'POST', '/v1/admin/reconcile', undefined, { token: admin });
      expect(report.status).toBe(200);
      expect(report.body).toEqual({ ok: true, mismatches: [] });
    },
  };
}

/** Asserts an RFC 9457 problem with the given status and code. */
export function expectProblem(response: ApiResponse, status: number, code: string): void {
  expect({ status: response.status, code: response.body?.code }, JSON.stringify(response.body)).toEqual({ status, code });
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  expect(response.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String), code });
  expect(JSON.stringify(response.body)).not.toMatch(/\bat .*\.ts:\d+/);
}

export { tally } from './ledger.js';
