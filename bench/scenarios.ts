import type pg from 'pg';
import type { Config } from '../src/platform/config.js';
import { outcomeOf, type PodClient } from './api.js';
import type { Operation } from './load.js';
import { ceilingOperation, type CeilingWork } from './sql-ceiling.js';
import { debitOperation, UNLIMITED_CURRENCY, withdrawalClients, withdrawalRoundTrip } from './wallet.js';

export const CURRENCY = 'EUR';
const DEBIT_MINOR = 100;
// Pods use shards (region_index * 64 + pod_index) * 1024 + slot; the ceiling takes pod index 63 of region 0.
const CEILING_SHARD_BASE = 63 * 1024;

/** Cumulative counts of whoever runs the transactions (the pods, or the pg client of the ceiling). */
export interface RetryCounts {
  retries: number;
  /** Transactions that queued on a contention lock row (pods only). */
  contention_locks?: number;
  /** Requests resent on a fresh connection after a stale keep-alive socket (HTTP only). */
  stale_socket_resends?: number;
}

export interface Scenario {
  id: string;
  /** `service`: through the pods' HTTP API, where every request must get a definite answer. */
  kind: 'sql' | 'service';
  title: string;
  concurrency: number;
  operation: Operation;
  counts: () => Promise<RetryCounts>;
}

export interface Fixtures {
  accounts: string[];
  /** The two catalog items of every purchase (scenarios o and q). */
  items: string[];
  /** One wallet for the single client, one for the many clients (neither inherits the other's contention state). */
  hot_single: string;
  hot_shared: string;
}

function pick(accounts: readonly string[]): string {
  return accounts[Math.floor(Math.random() * accounts.length)]!;
}

const httpDebit = (client: PodClient, account: () => string): Operation => debitOperation(client, account, CURRENCY);

/**
 * Each client buys for its own share of the accounts (worker w: accounts w, w + n, w + 2n, …),
 * so that no two orders in flight ever pay from the same wallet.
 */
function accountOfWorker(accounts: readonly string[], concurrency: number): (worker: number) => string {
  return (worker) => {
    const share = Math.floor((accounts.length - 1 - worker) / concurrency) + 1;
    return accounts[worker + concurrency * Math.floor(Math.random() * share)]!;
  };
}

function purchaseLines(fixtures: Fixtures) {
  return fixtures.items.map((item_id) => ({ item_id, quantity: 1 }));
}

function httpPurchase(
  client: PodClient,
  account: (worker: number) => string,
  lines: Array<{ item_id: string; quantity: number }>,
): Operation {
  return async (worker) => outcomeOf(await client.post('/v1/orders', { account_id: account(worker), lines }), 201);
}

function httpTransfer(client: PodClient, accounts: readonly string[]): Operation {
  return async () => {
    const from_account_id = pick(accounts);
    let to_account_id = pick(accounts);
    while (to_account_id === from_account_id) to_account_id = pick(accounts);
    return outcomeOf(await client.post('/v1/transfers', { from_account_id, to_account_id, amount: DEBIT_MINOR, currency: CURRENCY }), 201);
  };
}

export interface ScenarioContext {
  config: Config;
  client: PodClient;
  /** One connection per client (scenario a), or a few connections shared by all clients (scenario p). */
  pools: { per_client: pg.Pool; shared: pg.Pool };
  fixtures: Fixtures;
  concurrency: number;
}

