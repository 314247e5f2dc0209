import { expect } from 'vitest';
import type { CreditshopClient, Currency, Region, Schemas } from '../../src/client/creditshop-client.js';
import { client } from './client.js';
import { tokens, uniqueId, type ApiResponse, type TestCluster } from './cluster.js';

/** Tokens and small API helpers shared by the ledger test files, on the typed client (test/support/client.ts). */
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
  /** A typed client of pod(i), with the service token unless another is given. */
  api(i: number, token?: string): CreditshopClient;
  openAccount(balance: number, options?: { currency?: Currency; home_region?: Region; base?: string }): Promise<string>;
  wallet(account_id: string, currency?: Currency): Promise<Schemas['Wallet']>;
  /** Every history item of an account, newest first, by walking all pages. */
  history(account_id: string, options?: { limit?: number }): Promise<Schemas['HistoryEntry'][]>;
  reconcile(): Promise<Schemas['ReconciliationReport']>;
  expectReconcileClean(): Promise<void>;
}

export const key = () => uniqueId('k');

/** Pages an account list (history, orders, entitlements) to its end, spreading the pages over `apis`. */
export async function walkPages<Item>(
  apis: readonly CreditshopClient[],
  page: (api: CreditshopClient, cursor: string | undefined) => Promise<{ data?: { data: Item[]; next_cursor: string | null } }>,
): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | undefined;
  for (let index = 0; index < 1000; index += 1) {
    const { data } = await page(apis[index % apis.length]!, cursor);
    expect(data, 'a page of the list').toBeDefined();
    items.push(...data!.data);
    if (data!.next_cursor === null) return items;
    cursor = data!.next_cursor;
  }
  throw new Error('the list did not end');
}

export async function ledgerHarness(cluster: TestCluster): Promise<LedgerHarness> {
  const mint = tokens(cluster.config);
  const service = await mint.service('accounts:write credits:write', 'game-server');
  const admin = await mint.service('admin', 'ops');
  const urls = cluster.pods.map((pod) => pod.url);
  const api = (i: number, token = service) => client(urls[i % urls.length]!, token);
  const harness: LedgerHarness = {
    cluster,
    mint,
    service,
    admin,
    urls,
    pod: (i) => urls[i % urls.length]!,
    api,
    async openAccount(balance, options = {}) {
      const currency = options.currency ?? 'EUR';
      const base = client(options.base ?? urls[0]!, service);
      const id = uniqueId('p');
      const body = { id, currency, ...(options.home_region ? { home_region: options.home_region } : {}) };
      const created = await base.POST('/v1/accounts', { body });
      expect(created.response.status, JSON.stringify(created.error)).toBe(201);
      if (balance > 0) {
        const credit = await base.POST('/v1/accounts/{id}/credits', {
          params: { path: { id } },
          body: { amount: balance, currency, reason: 'seed' },
        });
        expect(credit.response.status, JSON.stringify(credit.error)).toBe(201);
      }
      return id;
    },
    async wallet(account_id, currency = 'EUR') {
      const wallets = await api(0).GET('/v1/accounts/{id}/wallets', { params: { path: { id: account_id } } });
      expect(wallets.response.status).toBe(200);
      const wallet = wallets.data!.data.find((candidate) => candidate.currency === currency);
      expect(wallet, `${account_id} has a ${currency} wallet`).toBeDefined();
      return wallet!;
    },
    history: (account_id, options = {}) =>
      walkPages(
        urls.map((_, i) => api(i)),
        (pod, cursor) =>
          pod.GET('/v1/accounts/{id}/transactions', {
            params: { path: { id: account_id }, query: { limit: options.limit ?? 200, cursor } },
          }),
      ),
    async reconcile() {
      const report = await api(0, admin).POST('/v1/admin/reconcile');
      expect(report.response.status).toBe(200);
      return report.data!;
    },
    async expectReconcileClean() {
      expect(await harness.reconcile()).toEqual({ ok: true, mismatches: [] });
    },
  };
  return harness;
}

/** An answer of request() or of the typed client, whatever its status. */
type Answer = ApiResponse | { response: Response; error?: { code?: string } };

/** Counts answers by "status code" (e.g. "201", "409 insufficient_funds"). */
export function tally(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const [status, code] = 'response' in answer ? [answer.response.status, answer.error?.code] : [answer.status, answer.body?.code];
    const label = status >= 400 ? `${status} ${code}` : String(status);
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}
