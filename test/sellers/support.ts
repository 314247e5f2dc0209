import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { startSellerSimulator, type SellerSimulator, type SimulatedSellerSpec } from '../../tools/seller-simulator/seller-simulator.js';
import { request, startCluster, testConfig, tokens, uniqueId } from '../support/cluster.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database.js';

const PROVISION_CONCURRENCY = 4;
const UNAVAILABLE_RETRIES_MAX = 5;

/**
 * A database of its own for a seller test file: the registry, jobs and shared seller state are
 * global to a database, so a file sharing one with others would fan out to their sellers and
 * run their jobs.
 */
export function isolatedDatabase(): Promise<ScratchDatabase> {
  return createScratchDatabase(inject('database_url'), 'sellers');
}

/** Where the sellers answer: the simulator, or a purpose-built server of a test. */
export interface SellerHost {
  baseUrl(seller_id: string): string;
  close(): Promise<void>;
}

/** What the registry needs of a seller. */
export type RegisteredSeller = Pick<SimulatedSellerSpec, 'id' | 'supports_holds' | 'rate_limit_per_minute'>;

export interface SellerWorldOptions {
  sellers: RegisteredSeller[];
  /** Extra pod settings (SELLER_*, JOB_*). */
  env?: Record<string, string>;
  /** The simulator's rate window; the pods get the same SELLER_RATE_WINDOW_MS. */
  window_ms?: number;
  /** Registry timeout per seller; default 1000 ms. */
  timeout_ms?: number;
}

/** A database, pods running the job workers, a seller simulator (or another host), and the sellers registered. */
export class SellerWorld<Host extends SellerHost = SellerSimulator> {
  private constructor(
    private readonly urls: string[],
    readonly simulator: Host,
    readonly database: ScratchDatabase,
    readonly admin: string,
    readonly service: string,
    private readonly mint: ReturnType<typeof tokens>,
    private readonly stop_pods: () => Promise<void>,
  ) {}

  /** Three in-process pods (one per region) against a database of their own, and the simulator. */
  static async start(options: SellerWorldOptions & { sellers: SimulatedSellerSpec[] }): Promise<SellerWorld> {
    const window_ms = options.window_ms ?? 60_000;
    return SellerWorld.startWith(await startSellerSimulator({ sellers: options.sellers, window_ms }), options);
  }

  /** Three in-process pods (one per region) against a database of their own, the sellers answering at `host`. */
  static async startWith<H extends SellerHost>(host: H, options: SellerWorldOptions): Promise<SellerWorld<H>> {
    const window_ms = options.window_ms ?? 60_000;
    const database = await isolatedDatabase();
    const cluster = await startCluster({ workers: true, env: { DATABASE_URL: database.url, ...podEnv(window_ms), ...options.env } });
    return SellerWorld.attach({
      ...options,
      urls: cluster.pods.map((pod) => pod.url),
      simulator: host,
      database,
      stop_pods: () => cluster.stop(),
    });
  }

  /** Pods started elsewhere (e.g. real processes) on `database`, with podEnv() settings. */
  static async attach<H extends SellerHost>(
    options: SellerWorldOptions & { urls: string[]; simulator: H; database: ScratchDatabase; stop_pods: () => Promise<void> },
  ): Promise<SellerWorld<H>> {
    const mint = tokens(testConfig());
    const world = new SellerWorld(
      options.urls,
      options.simulator,
      options.database,
      await mint.service('admin', 'ops'),
      await mint.service('accounts:write credits:write', 'game-server'),
      mint,
      options.stop_pods,
    );
    await world.register(options.sellers, options.timeout_ms ?? 1000);
    return world;
  }

  url(index = 0): string {
    return this.urls[index % this.urls.length]!;
  }

  /** Stops talking to a pod (it was killed). */
  forget(url: string): void {
    this.urls.splice(this.urls.indexOf(url), 1);
  }

  async register(sellers: readonly RegisteredSeller[], timeout_ms: number): Promise<void> {
    const batch_size = 20;
    for (let start = 0; start < sellers.length; start += batch_size) {
      await Promise.all(
        sellers.slice(start, start + batch_size).map(async (spec, index) => {
          const body = {
            base_url: this.simulator.baseUrl(spec.id),
            rate_limit_per_minute: spec.rate_limit_per_minute ?? 100_000,
            timeout_ms,
            supports_holds: spec.supports_holds ?? true,
            active: true,
          };
          await this.write('PUT', `/v1/sellers/${spec.id}`, body, this.admin, start + index);
        }),
      );
    }
  }