/** The scenarios by flag id; `d` is the pair single client / many clients on one hot wallet. */
export function scenarios(context: ScenarioContext): Record<string, Scenario[]> {
  const { client, pools, fixtures, concurrency } = context;
  const pods = async (): Promise<RetryCounts> => {
    const totals = await client.counters(['db_transaction_retries_total', 'db_contention_locks_total']);
    return {
      retries: totals.db_transaction_retries_total,
      contention_locks: totals.db_contention_locks_total,
      stale_socket_resends: client.stale_socket_resends,
    };
  };
  const all = fixtures.accounts;
  const random = () => pick(all);
  const own_share = accountOfWorker(all, concurrency);
  const per_worker_shard = (worker: number) => CEILING_SHARD_BASE + worker;
  const debit: CeilingWork = { kind: 'debit', amount_minor: DEBIT_MINOR };
  const purchase: CeilingWork = {
    kind: 'purchase',
    lines: purchaseLines(fixtures),
    limits: context.config.limits,
  };
  return {
    a: [ceilingScenario(context, 'a', 'ceiling: debit txn via pg.Pool, random wallets', pools.per_client, debit, random, per_worker_shard)],
    p: [
      ceilingScenario(
        context,
        'p',
        `ceiling with ${pools.shared.options.max} pooled connections`,
        pools.shared,
        debit,
        random,
        per_worker_shard,
      ),
    ],
    r: [
      ceilingScenario(context, 'r', 'ceiling, every debit on ONE @revenue row', pools.per_client, debit, random, () => CEILING_SHARD_BASE),
    ],
    q: [
      ceilingScenario(
        context,
        'q',
        'ceiling: immediate 2-line order txn via pg.Pool',
        pools.per_client,
        purchase,
        own_share,
        per_worker_shard,
      ),
    ],
    o: [
      {
        id: 'o',
        kind: 'service',
        title: 'HTTP POST /v1/orders, 2 lines, immediate, 3 pods',
        concurrency,
        counts: pods,
        operation: httpPurchase(client, own_share, purchaseLines(fixtures)),
      },
    ],
    b: [
      {
        id: 'b',
        kind: 'service',
        title: 'HTTP POST debits (-> @revenue shards), 3 pods',
        concurrency,
        counts: pods,
        operation: httpDebit(client, () => pick(all)),
      },
    ],
    c: [
      {
        id: 'c',
        kind: 'service',
        title: 'HTTP POST transfers player->player, 3 pods',
        concurrency,
        counts: pods,
        operation: httpTransfer(client, all),
      },
    ],
    // Limits applied first: a warm-up advantage, if any, goes to the run without them.
    k: [
      {
        id: 'k1',
        kind: 'service',
        title: `HTTP debits, KYC limits applied (${CURRENCY}, tier 2), 3 pods`,
        concurrency,
        counts: pods,
        operation: debitOperation(client, random, CURRENCY),
      },
      {
        id: 'k0',
        kind: 'service',
        title: `HTTP debits, KYC limits not applied (${UNLIMITED_CURRENCY}), 3 pods`,
        concurrency,
        counts: pods,
        operation: debitOperation(client, random, UNLIMITED_CURRENCY),
      },
    ],
    w: [
      {
        id: 'w',
        kind: 'service',
        title: 'HTTP withdrawal round trip (POST, payout call, signed callback, GET shows PAID) vs the payout simulator',
        concurrency: withdrawalClients(concurrency),
        counts: pods,
        operation: withdrawalRoundTrip(client, random),
      },
    ],
    d: [
      {
        id: 'd1',
        kind: 'service',
        title: 'HTTP debits, ONE wallet, 1 client',
        concurrency: 1,
        counts: pods,
        operation: httpDebit(client, () => fixtures.hot_single),
      },
      {
        id: 'd',
        kind: 'service',
        title: 'HTTP debits, ONE wallet, all clients, 3 pods',
        concurrency,
        counts: pods,
        operation: httpDebit(client, () => fixtures.hot_shared),
      },
    ],
  };
}

function ceilingScenario(
  context: ScenarioContext,
  id: string,
  title: string,
  pool: pg.Pool,
  work: CeilingWork,
  account_of_worker: (worker: number) => string,
  shard_of_worker: (worker: number) => number,
): Scenario {
  const { config, concurrency } = context;
  const counts: RetryCounts = { retries: 0 };
  const operation = ceilingOperation(
    pool,
    {
      account_of_worker,
      currency: CURRENCY,
      region: config.regions[0]!,
      shard_of_worker,
      idempotency_retention_hours: config.idempotency_retention_hours,
      policy: {
        attempts_max: config.limits.transaction_attempts_max,
        backoff_base_ms: config.transaction_backoff_base_ms,
        backoff_max_ms: config.transaction_backoff_max_ms,
      },
      on_retry: () => (counts.retries += 1),
    },
    work,
  );
  return { id, kind: 'sql', title, concurrency, operation, counts: async () => ({ ...counts }) };
}
