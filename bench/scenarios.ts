import type pg from 'pg';
import { outcomeOf, type PodClient } from './api.js';
import { baselineDebit } from './baseline.js';
import { UNLIMITED_CURRENCY, withdrawalClients, withdrawalRoundTrip } from './wallet.js';
import type { Operation } from './load.js';

export const CURRENCY = 'EUR';
const DEBIT_MINOR = 100;

/** Cumulative counters of whoever runs the transactions (the pods; a bare pg client counts none). */
export interface Counts {
  /** Batches run again whole (40001, 40P01, 40003, a raced insert). */
  retries: number;
  /** Round trips to the database, every path. */
  round_trips: number;
  /** Batches that queued behind other pods on a hot account. */
  queued: number;
  /** Requests resent on a fresh connection after a stale keep-alive socket (HTTP only). */
  stale_socket_resends: number;
}

export interface Scenario {
  id: string;
  /** `service`: through the pods' HTTP API, where every request must get a definite answer. */
  kind: 'sql' | 'service';
  title: string;
  concurrency: number;
  operation: Operation;
  counts: () => Promise<Counts>;
}

export interface Fixtures {
  accounts: string[];
  /** A player token per account (sub = the account): every request is the player's own. */
  tokens: Map<string, string>;
  /** The two catalog items of every order. */
  items: string[];
  /** One wallet for the single client, one for the many clients (neither inherits the other's queue state). */
  hot_single: string;
  hot_shared: string;
  baseline_wallets: string[];
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

export interface ScenarioContext {
  client: PodClient;
  /** One connection per client, for the baseline. */
  baseline_pool: pg.Pool;
  fixtures: Fixtures;
  concurrency: number;
}

/** A debit by the player of the wallet, with a fresh Idempotency-Key. */
function debit(context: ScenarioContext, account: () => string, currency = CURRENCY): Operation {
  const { client, fixtures } = context;
  return async () => {
    const id = account();
    const body = { amount: DEBIT_MINOR, currency, reason: 'bench' };
    return outcomeOf(await client.post(`/v1/accounts/${id}/debits`, body, undefined, fixtures.tokens.get(id)), 201);
  };
}

function order(context: ScenarioContext): Operation {
  const { client, fixtures } = context;
  const lines = fixtures.items.map((item_id) => ({ item_id, quantity: 1 }));
  return async () => {
    const account_id = pick(fixtures.accounts);
    return outcomeOf(await client.post('/v1/orders', { account_id, lines }, undefined, fixtures.tokens.get(account_id)), 201);
  };
}

function transfer(context: ScenarioContext): Operation {
  const { client, fixtures } = context;
  return async () => {
    const from_account_id = pick(fixtures.accounts);
    let to_account_id = pick(fixtures.accounts);
    while (to_account_id === from_account_id) to_account_id = pick(fixtures.accounts);
    const body = { from_account_id, to_account_id, amount: DEBIT_MINOR, currency: CURRENCY };
    return outcomeOf(await client.post('/v1/transfers', body, undefined, fixtures.tokens.get(from_account_id)), 201);
  };
}

/**
 * The scenarios by id. `m`/`mh`: the baseline per-request debit (bench/baseline.ts) on random
 * wallets / one wallet; `b`, `d`, `d1`, `o`, `c`: the same shapes of request through the service.
 */
export function scenarios(context: ScenarioContext, counts: () => Promise<Counts>): Record<string, Scenario> {
  const { fixtures, concurrency, baseline_pool } = context;
  const none = async (): Promise<Counts> => ({ retries: 0, round_trips: 0, queued: 0, stale_socket_resends: 0 });
  const service = (id: string, title: string, operation: Operation, clients = concurrency): Scenario => ({
    id,
    kind: 'service',
    title,
    concurrency: clients,
    operation,
    counts,
  });
  return {
    m: {
      id: 'm',
      kind: 'sql',
      title: 'baseline: per-request debit txn via pg.Pool, READ COMMITTED, random wallets',
      concurrency,
      operation: baselineDebit(baseline_pool, () => pick(fixtures.baseline_wallets)),
      counts: none,
    },
    mh: {
      id: 'mh',
      kind: 'sql',
      title: 'baseline on ONE wallet',
      concurrency,
      operation: baselineDebit(baseline_pool, () => fixtures.baseline_wallets[0]!),
      counts: none,
    },
    b: service(
      'b',
      'HTTP debits, random wallets, player tokens',
      debit(context, () => pick(fixtures.accounts)),
    ),
    d: service(
      'd',
      'HTTP debits, ONE wallet, all clients',
      debit(context, () => fixtures.hot_shared),
    ),
    d1: service(
      'd1',
      'HTTP debits, ONE wallet, 1 client',
      debit(context, () => fixtures.hot_single),
      1,
    ),
    o: service('o', 'HTTP orders, 2 lines, immediate', order(context)),
    c: service('c', 'HTTP transfers player -> player', transfer(context)),
    // Issue 11: KYC limits applied (checked and charged on the wallet row) against none applying.
    k1: service(
      'k1',
      `HTTP debits, KYC limits applied (${CURRENCY}, tier 2)`,
      debit(context, () => pick(fixtures.accounts)),
    ),
    k0: service(
      'k0',
      `HTTP debits, no KYC limit applies (${UNLIMITED_CURRENCY})`,
      debit(context, () => pick(fixtures.accounts), UNLIMITED_CURRENCY),
    ),
    w: service(
      'w',
      'HTTP withdrawal round trip: POST, payout call, signed callback, GET shows PAID',
      withdrawalRoundTrip(context.client, () => pick(fixtures.accounts)),
      withdrawalClients(concurrency),
    ),
  };
}