  /** A funded player account; returns its id and a player token. */
  async player(balance_minor: number, currency = 'EUR'): Promise<{ id: string; token: string }> {
    const id = uniqueId('buyer');
    await this.write('POST', '/v1/accounts', { id, currency }, this.service);
    await this.write('POST', `/v1/accounts/${id}/credits`, { amount: balance_minor, currency, reason: 'seed' }, this.service);
    return { id, token: await this.mint.player(id) };
  }

  /** Expects a 2xx; a 503 is retried with the same Idempotency-Key (SPEC §4: safe to retry). */
  async write(method: 'POST' | 'PUT', path: string, body: unknown, token: string, pod = 0): Promise<any> {
    const key = uniqueId('k');
    for (let attempt = 1; ; attempt += 1) {
      const response = await request(this.url(pod), method, path, body, { token, key });
      if (response.status >= 200 && response.status < 300) return response.body;
      if (response.status !== 503 || attempt >= UNAVAILABLE_RETRIES_MAX)
        throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
      await sleep(50 * attempt);
    }
  }

  /** `count` funded players, created a few at a time (account creation is not what these tests load). */
  async players(count: number, balance_minor: number): Promise<Array<{ id: string; token: string }>> {
    const players: Array<{ id: string; token: string }> = [];
    for (let start = 0; start < count; start += PROVISION_CONCURRENCY) {
      players.push(
        ...(await Promise.all(Array.from({ length: Math.min(PROVISION_CONCURRENCY, count - start) }, () => this.player(balance_minor)))),
      );
    }
    return players;
  }

  async purchase(buyer: { id: string; token: string }, product_id: string, max_price: number, pod = 0): Promise<string> {
    return (
      await this.write('POST', '/v1/purchase-requests', { account_id: buyer.id, product_id, max_price, currency: 'EUR' }, buyer.token, pod)
    ).id as string;
  }

  /** Polls the status URL until `done` holds for the request (or `within_ms` passes). */
  async until(buyer: { token: string }, id: string, done: (body: any) => boolean, within_ms = 30_000): Promise<any> {
    const deadline = Date.now() + within_ms;
    for (;;) {
      const response = await request(this.url(), 'GET', `/v1/purchase-requests/${id}`, undefined, { token: buyer.token });
      if (response.status !== 200) throw new Error(`status: ${response.status} ${JSON.stringify(response.body)}`);
      if (done(response.body)) return response.body;
      if (Date.now() > deadline)
        throw new Error(`purchase request ${id} not as expected within ${within_ms} ms: ${JSON.stringify(response.body)}`);
      await sleep(50);
    }
  }

  /** Polls the status URL until the request is final (or `within_ms` passes). */
  final(buyer: { token: string }, id: string, within_ms = 30_000): Promise<any> {
    return this.until(buyer, id, (body) => body.status !== 'pending', within_ms);
  }

  async wallet(buyer: { id: string; token: string }): Promise<{ balance: number; held: number; available: number }> {
    const response = await request(this.url(), 'GET', `/v1/accounts/${buyer.id}/wallets`, undefined, { token: buyer.token });
    return response.body.data[0];
  }

  async seller(id: string): Promise<any> {
    return (await request(this.url(), 'GET', `/v1/sellers/${id}`, undefined, { token: this.admin })).body;
  }

  async reconcile(): Promise<{ ok: boolean; mismatches: unknown[] }> {
    return (await request(this.url(), 'POST', '/v1/admin/reconcile', undefined, { token: this.admin })).body;
  }

  /** The ledger transactions of the buyer's account (newest first). */
  async history(buyer: { id: string; token: string }): Promise<any[]> {
    return (await request(this.url(), 'GET', `/v1/accounts/${buyer.id}/transactions`, undefined, { token: buyer.token })).body.data;
  }

  async stop(): Promise<void> {
    await this.stop_pods();
    await this.simulator.close();
    await this.database.drop();
  }
}

/** Pod settings of the seller tests: the simulator's rate window, fast job polling. */
export function podEnv(window_ms = 60_000): Record<string, string> {
  return { SELLER_RATE_WINDOW_MS: String(window_ms), JOB_POLL_INTERVAL_MS: '100', WORKER_INTERVAL_MS: '200' };
}

/** A fixed seller: one product at one price, plenty of stock, instant answers unless told otherwise. */
export function fixedSeller(
  id: string,
  price_minor: number,
  overrides: Partial<SimulatedSellerSpec> = {},
  product_id = 'book-1',
): SimulatedSellerSpec {
  return { id, prices: { [product_id]: price_minor }, stock: { [product_id]: 100 }, ...overrides };
}
