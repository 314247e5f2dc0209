import pg from 'pg';
import { openDatabase } from '../src/db/database.js';
import { postTransaction } from '../src/ledger/posting.js';
import type { Posting } from '../src/ledger/postings.js';
import type { Config } from '../src/platform/config.js';
import { createLogger } from '../src/platform/logger.js';
import { loadTopology } from '../src/platform/regions.js';
import { toolDeps } from '../src/pod.js';
import { mintToken } from '../src/auth/tokens.js';
import { BENCH_SERVICE, expectStatus, type PodClient } from './api.js';
import { prepareBaseline } from './baseline.js';
import { forEachConcurrently } from './load.js';
import { CURRENCY, type Fixtures } from './scenarios.js';
import { UNLIMITED_CURRENCY } from './wallet.js';

const ACCOUNT_FUNDING_MINOR = 1_000_000;
const TOKEN_LIFETIME_S = 4 * 3600;
const HOT_WALLET_FUNDING_MINOR = 1_000_000_000;
/** Wallets credited per funding transaction (9 bind parameters per entry; PostgreSQL allows 65,535). */
const FUNDING_BATCH = 500;
const FUNDER = '@bonus';
/**
 * The two items every purchase buys (one of each): 500 per order. A wallet holds
 * ACCOUNT_FUNDING_MINOR = 2,000 orders or 10,000 debits, while a whole run takes a few of either
 * per wallet (about 15,000 operations of each kind over 10,000 wallets).
 */
const PURCHASE_ITEMS = [
  { id: 'bench-item-skin', name: 'Bench skin', kind: 'skin', price: 300 },
  { id: 'bench-item-game', name: 'Bench game', kind: 'game', price: 200 },
] as const;

/**
 * Idempotency records kept from earlier traffic (production keeps 48 h of them). PostgreSQL's
 * SERIALIZABLE locks index pages: with few keys, concurrent requests read and insert the same
 * pages of idempotency_keys and abort each other, and every scenario would run against a bigger
 * index than the one before it. A large, steady index makes the scenarios comparable.
 */
const PREFILLED_IDEMPOTENCY_KEYS = 200_000;

export interface Provisioned {
  fixtures: Fixtures;
  /** Set-up requests repeated with their Idempotency-Key, by reason ("503", "error ECONNRESET"). */
  retried: Record<string, number>;
}

/**
 * Every account is opened through the API (POST /v1/accounts, random order, bounded concurrency).
 * The many benchmark wallets are then funded by the ledger's own postTransaction, in-process:
 * a few balanced multi-leg credits from @bonus instead of 10,000 HTTP round trips (nothing
 * bypasses the ledger, reconciliation checks it at the end). The two hot wallets are funded
 * through POST credits. Last, the idempotency index gets the size of steady traffic.
 */
export async function provision(
  client: PodClient,
  config: Config,
  options: { accounts: number; concurrency: number; baseline_pool: pg.Pool },
): Promise<Provisioned> {
  const accounts = Array.from({ length: options.accounts }, (_, index) => `bench-${index}`);
  const fixtures: Fixtures = {
    accounts,
    tokens: new Map(),
    items: PURCHASE_ITEMS.map((item) => item.id),
    hot_single: 'bench-hot-single',
    hot_shared: 'bench-hot-shared',
    baseline_wallets: await prepareBaseline(options.baseline_pool, options.accounts),
  };
  const settings = { secret: config.auth_jwt_secret };
  for (const id of [...accounts, fixtures.hot_single, fixtures.hot_shared]) {
    fixtures.tokens.set(id, await mintToken({ sub: id, expires_in_seconds: TOKEN_LIFETIME_S }, settings));
  }
  const hot = [fixtures.hot_single, fixtures.hot_shared];
  const retried: Record<string, number> = {};
  const count = (reason: string) => (retried[reason] = (retried[reason] ?? 0) + 1);
  // Random order: concurrent creations of neighbouring ids share index pages and abort each other.
  await forEachConcurrently(shuffle([...fixtures.accounts, ...hot]), options.concurrency, async (id) => {
    expectStatus(await client.postUntilDefinite('/v1/accounts', { id, currency: CURRENCY }, count), 201, `create account ${id}`);
  });
  await verifyAccounts(config, [...fixtures.accounts, ...hot]);
  for (const id of hot) {
    const credit = { amount: HOT_WALLET_FUNDING_MINOR, currency: CURRENCY, reason: 'bench funding' };
    expectStatus(await client.postUntilDefinite(`/v1/accounts/${id}/credits`, credit, count), 201, `fund ${id}`);
  }
  for (const { id, name, kind, price } of PURCHASE_ITEMS) {
    const response = await client.put(`/v1/items/${id}`, {
      name,
      kind,
      price,
      currency: CURRENCY,
      active: true,
      refundable: true,
      grants: null,
    });
    expectStatus(response, response.status === 200 ? 200 : 201, `put item ${id}`);
  }
  await fundThroughLedger(config, fixtures.accounts, CURRENCY);
  await fundThroughLedger(config, fixtures.accounts, UNLIMITED_CURRENCY);
  await prefillIdempotencyKeys(config);
  return { fixtures, retried };
}

async function prefillIdempotencyKeys(config: Config): Promise<void> {
  const client = new pg.Client({ connectionString: config.database_url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO idempotency_keys (caller, key, request_fingerprint, status_code, response_body, crdb_region, expires_at)
       SELECT $1, gen_random_uuid()::text, 'bench-prefill', 201, '{"ok": true, "body": null}'::jsonb, $2, now() + CAST($3 AS INTERVAL)
       FROM generate_series(1, $4)`,
      [
        `service:${BENCH_SERVICE}`,
        loadTopology().primary_region,
        `${config.idempotency_retention_hours} hours`,
        PREFILLED_IDEMPOTENCY_KEYS,
      ],
    );
  } finally {
    await client.end();
  }
}

/**
 * KYC tier 2 for every benchmark account: their KYC limits still apply, checked and charged on
 * every debit, and a verified account's are high enough for a hot wallet's thousands of debits.
 */
async function verifyAccounts(config: Config, accounts: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: config.database_url });
  await client.connect();
  try {
    await client.query('UPDATE accounts SET kyc_tier = 2 WHERE id = ANY($1::text[])', [accounts]);
  } finally {
    await client.end();
  }
}

/** Funds the accounts in a currency, through the ledger (a few batched multi-leg credits). */
async function fundThroughLedger(config: Config, accounts: readonly string[], currency: string): Promise<void> {
  const topology = loadTopology();
  const region = topology.primary_region;
  const logger = createLogger({ level: 'warn', name: 'bench' });
  const db = await openDatabase(config, { url: config.database_url!, application_name: 'creditshop:bench-funding', pool_max: 2, logger });
  try {
    const deps = toolDeps({ config, topology, region, database_url: config.database_url!, logger }, db);
    for (let start = 0; start < accounts.length; start += FUNDING_BATCH) {
      const funded = accounts.slice(start, start + FUNDING_BATCH);
      const postings = fundingPostings(funded, currency);
      await deps.writes.run({
        name: 'bench_funding',
        region,
        needs: { accounts: funded },
        decide: (unit) =>
          postTransaction(
            unit,
            {
              type: 'credit',
              account_id: FUNDER,
              currency,
              amount_minor: -postings[0]!.amount_minor,
              reason: 'bench funding',
              postings,
            },
            config.limits,
          ),
      });
    }
  } finally {
    await db.close();
  }
}

function fundingPostings(accounts: readonly string[], currency: string): Posting[] {
  return [
    { account_id: FUNDER, currency, amount_minor: -ACCOUNT_FUNDING_MINOR * accounts.length },
    ...accounts.map((account_id) => ({ account_id, currency, amount_minor: ACCOUNT_FUNDING_MINOR, opens_wallet: true })),
  ];
}

function shuffle<T>(items: T[]): T[] {
  for (let index = items.length - 1; index > 0; index -= 1) {
    const other = Math.floor(Math.random() * (index + 1));
    [items[index], items[other]] = [items[other]!, items[index]!];
  }
  return items;
}
